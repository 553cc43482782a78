package expr

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// LIKE and REGEXP compare bytes/runes exactly (binary collation, so they
// are case-sensitive, unlike MySQL's default *_ci collations). A literal
// pattern is compiled once: LIKE patterns reduce to exact / prefix /
// suffix / contains checks where possible, otherwise a backtracking
// matcher; REGEXP uses Go's RE2 syntax (close to MySQL's ICU for common
// patterns; no back-references) with partial-match semantics.

func init() {
	likeResolve := func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		if err := arity(name, args, 2, 3); err != nil {
			return nil, nil, err
		}
		out := make([]Expr, len(args))
		for i, a := range args {
			c, err := coerceArg(name, i, a, tString)
			if err != nil {
				return nil, nil, err
			}
			out[i] = c
		}
		if len(out) == 3 {
			l, ok := out[2].(*Literal)
			if !ok || l.Value == nil || utf8.RuneCountInString(l.Value.(string)) > 1 {
				return nil, nil, errorf(name, "ESCAPE must be a single-character literal")
			}
		}
		return out, tBool, nil
	}
	register("like", FunctionDoc{Signature: "s LIKE pattern [ESCAPE c]", Description: "Pattern match with % (any run) and _ (one character); case-sensitive.", Example: "SELECT 'magnetar' LIKE 'mag%'"},
		likeResolve, compileLike)
	register("not_like", FunctionDoc{Signature: "s NOT LIKE pattern [ESCAPE c]", Description: "Negated LIKE.", Example: "SELECT 'abc' NOT LIKE 'a_'"},
		likeResolve, compileLike)
	reResolve := fixedArgs(2, 2, tBool, tString, tString)
	register("regexp", FunctionDoc{Signature: "s REGEXP pattern", Description: "TRUE when the regular expression (RE2 syntax) matches somewhere in s.", Example: "SELECT 'abc123' REGEXP '[0-9]+$'"},
		reResolve, compileRegexp)
	alias("rlike", "regexp")
	alias("regexp_like", "regexp")
	register("not_regexp", FunctionDoc{Signature: "s NOT REGEXP pattern", Description: "Negated REGEXP.", Example: "SELECT 'abc' NOT REGEXP '^b'"},
		reResolve, compileRegexp)
	registerRow("regexp_replace", FunctionDoc{Signature: "REGEXP_REPLACE(s, pattern, repl)", Description: "Replaces every match ($1 refers to groups).", Example: "SELECT REGEXP_REPLACE('a1b22', '[0-9]+', '#')"},
		3, 3, tString, []arrow.DataType{tString, tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			re, err := cachedRegexp(a.str(1, i))
			if err != nil {
				return err
			}
			appendStr(b, re.ReplaceAllString(a.str(0, i), a.str(2, i)))
			return nil
		})
	registerRow("regexp_substr", FunctionDoc{Signature: "REGEXP_SUBSTR(s, pattern)", Description: "The first match, NULL when none.", Example: "SELECT REGEXP_SUBSTR('a1b22', '[0-9]+')"},
		2, 2, tString, []arrow.DataType{tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			re, err := cachedRegexp(a.str(1, i))
			if err != nil {
				return err
			}
			s := a.str(0, i)
			if loc := re.FindStringIndex(s); loc != nil {
				appendStr(b, s[loc[0]:loc[1]])
			} else {
				b.AppendNull()
			}
			return nil
		})
}

// ---- LIKE matcher ----

type likeKind int

const (
	likeExact likeKind = iota
	likePrefix
	likeSuffix
	likeContains
	likeAny
	likeGeneral
)

type likeElem struct {
	kind byte // 'l' literal text, '_' one rune, '%' any run
	lit  string
}

type likeMatcher struct {
	kind  likeKind
	lit   string
	elems []likeElem
}

func compileLikePattern(p string, esc rune) *likeMatcher {
	var elems []likeElem
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			elems = append(elems, likeElem{kind: 'l', lit: lit.String()})
			lit.Reset()
		}
	}
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == esc && i+1 < len(rs):
			i++
			lit.WriteRune(rs[i])
		case r == '%':
			flush()
			if len(elems) == 0 || elems[len(elems)-1].kind != '%' {
				elems = append(elems, likeElem{kind: '%'})
			}
		case r == '_':
			flush()
			elems = append(elems, likeElem{kind: '_'})
		default:
			lit.WriteRune(r)
		}
	}
	flush()
	m := &likeMatcher{kind: likeGeneral, elems: elems}
	kinds := make([]byte, len(elems))
	for i, e := range elems {
		kinds[i] = e.kind
	}
	switch string(kinds) {
	case "":
		m.kind, m.lit = likeExact, ""
	case "l":
		m.kind, m.lit = likeExact, elems[0].lit
	case "%":
		m.kind = likeAny
	case "l%":
		m.kind, m.lit = likePrefix, elems[0].lit
	case "%l":
		m.kind, m.lit = likeSuffix, elems[1].lit
	case "%l%":
		m.kind, m.lit = likeContains, elems[1].lit
	}
	return m
}

func (m *likeMatcher) match(s string) bool {
	switch m.kind {
	case likeExact:
		return s == m.lit
	case likePrefix:
		return strings.HasPrefix(s, m.lit)
	case likeSuffix:
		return strings.HasSuffix(s, m.lit)
	case likeContains:
		return strings.Contains(s, m.lit)
	case likeAny:
		return true
	}
	return matchElems(m.elems, s)
}

// matchElems matches with backtracking to the most recent %.
func matchElems(elems []likeElem, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(elems) {
			e := elems[pi]
			switch e.kind {
			case '%':
				starP, starS = pi, si
				pi++
				continue
			case '_':
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					pi++
					continue
				}
			case 'l':
				if strings.HasPrefix(s[si:], e.lit) {
					si += len(e.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		pi, si = starP+1, starS
	}
}

type strPredEval struct {
	arg  Evaluator
	pat  Evaluator // nil when the pattern is compiled
	pred func(string) bool
	// dyn builds a predicate for a per-row pattern (cached).
	dyn func(p string) (func(string) bool, error)
	not bool
	mem memory.Allocator
}

func compileLike(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	esc := '\\'
	if len(c.Args) == 3 {
		if s := c.Args[2].(*Literal).Value.(string); s != "" {
			esc, _ = utf8.DecodeRuneInString(s)
		}
	}
	e := &strPredEval{arg: args[0], not: c.Name == "not_like", mem: mem}
	if lit, ok := constOf(args[1]); ok {
		if lit.Value == nil {
			return &constEval{lit: &Literal{T: tBool}, mem: mem}, nil
		}
		e.pred = compileLikePattern(lit.Value.(string), esc).match
		return e, nil
	}
	e.pat = args[1]
	var mu sync.Mutex
	cache := map[string]*likeMatcher{}
	e.dyn = func(p string) (func(string) bool, error) {
		mu.Lock()
		defer mu.Unlock()
		m, ok := cache[p]
		if !ok {
			if len(cache) > 256 {
				clear(cache)
			}
			m = compileLikePattern(p, esc)
			cache[p] = m
		}
		return m.match, nil
	}
	return e, nil
}

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

// cachedRegexp compiles per-row patterns once per distinct pattern.
func cachedRegexp(p string) (*regexp.Regexp, error) {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, &Error{Func: "regexp", Msg: "invalid pattern: " + err.Error()}
	}
	if len(reCache) > 1024 {
		clear(reCache)
	}
	reCache[p] = re
	return re, nil
}

func compileRegexp(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	e := &strPredEval{arg: args[0], not: c.Name == "not_regexp", mem: mem}
	if lit, ok := constOf(args[1]); ok {
		if lit.Value == nil {
			return &constEval{lit: &Literal{T: tBool}, mem: mem}, nil
		}
		re, err := regexp.Compile(lit.Value.(string))
		if err != nil {
			return nil, errorf(c.Name, "invalid pattern: %v", err)
		}
		e.pred = re.MatchString
		return e, nil
	}
	e.pat = args[1]
	e.dyn = func(p string) (func(string) bool, error) {
		re, err := cachedRegexp(p)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	}
	return e, nil
}

func (e *strPredEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	a, err := e.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	var pat arrow.Array
	if e.pat != nil {
		if pat, err = e.pat.Eval(ctx, rec); err != nil {
			return nil, err
		}
		defer pat.Release()
	}
	n := a.Len()
	var validity *memory.Buffer
	var nulls int
	if pat != nil {
		validity, nulls = andValidity(e.mem, n, a, pat)
	} else {
		validity, nulls = andValidity(e.mem, n, a)
	}
	vbuf, out := allocBits(e.mem, n)
	s := a.(*array.String)
	for i := 0; i < n; i++ {
		if s.IsNull(i) || (pat != nil && pat.IsNull(i)) {
			continue
		}
		pred := e.pred
		if pat != nil {
			p, _ := textOf(pat, i)
			if pred, err = e.dyn(p); err != nil {
				vbuf.Release()
				if validity != nil {
					validity.Release()
				}
				return nil, err
			}
		}
		if pred(s.Value(i)) != e.not {
			bitutil.SetBit(out, i)
		}
	}
	return boolArray(n, validity, vbuf, nulls), nil
}
