package expr

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Compile prepares e for repeated evaluation over record batches. Calls are
// re-resolved against their argument types (so hand-built or rewritten
// trees work), constant sub-trees are evaluated per batch without
// materialising per-row boxes, and literal patterns (LIKE, REGEXP, IN lists)
// are compiled once here.
func Compile(e Expr, mem memory.Allocator) (Evaluator, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	ev, err := compile(e, mem)
	if err != nil {
		return nil, err
	}
	return &safeEval{inner: ev, text: e.String()}, nil
}

// safeEval turns a panic inside a kernel into an error: a bug must fail
// the statement, not the process.
type safeEval struct {
	inner Evaluator
	text  string
}

func (s *safeEval) Eval(ctx context.Context, rec arrow.RecordBatch) (out arrow.Array, err error) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
			err = &Error{Msg: fmt.Sprintf("internal error evaluating %s: %v", s.text, r)}
		}
	}()
	return s.inner.Eval(ctx, rec)
}

// normalizeLiteral converts a hand-built literal whose Go value does not
// match its type (e.g. Value int(5) with T BIGINT, or a date string with T
// DATE) into the canonical form the kernels read.
func normalizeLiteral(l *Literal) (*Literal, error) {
	if l.Value == nil || literalOK(l) {
		return l, nil
	}
	g := Lit(l.Value)
	if _, isStr := l.Value.(string); g.T.ID() == arrow.STRING && !isStr {
		return nil, &Error{Msg: fmt.Sprintf("literal %v (%T) does not match type %s", l.Value, l.Value, TypeName(l.T))}
	}
	n, err := foldLiteralCast(g, l.T)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func literalOK(l *Literal) bool {
	v, t := l.Value, l.T
	var ok bool
	switch {
	case isSigned(t):
		_, ok = v.(int64)
	case isUnsigned(t):
		_, ok = v.(uint64)
	case isFloat(t):
		_, ok = v.(float64)
	case isBool(t):
		_, ok = v.(bool)
	case isStringy(t):
		_, ok = v.(string)
	case isBinaryish(t):
		_, ok = v.([]byte)
	case isDecimal(t):
		_, ok = v.(decimal128.Num)
	case t.ID() == arrow.DATE32:
		_, ok = v.(arrow.Date32)
	case t.ID() == arrow.TIME64:
		_, ok = v.(arrow.Time64)
	case t.ID() == arrow.TIMESTAMP:
		_, ok = v.(arrow.Timestamp)
	default:
		ok = true
	}
	return ok
}

func compile(e Expr, mem memory.Allocator) (Evaluator, error) {
	switch n := e.(type) {
	case nil:
		return nil, &Error{Msg: "cannot compile nil expression"}
	case *Column:
		return &colEval{idx: n.Index, t: n.T, name: n.Name, mem: mem}, nil
	case *Literal:
		l, err := normalizeLiteral(n)
		if err != nil {
			return nil, err
		}
		return &constEval{lit: l, mem: mem}, nil
	case *Call:
		return compileCall(n, mem)
	case *Cast:
		return compileCast(n, mem)
	case *Case:
		return compileCase(n, mem)
	case *InList:
		return compileInList(n, mem)
	case *Field:
		return compileField(n, mem)
	}
	return nil, &Error{Msg: fmt.Sprintf("cannot compile expression %T", e)}
}

// colEval returns a column of the input batch.
type colEval struct {
	idx  int
	t    arrow.DataType
	name string
	mem  memory.Allocator
}

func (c *colEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	if c.idx < 0 || c.idx >= int(rec.NumCols()) {
		return nil, &Error{Msg: fmt.Sprintf("column %s#%d out of range (batch has %d columns)", c.name, c.idx, rec.NumCols())}
	}
	col := rec.Column(c.idx)
	if c.t != nil && !arrow.TypeEqual(col.DataType(), c.t) {
		// The batch disagrees with the bound type (e.g. a millisecond
		// timestamp or a dictionary-encoded string): convert rather than
		// misread the buffers.
		out, err := castArray(ctx, col, c.t, c.mem)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("column %s#%d: batch type %s does not match %s: %v", c.name, c.idx, TypeName(col.DataType()), TypeName(c.t), err)}
		}
		return out, nil
	}
	col.Retain()
	return col, nil
}

// constEval materialises a literal as an array of the batch length. Kernels
// that have a column-vs-constant fast path look for *constEval and read lit
// directly instead.
type constEval struct {
	lit *Literal
	mem memory.Allocator
}

func (c *constEval) Eval(_ context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	return literalArray(c.mem, c.lit, int(rec.NumRows()))
}

func constOf(ev Evaluator) (*Literal, bool) {
	c, ok := ev.(*constEval)
	if !ok {
		return nil, false
	}
	return c.lit, true
}

// literalArray repeats lit n times.
func literalArray(mem memory.Allocator, lit *Literal, n int) (arrow.Array, error) {
	if lit.Value == nil {
		return nullArray(mem, lit.T, n), nil
	}
	switch v := lit.Value.(type) {
	case int64:
		if lit.T.ID() == arrow.INT64 {
			buf, vals := allocFixed[int64](mem, n)
			for i := range vals {
				vals[i] = v
			}
			return makeArray(lit.T, n, nil, buf, 0), nil
		}
	case float64:
		if lit.T.ID() == arrow.FLOAT64 {
			buf, vals := allocFixed[float64](mem, n)
			for i := range vals {
				vals[i] = v
			}
			return makeArray(lit.T, n, nil, buf, 0), nil
		}
	case bool:
		buf, bits := allocBits(mem, n)
		if v {
			for i := range bits {
				bits[i] = 0xff
			}
		}
		return makeArray(tBool, n, nil, buf, 0), nil
	}
	b := array.NewBuilder(mem, lit.T)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if err := appendValue(b, lit.Value); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// evalAll evaluates each evaluator; on error it releases what it built.
func evalAll(ctx context.Context, rec arrow.RecordBatch, evs []Evaluator) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(evs))
	for i, ev := range evs {
		a, err := ev.Eval(ctx, rec)
		if err != nil {
			releaseAll(out)
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

func compileAll(es []Expr, mem memory.Allocator) ([]Evaluator, error) {
	out := make([]Evaluator, len(es))
	for i, e := range es {
		ev, err := compile(e, mem)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

type nowKey struct{}

// WithNow fixes the statement time that NOW(), CURRENT_TIMESTAMP, CURDATE()
// and friends return, so every row and batch of one statement agrees.
func WithNow(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, nowKey{}, t)
}

// NowFrom returns the statement time set by WithNow, or the wall clock.
func NowFrom(ctx context.Context) time.Time {
	if ctx != nil {
		if t, ok := ctx.Value(nowKey{}).(time.Time); ok {
			return t
		}
	}
	return time.Now()
}

// IsConstant reports whether e depends on no column and no per-statement
// state (NOW() and RAND()-like functions are not constant), so Fold can
// replace it with a Literal.
func IsConstant(e Expr) bool {
	switch n := e.(type) {
	case *Literal:
		return true
	case *Column:
		return false
	case *Call:
		if volatile[n.Name] {
			return false
		}
	}
	for _, c := range e.Children() {
		if !IsConstant(c) {
			return false
		}
	}
	return true
}

// volatile functions must not be folded at plan time.
var volatile = map[string]bool{
	"now": true, "current_timestamp": true, "curdate": true, "current_date": true,
	"curtime": true, "current_time": true, "sysdate": true, "unix_timestamp": true,
	"localtime": true, "localtimestamp": true, "utc_timestamp": true, "utc_date": true, "utc_time": true, "rand": true, "uuid": true,
}

// Fold evaluates a constant expression (IsConstant) to a Literal of the
// same type. Evaluation errors (e.g. BIGINT overflow) are returned so the
// planner can report them at plan time.
func Fold(ctx context.Context, e Expr, mem memory.Allocator) (Expr, error) {
	if _, ok := e.(*Literal); ok {
		return e, nil
	}
	if !IsConstant(e) {
		return nil, &Error{Msg: "cannot fold non-constant expression " + e.String()}
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	ev, err := Compile(e, mem)
	if err != nil {
		return nil, err
	}
	rec := oneRowBatch()
	defer rec.Release()
	arr, err := ev.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	if arr.Len() != 1 {
		return nil, &Error{Msg: fmt.Sprintf("folding %s produced %d values", e.String(), arr.Len())}
	}
	return &Literal{Value: Scalar(arr, 0), T: e.Type()}, nil
}

// oneRowBatch is a record batch with no columns and one row.
func oneRowBatch() arrow.RecordBatch {
	return array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
}
