package shell

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Piece
		rest string
	}{
		{name: "two statements", in: "SELECT 1; SELECT 2;",
			want: []Piece{{"SELECT 1", 1, 1}, {"SELECT 2", 1, 11}}},
		{name: "unterminated rest", in: "SELECT 1;\n  SELECT\n 2",
			want: []Piece{{"SELECT 1", 1, 1}}, rest: "SELECT\n 2"},
		{name: "semicolon in single quotes", in: "SELECT 'a;b', 'it''s;';",
			want: []Piece{{"SELECT 'a;b', 'it''s;'", 1, 1}}},
		{name: "backslash escaped quote", in: `SELECT 'a\';b';`,
			want: []Piece{{`SELECT 'a\';b'`, 1, 1}}},
		{name: "double quotes and backticks", in: "SELECT \"x;\" AS `c;d`;",
			want: []Piece{{"SELECT \"x;\" AS `c;d`", 1, 1}}},
		{name: "line comments", in: "SELECT 1 -- no; end\n# nor; here\n, 2;",
			want: []Piece{{"SELECT 1 -- no; end\n# nor; here\n, 2", 1, 1}}},
		{name: "double dash without blank is minus", in: "SELECT 1--2;",
			want: []Piece{{"SELECT 1--2", 1, 1}}},
		{name: "block comment", in: "SELECT /* a; b */ 1;",
			want: []Piece{{"SELECT /* a; b */ 1", 1, 1}}},
		{name: "comment-only statements dropped", in: "-- hello;\n/* x */;\n\nSELECT 3;\n-- bye",
			want: []Piece{{"SELECT 3", 4, 1}}},
		{name: "open string continues", in: "SELECT 'abc;\n",
			rest: "SELECT 'abc;\n"},
		{name: "open block comment", in: "SELECT 1; /* still;\n",
			want: []Piece{{"SELECT 1", 1, 1}}, rest: "/* still;\n"},
		{name: "position after newline", in: "\n\n   INSERT INTO t VALUES (1);",
			want: []Piece{{"INSERT INTO t VALUES (1)", 3, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rest := Split(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pieces = %#v, want %#v", got, tc.want)
			}
			if rest.Text != tc.rest {
				t.Errorf("rest = %q, want %q", rest.Text, tc.rest)
			}
		})
	}
}
