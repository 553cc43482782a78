package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"testing"
)

// Transaction markers as the broker writes them into a topic (Pulsar's
// MarkerType): entries of their own, never delivered to readers, visible
// through the admin API's get-message-by-id.
const (
	markerTxnCommit = 21
	markerTxnAbort  = 22
)

// auditedTxn is one transaction of an output topic as reconstructed from
// its data entries and the broker's commit/abort markers.
type auditedTxn struct {
	producer  string
	msgs      []outMsg
	committed bool
	txnID     uint64 // commit marker's txn id (committed only)
	lastOfRun bool   // the producer's last committed transaction
}

// txnAudit tells, for every message of an output topic, whether its
// transaction committed.
//
// Why not a reader: pulsar-client-go v0.19 puts the transaction id on the
// send command but not in the message metadata (apache/pulsar-client-go#1498),
// so the broker cannot tell the messages of an aborted transaction from
// ordinary ones and delivers them to every consumer, Java ones included: the
// topic's data alone cannot say what was committed. What can: the commit and
// abort markers the broker writes into the topic (with the transaction id in
// their metadata), read entry by entry through the admin API. A job has one
// producer per run and writes its transactions one after the other (flush,
// commit, then the next transaction's first message), so a commit marker
// commits the messages its producer wrote since that producer's previous
// commit marker; what a killed run wrote after its last commit stays
// uncommitted (its transaction times out and an abort marker follows later).
type txnAudit struct {
	txns []auditedTxn
	// aborts are the ids of the abort markers.
	aborts []uint64
	// uncommitted holds, per producer, the messages no commit covers.
	uncommitted map[string][]outMsg
	order       []string // producers in order of their first message
}

// auditTopic reads the markers of topic ns/name and classifies msgs (every
// message of the topic, as read by a reader).
func auditTopic(t testing.TB, ctx context.Context, b broker, ns, name string, msgs []outMsg) *txnAudit {
	t.Helper()
	var st struct {
		Ledgers []struct {
			LedgerID int64 `json:"ledgerId"`
			Entries  int64 `json:"entries"`
		} `json:"ledgers"`
		CurrentLedgerEntries int64 `json:"currentLedgerEntries"`
	}
	if err := adminGet(ctx, b, "/admin/v2/persistent/"+ns+"/"+name+"/internalStats", &st); err != nil {
		t.Fatal(err)
	}
	byEntry := map[[2]int64][]outMsg{}
	for _, m := range msgs {
		k := [2]int64{m.id.Ledger, m.id.Entry}
		byEntry[k] = append(byEntry[k], m)
	}
	type entry struct {
		pos    [2]int64
		marker int
		txn    uint64
		msgs   []outMsg
	}
	var entries []entry
	for i, l := range st.Ledgers {
		n := l.Entries
		if i == len(st.Ledgers)-1 && st.CurrentLedgerEntries > n {
			n = st.CurrentLedgerEntries
		}
		for e := int64(0); e < n; e++ {
			pos := [2]int64{l.LedgerID, e}
			if ms, ok := byEntry[pos]; ok {
				entries = append(entries, entry{pos: pos, msgs: ms})
				delete(byEntry, pos)
				continue
			}
			kind, txn, err := markerAt(ctx, b, ns, name, pos)
			if err != nil {
				t.Fatalf("entry %d:%d of %s: %v", pos[0], pos[1], name, err)
			}
			entries = append(entries, entry{pos: pos, marker: kind, txn: txn})
		}
	}
	if len(byEntry) > 0 {
		t.Fatalf("audit %s: %d entries read by the reader are not in the topic's ledgers", name, len(byEntry))
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i].pos, entries[j].pos
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	a := &txnAudit{uncommitted: map[string][]outMsg{}}
	cur := ""
	seen := map[string]bool{}
	lastTxn := map[string]int{} // producer → index of its last committed txn
	for _, e := range entries {
		switch e.marker {
		case 0:
			for _, m := range e.msgs {
				if !seen[m.producer] {
					seen[m.producer] = true
					a.order = append(a.order, m.producer)
				}
				cur = m.producer
				a.uncommitted[cur] = append(a.uncommitted[cur], m)
			}
		case markerTxnCommit:
			if cur == "" || len(a.uncommitted[cur]) == 0 {
				continue // an empty transaction
			}
			lastTxn[cur] = len(a.txns)
			a.txns = append(a.txns, auditedTxn{producer: cur, msgs: a.uncommitted[cur], committed: true, txnID: e.txn})
			delete(a.uncommitted, cur)
		case markerTxnAbort:
			a.aborts = append(a.aborts, e.txn)
		default:
			t.Fatalf("entry %d:%d of %s: marker type %d", e.pos[0], e.pos[1], name, e.marker)
		}
	}
	for _, i := range lastTxn {
		a.txns[i].lastOfRun = true
	}
	return a
}

// markerAt fetches one entry through the admin API and returns its marker
// type (0: not a marker) and transaction id.
func markerAt(ctx context.Context, b broker, ns, name string, pos [2]int64) (int, uint64, error) {
	url := fmt.Sprintf("%s/admin/v2/persistent/%s/%s/ledger/%d/entry/%d", b.admin, ns, name, pos[0], pos[1])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	kind, _ := strconv.Atoi(resp.Header.Get("X-Pulsar-marker-type"))
	txn, _ := strconv.ParseUint(resp.Header.Get("X-Pulsar-txnid-least-bits"), 10, 64)
	return kind, txn, nil
}

// committed returns the messages of committed transactions.
func (a *txnAudit) committed() []outMsg {
	var out []outMsg
	for _, x := range a.txns {
		out = append(out, x.msgs...)
	}
	return out
}

// uncommittedCount counts the messages no commit covers.
func (a *txnAudit) uncommittedCount() int {
	n := 0
	for _, ms := range a.uncommitted {
		n += len(ms)
	}
	return n
}

// check reports messages left uncommitted without an abort to account for
// them: every run that leaves messages uncommitted was killed with an open
// transaction, which the broker must abort after its timeout, so an abort
// marker with an id between that run's last commit and the next run's first
// commit must exist.
func (a *txnAudit) check() error {
	firstCommit, lastCommit := map[string]uint64{}, map[string]uint64{}
	for _, x := range a.txns {
		if _, ok := firstCommit[x.producer]; !ok {
			firstCommit[x.producer] = x.txnID
		}
		lastCommit[x.producer] = x.txnID
	}
	for i, p := range a.order {
		if len(a.uncommitted[p]) == 0 {
			continue
		}
		lo := lastCommit[p]
		hi := ^uint64(0)
		for _, q := range a.order[i+1:] {
			if id, ok := firstCommit[q]; ok {
				hi = id
				break
			}
		}
		found := false
		for _, id := range a.aborts {
			if id > lo && id < hi {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("run %s left %d messages uncommitted but no abort marker lies between its last commit (txn %d) and the next run's first (txn %d)",
				p, len(a.uncommitted[p]), lo, hi)
		}
	}
	return nil
}
