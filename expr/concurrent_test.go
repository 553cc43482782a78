package expr

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestConcurrentEval shares compiled evaluators between goroutines (run
// with -race): evaluators hold no per-call state.
func TestConcurrentEval(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tString, tString},
		[]any{int64(1), int64(2), nil, int64(4)},
		[]any{`{"a": 1}`, `{"a": [2]}`, nil, `{"b": 3}`},
		[]any{"a%", "$.a", "x", "$.b"})
	defer rec.Release()
	a, s, p := col(0, tInt64), col(1, tString), col(2, tString)
	exprs := []Expr{
		call(t, "+", call(t, "*", a, Lit(3)), Lit(1)),
		call(t, "like", s, p),
		call(t, "regexp", s, p),
		call(t, "json_extract", s, Lit("$.a")),
		call(t, "between", a, Lit(2), Lit(3)),
		&InList{Arg: a, List: []Expr{Lit(1), Lit(4)}},
	}
	var evs []Evaluator
	var want []string
	for _, e := range exprs {
		ev, err := Compile(e, mem)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		got, err := evalStrings(t, mem, e, rec)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		want = append(want, strings.Join(got, "|"))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 50; round++ {
				for k, ev := range evs {
					arr, err := ev.Eval(context.Background(), rec)
					if err != nil {
						t.Error(err)
						return
					}
					parts := make([]string, arr.Len())
					for i := range parts {
						parts[i] = FormatValue(arr, i)
					}
					arr.Release()
					if got := strings.Join(parts, "|"); got != want[k] {
						t.Errorf("%s: %s, want %s", exprs[k], got, want[k])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
