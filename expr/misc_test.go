package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestLikeRegexp(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("like", Lit("magnetar"), Lit("mag%")), "true"},
		{c("like", Lit("magnetar"), Lit("%tar")), "true"},
		{c("like", Lit("magnetar"), Lit("%gne%")), "true"},
		{c("like", Lit("magnetar"), Lit("magnetar")), "true"},
		{c("like", Lit("magnetar"), Lit("Mag%")), "false"},
		{c("like", Lit("magnetar"), Lit("m_g%t_r")), "true"},
		{c("like", Lit("héllo"), Lit("h_llo")), "true"},
		{c("like", Lit("abcbc"), Lit("%b_")), "true"},
		{c("like", Lit("abc"), Lit("a%b%c%")), "true"},
		{c("like", Lit("abc"), Lit("a%d%")), "false"},
		{c("like", Lit("50%"), Lit(`50\%`)), "true"},
		{c("like", Lit("500"), Lit(`50\%`)), "false"},
		{c("like", Lit("a_b"), Lit("a|_b"), Lit("|")), "true"},
		{c("like", Lit("axb"), Lit("a|_b"), Lit("|")), "false"},
		{c("not_like", Lit("abc"), Lit("a_")), "true"},
		{c("like", Null(), Lit("a")), "NULL"},
		{c("like", Lit("a"), Null()), "NULL"},
		{c("like", Lit(""), Lit("%")), "true"},
		{c("like", Lit(12345), Lit("12%")), "true"},
		{c("regexp", Lit("abc123"), Lit("[0-9]+$")), "true"},
		{c("regexp", Lit("abc"), Lit("^b")), "false"},
		{c("not_regexp", Lit("abc"), Lit("^b")), "true"},
		{c("regexp_replace", Lit("a1b22"), Lit("[0-9]+"), Lit("#")), "a#b#"},
		{c("regexp_substr", Lit("a1b22"), Lit("[0-9]{2}")), "22"},
		{c("regexp_substr", Lit("abc"), Lit("[0-9]")), "NULL"},
	})
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tString, tString},
		[]any{"apple", "banana", nil, "cherry"},
		[]any{"a%", "%an%", "x", nil})
	defer rec.Release()
	got, err := evalStrings(t, mem, call(t, "like", col(0, tString), col(1, tString)), rec)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "true true NULL NULL" {
		t.Errorf("per-row patterns: %s", g)
	}
	got, err = evalStrings(t, mem, call(t, "regexp", col(0, tString), col(1, tString)), rec)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "false false NULL NULL" {
		t.Errorf("per-row regexps: %s", g)
	}
	if _, err := NewCall("like", Lit("a"), Lit("a"), Lit("ab")); err == nil {
		t.Error("multi-character ESCAPE accepted")
	}
	if _, err := Compile(call(t, "regexp", Lit("a"), Lit("(")), mem); err == nil || !strings.Contains(err.Error(), "invalid pattern") {
		t.Errorf("invalid regexp: %v", err)
	}
}

func TestJSONAndHash(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	doc := Lit(`{"a": {"b": [10, {"c": "x\"y"}]}, "z": true, "n": null, "long key": 1.50}`)
	runConst(t, []constCase{
		{c("json_extract", doc, Lit("$.a.b[0]")), "10"},
		{c("json_extract", doc, Lit("$.a.b[1].c")), `"x\"y"`},
		{c("json_unquote", c("json_extract", doc, Lit("$.a.b[1].c"))), `x"y`},
		{c("json_extract", doc, Lit("$.a")), `{"b": [10, {"c": "x\"y"}]}`},
		{c("json_extract", doc, Lit("$.missing")), "NULL"},
		{c("json_extract", doc, Lit("$.n")), "null"},
		{c("json_extract", doc, Lit(`$."long key"`)), "1.50"},
		{c("json_extract", doc, Lit("$.a.b[last]")), `{"c": "x\"y"}`},
		{c("json_extract", doc, Lit("$.a.b[*]")), `[10, {"c": "x\"y"}]`},
		{c("json_extract", doc, Lit("$.z"), Lit("$.a.b[0]")), "[true, 10]"},
		{c("json_extract", doc, Lit("$")), `{"a": {"b": [10, {"c": "x\"y"}]}, "n": null, "z": true, "long key": 1.50}`},
		{c("json_extract", Null(), Lit("$.a")), "NULL"},
		{c("json_unquote", Lit("plain")), "plain"},
		{c("json_valid", Lit("{")), "false"},
		{c("json_valid", Lit(`{"a": [1]}`)), "true"},
		{c("json_length", doc), "4"},
		{c("json_length", doc, Lit("$.a.b")), "2"},
		{c("json_type", Lit("[1]")), "ARRAY"},
		{c("json_type", Lit("1.5")), "DOUBLE"},
		{c("md5", Lit("abc")), "900150983cd24fb0d6963f7d28e17f72"},
		{c("sha1", Lit("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{c("sha2", Lit("abc"), Lit(256)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{c("sha2", Lit("abc"), Lit(7)), "NULL"},
		{c("crc32", Lit("MySQL")), "3259397556"},
		{c("md5", Null()), "NULL"},
		{c("hex", Lit("abc")), "616263"},
		{c("hex", Lit(255)), "FF"},
	})
	mem := checked(t)
	if _, err := evalConst(t, mem, c("json_extract", Lit("{bad"), Lit("$.a"))); err == nil || !strings.Contains(err.Error(), "invalid JSON text") {
		t.Errorf("got %v", err)
	}
	if _, err := evalConst(t, mem, c("json_extract", Lit("{}"), Lit("a.b"))); err == nil || !strings.Contains(err.Error(), "invalid JSON path") {
		t.Errorf("got %v", err)
	}
}

func TestJSONBuild(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("json_object", Lit("a"), Lit(1), Lit("b"), Lit("x")), `{"a": 1, "b": "x"}`},
		{c("json_array", Lit(1), Lit("two"), Null()), `[1, "two", null]`},
		{c("json_array", Lit(true), Lit(1.5), dec("2.50", 3, 2)), `[true, 1.5, 2.50]`},
		{c("json_object", Lit("inner"), c("json_array", Lit(1), Lit(2))), `{"inner": [1, 2]}`},
		{c("json_object", Lit("x"), c("json_extract", Lit(`{"y": {"z": 1}}`), Lit("$.y"))), `{"x": {"z": 1}}`},
		{c("json_array", Lit(`{"k": 1}`)), `["{\"k\": 1}"]`},
		{c("json_quote", Lit(`a"b`)), `"a\"b"`},
		{c("json_keys", Lit(`{"bb": 1, "a": 2}`)), `["a", "bb"]`},
		{c("json_array"), `[]`},
	})
	if _, err := NewCall("json_object", Lit("a")); err == nil {
		t.Error("odd json_object accepted")
	}
	mem := checked(t)
	if _, err := evalConst(t, mem, c("json_object", Null(), Lit(1))); err == nil {
		t.Error("NULL key accepted")
	}
}
