package engine

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
)

// newAlterSession is a memory-catalog session whose catalog allocates the
// columns ADD COLUMN adds from the checked allocator too.
func newAlterSession(t *testing.T) *Session {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	cat.SetAllocator(mem)
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return New(cat, Options{Mem: mem}).NewSession()
}

func mustRows(t *testing.T, s *Session, q string) []string {
	t.Helper()
	rows, _, err := runSQL(context.Background(), s, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	sort.Strings(rows)
	return rows
}

func wantRowsEq(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAlterTableAddColumnMemory(t *testing.T) {
	s := newAlterSession(t)
	mustRows(t, s, "CREATE TABLE t (id INT, name VARCHAR(10)); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	mustRows(t, s, "ALTER TABLE t ADD COLUMN score DOUBLE")
	mustRows(t, s, "ALTER TABLE t ADD (flag BOOLEAN NULL, note VARCHAR(5) DEFAULT 'n/a'), ADD cnt BIGINT NOT NULL DEFAULT 7")
	mustRows(t, s, "INSERT INTO t VALUES (3, 'c', 1.5, true, 'x', 9)")
	mustRows(t, s, "INSERT INTO t (id, name) VALUES (4, 'd')")
	got := mustRows(t, s, "SELECT id, name, score, flag, note, cnt FROM t")
	wantRowsEq(t, got,
		"1\ta\tNULL\tNULL\tn/a\t7",
		"2\tb\tNULL\tNULL\tn/a\t7",
		"3\tc\t1.5\t1\tx\t9",
		"4\td\tNULL\tNULL\tn/a\t7",
	)
	desc := mustRows(t, s, "DESCRIBE t")
	wantRowsEq(t, desc,
		"id\tINT\tYES\t(empty)\tNULL\t(empty)",
		"name\tVARCHAR\tYES\t(empty)\tNULL\t(empty)",
		"score\tDOUBLE\tYES\t(empty)\tNULL\t(empty)",
		"flag\tBOOLEAN\tYES\t(empty)\tNULL\t(empty)",
		"note\tVARCHAR\tYES\t(empty)\tn/a\t(empty)",
		"cnt\tBIGINT\tNO\t(empty)\t7\t(empty)",
	)
	show := strings.Join(mustRows(t, s, "SHOW CREATE TABLE t"), "\n")
	for _, want := range []string{"`note` VARCHAR DEFAULT 'n/a'", "`cnt` BIGINT NOT NULL DEFAULT 7"} {
		if !strings.Contains(show, want) {
			t.Errorf("SHOW CREATE TABLE lacks %q:\n%s", want, show)
		}
	}
}

func TestAlterTableErrors(t *testing.T) {
	s := newAlterSession(t)
	mustRows(t, s, "CREATE TABLE t (id INT, ts TIMESTAMP)")
	for q, want := range map[string]string{
		"ALTER TABLE nope ADD c INT":                          `unknown table "nope"`,
		"ALTER TABLE t ADD ID BIGINT":                         `duplicate column name "ID"`,
		"ALTER TABLE t ADD (c INT, c BIGINT)":                 `duplicate column name "c"`,
		"ALTER TABLE t ADD c INT NOT NULL":                    `column "c" is NOT NULL but has no DEFAULT`,
		"ALTER TABLE t ADD c INT NOT NULL DEFAULT NULL":       `NULL on a NOT NULL column`,
		"ALTER TABLE t ADD c DECIMAL(5,2) DEFAULT 1.5":        `DEFAULT unsupported for DECIMAL(5,2) columns`,
		"ALTER TABLE t ADD c INT FIRST":                       `FIRST/AFTER`,
		"ALTER TABLE t DROP COLUMN id":                        `unsupported: ALTER TABLE DROP COLUMN`,
		"ALTER TABLE t ADD __x INT":                           `reserved for metadata columns`,
		"ALTER TABLE t ENGINE_ATTRIBUTE='nope=1'":             `unknown table option "nope"`,
		"ALTER TABLE t ENGINE_ATTRIBUTE='event_time=zz'":      `no column "zz"`,
		"ALTER TABLE t ENGINE_ATTRIBUTE='event_time=id'":      `want TIMESTAMP`,
		"ALTER TABLE t ENGINE_ATTRIBUTE='watermark_delay=5x'": `option watermark_delay="5x"`,
		"ALTER TABLE t ENGINE_ATTRIBUTE='watermark_delay'":    `is not key=value`,
	} {
		_, _, err := runSQL(context.Background(), s, q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", q, err, want)
		}
	}
	// Nothing above changed the table.
	wantRowsEq(t, mustRows(t, s, "SELECT COUNT(*) FROM t"), "0")
	if got := len(mustRows(t, s, "DESCRIBE t")); got != 2 {
		t.Fatalf("DESCRIBE: %d columns, want 2", got)
	}
}

func TestTableOptionsMemory(t *testing.T) {
	s := newAlterSession(t)
	mustRows(t, s, "CREATE TABLE ev (id INT, ts TIMESTAMP) ENGINE_ATTRIBUTE='event_time=ts, watermark_delay=5 SECONDS' COMMENT='events'")
	show := mustRows(t, s, "SHOW CREATE TABLE ev")
	if !strings.Contains(show[0], "ENGINE_ATTRIBUTE='event_time=ts, watermark_delay=5 SECONDS' COMMENT='events'") {
		t.Fatalf("SHOW CREATE TABLE: %s", show[0])
	}
	mustRows(t, s, "ALTER TABLE ev ENGINE_ATTRIBUTE='watermark_delay=, idle_timeout=1 MINUTE', COMMENT='all events'")
	show = mustRows(t, s, "SHOW CREATE TABLE ev")
	if !strings.Contains(show[0], "ENGINE_ATTRIBUTE='event_time=ts, idle_timeout=1 MINUTE' COMMENT='all events'") {
		t.Fatalf("SHOW CREATE TABLE after ALTER: %s", show[0])
	}
	// JSON form (MySQL documents ENGINE_ATTRIBUTE as JSON).
	mustRows(t, s, `ALTER TABLE ev ENGINE_ATTRIBUTE='{"sink.batching_max_delay": "10ms", "idle_timeout": null}'`)
	tab, err := s.e.cat.Table(context.Background(), "default", "ev")
	if err != nil {
		t.Fatal(err)
	}
	d := tab.Def()
	tab.Def().Options["x"] = "y" // Def hands out a copy
	if len(d.Options) != 2 || d.Options["event_time"] != "ts" || d.Options["sink.batching_max_delay"] != "10ms" || d.Comment != "all events" {
		t.Fatalf("def after ALTER: %+v", d)
	}
	// The round trip: SHOW CREATE TABLE output creates the same table.
	mustRows(t, s, "CREATE DATABASE other; USE other")
	mustRows(t, s, createTableText(tab))
	tab2, err := s.e.cat.Table(context.Background(), "other", "ev")
	if err != nil {
		t.Fatal(err)
	}
	if d2 := tab2.Def(); len(d2.Options) != 2 || d2.Options["sink.batching_max_delay"] != "10ms" || d2.Comment != "all events" {
		t.Fatalf("re-created def: %+v", d2)
	}
}
