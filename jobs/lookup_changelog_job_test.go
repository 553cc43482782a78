package jobs_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/sink"
)

// The stream side of these jobs is a changelog: a count per key, each new
// source row of a key giving a -U of the old count and a +U of the new one.
const (
	lkPerKey = "SELECT k, count(*) AS n FROM src GROUP BY k"
	// lkEnrich writes the enriched counts into an upsert table keyed on k.
	lkEnrich = "SELECT a.k, a.n, d.name FROM (" + lkPerKey + ") a LEFT JOIN dim d AS OF TIMESTAMP PROCTIME() ON a.k = d.id"
	// lkByName aggregates the enriched changelog per dim name: an upsert
	// sink drops -U messages (the +U of the same key replaces the row), so
	// lkEnrich's output cannot show what its retractions carried; here
	// every -U the join emits must cancel the row of the group it was
	// added to, or that group's count and sums come out wrong.
	lkByName = "SELECT j.name, count(*), sum(j.k), sum(j.n) FROM (SELECT a.k, a.n, d.name FROM (" +
		lkPerKey + ") a JOIN dim d AS OF TIMESTAMP PROCTIME() ON a.k = d.id) j GROUP BY j.name"
)

// TestLookupJoinOverChangelogJobRestores: a durable job whose lookup join
// reads a changelog stream (an aggregate) keeps, per live stream row, the
// table row it emitted, so that the row's -U retracts exactly that even
// after the table changed; that state is in the job's checkpoints. The
// jobs run, checkpoint, see the table change (4 renames, 4 deletes), are
// crashed, more stream rows come while they are down, and the restarted
// jobs restore the checkpoint. Two uninterrupted reference jobs (their own
// manager, in another jobs namespace) read the same input at the same
// moments.
//
// Every stream row is written after every job checkpointed every table
// change written before it, and every table change after every job
// checkpointed every stream row written before it: a checkpoint is taken
// at barriers aligned at the join, so the table the join probes with is
// exactly the table as the test last wrote it (the model cur below).
// Expected result, per key k of src: n(k) = its rows; name(k) = the dim
// name cur[k] when the last row of k was written (missing when dim had
// no row k then), since a lookup join joins each update of the stream with
// the table of that moment and does not revise rows for later table
// changes. enriched folds (latest row per k) to k|n(k)|name(k) (NULL when
// missing); byname to, per name, the keys whose name(k) it is: their
// count, sum of k and sum of n(k) (names no key has any more are deleted).
//
// A restarted join that had lost its emitted rows would drop the -U of
// every row emitted before the crash, so the groups of byname those rows
// were added to would keep them (e.g. key 4, joined with a4 before the
// crash, updated after it when dim says b4: its -U must remove it from
// group a4); a join retracting with the table's current row would
// subtract it from b4 instead. The per-key count below the join is state
// too: a restarted job must restore it before the join pulls it (a
// restored run once counted the rows read after the crash afresh).
func TestLookupJoinOverChangelogJobRestores(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE dim (id BIGINT PRIMARY KEY, name VARCHAR(10));
		CREATE TABLE src (k BIGINT);
		CREATE TABLE enriched (k BIGINT PRIMARY KEY, n BIGINT, name VARCHAR(10));
		CREATE TABLE eref (k BIGINT PRIMARY KEY, n BIGINT, name VARCHAR(10));
		CREATE TABLE byname (name VARCHAR(10) PRIMARY KEY, nkeys BIGINT, ksum BIGINT, total BIGINT);
		CREATE TABLE bref (name VARCHAR(10) PRIMARY KEY, nkeys BIGINT, ksum BIGINT, total BIGINT)`)
	const keys = 16
	// rows counts the source rows the jobs read: those written (dim and
	// src) and the dim scan's bootstrap marker (a row of no message).
	var rows int64 = 1
	cur := map[int]string{}     // dim as last written
	n := map[int]int{}          // rows per src key
	joined := map[int]*string{} // the dim name cur when k's last row was written
	setDim := func(vals map[int]string) {
		var tuples []string
		for k, v := range vals {
			tuples = append(tuples, fmt.Sprintf("(%d, '%s')", k, v))
			cur[k] = v
		}
		e.run("INSERT INTO dim VALUES " + strings.Join(tuples, ", "))
		rows += int64(len(vals))
	}
	deleteDim := func(ids ...int) {
		// Tombstones as the sink writes them: the key, an empty payload.
		p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: testbroker.Topic(e.ns, "dim")})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, id := range ids {
			if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Key: fmt.Sprint(id), Properties: map[string]string{sink.PropOp: "-D"}}); err != nil {
				t.Fatal(err)
			}
			delete(cur, id)
		}
		rows += int64(len(ids))
	}
	touch := func(times int, ks ...int) {
		var tuples []string
		for _, k := range ks {
			for i := 0; i < times; i++ {
				tuples = append(tuples, fmt.Sprintf("(%d)", k))
			}
			n[k] += times
			joined[k] = nil
			if v, ok := cur[k]; ok {
				joined[k] = &v
			}
		}
		e.run("INSERT INTO src VALUES " + strings.Join(tuples, ", "))
		rows += int64(len(tuples))
	}

	m := e.managerWith(func(*jobs.Config) {})
	refNS := testbroker.Namespace(t, mustAdminURL())
	ref := e.managerWith(func(c *jobs.Config) { c.Namespace = refNS })
	create := func(m *jobs.Manager, name, sql string) {
		t.Helper()
		if err := m.Create(e.ctx, name, e.ns, sql, nil); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	// waitAll waits until every job's last checkpoint covers the rows
	// written so far.
	waitAll := func(ms ...*jobs.Manager) {
		t.Helper()
		for _, mm := range ms {
			for _, j := range mm.Jobs() {
				checkpointed(t, mm, j.Name, rows)
			}
		}
	}

	initial := map[int]string{}
	for k := 0; k < keys; k++ {
		initial[k] = fmt.Sprintf("a%d", k)
	}
	setDim(initial)
	all := make([]int, keys)
	for k := range all {
		all[k] = k
	}
	touch(3, all...)
	create(m, "lkc", "INSERT INTO enriched "+lkEnrich)
	create(m, "lkcagg", "INSERT INTO byname "+lkByName)
	create(ref, "lkcref", "INSERT INTO eref "+lkEnrich)
	create(ref, "lkcaggref", "INSERT INTO bref "+lkByName)
	waitAll(m, ref)
	for _, name := range []string{"lkc", "lkcagg"} {
		if info, _ := m.Job(name); !info.Stateful || !info.Tracked || info.StateBytes == 0 {
			t.Fatalf("job %s does not checkpoint its state: %+v", name, info)
		}
	}

	// The table changes: keys ≡ 0 (mod 4) renamed, keys ≡ 1 deleted. The
	// rows already emitted keep the old names.
	renamed := map[int]string{}
	var deleted []int
	for k := 0; k < keys; k++ {
		switch k % 4 {
		case 0:
			renamed[k] = fmt.Sprintf("b%d", k)
		case 1:
			deleted = append(deleted, k)
		}
	}
	setDim(renamed)
	deleteDim(deleted...)
	waitAll(m, ref)
	// Keys 0..3 updated after the change, checkpointed: their items are
	// the new table rows (0: b0), a miss (1: inner nothing, left padding)
	// or the unchanged rows.
	touch(2, 0, 1, 2, 3)
	waitAll(m, ref)
	// Keys 12 and 14 updated and read, perhaps not checkpointed, before the
	// crash: a restarted run reads them again.
	touch(2, 12, 14)
	waitAll(ref)
	for _, name := range []string{"lkc", "lkcagg"} {
		waitJob(t, m, name, fmt.Sprintf("%d rows in", rows), func(i jobs.Info) bool { return i.RowsIn >= rows })
	}
	before := map[string]jobs.Info{}
	for _, name := range []string{"lkc", "lkcagg"} {
		m.Crash(name)
		before[name], _ = m.Job(name)
	}
	m.Close()

	// While the jobs are down: updates whose -U must carry what was emitted
	// before the crash. 4 and 12: renamed (4 last joined with a4, before
	// the change); 5: deleted (last joined with a5, a table row only the
	// join's state still holds); 0: b0; 1: a miss; 2, 6: unchanged.
	// Untouched since the first rows: 7..11, 13, 15 (8 keeps a8 though
	// renamed, 9 keeps a9 though deleted).
	touch(2, 0, 1, 2, 4, 5, 6, 12)
	m2 := e.managerWith(func(*jobs.Config) {})
	waitAll(m2, ref)
	for _, name := range []string{"lkc", "lkcagg"} {
		info, _ := m2.Job(name)
		// Not recomputed from the start: two scans, stream and table.
		checkRestored(t, name, before[name], info, rows, 2)
	}

	var wantEnriched []string
	type group struct{ keys, ksum, total int }
	groups := map[string]*group{}
	for k := 0; k < keys; k++ {
		name := "NULL"
		if joined[k] != nil {
			name = *joined[k]
			g := groups[name]
			if g == nil {
				g = &group{}
				groups[name] = g
			}
			g.keys++
			g.ksum += k
			g.total += n[k]
		}
		wantEnriched = append(wantEnriched, fmt.Sprintf("%d|%d|%s", k, n[k], name))
	}
	sort.Strings(wantEnriched)
	var wantByName []string
	for name, g := range groups {
		wantByName = append(wantByName, fmt.Sprintf("%s|%d|%d|%d", name, g.keys, g.ksum, g.total))
	}
	sort.Strings(wantByName)

	same(t, e.run("SELECT k, n, name FROM eref"), wantEnriched)
	same(t, e.run("SELECT k, n, name FROM enriched"), wantEnriched)
	same(t, e.run("SELECT name, nkeys, ksum, total FROM bref"), wantByName)
	same(t, e.run("SELECT name, nkeys, ksum, total FROM byname"), wantByName)
	// The deletes the jobs wrote (byname: a group emptied by -U rows, as
	// a0 by key 0's) each remove a row written before. (A run restarted
	// after a crash writes the rows after its checkpoint again, deletes
	// included, so a key may be deleted twice.)
	for _, table := range []string{"enriched", "byname"} {
		e.checkDeletes(table)
	}
}

// checkDeletes reads table's topic raw and fails when a delete (the
// sink's tombstone) comes for a key no row was written for before it.
func (e *env) checkDeletes(table string) {
	e.t.Helper()
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: testbroker.Topic(e.ns, table), StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	written := map[string]bool{}
	deletes := 0
	for hasNext(e.t, r) {
		msg, err := r.Next(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if msg.Properties()[sink.PropOp] != "-D" {
			written[msg.Key()] = true
			continue
		}
		if !written[msg.Key()] {
			e.t.Fatalf("%s: a delete of key %q, for which no row was written", table, msg.Key())
		}
		deletes++
	}
	e.t.Logf("%s: %d deletes, each of a key written before", table, deletes)
}

func mustAdminURL() string {
	_, adminURL := testbroker.URLs()
	return adminURL
}
