package exec

import (
	"context"
	"reflect"
)

type selectCase struct {
	idx int
	ch  <-chan Fetched
}

// selectFetched blocks until one of the channels delivers or ctx is done.
// Two inputs (the common case) use a plain select; more use reflect.Select.
func selectFetched(ctx context.Context, cases []selectCase) (int, Fetched, error) {
	recv := func(i int, f Fetched, ok bool) (int, Fetched, error) {
		if !ok {
			return i, Fetched{Msg: EndMsg}, nil
		}
		return i, f, nil
	}
	switch len(cases) {
	case 1:
		select {
		case f, ok := <-cases[0].ch:
			return recv(cases[0].idx, f, ok)
		case <-ctx.Done():
			return 0, Fetched{}, ctx.Err()
		}
	case 2:
		select {
		case f, ok := <-cases[0].ch:
			return recv(cases[0].idx, f, ok)
		case f, ok := <-cases[1].ch:
			return recv(cases[1].idx, f, ok)
		case <-ctx.Done():
			return 0, Fetched{}, ctx.Err()
		}
	}
	sc := make([]reflect.SelectCase, 0, len(cases)+1)
	for _, c := range cases {
		sc = append(sc, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.ch)})
	}
	sc = append(sc, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	chosen, v, ok := reflect.Select(sc)
	if chosen == len(cases) {
		return 0, Fetched{}, ctx.Err()
	}
	var f Fetched
	if ok {
		f = v.Interface().(Fetched)
	}
	return recv(cases[chosen].idx, f, ok)
}
