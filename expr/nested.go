package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Element access on Avro arrays (LIST) and maps (MAP):
// element_at(list, i) is 1-based (negative counts from the end, out of
// range is NULL); element_at(map, key) looks the key up (NULL if absent);
// cardinality(x) counts elements.

func init() {
	register("element_at", FunctionDoc{Signature: "ELEMENT_AT(list, i) | ELEMENT_AT(map, key)", Description: "List element i (1-based, negative from the end) or the map value for key; NULL when absent.", Example: "SELECT ELEMENT_AT(tags, 1) FROM t"},
		resolveElementAt, compileElementAt)
	register("cardinality", FunctionDoc{Signature: "CARDINALITY(x)", Description: "Number of elements of a list or map.", Example: "SELECT CARDINALITY(tags) FROM t"},
		func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
			if err := arity(name, args, 1, 1); err != nil {
				return nil, nil, err
			}
			switch args[0].Type().ID() {
			case arrow.LIST, arrow.LARGE_LIST, arrow.MAP, arrow.FIXED_SIZE_LIST, arrow.NULL:
				return args, tInt64, nil
			}
			return nil, nil, argTypeError(name, 0, args[0].Type())
		}, rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			if l, ok := a.arrs[0].(array.ListLike); ok {
				start, end := l.ValueOffsets(i)
				appendI64(b, end-start)
				return nil
			}
			b.AppendNull()
			return nil
		}, false))
}

func resolveElementAt(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, 2); err != nil {
		return nil, nil, err
	}
	switch t := args[0].Type().(type) {
	case *arrow.MapType:
		k, err := coerceArg(name, 1, args[1], t.KeyType())
		if err != nil {
			return nil, nil, err
		}
		return []Expr{args[0], k}, t.ItemType(), nil
	case *arrow.ListType:
		i, err := coerceArg(name, 1, args[1], tInt64)
		if err != nil {
			return nil, nil, err
		}
		return []Expr{args[0], i}, t.Elem(), nil
	case *arrow.LargeListType:
		i, err := coerceArg(name, 1, args[1], tInt64)
		if err != nil {
			return nil, nil, err
		}
		return []Expr{args[0], i}, t.Elem(), nil
	}
	return nil, nil, argTypeError(name, 0, args[0].Type())
}

type elementAtEval struct {
	arg, key Evaluator
	t        arrow.DataType
	mem      memory.Allocator
}

func compileElementAt(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &elementAtEval{arg: args[0], key: args[1], t: c.T, mem: mem}, nil
}

func (e *elementAtEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	arrs, err := evalAll(ctx, rec, []Evaluator{e.arg, e.key})
	if err != nil {
		return nil, err
	}
	defer releaseAll(arrs)
	src, key := arrs[0], arrs[1]
	n := src.Len()
	b := array.NewBuilder(e.mem, e.t)
	defer b.Release()
	b.Reserve(n)
	switch a := src.(type) {
	case *array.Map:
		keys, items := a.Keys(), a.Items()
		for i := 0; i < n; i++ {
			if a.IsNull(i) || key.IsNull(i) {
				b.AppendNull()
				continue
			}
			want := Scalar(key, i)
			start, end := a.ValueOffsets(i)
			found := -1
			for j := int(start); j < int(end); j++ {
				if scalarEqual(Scalar(keys, j), want) {
					found = j
				}
			}
			if found < 0 {
				b.AppendNull()
			} else {
				appendCell(b, items, found)
			}
		}
	case array.ListLike:
		vals := a.ListValues()
		idx := key.(*array.Int64)
		for i := 0; i < n; i++ {
			if a.IsNull(i) || key.IsNull(i) {
				b.AppendNull()
				continue
			}
			start, end := a.ValueOffsets(i)
			k := idx.Value(i)
			var j int64
			switch {
			case k > 0 && k <= end-start:
				j = start + k - 1
			case k < 0 && -k <= end-start:
				j = end + k
			default:
				b.AppendNull()
				continue
			}
			appendCell(b, vals, int(j))
		}
	default:
		return nullArray(e.mem, e.t, n), nil
	}
	return b.NewArray(), nil
}

// scalarEqual compares Scalar values ([]byte by content).
func scalarEqual(a, b any) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return a == b
}
