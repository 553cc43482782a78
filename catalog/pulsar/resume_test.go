package pulsar

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

func TestParseStartPositions(t *testing.T) {
	ps, err := parseStartPositions("12:5:0:3, 13:0:1,(9:7:-1:0)")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]StartPosition{0: {12, 5, 3}, 1: {13, 0, 0}, -1: {9, 7, 0}}
	if len(ps) != len(want) {
		t.Fatalf("got %v", ps)
	}
	for p, sp := range want {
		if ps[p] != sp {
			t.Fatalf("partition %d: got %v, want %v", p, ps[p], sp)
		}
	}
	if got := FormatStartPositions(ps); got != "9:7:-1:0,12:5:0:3,13:0:1:0" {
		t.Fatalf("FormatStartPositions = %q", got)
	}
	back, err := parseStartPositions(FormatStartPositions(ps))
	if err != nil || len(back) != 3 || back[0] != ps[0] {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	for _, bad := range []string{"1:2", "a:b:c", "1:2:3:4:5", "1:2:0,3:4:0", "-1:2:0", "1:2:-2"} {
		if _, err := parseStartPositions(bad); err == nil {
			t.Errorf("parseStartPositions(%q) took it", bad)
		}
	}
	var tb Table
	tb.cat = &Catalog{}
	if _, err := tb.parseOptions(map[string]string{"start_positions": "x"}); err == nil {
		t.Error("parseOptions took start_positions=x")
	}
}

// readRow is one row of the resume test: id, partition, message id.
type readRow struct {
	id, part, msgID string
	ledger, entry   string
}

func parseReadRows(t *testing.T, rows []string) []readRow {
	t.Helper()
	out := make([]readRow, len(rows))
	for i, r := range rows {
		c := strings.Split(r, "|")
		f := strings.Split(c[2], ":")
		if len(c) != 3 || len(f) != 4 {
			t.Fatalf("row %q", r)
		}
		out[i] = readRow{id: c[0], part: c[1], msgID: c[2], ledger: f[0], entry: f[1]}
	}
	return out
}

// TestStartPositionsResumeAfter: a scan given start_positions reads each
// listed partition from right after its message, whether that message is
// inside a batch (the rest of the batch follows), the last of a batch, or
// sent alone, and the skipped messages are not counted as read (the
// client drops the start entry's members up to the position before they
// reach the scan). Bounded and unbounded scans.
func TestStartPositionsResumeAfter(t *testing.T) {
	e := newEnv(t, Config{})
	tn, _ := parseTopic(e.topic("resume"))
	if err := e.cat.admin.Topics().Create(*tn, 3); err != nil {
		t.Fatal(err)
	}
	// Batched messages, then messages sent alone, in every partition.
	sendAll(t, e.ctx, e.producer(e.topic("resume"), orderAvro, true), orderMsgs(t, 0, 300))
	sendAll(t, e.ctx, e.producer(e.topic("resume"), orderAvro, false), orderMsgs(t, 300, 60))
	tb := e.table("resume")
	cols := []int{0, colIndex(t, tb, ColPartition), colIndex(t, tb, ColMessageID)}
	all, _ := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: cols})
	if len(all) != 360 {
		t.Fatalf("full scan: %d rows", len(all))
	}
	// Rows per partition, in read order (a partition is read in order).
	byPart := map[string][]readRow{}
	for _, r := range parseReadRows(t, all) {
		byPart[r.part] = append(byPart[r.part], r)
	}
	sameEntry := func(a, b readRow) bool { return a.ledger == b.ledger && a.entry == b.entry }
	// Partition 0 resumes inside a batch, 1 after the last message of a
	// batch, 2 after a message sent alone.
	pick := map[string]func(rs []readRow, i int) bool{
		"0": func(rs []readRow, i int) bool { return i > 0 && sameEntry(rs[i-1], rs[i]) && sameEntry(rs[i], rs[i+1]) },
		"1": func(rs []readRow, i int) bool {
			return i > 0 && sameEntry(rs[i-1], rs[i]) && !sameEntry(rs[i], rs[i+1])
		},
		"2": func(rs []readRow, i int) bool {
			id, _ := strconv.Atoi(rs[i].id)
			return id >= 300 && !sameEntry(rs[i-1], rs[i]) && !sameEntry(rs[i], rs[i+1])
		},
	}
	var ids []string
	want := map[string]bool{}
	for part, ok := range pick {
		rs := byPart[part]
		at := -1
		for i := len(rs) / 4; i < len(rs)-1 && at < 0; i++ {
			if ok(rs, i) {
				at = i
			}
		}
		if at < 0 {
			t.Fatalf("partition %s: no message to resume after among %d", part, len(rs))
		}
		ids = append(ids, rs[at].msgID)
		for _, r := range rs[at+1:] {
			want[r.id] = true
		}
	}
	opts := map[string]string{"start_positions": strings.Join(ids, ",")}
	check := func(mode string, rows []string, read int64) {
		t.Helper()
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d (after %v)", mode, len(rows), len(want), ids)
		}
		left := maps.Clone(want)
		for _, r := range parseReadRows(t, rows) {
			if !left[r.id] {
				t.Fatalf("%s: row %v is a duplicate or at/before its partition's start position (%v)", mode, r, ids)
			}
			delete(left, r.id)
		}
		if read != int64(len(rows)) {
			t.Fatalf("%s: %d messages read for %d rows after the positions", mode, read, len(rows))
		}
	}
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: cols, Options: opts})
	check("bounded", rows, src.Stats().MessagesRead)

	// Unbounded: read until every expected row came (the scan tails on).
	op, err := tb.Scan(e.ctx, catalog.ScanRequest{Columns: cols, Options: opts, Mode: catalog.Unbounded, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(op.String(), "start_after=") {
		t.Errorf("EXPLAIN shows no start positions: %s", op)
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rows = nil
	for len(rows) < len(want) {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatalf("unbounded: %v after %d rows", err, len(rows))
		}
		if m.Kind == exec.MsgBatch {
			rows = append(rows, recordRows(m.Batch.Rec)...)
			m.Release()
		}
	}
	read := op.(*source).Stats().MessagesRead
	op.Close()
	check("unbounded", rows, read)
	t.Logf("resumed after %v: %d rows", ids, len(rows))
}
