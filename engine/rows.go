package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// safeOp turns a panic inside the operator tree into an error, so one bad
// query cannot take down a server.
type safeOp struct {
	exec.Operator
	log *slog.Logger
}

func (o *safeOp) recoverTo(err *error) {
	if r := recover(); r != nil {
		o.log.Error("panic in operator", "panic", r, "stack", string(debug.Stack()))
		*err = fmt.Errorf("internal error: %v", r)
	}
}

func (o *safeOp) Next(ctx context.Context) (m exec.Message, err error) {
	defer o.recoverTo(&err)
	return o.Operator.Next(ctx)
}

func (o *safeOp) Close() (err error) {
	defer o.recoverTo(&err)
	return o.Operator.Close()
}

// stringRows builds an opened operator producing VARCHAR rows (NULL for
// nil pointers is not needed: empty strings are used as is).
func stringRows(mem memory.Allocator, names []string, rows [][]string) (*arrow.Schema, exec.Operator) {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		for j := range names {
			b.Field(j).(*array.StringBuilder).Append(r[j])
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	op := exec.NewValues(schema, []arrow.RecordBatch{rec})
	_ = op.Open(context.Background())
	return schema, op
}

func (s *Session) rowsResult(names []string, rows [][]string) *Result {
	schema, op := stringRows(s.e.mem, names, rows)
	return &Result{Schema: schema, Rows: op}
}
