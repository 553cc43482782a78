package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rowArgs gives typed access to the evaluated arguments of a row-wise
// function. Arguments have canonical types after resolution (VARCHAR,
// BIGINT, DOUBLE, ...), so the accessors assert directly.
type rowArgs struct {
	arrs []arrow.Array
	ctx  context.Context
	// consts[k] is the literal value when argument k is constant.
	consts []any
	// op is the function name (for functions sharing one rowFn).
	op string
}

func (r *rowArgs) str(k, i int) string {
	if c := r.consts[k]; c != nil {
		if s, ok := c.(string); ok {
			return s
		}
	}
	s, _ := textOf(r.arrs[k], i)
	return s
}

func (r *rowArgs) i64(k, i int) int64 {
	if c, ok := r.consts[k].(int64); ok {
		return c
	}
	return r.arrs[k].(*array.Int64).Value(i)
}

func (r *rowArgs) f64(k, i int) float64 {
	if c, ok := r.consts[k].(float64); ok {
		return c
	}
	return r.arrs[k].(*array.Float64).Value(i)
}

func (r *rowArgs) ts(k, i int) int64 {
	if c, ok := r.consts[k].(arrow.Timestamp); ok {
		return int64(c)
	}
	return int64(r.arrs[k].(*array.Timestamp).Value(i))
}

func (r *rowArgs) null(k, i int) bool { return r.arrs[k].IsNull(i) }

// rowFn computes row i into b; it is only called when no argument is NULL
// unless the function was registered as nullAware.
type rowFn func(b array.Builder, a *rowArgs, i int) error

// rowEval runs a rowFn over every row; NULL in any argument gives NULL
// (unless nullAware).
type rowEval struct {
	name      string
	args      []Evaluator
	t         arrow.DataType
	fn        rowFn
	nullAware bool
	mem       memory.Allocator
}

func (e *rowEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	ra := &rowArgs{op: e.name, ctx: ctx, arrs: make([]arrow.Array, len(e.args)), consts: make([]any, len(e.args))}
	defer func() { releaseAll(ra.arrs) }()
	for k, ev := range e.args {
		if lit, ok := constOf(ev); ok && lit.Value != nil {
			ra.consts[k] = lit.Value
			a, err := literalArray(e.mem, lit, n)
			if err != nil {
				return nil, err
			}
			ra.arrs[k] = a
			continue
		}
		a, err := ev.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		ra.arrs[k] = a
		if !e.nullAware && a.NullN() == a.Len() && n > 0 {
			return nullArray(e.mem, e.t, n), nil
		}
	}
	b := array.NewBuilder(e.mem, e.t)
	defer b.Release()
	b.Reserve(n)
rows:
	for i := 0; i < n; i++ {
		if !e.nullAware {
			for _, a := range ra.arrs {
				if a.IsNull(i) {
					b.AppendNull()
					continue rows
				}
			}
		}
		if err := e.fn(b, ra, i); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// registerRow registers a row-wise function with fixed argument types.
func registerRow(name string, doc FunctionDoc, min, max int, t arrow.DataType, types []arrow.DataType, fn rowFn) {
	register(name, doc, fixedArgs(min, max, t, types...), rowCompiler(fn, false))
}

func rowCompiler(fn rowFn, nullAware bool) compileFunc {
	return func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
		return &rowEval{name: c.Name, args: args, t: c.T, fn: fn, nullAware: nullAware, mem: mem}, nil
	}
}

func appendStr(b array.Builder, s string) { b.(*array.StringBuilder).Append(s) }
func appendI64(b array.Builder, v int64)  { b.(*array.Int64Builder).Append(v) }
func appendF64(b array.Builder, v float64) {
	b.(*array.Float64Builder).Append(v)
}

// ts args
var (
	strs1 = []arrow.DataType{tString}
	strs2 = []arrow.DataType{tString, tString}
)

type memAlloc = memory.Allocator
