package shell

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
)

// fakeSession understands a tiny language, enough to drive the shell:
// "rows N" returns N rows, "status X" a status line, "warn X" a status with
// a warning, "bad" an error located at line 1 column 5 of its text, "fail"
// an unlocated error. Everything it runs is recorded.
type fakeSession struct {
	t    testing.TB
	mem  memory.Allocator
	ran  []string
	mode catalog.Mode
}

func (f *fakeSession) Run(ctx context.Context, text string, fn func(*Result) error) error {
	f.ran = append(f.ran, text)
	var cmd, arg string
	fmt.Sscan(text, &cmd, &arg)
	switch cmd {
	case "rows":
		var n int
		fmt.Sscan(arg, &n)
		rows := make([]row, n)
		for i := range rows {
			rows[i] = row{i + 1, fmt.Sprintf("n%d", i+1), nil}
		}
		rec := buildRecord(f.t, f.mem, peopleSchema, rows)
		op := exec.NewValues(peopleSchema, []arrow.RecordBatch{rec})
		rec.Release()
		if err := op.Open(ctx); err != nil {
			return err
		}
		return fn(&Result{Schema: peopleSchema, Rows: op, Status: "SELECT"})
	case "status":
		return fn(&Result{Status: arg})
	case "warn":
		return fn(&Result{Status: "OK", Warnings: []string{arg}})
	case "bad":
		return &sql.Error{Msg: "syntax error", Line: 1, Column: 5, Near: "oops"}
	case "badat": // "badat N ...": an error at column N
		var col int
		fmt.Sscan(arg, &col)
		return &sql.Error{Msg: "unknown column \"prise\"", Line: 1, Column: col, Hint: `did you mean "price"?`}
	case "fail":
		return fmt.Errorf("table %q not found", arg)
	}
	return fmt.Errorf("fake: cannot run %q", text)
}

func (f *fakeSession) Database() string   { return "public/default" }
func (f *fakeSession) Mode() catalog.Mode { return f.mode }
func (f *fakeSession) Set(name, value string) error {
	if name != "magnetar.mode" {
		return fmt.Errorf("unknown setting %s", name)
	}
	f.mode = map[string]catalog.Mode{"bounded": catalog.Bounded, "continuous": catalog.Unbounded}[value]
	return nil
}

func newTestShell(t *testing.T, cfg Config) (*Shell, *fakeSession, *bytes.Buffer, *bytes.Buffer) {
	sess := &fakeSession{t: t, mem: checkedMem(t)}
	var out, errb bytes.Buffer
	cfg.Session, cfg.Stdout, cfg.Stderr = sess, &out, &errb
	return New(cfg), sess, &out, &errb
}

func TestScriptCSVStatusToStderr(t *testing.T) {
	sh, sess, out, errb := newTestShell(t, Config{Format: FormatCSV})
	code := sh.RunScript(context.Background(), "", "status CREATE;\nrows 2;\nwarn careful;")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb)
	}
	if want := "id,name,score\n1,n1,\n2,n2,\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if want := "CREATE\nOK\nWARNING: careful\n"; errb.String() != want {
		t.Errorf("stderr = %q, want %q", errb.String(), want)
	}
	if len(sess.ran) != 3 {
		t.Errorf("ran %q", sess.ran)
	}
}

func TestScriptErrorShowsLineColumnAndCaret(t *testing.T) {
	sh, sess, _, errb := newTestShell(t, Config{})
	code := sh.RunScript(context.Background(), "", "status A;\n\n  bad x;\nstatus B;")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	// "bad" reports column 5 of its own text, which starts at line 3
	// column 3 of the script.
	want := "ERROR: line 3 column 7: syntax error near \"oops\"\n  bad x;\n      ^\n"
	if errb.String() != want {
		t.Errorf("stderr:\n%q\nwant\n%q", errb.String(), want)
	}
	if len(sess.ran) != 2 {
		t.Errorf("script went on after the error: ran %q", sess.ran)
	}
}

func TestScriptContinueOnError(t *testing.T) {
	sh, sess, out, errb := newTestShell(t, Config{ContinueOnError: true})
	code := sh.RunScript(context.Background(), "q.sql", "fail t1;\nstatus B;")
	if code != 0 {
		t.Errorf("exit %d, want 0 with ContinueOnError", code)
	}
	if !strings.Contains(errb.String(), `ERROR: q.sql: statement at line 1: table "t1" not found`) {
		t.Errorf("stderr = %q", errb.String())
	}
	if out.String() != "B\n" || len(sess.ran) != 2 {
		t.Errorf("stdout %q, ran %q", out.String(), sess.ran)
	}
}

func TestMetaCommands(t *testing.T) {
	sh, sess, out, _ := newTestShell(t, Config{})
	ctx := context.Background()
	if err := sh.Meta(ctx, `\mode continuous`); err != nil {
		t.Fatal(err)
	}
	if sess.mode != catalog.Unbounded || sh.prompt() != "magnetar public/default [continuous]> " {
		t.Errorf("mode %v prompt %q", sess.mode, sh.prompt())
	}
	if !sh.renderOptions().Changelog || !sh.renderOptions().Streaming {
		t.Errorf("continuous mode should stream a changelog by default: %+v", sh.renderOptions())
	}
	if err := sh.Meta(ctx, `\changelog off`); err != nil {
		t.Fatal(err)
	}
	// Off a terminal a continuous table cannot be redrawn in place, so it
	// stays a changelog; csv honours off; on a terminal off means live.
	if opts := sh.renderOptions(); !opts.Changelog || sh.liveTable(opts) {
		t.Errorf("continuous table off a terminal should stay a changelog: %+v", opts)
	}
	sh.cfg.Format = FormatCSV
	if sh.renderOptions().Changelog {
		t.Error(`\changelog off ignored for csv`)
	}
	sh.cfg.Format, sh.cfg.Terminal = FormatTable, true
	if opts := sh.renderOptions(); opts.Changelog || !sh.liveTable(opts) {
		t.Errorf("continuous table on a terminal with changelog off should be live: %+v", opts)
	}
	sh.cfg.Terminal = false
	if err := sh.Meta(ctx, `\format json`); err != nil || sh.cfg.Format != FormatJSON {
		t.Errorf("format %q err %v", sh.cfg.Format, err)
	}
	if err := sh.Meta(ctx, `\format xml`); err == nil {
		t.Error("bad format accepted")
	}
	path := filepath.Join(t.TempDir(), "out.json")
	if err := sh.Meta(ctx, `\o `+path); err != nil {
		t.Fatal(err)
	}
	if code := sh.RunScript(ctx, "", "rows 1;"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if err := sh.Meta(ctx, `\o`); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "{\"id\":1,\"name\":\"n1\",\"score\":null}\n" || out.Len() != 0 {
		t.Errorf("file %q, stdout %q", data, out.String())
	}
	if err := sh.Meta(ctx, `\q`); err != errQuit {
		t.Errorf(`\q = %v`, err)
	}
}

func TestCaret(t *testing.T) {
	if got := caret("\tSELECT 日本 FRM", 16); got != "\t            ^" {
		t.Errorf("caret = %q", got)
	}
}

func TestCompleter(t *testing.T) {
	sh, _, _, _ := newTestShell(t, Config{Functions: []FunctionDoc{{Name: "substring"}}})
	c := newCompleter(sh)
	got, n := c.Do([]rune("SELECT subs"), 11)
	if n != 4 || len(got) != 1 || string(got[0]) != "tring(" {
		t.Errorf("function completion = %q, %d", got, n)
	}
	got, _ = c.Do([]rune("sel"), 3)
	if len(got) != 1 || string(got[0]) != "ect" {
		t.Errorf("keyword completion = %q", got)
	}
	got, _ = c.Do([]rune(`\ti`), 3)
	if len(got) != 1 || string(got[0]) != "ming" {
		t.Errorf("meta completion = %q", got)
	}
}

func TestErrorOnLongLineShowsWindowAroundCaret(t *testing.T) {
	sh, _, _, errb := newTestShell(t, Config{})
	// One 300-character statement with the error at column 200.
	text := "badat 200 " + strings.Repeat("x", 189) + "prise" + strings.Repeat("y", 96)
	if code := sh.RunScript(context.Background(), "", text); code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	if len(lines) != 3 || lines[0] != `ERROR: line 1 column 200: unknown column "prise" (did you mean "price"?)` {
		t.Fatalf("stderr:\n%s", errb)
	}
	src, car := lines[1], lines[2]
	if w := displayWidth(src); w > errorWindowWidth+2 || !strings.HasPrefix(src, "…") || !strings.HasSuffix(src, "…") {
		t.Errorf("source line not cut to a window (%d cells):\n%s", w, src)
	}
	// The caret sits under the p of prise.
	i := len(car) - 1
	if car[i] != '^' || !strings.HasPrefix(string([]rune(src)[i:]), "prise") {
		t.Errorf("caret not under the error:\n%s\n%s", src, car)
	}
}

func TestErrorWindow(t *testing.T) {
	if got, col := errorWindow("SELECT x FROM t", 8, 100); got != "SELECT x FROM t" || col != 8 {
		t.Errorf("short line changed: %q %d", got, col)
	}
	long := strings.Repeat("a", 50) + "日本" + strings.Repeat("b", 150)
	// Near the start: no leading cut.
	got, col := errorWindow(long, 3, 40)
	if strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") || got[col-1] != 'a' || displayWidth(got) > 42 {
		t.Errorf("start window %q col %d", got, col)
	}
	// At the wide characters: the caret stays under 日.
	got, col = errorWindow(long, 51, 40)
	if !strings.HasPrefix(got[col-1:], "日本") || displayWidth(got) > 42 {
		t.Errorf("middle window %q col %d", got, col)
	}
	// At the very end: the window ends with the line.
	got, col = errorWindow(long, len(long)+1, 40)
	if strings.HasSuffix(got, "…") || col != len(got)+1 || displayWidth(got) > 42 {
		t.Errorf("end window %q col %d", got, col)
	}
}

func TestClosestTable(t *testing.T) {
	tables := []string{"orders", "order_items", "customers"}
	for name, want := range map[string]string{"ordrs": "orders", "Orders": "orders", "custmers": "customers", "zzz": "", "x": ""} {
		if got := closest(name, tables); got != want {
			t.Errorf("closest(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestCompleterColumnsBeforeFrom(t *testing.T) {
	cat := memcat.New()
	defer cat.Close()
	ctx := context.Background()
	if err := cat.CreateDatabase(ctx, "public/default", true); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddTable("public/default", catalog.TableDef{Name: "orders", Schema: arrow.NewSchema([]arrow.Field{
		{Name: "price", Type: arrow.PrimitiveTypes.Int64},
		{Name: "item", Type: arrow.BinaryTypes.String},
	}, nil)}, nil); err != nil {
		t.Fatal(err)
	}
	sh, _, _, _ := newTestShell(t, Config{Catalog: cat})
	c := newCompleter(sh)
	// In a select list, "pri" is the column, not the PRIMARY keyword.
	got, n := c.Do([]rune("SELECT pri"), 10)
	if n != 3 || len(got) != 1 || string(got[0]) != "ce" {
		t.Errorf("SELECT pri<Tab> = %q, %d", got, n)
	}
	got, _ = c.Do([]rune("SELECT it FROM orders"), 9)
	if len(got) != 1 || string(got[0]) != "em" {
		t.Errorf("SELECT it<Tab> FROM orders = %q", got)
	}
	// In DDL the keyword is still offered.
	got, _ = c.Do([]rune("CREATE TABLE x (id BIGINT PRI"), 29)
	if len(got) != 1 || string(got[0]) != "MARY" {
		t.Errorf("DDL completion = %q", got)
	}
}
