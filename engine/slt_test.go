package engine

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

var rewrite = flag.Bool("rewrite", false, "rewrite expected results of sqllogictest and plan golden files")

// sltRecord is one statement or query of a .slt file.
type sltRecord struct {
	line     int
	kind     string // "statement" or "query"
	ok       bool   // statement ok / query (not error)
	errRE    string // expected error pattern
	types    string
	sortMode string
	sql      string
	expected []string
	header   string // the original header line
}

func parseSLT(path string) ([]sltRecord, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var recs []sltRecord
	var pre []string // comments/blank lines before each record, for rewrite
	var preambles []string
	var cur []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			cur = append(cur, l)
			continue
		}
		f := strings.Fields(t)
		r := sltRecord{line: i + 1, header: l}
		switch f[0] {
		case "statement":
			r.kind = "statement"
			if len(f) < 2 {
				return nil, nil, fmt.Errorf("%s:%d: statement needs ok or error", path, i+1)
			}
			r.ok = f[1] == "ok"
			if f[1] == "error" {
				r.errRE = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(t, "statement")), "error"))
			}
		case "query":
			r.kind = "query"
			r.ok = true
			if len(f) >= 2 && f[1] == "error" {
				r.ok = false
				r.errRE = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(t, "query")), "error"))
			} else {
				if len(f) >= 2 {
					r.types = f[1]
				}
				if len(f) >= 3 {
					r.sortMode = f[2]
				}
			}
		default:
			return nil, nil, fmt.Errorf("%s:%d: unknown record %q", path, i+1, f[0])
		}
		preambles = append(preambles, strings.Join(cur, "\n"))
		cur = nil
		var sqlLines []string
		i++
		for ; i < len(lines); i++ {
			t := strings.TrimSpace(lines[i])
			if t == "" || t == "----" {
				break
			}
			sqlLines = append(sqlLines, lines[i])
		}
		r.sql = strings.Join(sqlLines, "\n")
		if i < len(lines) && strings.TrimSpace(lines[i]) == "----" {
			i++
			for ; i < len(lines); i++ {
				if strings.TrimSpace(lines[i]) == "" {
					break
				}
				r.expected = append(r.expected, lines[i])
			}
		}
		recs = append(recs, r)
		// Leave the terminating blank line to the next preamble.
		i--
	}
	pre = append(preambles, strings.Join(cur, "\n"))
	return recs, pre, nil
}

// formatCell renders one value the way the expected results are written:
// NULL, booleans as 1/0 (as MySQL shows them), empty strings as (empty).
func formatCell(arr arrow.Array, i int) string {
	if arr.IsNull(i) || arr.DataType().ID() == arrow.NULL {
		return "NULL"
	}
	if b, ok := arr.(*array.Boolean); ok {
		if b.Value(i) {
			return "1"
		}
		return "0"
	}
	s := expr.FormatValue(arr, i)
	if s == "" {
		return "(empty)"
	}
	return strings.NewReplacer("\t", "\\t", "\n", "\\n").Replace(s)
}

// runSQL runs a record's SQL and returns the rows of its last result.
func runSQL(ctx context.Context, s *Session, text string) ([]string, int, error) {
	var rows []string
	ncols := 0
	err := s.Run(ctx, text, func(r *Result) error {
		rows = nil
		if r.Rows == nil {
			return nil
		}
		ncols = r.Schema.NumFields()
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				return nil
			}
			if m.Kind != exec.MsgBatch {
				continue
			}
			rec := m.Batch.Rec
			for i := 0; i < int(rec.NumRows()); i++ {
				cells := make([]string, rec.NumCols())
				for j := range cells {
					cells[j] = formatCell(rec.Column(j), i)
				}
				if m.Batch.Op(i) != exec.Insert {
					cells = append([]string{m.Batch.Op(i).String()}, cells...)
				}
				rows = append(rows, strings.Join(cells, "\t"))
			}
			m.Release()
		}
	})
	return rows, ncols, err
}

func sltFiles(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir("../testdata/slt", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".slt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func TestSLT(t *testing.T) {
	total, passed := 0, 0
	for _, path := range sltFiles(t) {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(path), "../testdata/slt/"), ".slt")
		t.Run(name, func(t *testing.T) {
			n, p := runSLTFile(t, path)
			total += n
			passed += p
		})
	}
	t.Logf("sqllogictest: %d of %d records passed", passed, total)
}

func runSLTFile(t *testing.T, path string) (total, passed int) {
	recs, pre, err := parseSLT(path)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	eng := New(cat, Options{Mem: mem})
	sess := eng.NewSession()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range recs {
		r := &recs[i]
		total++
		rows, _, err := runSQL(ctx, sess, r.sql)
		loc := fmt.Sprintf("%s:%d", path, r.line)
		if !r.ok {
			if err == nil {
				if *rewrite {
					t.Logf("%s: expected an error, got none (kept)", loc)
				}
				t.Errorf("%s: expected error %q, got success\n%s", loc, r.errRE, r.sql)
				continue
			}
			re, cerr := regexp.Compile(r.errRE)
			if cerr != nil {
				t.Errorf("%s: bad error pattern: %v", loc, cerr)
				continue
			}
			if !re.MatchString(err.Error()) {
				if *rewrite {
					r.errRE = regexp.QuoteMeta(err.Error())
					continue
				}
				t.Errorf("%s: error %q does not match %q\n%s", loc, err.Error(), r.errRE, r.sql)
				continue
			}
			passed++
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error: %v\n%s", loc, err, r.sql)
			continue
		}
		if r.kind == "statement" {
			passed++
			continue
		}
		if r.sortMode == "rowsort" {
			sort.Strings(rows)
		}
		if *rewrite {
			r.expected = rows
			passed++
			continue
		}
		if strings.Join(rows, "\n") != strings.Join(r.expected, "\n") {
			t.Errorf("%s: result mismatch\n%s\n--- got:\n%s\n--- want:\n%s", loc, r.sql, strings.Join(rows, "\n"), strings.Join(r.expected, "\n"))
			continue
		}
		passed++
	}
	cat.Close()
	if *rewrite {
		writeSLT(t, path, recs, pre)
	}
	if mem.CurrentAlloc() != 0 {
		t.Errorf("%s: %d bytes of Arrow memory not released", path, mem.CurrentAlloc())
	}
	return total, passed
}

func writeSLT(t *testing.T, path string, recs []sltRecord, pre []string) {
	var b strings.Builder
	for i, r := range recs {
		if pre[i] != "" || i > 0 {
			b.WriteString(pre[i])
			b.WriteString("\n")
		}
		switch {
		case r.kind == "statement" && r.ok:
			b.WriteString("statement ok\n")
		case r.kind == "statement":
			b.WriteString("statement error " + r.errRE + "\n")
		case !r.ok:
			b.WriteString("query error " + r.errRE + "\n")
		default:
			h := "query " + r.types
			if r.sortMode != "" {
				h += " " + r.sortMode
			}
			b.WriteString(h + "\n")
		}
		b.WriteString(r.sql + "\n")
		if r.kind == "query" && r.ok {
			b.WriteString("----\n")
			for _, row := range r.expected {
				b.WriteString(row + "\n")
			}
		}
	}
	tail := pre[len(recs)]
	if tail != "" {
		b.WriteString(tail)
	}
	out := strings.TrimRight(b.String(), "\n") + "\n"
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = bufio.ErrTooLong
}
