package planner

import (
	"context"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// Builder turns an optimized logical plan into exec operators.
type Builder struct {
	Mem memory.Allocator
	// Mode is passed to every scan; unbounded inputs make aggregates emit
	// changelogs.
	Mode catalog.Mode
	// Options are per-query scan options (session settings).
	Options map[string]string
	// Metered wraps every operator in exec.NewMetered (EXPLAIN ANALYZE).
	Metered bool
}

// Build builds the operator tree for n. Operators are not opened.
func (bl *Builder) Build(ctx context.Context, n Node) (exec.Operator, error) {
	op, _, err := bl.build(ctx, n)
	return op, err
}

// build returns the operator and whether its output is unbounded.
func (bl *Builder) build(ctx context.Context, n Node) (op exec.Operator, unbounded bool, err error) {
	mem := bl.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	kids := make([]exec.Operator, 0, 2)
	var kidUnbounded []bool
	for _, c := range n.Children() {
		k, u, err := bl.build(ctx, c)
		if err != nil {
			for _, o := range kids {
				o.Close()
			}
			return nil, false, err
		}
		kids = append(kids, k)
		kidUnbounded = append(kidUnbounded, u)
		unbounded = unbounded || u
	}
	if unbounded {
		// These operators emit only at end of input, which a continuous
		// query never reaches: say so instead of waiting forever.
		switch x := n.(type) {
		case *Sort:
			// ORDER BY ... LIMIT n became a streaming Top-N (rule_limit.go);
			// LIMIT 0 reads nothing and ends.
			if x.Limit != 0 {
				err = fmt.Errorf("unsupported: ORDER BY without LIMIT in a continuous query (a sort emits only at end of input); add LIMIT n for a continuously updated top n, or SET %s = 'bounded'", "magnetar.mode")
			}
		case *Limit:
			if changelog(x.Child, catalog.Unbounded) {
				err = fmt.Errorf("unsupported: LIMIT over an updating result in a continuous query (the first rows of a changelog mean nothing); use ORDER BY ... LIMIT n for a continuously updated top n, or SET %s = 'bounded'", "magnetar.mode")
			}
		case *Join:
			// The nested-loop join buffers its right input to the end
			// first. Flink and RisingWave refuse a streaming join without
			// an equality condition too.
			if x := n.(*Join); len(x.LeftKeys) == 0 && len(kidUnbounded) == 2 && kidUnbounded[1] {
				err = fmt.Errorf("unsupported: a join of two streams without an equality condition in a continuous query (it would wait for the end of its right input); join ON an equality of columns (a.k = b.k), a time interval (b.ts BETWEEN a.ts AND a.ts + INTERVAL 1 MINUTE) or a lookup (JOIN t AS OF TIMESTAMP PROCTIME()), or SET %s = 'bounded'", "magnetar.mode")
			}
		case *Window:
			// Supported ones became OverAggregates (over_aggregate.go).
			if err = continuousWindowError(x); err == nil {
				err = fmt.Errorf("unsupported: window functions in a continuous query planned without its session; SET %s = 'bounded'", "magnetar.mode")
			}
		}
		if err != nil {
			for _, o := range kids {
				o.Close()
			}
			return nil, false, err
		}
	}
	op, err = bl.buildOne(ctx, n, kids, kidUnbounded, unbounded, mem)
	if err != nil {
		for _, o := range kids {
			o.Close()
		}
		return nil, false, err
	}
	if _, ok := n.(*Scan); ok && bl.Mode == catalog.Unbounded {
		unbounded = true
	}
	if bl.Metered {
		op = exec.NewMetered(op)
	}
	return op, unbounded, nil
}

func names(cols []Col) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// kidUnbounded says which of kids are unbounded; unbounded, whether any is.
func (bl *Builder) buildOne(ctx context.Context, n Node, kids []exec.Operator, kidUnbounded []bool, unbounded bool, mem memory.Allocator) (exec.Operator, error) {
	switch x := n.(type) {
	case *Scan:
		opts := bl.Options
		if x.AsOf != 0 {
			opts = make(map[string]string, len(bl.Options)+1)
			for k, v := range bl.Options {
				opts[k] = v
			}
			opts["as_of"] = strconv.FormatInt(x.AsOf, 10)
		}
		return x.Table.Scan(ctx, catalog.ScanRequest{
			Columns: x.Columns, Filters: x.Filters, Limit: x.Limit, Mode: bl.Mode, Options: opts,
		})
	case *Values:
		rec, err := valuesBatch(ctx, x, mem)
		if err != nil {
			return nil, err
		}
		defer rec.Release()
		return exec.NewValues(rec.Schema(), []arrow.RecordBatch{rec}), nil
	case *Filter:
		return exec.NewFilter(kids[0], x.Pred, mem)
	case *Project:
		return exec.NewProject(kids[0], x.Exprs, names(x.Cols), mem)
	case *Aggregate:
		G := len(x.Groups)
		aggs := make([]exec.AggCall, len(x.Aggs))
		for i, a := range x.Aggs {
			aggs[i] = exec.AggCall{Func: a.Func, Args: a.Args, Distinct: a.Distinct, Name: x.Cols[G+i].Name}
		}
		opts := exec.AggOptions{Emit: exec.EmitOnEnd}
		if unbounded {
			opts.Emit = exec.EmitChangelog
		}
		return exec.NewHashAggregate(kids[0], x.Groups, names(x.Cols[:G]), aggs, mem, opts)
	case *Join:
		if len(x.LeftKeys) > 0 {
			return newHashJoin(x, kids, kidUnbounded[1], unbounded, mem) // join_stream.go
		}
		return exec.NewNestedLoopJoin(kids[0], kids[1], x.Type, x.Residual, mem)
	case *Sort:
		if x.Limit >= 0 {
			return exec.NewTopN(kids[0], x.Keys, x.Offset, x.Limit, mem)
		}
		return exec.NewSort(kids[0], x.Keys, mem)
	case *Limit:
		return exec.NewLimit(kids[0], x.Offset, x.Count), nil
	case *Union:
		return exec.NewUnion(kids), nil
	case *OverAggregate:
		return bl.buildOver(x, kids[0], mem) // over_aggregate.go
	case *Window:
		inW := len(x.Child.Schema())
		calls := make([]exec.WindowCall, len(x.Funcs))
		for i, f := range x.Funcs {
			calls[i] = exec.WindowCall{Func: f.Func, Args: f.Args, Frame: f.Frame, Name: x.Cols[inW+i].Name}
		}
		return exec.NewWindow(kids[0], x.PartitionBy, x.OrderBy, calls, mem)
	}
	if op, ok, err := bl.buildStream(n, kids, mem); ok {
		return op, err
	}
	return nil, fmt.Errorf("planner: cannot build %T", n)
}

// valuesBatch evaluates the constant rows of a Values node into one batch.
func valuesBatch(ctx context.Context, v *Values, mem memory.Allocator) (arrow.RecordBatch, error) {
	schema := ArrowSchema(v.Cols)
	nrows := int64(len(v.Rows))
	if len(v.Cols) == 0 {
		return array.NewRecordBatch(schema, nil, nrows), nil
	}
	one := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	cols := make([]arrow.Array, len(v.Cols))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for j := range v.Cols {
		parts := make([]arrow.Array, 0, len(v.Rows))
		release := func() {
			for _, p := range parts {
				p.Release()
			}
		}
		for _, r := range v.Rows {
			ev, err := expr.Compile(r[j], mem)
			if err != nil {
				release()
				return nil, err
			}
			a, err := ev.Eval(ctx, one)
			if err != nil {
				release()
				return nil, err
			}
			parts = append(parts, a)
		}
		if len(parts) == 1 {
			cols[j] = parts[0]
			continue
		}
		c, err := array.Concatenate(parts, mem)
		release()
		if err != nil {
			return nil, err
		}
		cols[j] = c
	}
	return array.NewRecordBatch(schema, cols, nrows), nil
}

// Collect runs an operator to its end and returns the batches (retained;
// the caller releases them). Change kinds are dropped: callers use it for
// bounded plans.
func Collect(ctx context.Context, op exec.Operator) ([]arrow.RecordBatch, error) {
	if err := op.Open(ctx); err != nil {
		op.Close()
		return nil, err
	}
	defer op.Close()
	var out []arrow.RecordBatch
	for {
		m, err := op.Next(ctx)
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, err
		}
		switch m.Kind {
		case exec.MsgEnd:
			return out, nil
		case exec.MsgBatch:
			out = append(out, m.Batch.Rec)
		}
	}
}

// Runner returns a RunFunc that optimizes, builds (bounded) and runs a
// subquery plan, returning up to maxRows+1 rows as literals.
func Runner(mem memory.Allocator, options map[string]string) RunFunc {
	return func(ctx context.Context, n Node, maxRows int) ([][]*expr.Literal, error) {
		opt, err := Optimize(ctx, n)
		if err != nil {
			return nil, err
		}
		opt = &Limit{Child: opt, Count: int64(maxRows) + 1}
		opt = limitPusher{}.down(opt)
		bl := &Builder{Mem: mem, Mode: catalog.Bounded, Options: options}
		op, err := bl.Build(ctx, opt)
		if err != nil {
			return nil, err
		}
		recs, err := Collect(ctx, op)
		if err != nil {
			return nil, err
		}
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		var rows [][]*expr.Literal
		for _, r := range recs {
			for i := 0; i < int(r.NumRows()); i++ {
				row := make([]*expr.Literal, r.NumCols())
				for j := range row {
					col := r.Column(j)
					row[j] = &expr.Literal{Value: expr.Scalar(col, i), T: col.DataType()}
				}
				rows = append(rows, row)
			}
		}
		return rows, nil
	}
}
