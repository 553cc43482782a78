package flightclient

import (
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/sql"
)

func TestParseLocated(t *testing.T) {
	for _, e := range []*sql.Error{
		{Msg: "syntax error", Line: 2, Column: 7, Near: "FRM t"},
		{Msg: `unknown column "nope"`, Line: 1, Column: 8, Hint: `did you mean "note"?`},
		{Msg: "type mismatch", Line: 3, Column: 1, Near: "a \"quoted\" (x)", Hint: "cast it"},
		{Msg: "multi\nline message", Line: 1, Column: 2},
	} {
		for _, prefix := range []string{"", "query: "} {
			got := parseLocated(prefix + e.Error())
			if got == nil {
				t.Errorf("%q not parsed", prefix+e.Error())
				continue
			}
			if got.Line != e.Line || got.Column != e.Column || got.Error() != e.Error() {
				t.Errorf("%q parsed as %+v", e.Error(), got)
			}
		}
	}
	if se := parseLocated("syntax error near \"line 1 column 3: x\""); se != nil {
		t.Errorf("unlocated message parsed as %+v", se)
	}
	if se := parseLocated(`line 2 column 5: bad near "x"`); se == nil || se.Near != "x" || se.Msg != "bad" {
		t.Errorf("near not split off: %+v", se)
	}
}

func TestShift(t *testing.T) {
	err := shift(&sql.Error{Msg: "m", Line: 1, Column: 3}, 4, 5)
	if se := err.(*sql.Error); se.Line != 4 || se.Column != 7 {
		t.Errorf("first-line error shifted to %d:%d", se.Line, se.Column)
	}
	err = shift(&sql.Error{Msg: "m", Line: 2, Column: 3}, 4, 5)
	if se := err.(*sql.Error); se.Line != 5 || se.Column != 3 {
		t.Errorf("later-line error shifted to %d:%d", se.Line, se.Column)
	}
}

func TestFirstWordsAndStatus(t *testing.T) {
	for _, c := range []struct {
		text, words, status string
		n                   int64
	}{
		{"  -- note\n/* c */ (select 1)", "SELECT 1", "SELECT", 0},
		{"insert into t values (1)", "INSERT INTO T", "INSERT 2", 2},
		{"CREATE TABLE IF NOT EXISTS t (x int)", "CREATE TABLE IF", "CREATE TABLE", 0},
		{"create or replace view v as select 1", "CREATE OR REPLACE", "CREATE", 0},
		{"CREATE SCHEMA s", "CREATE SCHEMA S", "CREATE DATABASE", 0},
		{"drop table t", "DROP TABLE T", "DROP TABLE", 0},
		{"use `x/y`", "USE", "USE db1", 0},
		{"SET magnetar.mode = 'continuous'", "SET MAGNETAR", "SET", 0},
		{"# only a comment", "", "OK", 0},
	} {
		w := firstWords(c.text, 3)
		if got := strings.Join(w, " "); got != c.words {
			t.Errorf("firstWords(%q) = %q, want %q", c.text, got, c.words)
		}
		if got := statusLine(w, c.n, "db1"); got != c.status {
			t.Errorf("statusLine(%q) = %q, want %q", c.text, got, c.status)
		}
	}
}
