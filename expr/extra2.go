package expr

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func init() {
	registerRow("bit_length", FunctionDoc{Signature: "BIT_LENGTH(s)", Description: "Length in bits.", Example: "SELECT BIT_LENGTH('ab')"},
		1, 1, tInt64, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(len(a.str(0, i)))*8)
			return nil
		})
	registerRow("quote", FunctionDoc{Signature: "QUOTE(s)", Description: "s as a single-quoted SQL string literal.", Example: "SELECT QUOTE('it''s')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\x1a", `\Z`)
			appendStr(b, "'"+r.Replace(a.str(0, i))+"'")
			return nil
		})
	registerRow("yearweek", FunctionDoc{Signature: "YEARWEEK(x[, mode])", Description: "Year and week as YYYYWW (week modes as WEEK; default 0).", Example: "SELECT YEARWEEK('2024-01-01')"},
		1, 2, tInt64, []arrow.DataType{tTS, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			mode := int64(0)
			if len(a.arrs) > 1 {
				mode = a.i64(1, i)
			}
			// YEARWEEK always reports the week's year (WEEK_YEAR behaviour).
			w, y := calcWeek(time.UnixMicro(a.ts(0, i)).UTC(), weekMode(int(mode))|weekYear)
			appendI64(b, int64(y)*100+int64(w))
			return nil
		})
	registerRow("conv", FunctionDoc{Signature: "CONV(n, from_base, to_base)", Description: "n (text in from_base) rewritten in to_base (2..36; negative to_base reads n as signed).", Example: "SELECT CONV('ff', 16, 10)"},
		3, 3, tString, []arrow.DataType{tString, tInt64, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			out, ok := conv(a.str(0, i), a.i64(1, i), a.i64(2, i))
			if !ok {
				b.AppendNull()
				return nil
			}
			appendStr(b, out)
			return nil
		})
	registerRow("bin", FunctionDoc{Signature: "BIN(n)", Description: "Binary digits of n.", Example: "SELECT BIN(12)"},
		1, 1, tString, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strconv.FormatUint(uint64(a.i64(0, i)), 2))
			return nil
		})
	registerRow("oct", FunctionDoc{Signature: "OCT(n)", Description: "Octal digits of n.", Example: "SELECT OCT(12)"},
		1, 1, tString, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strconv.FormatUint(uint64(a.i64(0, i)), 8))
			return nil
		})
	registerRow("json_contains", FunctionDoc{Signature: "JSON_CONTAINS(target, candidate[, path])", Description: "Whether candidate is contained in target (arrays: every candidate element is contained in some element; objects: every key/value contained).", Example: `SELECT JSON_CONTAINS('[1, 2, 3]', '2')`},
		2, 3, tBool, []arrow.DataType{tString, tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			target, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_contains", "invalid JSON text: %v", err)
			}
			cand, err := parseJSON(a.str(1, i))
			if err != nil {
				return errorf("json_contains", "invalid JSON text: %v", err)
			}
			if len(a.arrs) == 3 {
				p, err := cachedJSONPath(a.str(2, i))
				if err != nil {
					return err
				}
				m := p.eval(target, nil)
				if len(m) == 0 {
					b.AppendNull()
					return nil
				}
				target = m[0]
			}
			b.(*array.BooleanBuilder).Append(jsonContains(target, cand))
			return nil
		})
	registerRow("json_contains_path", FunctionDoc{Signature: "JSON_CONTAINS_PATH(json, 'one'|'all', path, ...)", Description: "Whether one or all of the paths exist.", Example: `SELECT JSON_CONTAINS_PATH('{"a": 1}', 'one', '$.a', '$.b')`},
		3, -1, tBool, []arrow.DataType{tString}, func(b array.Builder, a *rowArgs, i int) error {
			doc, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_contains_path", "invalid JSON text: %v", err)
			}
			mode := strings.ToLower(a.str(1, i))
			if mode != "one" && mode != "all" {
				return errorf("json_contains_path", "the second argument must be 'one' or 'all'")
			}
			found := 0
			for k := 2; k < len(a.arrs); k++ {
				p, err := cachedJSONPath(a.str(k, i))
				if err != nil {
					return err
				}
				if len(p.eval(doc, nil)) > 0 {
					found++
				}
			}
			ok := found > 0
			if mode == "all" {
				ok = found == len(a.arrs)-2
			}
			b.(*array.BooleanBuilder).Append(ok)
			return nil
		})
}

// conv implements CONV: the longest valid prefix of s in base from,
// printed in base |to| (upper case).
func conv(s string, from, to int64) (string, bool) {
	signedOut := to < 0
	if to < 0 {
		to = -to
	}
	if from < 0 {
		from = -from
	}
	if from < 2 || from > 36 || to < 2 || to > 36 {
		return "", false
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	end := 0
	for end < len(s) {
		c := s[end] | 0x20
		var d int64 = 99
		switch {
		case s[end] >= '0' && s[end] <= '9':
			d = int64(s[end] - '0')
		case c >= 'a' && c <= 'z':
			d = int64(c-'a') + 10
		}
		if d >= from {
			break
		}
		end++
	}
	u, err := strconv.ParseUint(s[:end], int(from), 64)
	if err != nil && end > 0 {
		u = ^uint64(0)
	}
	if neg {
		if signedOut {
			return "-" + strings.ToUpper(strconv.FormatUint(u, int(to))), true
		}
		u = -u
	}
	return strings.ToUpper(strconv.FormatUint(u, int(to))), true
}

// jsonContains follows MySQL's JSON_CONTAINS rules.
func jsonContains(target, cand any) bool {
	switch t := target.(type) {
	case []any:
		if ca, ok := cand.([]any); ok {
			for _, c := range ca {
				if !jsonContains(t, c) {
					return false
				}
			}
			return true
		}
		for _, e := range t {
			if jsonContains(e, cand) {
				return true
			}
		}
		return false
	case map[string]any:
		co, ok := cand.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range co {
			tv, ok := t[k]
			if !ok || !jsonContains(tv, v) {
				return false
			}
		}
		return true
	}
	return jsonScalarEqual(target, cand)
}

func jsonScalarEqual(a, b any) bool {
	na, aok := a.(json.Number)
	nb, bok := b.(json.Number)
	if aok && bok {
		fa, e1 := na.Float64()
		fb, e2 := nb.Float64()
		return e1 == nil && e2 == nil && fa == fb
	}
	return reflect.DeepEqual(a, b)
}
