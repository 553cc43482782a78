package flightclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrRemote is returned by the catalog methods a client cannot perform:
// writes and scans, which go through SQL on the server instead.
var ErrRemote = errors.New("not supported remotely (run SQL on the server instead)")

// remoteCatalog reads the server's catalog through Flight SQL metadata
// calls (GetDBSchemas, GetTables with schemas, GetPrimaryKeys), for \d, \l
// and completion.
type remoteCatalog struct{ c *Client }

var _ catalog.Catalog = (*remoteCatalog)(nil)

func (rc *remoteCatalog) Name() string { return "remote" }

// DefaultDatabase is the session's current database.
func (rc *remoteCatalog) DefaultDatabase() string { return rc.c.Database() }

// Databases lists the databases the user may see.
func (rc *remoteCatalog) Databases(ctx context.Context) ([]string, error) {
	return rc.databases(ctx, nil)
}

func (rc *remoteCatalog) databases(ctx context.Context, pattern *string) ([]string, error) {
	c := rc.c
	info, err := c.fc.GetDBSchemas(c.callCtx(ctx), &flightsql.GetDBSchemasOpts{DbSchemaFilterPattern: pattern})
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", c.callError(ctx, err))
	}
	var out []string
	err = c.readAll(ctx, info, func(rec arrow.RecordBatch) error {
		col, err := stringColumn(rec, "db_schema_name")
		if err != nil {
			return err
		}
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.Value(i))
		}
		return nil
	})
	return out, err
}

// Tables lists the tables of db; the error wraps catalog.ErrNotFound when
// the database does not exist.
func (rc *remoteCatalog) Tables(ctx context.Context, db string) ([]string, error) {
	entries, err := rc.tables(ctx, db, nil, false)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.name)
	}
	if len(names) == 0 {
		// An empty listing does not tell a missing database apart.
		pat := likeEscape(db)
		dbs, err := rc.databases(ctx, &pat)
		if err != nil {
			return nil, err
		}
		if !containsFold(dbs, db) {
			return nil, fmt.Errorf("database %q: %w", db, catalog.ErrNotFound)
		}
	}
	return names, nil
}

// Table resolves a table with its schema and primary key.
func (rc *remoteCatalog) Table(ctx context.Context, db, name string) (catalog.Table, error) {
	pat := likeEscape(name)
	entries, err := rc.tables(ctx, db, &pat, true)
	if err != nil {
		return nil, err
	}
	var found *tableEntry
	for i := range entries {
		if entries[i].name == name {
			found = &entries[i]
			break
		}
		if found == nil && strings.EqualFold(entries[i].name, name) {
			found = &entries[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("table %s.%s: %w", db, name, catalog.ErrNotFound)
	}
	key, err := rc.primaryKey(ctx, db, found.name)
	if err != nil {
		return nil, err
	}
	return &remoteTable{def: catalog.TableDef{Name: found.name, Schema: found.schema, PrimaryKey: key}}, nil
}

type tableEntry struct {
	name   string
	schema *arrow.Schema
}

// tables lists the tables of exactly db whose names match pattern (all
// when nil).
func (rc *remoteCatalog) tables(ctx context.Context, db string, pattern *string, withSchema bool) ([]tableEntry, error) {
	c := rc.c
	dbPat := likeEscape(db)
	info, err := c.fc.GetTables(c.callCtx(ctx), &flightsql.GetTablesOpts{
		DbSchemaFilterPattern:  &dbPat,
		TableNameFilterPattern: pattern,
		IncludeSchema:          withSchema,
	})
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, c.callError(ctx, err))
	}
	var out []tableEntry
	err = c.readAll(ctx, info, func(rec arrow.RecordBatch) error {
		dbs, err := stringColumn(rec, "db_schema_name")
		if err != nil {
			return err
		}
		names, err := stringColumn(rec, "table_name")
		if err != nil {
			return err
		}
		var schemas *array.Binary
		if withSchema {
			idx := rec.Schema().FieldIndices("table_schema")
			if len(idx) == 0 {
				return errors.New("list tables: the server sent no table_schema column")
			}
			var ok bool
			if schemas, ok = rec.Column(idx[0]).(*array.Binary); !ok {
				return errors.New("list tables: table_schema is not binary")
			}
		}
		for i := 0; i < names.Len(); i++ {
			// The pattern matches case-insensitively; keep exactly db.
			if !strings.EqualFold(dbs.Value(i), db) {
				continue
			}
			e := tableEntry{name: names.Value(i)}
			if schemas != nil {
				sc, err := flight.DeserializeSchema(schemas.Value(i), c.mem)
				if err != nil {
					return fmt.Errorf("schema of %s: %w", e.name, err)
				}
				e.schema = stripFlightSQLMetadata(sc)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func (rc *remoteCatalog) primaryKey(ctx context.Context, db, table string) ([]string, error) {
	c := rc.c
	info, err := c.fc.GetPrimaryKeys(c.callCtx(ctx), flightsql.TableRef{DBSchema: &db, Table: table})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil, nil
		}
		return nil, fmt.Errorf("primary key of %s: %w", table, c.callError(ctx, err))
	}
	type part struct {
		name string
		seq  int32
	}
	var parts []part
	err = c.readAll(ctx, info, func(rec arrow.RecordBatch) error {
		names, err := stringColumn(rec, "column_name")
		if err != nil {
			return err
		}
		idx := rec.Schema().FieldIndices("key_sequence")
		var seqs *array.Int32
		if len(idx) > 0 {
			seqs, _ = rec.Column(idx[0]).(*array.Int32)
		}
		for i := 0; i < names.Len(); i++ {
			p := part{name: names.Value(i), seq: int32(len(parts) + 1)}
			if seqs != nil {
				p.seq = seqs.Value(i)
			}
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	key := make([]string, len(parts))
	for _, p := range parts {
		if p.seq >= 1 && int(p.seq) <= len(key) && key[p.seq-1] == "" {
			key[p.seq-1] = p.name
		}
	}
	for i, p := range parts {
		if key[i] == "" {
			// Sequence numbers with gaps or repeats: keep the order sent.
			key[i] = p.name
		}
	}
	return key, nil
}

// CreateDatabase is not available remotely.
func (rc *remoteCatalog) CreateDatabase(context.Context, string, bool) error {
	return fmt.Errorf("create database: %w", ErrRemote)
}

// CreateTable is not available remotely.
func (rc *remoteCatalog) CreateTable(context.Context, string, catalog.TableDef, bool) error {
	return fmt.Errorf("create table: %w", ErrRemote)
}

// DropTable is not available remotely.
func (rc *remoteCatalog) DropTable(context.Context, string, string, bool) error {
	return fmt.Errorf("drop table: %w", ErrRemote)
}

// remoteTable is a table as the server describes it: name, visible
// schema and primary key.
type remoteTable struct{ def catalog.TableDef }

func (t *remoteTable) Name() string          { return t.def.Name }
func (t *remoteTable) Schema() *arrow.Schema { return t.def.Schema }

// MetadataColumns is empty: Flight SQL listings show visible columns only.
func (t *remoteTable) MetadataColumns() []arrow.Field { return nil }
func (t *remoteTable) Def() catalog.TableDef          { return t.def }

// Scan is not available remotely: queries run on the server.
func (t *remoteTable) Scan(context.Context, catalog.ScanRequest) (exec.Operator, error) {
	return nil, fmt.Errorf("scan %s: %w", t.def.Name, ErrRemote)
}

// readAll reads every endpoint of a metadata FlightInfo.
func (c *Client) readAll(ctx context.Context, info *flight.FlightInfo, fn func(arrow.RecordBatch) error) error {
	for _, ep := range info.GetEndpoint() {
		rdr, err := c.fc.DoGet(c.callCtx(ctx), ep.GetTicket())
		if err != nil {
			return c.callError(ctx, err)
		}
		for rdr.Next() {
			if err := fn(rdr.RecordBatch()); err != nil {
				rdr.Release()
				return err
			}
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return c.callError(ctx, err)
		}
	}
	return nil
}

func stringColumn(rec arrow.RecordBatch, name string) (*array.String, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("metadata result has no %s column", name)
	}
	col, ok := rec.Column(idx[0]).(*array.String)
	if !ok {
		return nil, fmt.Errorf("metadata column %s is %s, want utf8", name, rec.Column(idx[0]).DataType())
	}
	return col, nil
}

// likeEscape makes a name a Flight SQL filter pattern matching only itself.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// flightSQLPrefix starts the column metadata keys Flight SQL adds for JDBC
// (catalog, schema, table, type name); the shell has no use for them.
const flightSQLPrefix = "ARROW:FLIGHT:SQL:"

func stripFlightSQLMetadata(sc *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, sc.NumFields())
	for i, f := range sc.Fields() {
		var keys, vals []string
		for j, k := range f.Metadata.Keys() {
			if !strings.HasPrefix(k, flightSQLPrefix) {
				keys = append(keys, k)
				vals = append(vals, f.Metadata.Values()[j])
			}
		}
		f.Metadata = arrow.NewMetadata(keys, vals)
		fields[i] = f
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md)
}
