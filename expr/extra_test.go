package expr

import (
	"regexp"
	"strings"
	"testing"
)

func TestExtraFunctions(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("str_to_date", Lit("04/03/2024 10:30"), Lit("%d/%m/%Y %H:%i")), "2024-03-04 10:30:00"},
		{c("str_to_date", Lit("March 4, 2024 2:05:09 PM"), Lit("%M %d, %Y %h:%i:%s %p")), "2024-03-04 14:05:09"},
		{c("str_to_date", Lit("2024-02-30"), Lit("%Y-%m-%d")), "NULL"},
		{c("str_to_date", Lit("2024-01-02 03:04:05.25"), Lit("%Y-%m-%d %T.%f")), "2024-01-02 03:04:05.250000"},
		{c("str_to_date", Lit("x"), Lit("%Y")), "NULL"},
		{c("format", Lit(1234567.891), Lit(2)), "1,234,567.89"},
		{c("format", Lit(-1234.5), Lit(0)), "-1,235"},
		{c("format", Lit(12), Lit(3)), "12.000"},
		{c("convert_tz", Lit("2024-01-01 12:00:00"), Lit("UTC"), Lit("Asia/Tokyo")), "2024-01-01 21:00:00"},
		{c("convert_tz", Lit("2024-07-01 12:00:00"), Lit("Europe/Paris"), Lit("+00:00")), "2024-07-01 10:00:00"},
		{c("convert_tz", Lit("2024-01-01 12:00:00"), Lit("Nowhere/City"), Lit("UTC")), "NULL"},
		{c("time_to_sec", Lit("01:00:05")), "3605"},
		{c("sec_to_time", Lit(3605)), "01:00:05"},
		{c("timediff", Lit("2024-01-01 12:00:00"), Lit("2024-01-01 10:30:00")), "01:30:00"},
		{c("timediff", Lit("2024-01-01 10:00:00"), Lit("2024-01-01 10:30:00")), "-00:30:00"},
		{c("to_days", Lit("2024-01-01")), "739251"},
		{c("from_days", Lit(739251)), "2024-01-01"},
		{c("makedate", Lit(2024), Lit(60)), "2024-02-29"},
		{c("makedate", Lit(2024), Lit(0)), "NULL"},
		{c("to_base64", Lit("abc")), "YWJj"},
		{c("from_base64", Lit("YWJj")), "abc"},
		{c("from_base64", Lit("!!")), "NULL"},
		{c("unhex", Lit("616263")), "abc"},
		{c("unhex", Lit("zz")), "NULL"},
		{c("field", Lit("b"), Lit("a"), Lit("b"), Lit("c")), "2"},
		{c("field", Lit(2), Lit(1), Lit(2.0)), "2"},
		{c("field", Null(), Lit("a")), "0"},
		{c("elt", Lit(2), Lit("a"), Lit("b")), "b"},
		{c("elt", Lit(3), Lit("a"), Lit("b")), "NULL"},
		{c("insert", Lit("Quadratic"), Lit(3), Lit(4), Lit("What")), "QuWhattic"},
		{c("insert", Lit("Quadratic"), Lit(-1), Lit(4), Lit("What")), "Quadratic"},
		{c("insert", Lit("Quadratic"), Lit(3), Lit(100), Lit("What")), "QuWhat"},
		{c("char", Lit(77), Lit(121), Lit(83), Lit(81), Lit(76)), "MySQL"},
		{c("rand", Lit(7)), firstRand(t)},
	})
	mem := checked(t)
	got, err := evalConst(t, mem, c("uuid"))
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got) {
		t.Errorf("uuid %q %v", got, err)
	}
	r, err := evalConst(t, mem, c("rand"))
	if err != nil || !strings.HasPrefix(r, "0.") && r != "0" {
		t.Errorf("rand %q %v", r, err)
	}
	if IsConstant(c("rand")) || IsConstant(c("uuid")) {
		t.Error("volatile function treated as constant")
	}
}

// firstRand is the first value of RAND(7): seeded RAND is repeatable.
func firstRand(t *testing.T) string {
	mem := checked(t)
	v, err := evalConst(t, mem, call(t, "rand", Lit(7)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExtraFunctions2(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("bit_length", Lit("ab")), "16"},
		{c("quote", Lit("it's")), `'it\'s'`},
		{c("yearweek", Lit("2024-01-01")), "202353"},
		{c("yearweek", Lit("2024-03-04"), Lit(3)), "202410"},
		{c("conv", Lit("ff"), Lit(16), Lit(10)), "255"},
		{c("conv", Lit("255"), Lit(10), Lit(2)), "11111111"},
		{c("conv", Lit("-1"), Lit(10), Lit(16)), "FFFFFFFFFFFFFFFF"},
		{c("conv", Lit("-15"), Lit(10), Lit(-16)), "-F"},
		{c("conv", Lit("zz9"), Lit(36), Lit(10)), "46629"},
		{c("conv", Lit("1"), Lit(1), Lit(10)), "NULL"},
		{c("bin", Lit(12)), "1100"},
		{c("oct", Lit(12)), "14"},
		{c("json_contains", Lit(`[1, 2, 3]`), Lit(`2`)), "true"},
		{c("json_contains", Lit(`[1, 2, 3]`), Lit(`[3, 1]`)), "true"},
		{c("json_contains", Lit(`[1, 2, 3]`), Lit(`4`)), "false"},
		{c("json_contains", Lit(`{"a": 1, "b": {"c": 2}}`), Lit(`{"b": {"c": 2}}`)), "true"},
		{c("json_contains", Lit(`{"a": 1, "b": {"c": 2}}`), Lit(`2`), Lit(`$.b.c`)), "true"},
		{c("json_contains", Lit(`{"a": 1.0}`), Lit(`1`), Lit(`$.a`)), "true"},
		{c("json_contains_path", Lit(`{"a": 1}`), Lit("one"), Lit("$.a"), Lit("$.b")), "true"},
		{c("json_contains_path", Lit(`{"a": 1}`), Lit("all"), Lit("$.a"), Lit("$.b")), "false"},
	})
}
