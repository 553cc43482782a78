package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/planner"
)

// Late rows to a side table (SET magnetar.late_topic = 'db.table', or the
// table option late_topic of the source table; the session setting wins,
// as for every other setting with a table option). The rows a watermark
// drops as late are written, in the source table's visible row schema, to
// that table through the catalog's ordinary writer: on Pulsar, a producer
// in the topic's registered schema (the topic is created, as CREATE TABLE
// would, when missing); in the memory catalog, a memory table. Writes are
// queued and asynchronous (exec.LateRowsQueue); failures become warnings.

// lateRowsOpener opens late-row outputs for the session's queries.
func (s *Session) lateRowsOpener() planner.LateRowsOpener {
	db := s.db
	return func(ctx context.Context, topic, srcDB string, src catalog.Table) (exec.LateRowsOutput, error) {
		d, name := splitLateTopic(topic, db)
		if d == srcDB && strings.EqualFold(name, src.Name()) {
			// A continuous query would read its late rows back, late again.
			return nil, fmt.Errorf("late rows of %s cannot go to %s itself", src.Name(), name)
		}
		tab, err := s.e.cat.Table(ctx, d, name)
		if errors.Is(err, catalog.ErrNotFound) {
			def := catalog.TableDef{Name: name, Schema: src.Schema(), Comment: "late rows of " + src.Name()}
			if et := src.Def().Options[planner.OptionEventTime]; et != "" && src.Schema().HasField(et) {
				def.Options = map[string]string{planner.OptionEventTime: et}
			}
			if err := s.e.cat.CreateTable(ctx, d, def, true); err != nil {
				return nil, fmt.Errorf("create table %s: %w", name, err)
			}
			tab, err = s.e.cat.Table(ctx, d, name)
		}
		if err != nil {
			return nil, err
		}
		if err := sameColumns(tab.Schema(), src.Schema()); err != nil {
			return nil, fmt.Errorf("table %s cannot take the rows of %s: %w", name, src.Name(), err)
		}
		ins, ok := tab.(catalog.Insertable)
		if !ok {
			return nil, fmt.Errorf("table %s takes no writes", name)
		}
		w, err := ins.OpenWriter(ctx)
		if err != nil {
			return nil, err
		}
		return &lateOutput{w: w, schema: tab.Schema(), name: d + "." + name}, nil
	}
}

// splitLateTopic reads 'db.table', a full topic name
// ('persistent://tenant/ns/topic') or a table of db.
func splitLateTopic(s, db string) (string, string) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "`", "")
	for _, p := range []string{"persistent://", "non-persistent://"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			if i := strings.LastIndex(rest, "/"); i > 0 {
				return rest[:i], rest[i+1:]
			}
		}
	}
	if i := strings.LastIndex(s, "."); i > 0 {
		return s[:i], s[i+1:]
	}
	return db, s
}

// sameColumns checks that rows of src can be written as rows of dst: the
// same column names and types, in order.
func sameColumns(dst, src *arrow.Schema) error {
	if dst.NumFields() != src.NumFields() {
		return fmt.Errorf("%d columns, want %d", dst.NumFields(), src.NumFields())
	}
	for i, f := range src.Fields() {
		g := dst.Field(i)
		if !strings.EqualFold(f.Name, g.Name) || !arrow.TypeEqual(f.Type, g.Type) {
			return fmt.Errorf("column %d is %s %s, want %s %s", i+1, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// lateOutput writes late rows through a catalog writer.
type lateOutput struct {
	w      catalog.Writer
	schema *arrow.Schema
	name   string
}

func (o *lateOutput) Name() string { return o.name }

func (o *lateOutput) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if !rec.Schema().Equal(o.schema) {
		// Same types (sameColumns), other names or field metadata.
		rec = array.NewRecordBatch(o.schema, rec.Columns(), rec.NumRows())
		defer rec.Release()
	}
	return o.w.Write(ctx, exec.Batch{Rec: rec})
}

func (o *lateOutput) Close(ctx context.Context) error { return o.w.Close(ctx) }
