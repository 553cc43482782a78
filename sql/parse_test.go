package sql

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMany(t *testing.T) {
	st, err := Parse("SELECT 1;\n  SELECT 2 ;")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Text != "SELECT 1" || st[1].Text != "SELECT 2" {
		t.Fatalf("got %+v", st)
	}
	if st[1].Line != 2 || st[1].Column != 3 {
		t.Fatalf("second statement at %d:%d, want 2:3", st[1].Line, st[1].Column)
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := Parse("SELECT 1;\nSELECT b\nFROM t WHER x")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	if e.Line != 3 || e.Column != 13 || e.Near != "x" {
		t.Fatalf("got %+v", e)
	}
	_, err = Parse("SELECT * FRM t")
	if !errors.As(err, &e) || e.Line != 1 || e.Column != 10 {
		t.Fatalf("first line: got %v", err)
	}
	_, err = Parse("SELECT 1;\nSELECT a FROM t WHERE")
	if !errors.As(err, &e) || e.Line != 2 || e.Column != 22 {
		t.Fatalf("end on second line: got %v", err)
	}
	_, err = Parse("SELECT a FROM t WHERE")
	if !errors.As(err, &e) || e.Line != 1 || e.Column != 22 {
		t.Fatalf("got %v", err)
	}
}

func TestErrorfLocates(t *testing.T) {
	st := &Statement{Text: "SELECT a,\n  bogus FROM t", Line: 4, Column: 1}
	e := Errorf(st, "bogus", "unknown column %q", "bogus")
	if e.Line != 5 || e.Column != 3 {
		t.Fatalf("got %d:%d", e.Line, e.Column)
	}
	if e.Error() != `line 5 column 3: unknown column "bogus"` {
		t.Fatalf("got %q", e.Error())
	}
}

func TestSessionWindowCallQuoted(t *testing.T) {
	st, err := Parse("SELECT count(*) FROM t GROUP BY SESSION(ts, '30 SECONDS'), k")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || !strings.Contains(st[0].Text, "`SESSION`(ts") {
		t.Fatalf("got %+v", st)
	}
	if _, err := Parse("SET SESSION sql_mode = ''"); err != nil {
		t.Fatalf("SET SESSION: %v", err)
	}
}
