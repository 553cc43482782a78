package expr

import (
	"context"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Fusion: a tree of BIGINT/DOUBLE arithmetic (+ - * neg, / by a non-zero
// constant, BIGINT→DOUBLE casts) over columns and constants is evaluated
// in one pass over cache-sized chunks instead of one full-batch array per
// operator. Only the result array is allocated; intermediates live in
// pooled chunk scratch. When a kernel flags a possible overflow (BIGINT or
// DOUBLE) or an input fails, the batch is re-run through the unfused
// operators, so results and error messages are exactly theirs.

const fuseChunk = 1024

type fkind uint8

const (
	fInput fkind = iota // any evaluator producing BIGINT or DOUBLE
	fConst
	fBin
	fNeg
	fI2F
)

type fnode struct {
	kind  fkind
	float bool // DOUBLE (else BIGINT)
	op    byte
	l, r  *fnode
	input int
	ci    int64
	cf    float64
	slot  int // scratch slot of a computed node
}

type fusedEval struct {
	fallback Evaluator
	root     *fnode
	inputs   []Evaluator
	slots    int
	t        arrow.DataType
	mem      memory.Allocator
}

var fuseScratch = sync.Pool{New: func() any { return new([]uint64) }}

// tryFuse returns a fused evaluator for c when it is an arithmetic tree
// with at least two fusable operators, else nil.
func tryFuse(c *Call, mem memory.Allocator) (Evaluator, error) {
	f := &fuser{}
	root := f.build(c)
	if root == nil || root.kind == fInput || root.kind == fConst || f.ops < 2 {
		return nil, nil
	}
	// The unfused evaluator reports DOUBLE overflow on the exact operator.
	fallback, err := compileCallOpts(c, mem, false)
	if err != nil {
		return nil, err
	}
	ev := &fusedEval{root: root, slots: f.slots, t: c.T, mem: mem, fallback: fallback}
	for _, e := range f.inputs {
		in, err := compile(e, mem)
		if err != nil {
			return nil, err
		}
		ev.inputs = append(ev.inputs, in)
	}
	return ev, nil
}

type fuser struct {
	inputs []Expr
	ops    int
	slots  int
}

func isI64(t arrow.DataType) bool { return t.ID() == arrow.INT64 }
func isF64(t arrow.DataType) bool { return t.ID() == arrow.FLOAT64 }

func (f *fuser) leaf(e Expr) *fnode {
	if !isI64(e.Type()) && !isF64(e.Type()) {
		return nil
	}
	if l, ok := e.(*Literal); ok && l.Value == nil {
		return nil // NULL operands: the unfused operators short-cut to NULL
	}
	if l, ok := e.(*Literal); ok {
		if v, ok := l.Value.(int64); ok {
			return &fnode{kind: fConst, ci: v, cf: float64(v)}
		}
		if v, ok := l.Value.(float64); ok {
			return &fnode{kind: fConst, float: true, cf: v}
		}
	}
	f.inputs = append(f.inputs, e)
	return &fnode{kind: fInput, float: isF64(e.Type()), input: len(f.inputs) - 1}
}

func (f *fuser) build(e Expr) *fnode {
	switch n := e.(type) {
	case *Cast:
		if isF64(n.T) && isI64(n.Arg.Type()) {
			if l, ok := n.Arg.(*Literal); ok && l.Value != nil {
				return &fnode{kind: fConst, float: true, cf: float64(l.Value.(int64))}
			}
			child := f.build(n.Arg)
			if child == nil {
				return nil
			}
			f.ops++
			f.slots++
			return &fnode{kind: fI2F, float: true, l: child, slot: f.slots - 1}
		}
	case *Call:
		r, err := NewCall(n.Name, n.Args...)
		if err != nil {
			return nil
		}
		rc := r.(*Call)
		if n.T != nil && !arrow.TypeEqual(n.T, rc.T) {
			return f.leaf(e)
		}
		float := isF64(rc.T)
		if !float && !isI64(rc.T) {
			return f.leaf(e)
		}
		switch rc.Name {
		case "neg":
			if !arrow.TypeEqual(rc.Args[0].Type(), rc.T) {
				return f.leaf(e)
			}
			child := f.build(rc.Args[0])
			if child == nil {
				return nil
			}
			if child.kind == fConst {
				return f.leaf(e) // -constant: evaluated (and checked) unfused
			}
			f.ops++
			f.slots++
			return &fnode{kind: fNeg, float: float, l: child, slot: f.slots - 1}
		case "+", "-", "*", "/":
			if !arrow.TypeEqual(rc.Args[0].Type(), rc.T) || !arrow.TypeEqual(rc.Args[1].Type(), rc.T) {
				return f.leaf(e)
			}
			if rc.Name == "/" {
				l, ok := rc.Args[1].(*Literal)
				if !float || !ok || l.Value == nil || l.Value.(float64) == 0 {
					return f.leaf(e)
				}
			}
			l := f.build(rc.Args[0])
			r := f.build(rc.Args[1])
			if l == nil || r == nil {
				return nil
			}
			if l.kind == fConst && r.kind == fConst {
				return f.leaf(e) // let the ordinary path fold or fail
			}
			f.ops++
			f.slots++
			return &fnode{kind: fBin, float: float, op: rc.Name[0], l: l, r: r, slot: f.slots - 1}
		}
	}
	return f.leaf(e)
}

// fuseRun carries the per-Eval state.
type fuseRun struct {
	ins     []arrow.Array
	scratch []uint64
}

func (fr *fuseRun) slotI(slot int) []int64 {
	s := fr.scratch[slot*fuseChunk : (slot+1)*fuseChunk]
	return unsafeI64(s)
}

func (fr *fuseRun) slotF(slot int) []float64 {
	s := fr.scratch[slot*fuseChunk : (slot+1)*fuseChunk]
	return unsafeF64(s)
}

func (e *fusedEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	ins, err := evalAll(ctx, rec, e.inputs)
	if err != nil {
		// Report the error the operators would hit first, in their order.
		return e.fallback.Eval(ctx, rec)
	}
	defer releaseAll(ins)
	sp := fuseScratch.Get().(*[]uint64)
	defer fuseScratch.Put(sp)
	if need := e.slots * fuseChunk; cap(*sp) < need {
		*sp = make([]uint64, need)
	}
	fr := &fuseRun{ins: ins, scratch: (*sp)[:e.slots*fuseChunk]}
	validity, nulls := andValidity(e.mem, n, ins...)
	if e.root.float {
		buf, out := allocFixed[float64](e.mem, n)
		flagged := false
		for lo := 0; lo < n && !flagged; lo += fuseChunk {
			hi := min(lo+fuseChunk, n)
			_, f := e.root.evalF(fr, lo, hi, out[lo:hi])
			// Check finiteness while the chunk is in L1; any non-finite
			// value (even under a NULL) sends the batch to the exact path.
			flagged = f || !allFinite(out[lo:hi])
		}
		if flagged {
			buf.Release()
			if validity != nil {
				validity.Release()
			}
			return e.fallback.Eval(ctx, rec)
		}
		return makeArray(tFloat, n, validity, buf, nulls), nil
	}
	buf, out := allocFixed[int64](e.mem, n)
	for lo := 0; lo < n; lo += fuseChunk {
		hi := min(lo+fuseChunk, n)
		if bad := e.root.runI(fr, lo, hi, out[lo:hi]); bad != nil {
			// A possible overflow (maybe only under NULLs): the unfused
			// operators decide, and name the operator exactly as they would.
			buf.Release()
			if validity != nil {
				validity.Release()
			}
			return e.fallback.Eval(ctx, rec)
		}
	}
	return makeArray(tInt64, n, validity, buf, nulls), nil
}

// runI computes rows [lo,hi) of a BIGINT node into dst (or returns a view
// when dst is nil). It returns the node whose kernel flagged an overflow.
func (nd *fnode) runI(fr *fuseRun, lo, hi int, dst []int64) *fnode {
	_, bad := nd.evalI(fr, lo, hi, dst)
	return bad
}

func (nd *fnode) evalI(fr *fuseRun, lo, hi int, dst []int64) ([]int64, *fnode) {
	switch nd.kind {
	case fInput:
		v := values[int64](fr.ins[nd.input])[lo:hi]
		if dst != nil {
			copy(dst, v)
			return dst, nil
		}
		return v, nil
	}
	if dst == nil {
		dst = fr.slotI(nd.slot)[:hi-lo]
	}
	var bad *fnode
	switch nd.kind {
	case fNeg:
		x, b := nd.l.evalI(fr, lo, hi, nil)
		bad = b
		flag := false
		for i, v := range x {
			dst[i] = -v
			flag = flag || v == math.MinInt64
		}
		if flag && bad == nil {
			bad = nd
		}
	case fBin:
		var flag bool
		switch {
		case nd.r.kind == fConst:
			x, b := nd.l.evalI(fr, lo, hi, nil)
			bad = b
			c := nd.r.ci
			switch nd.op {
			case '+':
				flag = addI64S(x, c, dst)
			case '-':
				if c == math.MinInt64 {
					for i, v := range x {
						dst[i] = v - c
						flag = flag || v >= 0
					}
				} else {
					flag = addI64S(x, -c, dst)
				}
			default:
				flag = mulI64S(x, c, dst)
			}
		case nd.l.kind == fConst:
			y, b := nd.r.evalI(fr, lo, hi, nil)
			bad = b
			c := nd.l.ci
			switch nd.op {
			case '+':
				flag = addI64S(y, c, dst)
			case '-':
				flag = subI64SV(c, y, dst)
			default:
				flag = mulI64S(y, c, dst)
			}
		default:
			x, b1 := nd.l.evalI(fr, lo, hi, nil)
			y, b2 := nd.r.evalI(fr, lo, hi, nil)
			bad = b1
			if bad == nil {
				bad = b2
			}
			switch nd.op {
			case '+':
				flag = addI64(x, y, dst)
			case '-':
				flag = subI64(x, y, dst)
			default:
				flag = mulI64(x, y, dst)
			}
		}
		if flag && bad == nil {
			bad = nd
		}
	}
	return dst, bad
}

// evalF computes rows [lo,hi) of a DOUBLE node; flagged reports a
// possible BIGINT overflow in an integer subtree (the caller then falls
// back to the exact unfused operators).
func (nd *fnode) evalF(fr *fuseRun, lo, hi int, dst []float64) (out []float64, flagged bool) {
	switch nd.kind {
	case fInput:
		v := values[float64](fr.ins[nd.input])[lo:hi]
		if dst != nil {
			copy(dst, v)
			return dst, false
		}
		return v, false
	}
	if dst == nil {
		dst = fr.slotF(nd.slot)[:hi-lo]
	}
	switch nd.kind {
	case fI2F:
		x, bad := nd.l.evalI(fr, lo, hi, nil)
		flagged = bad != nil
		for i, v := range x {
			dst[i] = float64(v)
		}
	case fNeg:
		x, f := nd.l.evalF(fr, lo, hi, nil)
		flagged = f
		for i, v := range x {
			dst[i] = -v
		}
	case fBin:
		switch {
		case nd.r.kind == fConst:
			x, f := nd.l.evalF(fr, lo, hi, nil)
			flagged = f
			c := nd.r.cf
			switch nd.op {
			case '+':
				for i, v := range x {
					dst[i] = v + c
				}
			case '-':
				for i, v := range x {
					dst[i] = v - c
				}
			case '*':
				for i, v := range x {
					dst[i] = v * c
				}
			default:
				for i, v := range x {
					dst[i] = v / c
				}
			}
		case nd.l.kind == fConst:
			y, f := nd.r.evalF(fr, lo, hi, nil)
			flagged = f
			c := nd.l.cf
			switch nd.op {
			case '+':
				for i, v := range y {
					dst[i] = c + v
				}
			case '-':
				for i, v := range y {
					dst[i] = c - v
				}
			default:
				for i, v := range y {
					dst[i] = c * v
				}
			}
		default:
			x, f1 := nd.l.evalF(fr, lo, hi, nil)
			y, f2 := nd.r.evalF(fr, lo, hi, nil)
			flagged = f1 || f2
			y = y[:len(x)]
			switch nd.op {
			case '+':
				for i, v := range x {
					dst[i] = v + y[i]
				}
			case '-':
				for i, v := range x {
					dst[i] = v - y[i]
				}
			default:
				for i, v := range x {
					dst[i] = v * y[i]
				}
			}
		}
	}
	return dst, flagged
}

// allFinite reports whether no value is ±Inf or NaN.
func allFinite(r []float64) bool {
	const expMask = uint64(0x7ff) << 52
	var acc uint64
	for _, v := range r {
		acc |= math.Float64bits(v)&expMask + 1<<52
	}
	return acc>>63 == 0
}
