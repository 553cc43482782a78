package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func init() {
	boolArgs := func(min, max int) resolveFunc {
		return func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
			if err := arity(name, args, min, max); err != nil {
				return nil, nil, err
			}
			out := make([]Expr, len(args))
			for i, a := range args {
				if isNested(a.Type()) {
					return nil, nil, argTypeError(name, i, a.Type())
				}
				c, err := NewCast(a, tBool)
				if err != nil {
					return nil, nil, errorf(name, "%v", err)
				}
				out[i] = c
			}
			return out, tBool, nil
		}
	}
	for _, op := range []string{"and", "or", "xor"} {
		register(op, FunctionDoc{Signature: "a " + op + " b", Description: "Three-valued logical " + op + " (non-zero numbers are TRUE).",
			Example: "SELECT TRUE " + op + " NULL"}, boolArgs(2, -1), compileLogic)
	}
	alias("&&", "and")
	alias("||", "or")
	register("not", FunctionDoc{Signature: "NOT a", Description: "Logical negation; NOT NULL is NULL.", Example: "SELECT NOT 0"},
		boolArgs(1, 1), func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
			return &notEval{arg: args[0], mem: mem}, nil
		})
	alias("!", "not")
	anyArg := func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		if err := arity(name, args, 1, 1); err != nil {
			return nil, nil, err
		}
		return args, tBool, nil
	}
	register("is_null", FunctionDoc{Signature: "x IS NULL", Description: "TRUE when x is NULL.", Example: "SELECT NULL IS NULL"},
		anyArg, compileTruth)
	alias("isnull", "is_null")
	register("is_not_null", FunctionDoc{Signature: "x IS NOT NULL", Description: "TRUE when x is not NULL.", Example: "SELECT 1 IS NOT NULL"},
		anyArg, compileTruth)
	for _, n := range []string{"is_true", "is_false", "is_not_true", "is_not_false"} {
		register(n, FunctionDoc{Signature: "x " + n, Description: "Truth test that never returns NULL.", Example: "SELECT NULL IS NOT TRUE"},
			boolArgs(1, 1), compileTruth)
	}
}

type logicEval struct {
	op   string
	args []Evaluator
	mem  memory.Allocator
}

func compileLogic(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &logicEval{op: c.Name, args: args, mem: mem}, nil
}

func (e *logicEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	acc, err := e.args[0].Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	for _, ev := range e.args[1:] {
		b, err := ev.Eval(ctx, rec)
		if err != nil {
			acc.Release()
			return nil, err
		}
		var next arrow.Array
		switch e.op {
		case "and":
			next = and3(e.mem, acc, b)
		case "or":
			next = or3(e.mem, acc, b)
		default:
			next = xor3(e.mem, acc, b)
		}
		acc.Release()
		b.Release()
		acc = next
	}
	return acc, nil
}

// bitsAndValidity returns re-based value and validity bitmaps (validity
// nil when there are no nulls).
func bitsAndValidity(a arrow.Array) (vals, valid []byte) {
	if a.NullN() == a.Len() && a.Len() > 0 {
		z := make([]byte, bitutil.BytesForBits(int64(a.Len())))
		return z, z
	}
	valid, _ = validityOf(a)
	return boolBits(a), valid
}

// and3 is Kleene AND: FALSE wins over NULL.
func and3(mem memory.Allocator, a, b arrow.Array) arrow.Array {
	n := a.Len()
	vbuf, out := allocBits(mem, n)
	if n == 0 {
		return boolArray(0, nil, vbuf, 0)
	}
	if a.NullN() == 0 && b.NullN() == 0 {
		da, db := a.Data(), b.Data()
		bitutil.BitmapAnd(da.Buffers()[1].Bytes(), db.Buffers()[1].Bytes(), int64(da.Offset()), int64(db.Offset()), out, 0, int64(n))
		return boolArray(n, nil, vbuf, 0)
	}
	xa, va := bitsAndValidity(a)
	xb, vb := bitsAndValidity(b)
	nbuf, valid := allocBits(mem, n)
	for i := range out {
		ma, mb := byte(0xff), byte(0xff)
		if va != nil {
			ma = va[i]
		}
		if vb != nil {
			mb = vb[i]
		}
		out[i] = xa[i] & xb[i]
		valid[i] = (ma & mb) | (ma &^ xa[i]) | (mb &^ xb[i])
	}
	return boolArray(n, nbuf, vbuf, n-bitutil.CountSetBits(valid, 0, n))
}

// or3 is Kleene OR: TRUE wins over NULL.
func or3(mem memory.Allocator, a, b arrow.Array) arrow.Array {
	n := a.Len()
	vbuf, out := allocBits(mem, n)
	if n == 0 {
		return boolArray(0, nil, vbuf, 0)
	}
	if a.NullN() == 0 && b.NullN() == 0 {
		da, db := a.Data(), b.Data()
		bitutil.BitmapOr(da.Buffers()[1].Bytes(), db.Buffers()[1].Bytes(), int64(da.Offset()), int64(db.Offset()), out, 0, int64(n))
		return boolArray(n, nil, vbuf, 0)
	}
	xa, va := bitsAndValidity(a)
	xb, vb := bitsAndValidity(b)
	nbuf, valid := allocBits(mem, n)
	for i := range out {
		ma, mb := byte(0xff), byte(0xff)
		if va != nil {
			ma = va[i]
		}
		if vb != nil {
			mb = vb[i]
		}
		out[i] = (xa[i] & ma) | (xb[i] & mb)
		valid[i] = (ma & mb) | (ma & xa[i]) | (mb & xb[i])
	}
	return boolArray(n, nbuf, vbuf, n-bitutil.CountSetBits(valid, 0, n))
}

func xor3(mem memory.Allocator, a, b arrow.Array) arrow.Array {
	n := a.Len()
	validity, nulls := andValidity(mem, n, a, b)
	vbuf, out := allocBits(mem, n)
	xa, _ := bitsAndValidity(a)
	xb, _ := bitsAndValidity(b)
	for i := range out {
		out[i] = xa[i] ^ xb[i]
	}
	return boolArray(n, validity, vbuf, nulls)
}

func not3(mem memory.Allocator, a arrow.Array) arrow.Array {
	n := a.Len()
	validity, nulls := andValidity(mem, n, a)
	vbuf, out := allocBits(mem, n)
	xa, _ := bitsAndValidity(a)
	for i := range out {
		out[i] = ^xa[i]
	}
	return boolArray(n, validity, vbuf, nulls)
}

type notEval struct {
	arg Evaluator
	mem memory.Allocator
}

func (e *notEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return not3(e.mem, a), nil
}

// truthEval implements IS [NOT] NULL / TRUE / FALSE; results are never NULL.
type truthEval struct {
	name string
	arg  Evaluator
	mem  memory.Allocator
}

func compileTruth(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &truthEval{name: c.Name, arg: args[0], mem: mem}, nil
}

func (e *truthEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	vbuf, out := allocBits(e.mem, n)
	var valid []byte
	if a.NullN() == n {
		valid = make([]byte, len(out))
	} else {
		valid, _ = validityOf(a)
	}
	var xa []byte
	if a.DataType().ID() == arrow.BOOL {
		xa, _ = bitsAndValidity(a)
	}
	for i := range out {
		v := byte(0xff)
		if valid != nil {
			v = valid[i]
		}
		switch e.name {
		case "is_null":
			out[i] = ^v
		case "is_not_null":
			out[i] = v
		case "is_true":
			out[i] = v & xa[i]
		case "is_false":
			out[i] = v &^ xa[i]
		case "is_not_true":
			out[i] = ^(v & xa[i])
		case "is_not_false":
			out[i] = ^(v &^ xa[i])
		}
	}
	return boolArray(n, nil, vbuf, 0), nil
}
