package pulsar_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/internal/testjava"
)

// TestNullValueTombstonesFromJava: tombstones written by the Java client
// (key(k).value(null): the null_value flag and no payload), unbatched and
// batched, with ordinary and empty keys, delete their keys from an upsert
// table: a continuous read emits -D for each, a bounded read no longer
// shows them, also when an unbatched tombstone is the topic's last
// message. The unpatched Go client (v0.19.0) dropped unbatched null values
// (and an empty key read as no key), so this fails without the
// third_party/pulsar-client-go patches "null values" and "HasKey".
func TestNullValueTombstonesFromJava(t *testing.T) {
	testbroker.Require(t)
	// Find (or, when the broker was not installed here, install) the Java
	// client first: a download does not fit in the env's time budget.
	ictx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := testjava.Lib(ictx); err != nil {
		t.Fatal(err)
	}
	e := newSQLEnv(t)
	serviceURL, _ := testbroker.URLs()
	e.run("CREATE TABLE kv (id VARCHAR(10) PRIMARY KEY, v BIGINT)")
	e.run("INSERT INTO kv VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4), ('e', 5), ('', 6)")
	tb, err := e.cat.Table(e.ctx, e.ns, "kv")
	if err != nil {
		t.Fatal(err)
	}
	topic := tb.(*cpulsar.Table).Topic()
	java := func(ops ...string) []string {
		t.Helper()
		sent, err := testjava.Tombstones(e.ctx, serviceURL, topic, ops...)
		if err != nil {
			t.Fatal(err)
		}
		// key, and whether the message was batched with the one before.
		var out []string
		for i, s := range sent {
			with := i > 0 && s.BatchIndex > 0 && s.LedgerID == sent[i-1].LedgerID && s.EntryID == sent[i-1].EntryID
			out = append(out, fmt.Sprintf("%q batch=%d with-previous=%v", s.Key, s.BatchIndex, with))
		}
		return out
	}

	r := continuous(t, e, "SELECT id, v FROM kv")
	boot := r.wait(t, func(l []string) bool { return len(l) >= 6 })
	wantRows(t, sortedLines(boot), "+I \t6", "+I a\t1", "+I b\t2", "+I c\t3", "+I d\t4", "+I e\t5")

	// Unbatched a and the empty key, then b and c in one batch.
	same(t, java("single=a,", "batch=b,c"),
		`"a" batch=-1 with-previous=false`, `"" batch=-1 with-previous=false`,
		`"b" batch=0 with-previous=false`, `"c" batch=1 with-previous=true`)
	// A row after the tombstones: once it is read, they were too.
	e.run("INSERT INTO kv VALUES ('z', 26)")
	lines := r.wait(t, func(l []string) bool { return slices.Contains(l, "+I z\t26") })
	wantRows(t, sortedLines(lines[6:]), "-D \t6", "-D a\t1", "-D b\t2", "-D c\t3", "+I z\t26")
	_, rows := e.run("SELECT id, v FROM kv")
	wantRows(t, rows, "d\t4", "e\t5", "z\t26")

	// The empty key again, now deleted inside a batch; then an unbatched
	// tombstone as the last message of the topic.
	e.run("INSERT INTO kv VALUES ('', 7)")
	n := len(r.wait(t, func(l []string) bool { return slices.Contains(l, "+I \t7") }))
	same(t, java("batch=,d", "single=z"),
		`"" batch=0 with-previous=false`, `"d" batch=1 with-previous=true`, `"z" batch=-1 with-previous=false`)
	lines = r.wait(t, func(l []string) bool { return len(l) >= n+3 })
	wantRows(t, sortedLines(lines[n:]), "-D \t7", "-D d\t4", "-D z\t26")
	_, rows = e.run("SELECT id, v FROM kv")
	wantRows(t, rows, "e\t5")

	// The raw scan: a tombstone row per null value, its key column from
	// the message key (the empty key is the empty string, not NULL). __key
	// is NULL only for a message without a key: Magnetar's rows of id ''
	// (the Go client cannot send an empty key), not Java's key("").
	wantRows(t, e.scan("kv", "id", "v", "__tombstone", "__key"),
		"\t6\tfalse\tNULL", "\t7\tfalse\tNULL", "\tNULL\ttrue\t", "\tNULL\ttrue\t",
		"a\t1\tfalse\ta", "a\tNULL\ttrue\ta", "b\t2\tfalse\tb", "b\tNULL\ttrue\tb", "c\t3\tfalse\tc", "c\tNULL\ttrue\tc",
		"d\t4\tfalse\td", "d\tNULL\ttrue\td", "e\t5\tfalse\te", "z\t26\tfalse\tz", "z\tNULL\ttrue\tz")
}

func same(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func sortedLines(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// continuousRun is a continuous query running on its own session; it
// collects the changelog lines ("+I a\tb").
type continuousRun struct {
	mu    sync.Mutex
	lines []string
	err   error
	stop  context.CancelFunc
	done  chan struct{}
}

func continuous(t *testing.T, e *sqlEnv, q string) *continuousRun {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	s := engine.New(e.cat, engine.Options{Mem: mem}).NewSession()
	e2 := &sqlEnv{t: t, ctx: e.ctx, cat: e.cat, s: s, ns: e.ns}
	e2.run("SET magnetar.mode = 'continuous'")
	ctx, cancel := context.WithCancel(e.ctx)
	r := &continuousRun{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := s.Run(ctx, q, func(res *engine.Result) error {
			for {
				m, err := res.Rows.Next(ctx)
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
				r.mu.Lock()
				for i := 0; i < int(rec.NumRows()); i++ {
					r.lines = append(r.lines, m.Batch.Op(i).String()+" "+tabRow(rec, i))
				}
				r.mu.Unlock()
				m.Release()
			}
		})
		if ctx.Err() == nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		r.stop()
		<-r.done
		mem.AssertSize(t, 0)
	})
	return r
}

// wait returns the lines once ok accepts them; it fails the test when the
// query fails, and after a minute without them (a hang guard: the rows come
// within seconds).
func (r *continuousRun) wait(t *testing.T, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r.mu.Lock()
		lines, err := append([]string(nil), r.lines...), r.err
		r.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute; the continuous query emitted only %q", lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
