package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// colEval evaluates a column reference without copying: it retains the
// column of the input batch.
type colEval struct{ idx int }

func (c colEval) Eval(_ context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	if c.idx < 0 || c.idx >= int(rec.NumCols()) {
		return nil, fmt.Errorf("column #%d out of range (batch has %d columns)", c.idx, rec.NumCols())
	}
	a := rec.Column(c.idx)
	a.Retain()
	return a, nil
}

// compileExpr compiles e for use on batches. Column references take a
// zero-copy fast path; everything else goes to expr.Compile.
func compileExpr(e expr.Expr, mem memory.Allocator) (expr.Evaluator, error) {
	if c, ok := e.(*expr.Column); ok {
		return colEval{c.Index}, nil
	}
	return expr.Compile(e, mem)
}

func compileAll(es []expr.Expr, mem memory.Allocator) ([]expr.Evaluator, error) {
	out := make([]expr.Evaluator, len(es))
	for i, e := range es {
		ev, err := compileExpr(e, mem)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

// evalAll evaluates evs on rec; on error it releases what it produced.
func evalAll(ctx context.Context, evs []expr.Evaluator, rec arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(evs))
	for i, ev := range evs {
		a, err := ev.Eval(ctx, rec)
		if err != nil {
			releaseArrays(out[:i])
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}
