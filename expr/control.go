package expr

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func init() {
	register("if", FunctionDoc{Signature: "IF(cond, a, b)", Description: "a when cond is TRUE, else b.", Example: "SELECT IF(1 > 2, 'yes', 'no')"},
		resolveIf, compileIf)
	register("ifnull", FunctionDoc{Signature: "IFNULL(a, b)", Description: "a unless it is NULL, then b.", Example: "SELECT IFNULL(NULL, 0)"},
		resolveCoalesce, compileCoalesce)
	alias("nvl", "ifnull")
	register("coalesce", FunctionDoc{Signature: "COALESCE(a, b, ...)", Description: "The first non-NULL argument.", Example: "SELECT COALESCE(NULL, NULL, 3)"},
		resolveCoalesce, compileCoalesce)
	register("nullif", FunctionDoc{Signature: "NULLIF(a, b)", Description: "NULL when a = b, else a.", Example: "SELECT NULLIF(1, 1)"},
		resolveNullif, compileNullif)
}

// unifyTypes picks the result type of CASE/IF/COALESCE branches like
// MySQL's type aggregation: NULLs are ignored, numbers widen (integer <
// DECIMAL < DOUBLE), temporals of different kinds meet at TIMESTAMP, and
// anything mixed with strings or other kinds becomes VARCHAR.
func unifyTypes(fn string, types []arrow.DataType) (arrow.DataType, error) {
	var acc arrow.DataType
	for _, t := range types {
		if isNull(t) {
			continue
		}
		if acc == nil || arrow.TypeEqual(acc, t) {
			acc = t
			continue
		}
		switch {
		case (isNumeric(acc) || isBool(acc)) && (isNumeric(t) || isBool(t)):
			a, b := acc, t
			if isBool(a) {
				a = tInt64
			}
			if isBool(b) {
				b = tInt64
			}
			if isInteger(a) && isInteger(b) && isSigned(a) == isSigned(b) {
				if isSigned(a) {
					acc = tInt64
				} else {
					acc = tUint64
				}
				continue
			}
			acc = commonNumericType(a, b)
		case isTemporal(acc) && isTemporal(t):
			acc = tTS
		case isStringy(acc) && isBinaryish(t) || isBinaryish(acc) && isStringy(t):
			acc = tBinary
		case isNested(acc) || isNested(t):
			return nil, errorf(fn, "cannot combine %s and %s", TypeName(acc), TypeName(t))
		default:
			acc = tString
		}
	}
	if acc == nil {
		return tNull, nil
	}
	return acc, nil
}

// NewCase builds a searched CASE, coercing conditions to BOOLEAN and the
// branch values (elseExpr may be nil) to their unified type.
func NewCase(whens []When, elseExpr Expr) (*Case, error) {
	if len(whens) == 0 {
		return nil, errorf("case", "needs at least one WHEN")
	}
	types := make([]arrow.DataType, 0, len(whens)+1)
	for _, w := range whens {
		types = append(types, w.Then.Type())
	}
	if elseExpr != nil {
		types = append(types, elseExpr.Type())
	}
	t, err := unifyTypes("case", types)
	if err != nil {
		return nil, err
	}
	out := &Case{T: t, Whens: make([]When, len(whens))}
	for i, w := range whens {
		c, err := NewCast(w.Cond, tBool)
		if err != nil {
			return nil, errorf("case", "WHEN %d: %v", i+1, err)
		}
		v, err := NewCast(w.Then, t)
		if err != nil {
			return nil, errorf("case", "THEN %d: %v", i+1, err)
		}
		out.Whens[i] = When{Cond: c, Then: v}
	}
	if elseExpr != nil {
		if out.Else, err = NewCast(elseExpr, t); err != nil {
			return nil, errorf("case", "ELSE: %v", err)
		}
	}
	return out, nil
}

func compileCase(c *Case, mem memory.Allocator) (Evaluator, error) {
	r, err := NewCase(c.Whens, c.Else)
	if err != nil {
		return nil, err
	}
	conds := make([]Expr, len(r.Whens))
	thens := make([]Expr, len(r.Whens))
	for i, w := range r.Whens {
		conds[i], thens[i] = w.Cond, w.Then
	}
	ev := &caseEval{t: r.T, mem: mem}
	if ev.conds, err = compileAll(conds, mem); err != nil {
		return nil, err
	}
	if ev.thens, err = compileAll(thens, mem); err != nil {
		return nil, err
	}
	if r.Else != nil {
		if ev.els, err = compile(r.Else, mem); err != nil {
			return nil, err
		}
	}
	if c.T != nil && !arrow.TypeEqual(c.T, r.T) {
		return newCastEval(ev, r.T, c.T, mem)
	}
	return ev, nil
}

// caseEval evaluates conditions and branches over the whole batch
// (vectorised; a branch no row takes is skipped) and then picks per row.
// When a branch fails on the whole batch (e.g. an overflow on rows that do
// not take it), it is re-evaluated on its own rows only, so errors match
// MySQL's per-row short-circuit.
type caseEval struct {
	conds, thens []Evaluator
	els          Evaluator
	t            arrow.DataType
	mem          memory.Allocator
}

func (e *caseEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	choice := make([]int32, n)
	for i := range choice {
		choice[i] = -1
	}
	remaining := n
	srcs := make([]arrow.Array, 0, len(e.thens)+1)
	defer func() { releaseAll(srcs) }()
	for k, cev := range e.conds {
		if remaining == 0 {
			break
		}
		c, err := cev.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		vals, valid := bitsAndValidity(c)
		hit := false
		for i := 0; i < n; i++ {
			if choice[i] == -1 && bitutil.BitIsSet(vals, i) && isValid(valid, i) {
				choice[i] = int32(len(srcs))
				remaining--
				hit = true
			}
		}
		c.Release()
		if !hit {
			continue
		}
		v, err := e.thens[k].Eval(ctx, rec)
		if err != nil {
			// Retry on the rows that take this branch only.
			if v, err = evalOnRows(ctx, e.thens[k], rec, rowsChoosing(choice, int32(len(srcs))), e.t, e.mem); err != nil {
				return nil, err
			}
		}
		srcs = append(srcs, v)
	}
	if remaining > 0 && e.els != nil {
		idx := int32(len(srcs))
		for i := range choice {
			if choice[i] == -1 {
				choice[i] = idx
			}
		}
		v, err := e.els.Eval(ctx, rec)
		if err != nil {
			if v, err = evalOnRows(ctx, e.els, rec, rowsChoosing(choice, idx), e.t, e.mem); err != nil {
				return nil, err
			}
		}
		srcs = append(srcs, v)
	}
	return pickRows(e.mem, e.t, n, choice, srcs), nil
}

func rowsChoosing(choice []int32, idx int32) []int {
	var rows []int
	for i, c := range choice {
		if c == idx {
			rows = append(rows, i)
		}
	}
	return rows
}

func resolveIf(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 3, 3); err != nil {
		return nil, nil, err
	}
	c, err := NewCase([]When{{Cond: args[0], Then: args[1]}}, args[2])
	if err != nil {
		return nil, nil, errorf(name, "%v", err)
	}
	return []Expr{c.Whens[0].Cond, c.Whens[0].Then, c.Else}, c.T, nil
}

func compileIf(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &caseEval{conds: args[:1], thens: args[1:2], els: args[2], t: c.T, mem: mem}, nil
}

func resolveCoalesce(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	min, max := 1, -1
	if name == "ifnull" {
		min, max = 2, 2
	}
	if err := arity(name, args, min, max); err != nil {
		return nil, nil, err
	}
	types := make([]arrow.DataType, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	t, err := unifyTypes(name, types)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		if out[i], err = NewCast(a, t); err != nil {
			return nil, nil, errorf(name, "argument %d: %v", i+1, err)
		}
	}
	return out, t, nil
}

type coalesceEval struct {
	args []Evaluator
	t    arrow.DataType
	mem  memory.Allocator
}

func compileCoalesce(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &coalesceEval{args: args, t: c.T, mem: mem}, nil
}

func (e *coalesceEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	choice := make([]int32, n)
	for i := range choice {
		choice[i] = -1
	}
	remaining := n
	var srcs []arrow.Array
	defer func() { releaseAll(srcs) }()
	for _, ev := range e.args {
		if remaining == 0 {
			break
		}
		if lit, ok := constOf(ev); ok && lit.Value == nil {
			continue
		}
		a, err := ev.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		if len(srcs) == 0 && a.NullN() == 0 {
			return a, nil // first argument has no NULLs
		}
		idx := int32(len(srcs))
		srcs = append(srcs, a)
		for i := 0; i < n; i++ {
			if choice[i] == -1 && a.IsValid(i) {
				choice[i] = idx
				remaining--
			}
		}
	}
	return pickRows(e.mem, e.t, n, choice, srcs), nil
}

func resolveNullif(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, 2); err != nil {
		return nil, nil, err
	}
	if _, err := NewCall("=", args[0], args[1]); err != nil {
		return nil, nil, errorf(name, "%v", err)
	}
	return args, args[0].Type(), nil
}

type nullifEval struct {
	a  Evaluator
	eq Evaluator
	t  arrow.DataType
	m  memory.Allocator
}

func compileNullif(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	eqExpr, err := NewCall("=", c.Args[0], c.Args[1])
	if err != nil {
		return nil, err
	}
	eq, err := compile(eqExpr, mem)
	if err != nil {
		return nil, err
	}
	return &nullifEval{a: args[0], eq: eq, t: c.T, m: mem}, nil
}

func (e *nullifEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.a.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	eq, err := e.eq.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer eq.Release()
	n := a.Len()
	choice := make([]int32, n)
	vals, valid := bitsAndValidity(eq)
	for i := range choice {
		if isValid(valid, i) && bitutil.BitIsSet(vals, i) {
			choice[i] = -1
		}
	}
	return pickRows(e.m, e.t, n, choice, []arrow.Array{a}), nil
}

// ---- IN list ----

// compileInList: a list of literals becomes a hash set probed per row;
// otherwise the list is an OR of equalities.
func compileInList(in *InList, mem memory.Allocator) (Evaluator, error) {
	t := in.Arg.Type()
	var err error
	for _, it := range in.List {
		if t, err = commonCompareType("in", t, it.Type()); err != nil {
			return nil, err
		}
	}
	if isNull(t) {
		t = tInt64
	}
	arg, err := NewCast(in.Arg, t)
	if err != nil {
		return nil, errorf("in", "%v", err)
	}
	allLit := true
	items := make([]Expr, len(in.List))
	for i, it := range in.List {
		if items[i], err = NewCast(it, t); err != nil {
			return nil, errorf("in", "%v", err)
		}
		if _, ok := items[i].(*Literal); !ok {
			allLit = false
		}
	}
	argEv, err := compile(arg, mem)
	if err != nil {
		return nil, err
	}
	if !allLit {
		var acc Expr
		for _, it := range items {
			eq, err := NewCall("=", arg, it)
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = eq
			} else if acc, err = NewCall("or", acc, eq); err != nil {
				return nil, err
			}
		}
		if in.Not {
			if acc, err = NewCall("not", acc); err != nil {
				return nil, err
			}
		}
		return compile(acc, mem)
	}
	set := &inSetEval{arg: argEv, not: in.Not, mem: mem, any: map[any]struct{}{}}
	for _, it := range items {
		v := it.(*Literal).Value
		switch x := v.(type) {
		case nil:
			set.hasNull = true
		case []byte:
			set.any[string(x)] = struct{}{}
		default:
			set.any[x] = struct{}{}
		}
	}
	return set, nil
}

type inSetEval struct {
	arg     Evaluator
	not     bool
	hasNull bool
	any     map[any]struct{}
	mem     memory.Allocator
}

func (e *inSetEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	vbuf, out := allocBits(e.mem, n)
	nbuf, valid := allocBits(e.mem, n)
	set := func(i int, found bool) {
		switch {
		case found:
			if !e.not {
				bitutil.SetBit(out, i)
			}
			bitutil.SetBit(valid, i)
		case e.hasNull:
			// x IN (..., NULL) without a match is NULL.
		default:
			if e.not {
				bitutil.SetBit(out, i)
			}
			bitutil.SetBit(valid, i)
		}
	}
	switch arr := a.(type) {
	case *array.Int64:
		vals := arr.Int64Values()
		for i, v := range vals {
			if arr.IsValid(i) {
				_, ok := e.any[v]
				set(i, ok)
			}
		}
	case *array.String:
		for i := 0; i < n; i++ {
			if arr.IsValid(i) {
				_, ok := e.any[arr.Value(i)]
				set(i, ok)
			}
		}
	case *array.Binary:
		for i := 0; i < n; i++ {
			if arr.IsValid(i) {
				_, ok := e.any[string(arr.Value(i))]
				set(i, ok)
			}
		}
	default:
		for i := 0; i < n; i++ {
			if a.IsValid(i) {
				_, ok := e.any[Scalar(a, i)]
				set(i, ok)
			}
		}
	}
	return boolArray(n, nbuf, vbuf, n-bitutil.CountSetBits(valid, 0, n)), nil
}

// ---- struct field access ----

func compileField(f *Field, mem memory.Allocator) (Evaluator, error) {
	r, err := NewField(f.Arg, f.Name)
	if err != nil {
		return nil, err
	}
	arg, err := compile(f.Arg, mem)
	if err != nil {
		return nil, err
	}
	st := f.Arg.Type().(*arrow.StructType)
	idx, _ := structFieldIndex(st, f.Name)
	return &fieldEval{arg: arg, idx: idx, t: r.T, mem: mem}, nil
}

type fieldEval struct {
	arg Evaluator
	idx int
	t   arrow.DataType
	mem memory.Allocator
}

func (e *fieldEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	s, ok := a.(*array.Struct)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("field access on %s value", TypeName(a.DataType()))}
	}
	child := s.Field(e.idx)
	if s.NullN() == 0 {
		child.Retain()
		return child, nil
	}
	// A NULL struct makes its fields NULL: rebuild with the struct's nulls.
	n := s.Len()
	choice := make([]int32, n)
	for i := range choice {
		if s.IsNull(i) {
			choice[i] = -1
		}
	}
	return pickRows(e.mem, e.t, n, choice, []arrow.Array{child}), nil
}
