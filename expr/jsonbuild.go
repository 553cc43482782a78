package expr

import (
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// JSON_OBJECT / JSON_ARRAY build JSON text. Arguments that are themselves
// JSON (results of JSON_EXTRACT, JSON_OBJECT, JSON_ARRAY) are embedded as
// JSON; other strings become JSON strings; numbers, booleans and NULL map
// to their JSON forms.

func init() {
	register("json_object", FunctionDoc{Signature: "JSON_OBJECT(k1, v1, ...)", Description: "A JSON object from key/value pairs (keys must not be NULL).", Example: "SELECT JSON_OBJECT('a', 1, 'b', 'x')"},
		resolveJSONBuild, compileJSONBuild)
	register("json_array", FunctionDoc{Signature: "JSON_ARRAY(v1, ...)", Description: "A JSON array of the values.", Example: "SELECT JSON_ARRAY(1, 'two', NULL)"},
		resolveJSONBuild, compileJSONBuild)
	registerRow("json_quote", FunctionDoc{Signature: "JSON_QUOTE(s)", Description: "s as a JSON string literal.", Example: `SELECT JSON_QUOTE('a"b')`},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, jsonText(a.str(0, i)))
			return nil
		})
	registerRow("json_keys", FunctionDoc{Signature: "JSON_KEYS(json[, path])", Description: "The keys of an object as a JSON array; NULL for non-objects.", Example: `SELECT JSON_KEYS('{"a": 1, "b": 2}')`},
		1, 2, tString, strs2, func(b array.Builder, a *rowArgs, i int) error {
			doc, err := parseJSON(a.str(0, i))
			if err != nil {
				return errorf("json_keys", "invalid JSON text: %v", err)
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
			obj, ok := doc.(map[string]any)
			if !ok {
				b.AppendNull()
				return nil
			}
			keys := make([]any, 0, len(obj))
			for _, k := range sortedJSONKeys(obj) {
				keys = append(keys, k)
			}
			appendStr(b, jsonText(keys))
			return nil
		})
}

// jsonProducers return JSON text; their results embed as JSON.
var jsonProducers = map[string]bool{"json_extract": true, "json_object": true, "json_array": true, "json_keys": true, "json_quote": true}

func resolveJSONBuild(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if name == "json_object" && len(args)%2 != 0 {
		return nil, nil, errorf(name, "takes an even number of arguments, got %d", len(args))
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		t := a.Type()
		switch {
		case isNested(t):
			return nil, nil, argTypeError(name, i, t)
		case name == "json_object" && i%2 == 0:
			c, err := coerceArg(name, i, a, tString)
			if err != nil {
				return nil, nil, err
			}
			out[i] = c
		case isTemporal(t) || isBinaryish(t):
			c, err := coerceArg(name, i, a, tString)
			if err != nil {
				return nil, nil, err
			}
			out[i] = c
		default:
			out[i] = a
		}
	}
	return out, tString, nil
}

func compileJSONBuild(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	isJSON := make([]bool, len(c.Args))
	for i, a := range c.Args {
		if call, ok := a.(*Call); ok && jsonProducers[call.Name] {
			isJSON[i] = true
		}
	}
	object := c.Name == "json_object"
	return &rowEval{name: c.Name, args: args, t: tString, nullAware: true, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
		vals := make([]any, len(a.arrs))
		for k, arr := range a.arrs {
			v, err := jsonValueOf(arr, i, isJSON[k])
			if err != nil {
				return errorf(c.Name, "%v", err)
			}
			vals[k] = v
		}
		if !object {
			appendStr(b, jsonText(vals))
			return nil
		}
		obj := make(map[string]any, len(vals)/2)
		for k := 0; k < len(vals); k += 2 {
			key, ok := vals[k].(string)
			if !ok {
				return errorf(c.Name, "JSON documents may not contain NULL member names")
			}
			obj[key] = vals[k+1]
		}
		appendStr(b, jsonText(obj))
		return nil
	}}, nil
}

// jsonValueOf converts row i of arr to a value jsonText renders.
func jsonValueOf(arr arrow.Array, i int, isJSON bool) (any, error) {
	if arr.IsNull(i) || arr.DataType().ID() == arrow.NULL {
		return nil, nil
	}
	switch v := Scalar(arr, i).(type) {
	case string:
		if isJSON {
			return parseJSON(v)
		}
		return v, nil
	case bool:
		return v, nil
	case int64, uint64:
		return json.Number(FormatValue(arr, i)), nil
	default:
		return json.Number(FormatValue(arr, i)), nil
	}
}

func sortedJSONKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortJSONKeys(keys)
	return keys
}
