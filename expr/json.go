package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// JSON values are VARCHAR text (the column carries magnetar.type=json
// metadata). Results are rendered like MySQL's JSON type: object keys
// sorted by length then bytes, ", " and ": " separators, numbers as
// written. Paths support $, .key, ."quoted key", .*, [n], [last], [*].

func init() {
	register("json_extract", FunctionDoc{Signature: "JSON_EXTRACT(json, path, ...)", Description: "The value at path (an array of matches for wildcards or several paths); NULL when nothing matches. json->'$.a' is this.", Example: `SELECT JSON_EXTRACT('{"a": [1, 2]}', '$.a[1]')`},
		fixedArgs(2, -1, tString, tString), rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			doc, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_extract", "invalid JSON text: %v", err)
			}
			var matches []any
			single := len(a.arrs) == 2
			for k := 1; k < len(a.arrs); k++ {
				p, err := cachedJSONPath(a.str(k, i))
				if err != nil {
					return err
				}
				single = single && !p.wild
				matches = p.eval(doc, matches)
			}
			switch {
			case len(matches) == 0:
				b.AppendNull()
			case single:
				appendStr(b, jsonText(matches[0]))
			default:
				appendStr(b, jsonText(matches))
			}
			return nil
		}, false))
	registerRow("json_unquote", FunctionDoc{Signature: "JSON_UNQUOTE(s)", Description: "Removes JSON string quoting and escapes; other text is returned as is. json->>'$.a' is JSON_UNQUOTE(JSON_EXTRACT(...)).", Example: `SELECT JSON_UNQUOTE('"a\\tb"')`},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			s := a.str(0, i)
			if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
				var out string
				if err := json.Unmarshal([]byte(s), &out); err == nil {
					appendStr(b, out)
					return nil
				}
				return errorf("json_unquote", "invalid JSON string %s", s)
			}
			appendStr(b, s)
			return nil
		})
	registerRow("json_valid", FunctionDoc{Signature: "JSON_VALID(s)", Description: "Whether s is valid JSON.", Example: `SELECT JSON_VALID('{"a": 1}')`},
		1, 1, tBool, strs1, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.BooleanBuilder).Append(json.Valid([]byte(a.str(0, i))))
			return nil
		})
	registerRow("json_length", FunctionDoc{Signature: "JSON_LENGTH(json[, path])", Description: "Elements of an array, members of an object, 1 for scalars.", Example: `SELECT JSON_LENGTH('[1, 2, 3]')`},
		1, 2, tInt64, strs2, func(b array.Builder, a *rowArgs, i int) error {
			doc, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_length", "invalid JSON text: %v", err)
			}
			if len(a.arrs) == 2 {
				p, err := cachedJSONPath(a.str(1, i))
				if err != nil {
					return err
				}
				m := p.eval(doc, nil)
				if len(m) == 0 {
					b.AppendNull()
					return nil
				}
				doc = m[0]
			}
			switch v := doc.(type) {
			case []any:
				appendI64(b, int64(len(v)))
			case map[string]any:
				appendI64(b, int64(len(v)))
			default:
				appendI64(b, 1)
			}
			return nil
		})
	registerRow("json_type", FunctionDoc{Signature: "JSON_TYPE(json)", Description: "OBJECT, ARRAY, STRING, INTEGER, DOUBLE, BOOLEAN or NULL.", Example: `SELECT JSON_TYPE('[1]')`},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			doc, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_type", "invalid JSON text: %v", err)
			}
			switch v := doc.(type) {
			case []any:
				appendStr(b, "ARRAY")
			case map[string]any:
				appendStr(b, "OBJECT")
			case string:
				appendStr(b, "STRING")
			case bool:
				appendStr(b, "BOOLEAN")
			case nil:
				appendStr(b, "NULL")
			case json.Number:
				if _, err := v.Int64(); err == nil {
					appendStr(b, "INTEGER")
				} else {
					appendStr(b, "DOUBLE")
				}
			}
			return nil
		})
}

func parseJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// jsonText renders a decoded value in MySQL's normalised form.
func jsonText(v any) string {
	var sb strings.Builder
	writeJSON(&sb, v)
	return sb.String()
}

func writeJSON(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case json.Number:
		sb.WriteString(x.String())
	case string:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(x)
		sb.WriteString(strings.TrimSuffix(buf.String(), "\n"))
	case []any:
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeJSON(sb, e)
		}
		sb.WriteByte(']')
	case map[string]any:
		keys := sortedJSONKeys(x)
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeJSON(sb, k)
			sb.WriteString(": ")
			writeJSON(sb, x[k])
		}
		sb.WriteByte('}')
	default:
		fmt.Fprint(sb, x)
	}
}

type jsonStep struct {
	key   string
	index int // -1: key step; -2: [*]; -3: .*; -4: [last]
}

type jsonPath struct {
	steps []jsonStep
	wild  bool
}

var (
	jsonPathMu    sync.Mutex
	jsonPathCache = map[string]*jsonPath{}
)

func cachedJSONPath(s string) (*jsonPath, error) {
	jsonPathMu.Lock()
	defer jsonPathMu.Unlock()
	if p, ok := jsonPathCache[s]; ok {
		return p, nil
	}
	p, err := parseJSONPath(s)
	if err != nil {
		return nil, err
	}
	if len(jsonPathCache) > 1024 {
		clear(jsonPathCache)
	}
	jsonPathCache[s] = p
	return p, nil
}

func parseJSONPath(s string) (*jsonPath, error) {
	bad := func() (*jsonPath, error) {
		return nil, &Error{Func: "json_extract", Msg: fmt.Sprintf("invalid JSON path %q", s)}
	}
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "$") {
		return bad()
	}
	t = t[1:]
	p := &jsonPath{}
	for len(t) > 0 {
		switch t[0] {
		case '.':
			t = t[1:]
			switch {
			case strings.HasPrefix(t, "*"):
				p.steps = append(p.steps, jsonStep{index: -3})
				p.wild = true
				t = t[1:]
			case strings.HasPrefix(t, `"`):
				end := 1
				for end < len(t) && (t[end] != '"' || t[end-1] == '\\') {
					end++
				}
				if end >= len(t) {
					return bad()
				}
				var key string
				if err := json.Unmarshal([]byte(t[:end+1]), &key); err != nil {
					return bad()
				}
				p.steps = append(p.steps, jsonStep{key: key, index: -1})
				t = t[end+1:]
			default:
				end := 0
				for end < len(t) && t[end] != '.' && t[end] != '[' {
					end++
				}
				if end == 0 {
					return bad()
				}
				p.steps = append(p.steps, jsonStep{key: t[:end], index: -1})
				t = t[end:]
			}
		case '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				return bad()
			}
			in := strings.TrimSpace(t[1:end])
			switch in {
			case "*":
				p.steps = append(p.steps, jsonStep{index: -2})
				p.wild = true
			case "last":
				p.steps = append(p.steps, jsonStep{index: -4})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return bad()
				}
				p.steps = append(p.steps, jsonStep{index: n})
			}
			t = t[end+1:]
		default:
			return bad()
		}
	}
	return p, nil
}

// eval appends every value the path reaches in doc to out.
func (p *jsonPath) eval(doc any, out []any) []any {
	cur := []any{doc}
	for _, st := range p.steps {
		var next []any
		for _, v := range cur {
			switch st.index {
			case -1:
				if m, ok := v.(map[string]any); ok {
					if e, ok := m[st.key]; ok {
						next = append(next, e)
					}
				}
			case -3:
				if m, ok := v.(map[string]any); ok {
					keys := make([]string, 0, len(m))
					for k := range m {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						next = append(next, m[k])
					}
				}
			case -2:
				if arr, ok := v.([]any); ok {
					next = append(next, arr...)
				}
			default:
				arr, ok := v.([]any)
				if !ok {
					// MySQL: a scalar is an array of one element at [0].
					if st.index == 0 || st.index == -4 {
						next = append(next, v)
					}
					continue
				}
				idx := st.index
				if idx == -4 {
					idx = len(arr) - 1
				}
				if idx >= 0 && idx < len(arr) {
					next = append(next, arr[idx])
				}
			}
		}
		cur = next
	}
	return append(out, cur...)
}

// sortJSONKeys orders object keys like MySQL's JSON type: by length, then
// bytes.
func sortJSONKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
}
