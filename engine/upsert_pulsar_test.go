package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// upsertEnv is a Pulsar catalog over a throwaway namespace with a table
// auction (id BIGINT PRIMARY KEY, item, seller).
type upsertEnv struct {
	t     *testing.T
	ctx   context.Context
	ns    string
	mem   *memory.CheckedAllocator
	cat   *cpulsar.Catalog
	eng   *Engine
	s     *Session
	table *cpulsar.Table
}

func newUpsertEnv(t *testing.T, extraDDL string) *upsertEnv {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	e := &upsertEnv{t: t, ctx: ctx, ns: ns, mem: mem, cat: cat, eng: New(cat, Options{Mem: mem})}
	e.s = e.session()
	mustRun(t, e.s, "CREATE TABLE auction (id BIGINT PRIMARY KEY, item VARCHAR(20), seller INT)"+extraDDL)
	tb, err := cat.Table(ctx, ns, "auction")
	if err != nil {
		t.Fatal(err)
	}
	e.table = tb.(*cpulsar.Table)
	return e
}

func (e *upsertEnv) session() *Session {
	s := e.eng.NewSession()
	mustRun(e.t, s, "USE `"+e.ns+"`")
	return s
}

// rows runs a bounded query and returns its rows, sorted.
func (e *upsertEnv) rows(q string) []string {
	e.t.Helper()
	rows, _, err := runSQL(e.ctx, e.s, q)
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	sort.Strings(rows)
	return rows
}

// deleteKeys writes deletes of auction ids through the table's writer
// (the sink's tombstones: key, empty payload, magnetar.op=-D), as a job's
// changelog would.
func (e *upsertEnv) deleteKeys(ids ...int64) {
	e.t.Helper()
	w, err := e.table.OpenWriter(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	b := array.NewRecordBuilder(e.mem, e.table.Schema())
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).AppendNull()
		b.Field(2).AppendNull()
	}
	rec := b.NewRecordBatch()
	b.Release()
	ops := make([]exec.ChangeKind, len(ids))
	for i := range ops {
		ops[i] = exec.Delete
	}
	err = w.Write(e.ctx, exec.Batch{Rec: rec, Ops: ops})
	rec.Release()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// nullValue produces a tombstone the way other clients do: the key and
// an empty payload, no properties.
func (e *upsertEnv) nullValue(key string) {
	e.t.Helper()
	p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: e.table.Topic()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Key: key}); err != nil {
		e.t.Fatal(err)
	}
}

func same(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPulsarUpsertTableBounded: INSERTs into a primary-key table are
// upserts, deletes tombstones; a bounded read is the latest row per key
// with deleted keys absent (also re-inserted ones, and a tombstone
// written by another client); changelog_mode=append reads the raw
// messages.
func TestPulsarUpsertTableBounded(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20), (3, 'desk', 30), (4, 'rug', 40)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11), (5, 'vase', 50)")
	e.deleteKeys(2, 3, 9) // 9 never existed
	mustRun(t, e.s, "INSERT INTO auction VALUES (3, 'desk again', 31)")
	e.nullValue("4")
	same(t, e.rows("SELECT id, item, seller FROM auction"),
		[]string{"1\tlamp v2\t11", "3\tdesk again\t31", "5\tvase\t50"})
	same(t, e.rows("SELECT count(*), sum(seller) FROM auction"), []string{"3\t92"})
	same(t, e.rows("SELECT __key, item FROM auction WHERE seller > 20"), []string{"3\tdesk again", "5\tvase"})
	plan := strings.Join(e.rows("EXPLAIN SELECT item FROM auction"), "\n")
	if !strings.Contains(plan, "UpsertMaterialize key=__key tombstone=__tombstone primary_key=[id]") {
		t.Fatalf("EXPLAIN shows no UpsertMaterialize:\n%s", plan)
	}

	// Every message, tombstones included.
	mustRun(t, e.s, "ALTER TABLE auction ENGINE_ATTRIBUTE='changelog_mode=append'")
	same(t, e.rows("SELECT id, item, __tombstone FROM auction"), []string{
		"1\tlamp\t0", "1\tlamp v2\t0", "2\tNULL\t1", "2\tchair\t0", "3\tNULL\t1", "3\tdesk\t0", "3\tdesk again\t0",
		"4\tNULL\t1", "4\trug\t0", "5\tvase\t0", "9\tNULL\t1"})
	mustRun(t, e.s, "ALTER TABLE auction ENGINE_ATTRIBUTE='changelog_mode='")
	same(t, e.rows("SELECT id FROM auction"), []string{"1", "3", "5"})
}

// continuousRun runs a continuous query on its own session and collects
// its changelog lines ("+I a\tb").
type continuousRun struct {
	mu    sync.Mutex
	lines []string
	err   error
	stop  context.CancelFunc
	done  chan struct{}
}

func (e *upsertEnv) continuous(q string, settings ...string) *continuousRun {
	s := e.session()
	mustRun(e.t, s, "SET magnetar.mode = 'continuous'")
	for _, st := range settings {
		mustRun(e.t, s, st)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	r := &continuousRun{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := s.Run(ctx, q, func(res *Result) error {
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
					cells := make([]string, rec.NumCols())
					for j := range cells {
						cells[j] = formatCell(rec.Column(j), i)
					}
					r.lines = append(r.lines, m.Batch.Op(i).String()+" "+strings.Join(cells, "\t"))
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
	e.t.Cleanup(r.close)
	return r
}

func (r *continuousRun) close() {
	r.stop()
	<-r.done
}

// wait returns the lines once there are at least n (failing after a
// minute).
func (r *continuousRun) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r.mu.Lock()
		lines, err := append([]string(nil), r.lines...), r.err
		r.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d rows, got %d: %q", n, len(lines), lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPulsarUpsertTableContinuous: a continuous read of a primary-key
// table starts with the table as it is (latest row per key, as +I), then
// follows its changes as -U/+U, +I and -D.
func TestPulsarUpsertTableContinuous(t *testing.T) {
	for _, ddl := range []string{"", " PARTITION BY KEY(id) PARTITIONS 3"} {
		t.Run(fmt.Sprintf("partitioned=%v", ddl != ""), func(t *testing.T) { upsertContinuous(t, ddl) })
	}
}

func upsertContinuous(t *testing.T, ddl string) {
	e := newUpsertEnv(t, ddl)
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11)")
	e.deleteKeys(2)
	r := e.continuous("SELECT id, item FROM auction")
	same(t, r.wait(t, 1), []string{"+I 1\tlamp v2"})
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v3', 12), (7, 'clock', 70)")
	got := r.wait(t, 4)
	sort.Strings(got[1:])
	same(t, got, []string{"+I 1\tlamp v2", "+I 7\tclock", "+U 1\tlamp v3", "-U 1\tlamp v2"})
	e.deleteKeys(7)
	same(t, r.wait(t, 5)[4:], []string{"-D 7\tclock"})
}

// TestPulsarLookupJoin: a continuous lookup join waits for the table's
// bootstrap, joins each bid with the auction's current row, and sees a
// change of the table in the bids that come after it (earlier output is
// not retracted); the bounded run of the same query gives the answer of
// the final table.
func TestPulsarLookupJoin(t *testing.T) {
	for _, ddl := range []string{"", " PARTITION BY KEY(id) PARTITIONS 3"} {
		t.Run(fmt.Sprintf("partitioned=%v", ddl != ""), func(t *testing.T) { lookupJoin(t, ddl) })
	}
}

func lookupJoin(t *testing.T, ddl string) {
	e := newUpsertEnv(t, ddl)
	mustRun(t, e.s, "CREATE TABLE bid (auction BIGINT, price INT)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20), (3, 'desk', 30)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (2, 'chair v2', 21)")
	const q = "SELECT b.auction, b.price, a.item FROM bid b LEFT JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id"
	plan := strings.Join(e.rows("EXPLAIN "+q), "\n")
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "LookupLeftJoin on auction#0 = id#0 (proctime; key=__key tombstone=__tombstone primary_key=[id])") {
		t.Fatalf("EXPLAIN shows no lookup join:\n%s", plan)
	}
	r := e.continuous(q)
	mustRun(t, e.s, "INSERT INTO bid VALUES (1, 100), (2, 200), (8, 800)")
	got := r.wait(t, 3)
	sort.Strings(got)
	same(t, got, []string{"+I 1\t100\tlamp", "+I 2\t200\tchair v2", "+I 8\t800\tNULL"})

	// The table changes mid-stream: 1 renamed, 2 deleted, 8 created.
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11), (8, 'bed', 80)")
	e.deleteKeys(2)
	// Processing time: the change reaches the join at some point after
	// it is written; probe with bids until a bid sees it, then every
	// later bid must too.
	n := 3
	price := 1000
	deadline := time.Now().Add(time.Minute)
	for {
		price++
		mustRun(t, e.s, fmt.Sprintf("INSERT INTO bid VALUES (1, %d)", price))
		n++
		last := r.wait(t, n)[n-1]
		if last == fmt.Sprintf("+I 1\t%d\tlamp v2", price) {
			break
		}
		if last != fmt.Sprintf("+I 1\t%d\tlamp", price) {
			t.Fatalf("bid %d joined as %q", price, last)
		}
		if time.Now().After(deadline) {
			t.Fatal("the table change never reached the join")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The deletion and insertion were written before the rename's probe
	// succeeded... but only the rename is known to be applied; wait for
	// the other keys the same way.
	for _, probe := range []struct {
		auction int
		want    string
	}{{2, "NULL"}, {8, "bed"}} {
		for {
			price++
			mustRun(t, e.s, fmt.Sprintf("INSERT INTO bid VALUES (%d, %d)", probe.auction, price))
			n++
			last := r.wait(t, n)[n-1]
			if last == fmt.Sprintf("+I %d\t%d\t%s", probe.auction, price, probe.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("auction %d: last row %q", probe.auction, last)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	mustRun(t, e.s, "INSERT INTO bid VALUES (1, 1), (2, 2), (3, 3)")
	got = r.wait(t, n+3)[n:]
	sort.Strings(got)
	same(t, got, []string{"+I 1\t1\tlamp v2", "+I 2\t2\tNULL", "+I 3\t3\tdesk"})
	// Nothing joined earlier was retracted.
	for _, l := range r.wait(t, n+3) {
		if !strings.HasPrefix(l, "+I ") {
			t.Fatalf("output is not append-only: %q", l)
		}
	}
	lines := r.wait(t, n+3)
	r.close()

	// Bounded: the final table for every bid.
	bids := map[string]int{}
	for _, l := range lines {
		bids[strings.Split(strings.TrimPrefix(l, "+I "), "\t")[0]]++
	}
	same(t, e.rows("SELECT b.auction, count(*), max(a.item) FROM bid b LEFT JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id GROUP BY b.auction"),
		[]string{fmt.Sprintf("1\t%d\tlamp v2", bids["1"]), fmt.Sprintf("2\t%d\tNULL", bids["2"]), "3\t1\tdesk", fmt.Sprintf("8\t%d\tbed", bids["8"])})
}

// TestPulsarLookupJoinStartLatest: the session's start position applies to
// the stream, not to the table side, which is always the whole table.
func TestPulsarLookupJoinStartLatest(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "CREATE TABLE bid (auction BIGINT, price INT)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20)")
	mustRun(t, e.s, "INSERT INTO bid VALUES (1, 1), (2, 2)") // before the query: not read
	r := e.continuous("SELECT b.auction, b.price, a.item FROM bid b JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id",
		"SET start = 'latest'")
	// The stream's readers start at the end when they connect: probe
	// until a bid is seen.
	price := 100
	deadline := time.Now().Add(time.Minute)
	for {
		price++
		mustRun(t, e.s, fmt.Sprintf("INSERT INTO bid VALUES (2, %d)", price))
		time.Sleep(300 * time.Millisecond)
		r.mu.Lock()
		n := len(r.lines)
		r.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no bid joined")
		}
	}
	for _, l := range r.wait(t, 1) {
		if !strings.HasPrefix(l, "+I 2\t1") || !strings.HasSuffix(l, "\tchair") {
			t.Fatalf("unexpected row %q (old bids must not be read, the table must be whole)", l)
		}
	}
}

// TestPulsarUpsertTableAggregate: a continuous aggregate over an upsert
// table follows the table's changes (also with a state TTL, whose
// watermark goes on the table's scan).
func TestPulsarUpsertTableAggregate(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 10), (3, 'desk', 30)")
	r := e.continuous("SELECT seller, count(*) FROM auction GROUP BY seller", "SET magnetar.state_ttl = '1 HOUR'")
	got := r.wait(t, 2)
	sort.Strings(got)
	same(t, got, []string{"+I 10\t2", "+I 30\t1"})
	mustRun(t, e.s, "INSERT INTO auction VALUES (2, 'chair', 30)")
	got = r.wait(t, 6)[2:]
	sort.Strings(got)
	same(t, got, []string{"+U 10\t1", "+U 30\t2", "-U 10\t2", "-U 30\t1"})

	// A window over the table: its watermark is assigned on the scan,
	// below the per-key fold.
	cs := e.session()
	mustRun(t, cs, "SET magnetar.mode = 'continuous'")
	plan, _, err := runSQL(e.ctx, cs, "EXPLAIN SELECT window_start, count(*) FROM auction GROUP BY TUMBLE(__publish_time, '1 MINUTE')")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if u, w := strings.Index(text, "UpsertMaterialize"), strings.Index(text, "Watermark"); u < 0 || w < u {
		t.Fatalf("want the watermark below UpsertMaterialize:\n%s", text)
	}
}

// TestPulsarUpsertMatchesCompaction: after Pulsar compacts the topic, a
// compacted reader sees exactly the messages Magnetar reads as the table:
// the same message per key (by message id), deleted keys absent.
func TestPulsarUpsertMatchesCompaction(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20), (3, 'desk', 30), (4, 'rug', 40)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11), (5, 'vase', 50), (2, 'chair v2', 21)")
	e.deleteKeys(3, 8)
	e.nullValue("4")
	mustRun(t, e.s, "INSERT INTO auction VALUES (3, 'desk again', 31), (1, 'lamp v3', 12)")
	e.deleteKeys(5)
	got := e.rows("SELECT __key, __message_id FROM auction")

	tn, err := utils.GetTopicName(e.table.Topic())
	if err != nil {
		t.Fatal(err)
	}
	adm := e.cat.Admin()
	if err := adm.Topics().Compact(*tn); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		st, err := adm.Topics().CompactStatus(*tn)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == utils.SUCCESS {
			break
		}
		if st.Status == utils.ERROR || time.Now().After(deadline) {
			t.Fatalf("compaction: %s %s", st.Status, st.LastError)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: e.table.Topic(), StartMessageID: pulsar.EarliestMessageID(), ReadCompacted: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []string
	for r.HasNext() {
		m, err := r.Next(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Payload()) == 0 {
			continue // compaction keeps a deleted key's tombstone when it is the last message
		}
		id := m.ID()
		want = append(want, fmt.Sprintf("%s\t%d:%d:-1:%d", m.Key(), id.LedgerID(), id.EntryID(), id.BatchIdx()))
	}
	sort.Strings(want)
	if len(want) != 3 {
		t.Fatalf("compacted topic holds %q, want keys 1, 2, 3", want)
	}
	same(t, got, want)
}

// TestPulsarLookupJoinAppendModeTable: a table read in append mode
// (changelog_mode=append) is still looked up by its primary key, latest
// row winning, tombstones deleting.
func TestPulsarLookupJoinAppendModeTable(t *testing.T) {
	e := newUpsertEnv(t, " ENGINE_ATTRIBUTE='changelog_mode=append'")
	mustRun(t, e.s, "CREATE TABLE bid (auction BIGINT, price INT)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 20)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11)")
	e.deleteKeys(2)
	same(t, e.rows("SELECT count(*) FROM auction"), []string{"4"}) // every message
	r := e.continuous("SELECT b.auction, b.price, a.item FROM bid b LEFT JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id")
	mustRun(t, e.s, "INSERT INTO bid VALUES (1, 100), (2, 200)")
	got := r.wait(t, 2)
	sort.Strings(got)
	same(t, got, []string{"+I 1\t100\tlamp v2", "+I 2\t200\tNULL"})
}
