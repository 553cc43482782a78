package pulsar

import (
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
)

// bounds is what pushed-down filters tell a scan.
type bounds struct {
	// pubLo and pubHi bound __publish_time in µs, both inclusive.
	pubLo, pubHi int64
	hasPub       bool
	// parts, when non-nil, is the set of partitions to read.
	parts map[int]bool
}

func newBounds() bounds { return bounds{pubLo: math.MinInt64, pubHi: math.MaxInt64} }

func (b *bounds) lower(v int64) {
	b.hasPub = true
	b.pubLo = max(b.pubLo, v)
}

func (b *bounds) upper(v int64) {
	b.hasPub = true
	b.pubHi = min(b.pubHi, v)
}

func (b *bounds) onlyParts(ps []int) {
	set := map[int]bool{}
	for _, p := range ps {
		if b.parts == nil || b.parts[p] {
			set[p] = true
		}
	}
	b.parts = set
}

// analyze records what e says about the scan in b and returns how fully the
// scan applies it.
func (t *Table) analyze(e expr.Expr, b *bounds) catalog.FilterSupport {
	name, args, ok := callParts(e)
	if ok {
		switch strings.ToLower(name) {
		case "and":
			// Supported conjuncts narrow the scan even when others are not;
			// the AND is then only Inexact.
			sup, used := catalog.Exact, false
			for _, a := range args {
				s := t.analyze(a, b)
				if s == catalog.Unsupported {
					sup = catalog.Inexact
					continue
				}
				used = true
				sup = min(sup, s)
			}
			if !used {
				return catalog.Unsupported
			}
			return sup
		case ">", ">=", "<", "<=", "=":
			if len(args) != 2 {
				return catalog.Unsupported
			}
			op := name
			col, lit, ok := colLit(args[0], args[1])
			if !ok {
				if col, lit, ok = colLit(args[1], args[0]); !ok {
					return catalog.Unsupported
				}
				op = flip(op)
			}
			return t.compare(col, op, lit, b)
		case "between":
			if len(args) != 3 {
				return catalog.Unsupported
			}
			col, ok := args[0].(*expr.Column)
			lo, ok1 := args[1].(*expr.Literal)
			hi, ok2 := args[2].(*expr.Literal)
			if !ok || !ok1 || !ok2 {
				return catalog.Unsupported
			}
			nb := *b
			s1, s2 := t.compare(col, ">=", lo, &nb), t.compare(col, "<=", hi, &nb)
			if s1 == catalog.Unsupported || s2 == catalog.Unsupported {
				return catalog.Unsupported
			}
			*b = nb
			return min(s1, s2)
		}
		return catalog.Unsupported
	}
	if arg, list, not, ok := inListParts(e); ok && !not {
		col, ok := arg.(*expr.Column)
		if !ok || col.Index != t.metaIndex(metaPartition) {
			return catalog.Unsupported
		}
		var ps []int
		for _, l := range list {
			lit, ok := l.(*expr.Literal)
			if !ok {
				return catalog.Unsupported
			}
			p, ok := intValue(lit)
			if !ok {
				return catalog.Unsupported
			}
			ps = append(ps, p)
		}
		b.onlyParts(ps)
		return catalog.Exact
	}
	return catalog.Unsupported
}

// compare handles col op lit.
func (t *Table) compare(col *expr.Column, op string, lit *expr.Literal, b *bounds) catalog.FilterSupport {
	switch col.Index {
	case t.metaIndex(metaPublishTime):
		us, ok := timestampValue(lit)
		if !ok {
			return catalog.Unsupported
		}
		switch op {
		case ">":
			b.lower(us + 1)
		case ">=":
			b.lower(us)
		case "<":
			b.upper(us - 1)
		case "<=":
			b.upper(us)
		case "=":
			b.lower(us)
			b.upper(us)
		}
		return catalog.Inexact
	case t.metaIndex(metaPartition):
		if op != "=" {
			return catalog.Unsupported
		}
		p, ok := intValue(lit)
		if !ok {
			return catalog.Unsupported
		}
		b.onlyParts([]int{p})
		return catalog.Exact
	}
	return catalog.Unsupported
}

func colLit(a, b expr.Expr) (*expr.Column, *expr.Literal, bool) {
	c, ok := a.(*expr.Column)
	if !ok {
		return nil, nil, false
	}
	l, ok := b.(*expr.Literal)
	if !ok || l.Value == nil {
		return nil, nil, false
	}
	return c, l, true
}

func flip(op string) string {
	switch op {
	case ">":
		return "<"
	case ">=":
		return "<="
	case "<":
		return ">"
	case "<=":
		return ">="
	}
	return op
}

// timestampValue converts a literal to µs since the epoch.
func timestampValue(l *expr.Literal) (int64, bool) {
	switch v := l.Value.(type) {
	case arrow.Timestamp:
		unit := arrow.Microsecond
		if tt, ok := l.T.(*arrow.TimestampType); ok {
			unit = tt.Unit
		}
		switch unit {
		case arrow.Second:
			return int64(v) * 1e6, true
		case arrow.Millisecond:
			return int64(v) * 1e3, true
		case arrow.Nanosecond:
			return int64(v) / 1e3, true
		}
		return int64(v), true
	case time.Time:
		return v.UnixMicro(), true
	case string:
		return parseTime(v)
	}
	return 0, false
}

// parseTime reads "2006-01-02 15:04:05[.fraction]" (UTC), RFC 3339, or
// "2006-01-02".
func parseTime(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

func intValue(l *expr.Literal) (int, bool) {
	switch v := l.Value.(type) {
	case int64:
		return int(v), true
	case uint64:
		if v > math.MaxInt32 {
			return 0, false
		}
		return int(v), true
	case int:
		return v, true
	case int32:
		return int(v), true
	}
	return 0, false
}

var exprType = reflect.TypeFor[expr.Expr]()

// callParts extracts the name and arguments of a function-call node. The
// expr package's Call node ({Name string; Args []expr.Expr}) is written
// concurrently with this package; matching that documented shape keeps this
// package independent of when it lands. It runs at plan time only.
func callParts(e expr.Expr) (string, []expr.Expr, bool) {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", nil, false
	}
	v = v.Elem()
	n, a := v.FieldByName("Name"), v.FieldByName("Args")
	if !n.IsValid() || n.Kind() != reflect.String || !a.IsValid() || a.Kind() != reflect.Slice || a.Type().Elem() != exprType {
		return "", nil, false
	}
	return n.String(), a.Interface().([]expr.Expr), true
}

// inListParts matches the documented InList node {Arg Expr; List []Expr; Not bool}.
func inListParts(e expr.Expr) (expr.Expr, []expr.Expr, bool, bool) {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, nil, false, false
	}
	v = v.Elem()
	a, l, n := v.FieldByName("Arg"), v.FieldByName("List"), v.FieldByName("Not")
	if !a.IsValid() || a.Type() != exprType || !l.IsValid() || l.Kind() != reflect.Slice || l.Type().Elem() != exprType || !n.IsValid() || n.Kind() != reflect.Bool {
		return nil, nil, false, false
	}
	arg, _ := a.Interface().(expr.Expr)
	return arg, l.Interface().([]expr.Expr), n.Bool(), true
}
