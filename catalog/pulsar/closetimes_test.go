package pulsar

import (
	"testing"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

// TestSetCloseTimes: close times come from the managed ledger's info for
// closed ledgers only; the open ledger (0 entries there, a timestamp of
// "now") and a ledger the snapshot ends inside keep no close time.
func TestSetCloseTimes(t *testing.T) {
	ls := []ledger{{id: 1, entries: 5000}, {id: 2, entries: 5000}, {id: 3, entries: 1200}}
	setCloseTimes(ls, utils.ManagedLedgerInfo{Ledgers: []utils.ManagedLedgerInfoLedgerInfo{
		{LedgerID: 1, Entries: 5000, Timestamp: 100},
		{LedgerID: 2, Entries: 5000, Timestamp: 200},
		{LedgerID: 3, Timestamp: 999}, // open
	}})
	if ls[0].closedAt != 100 || ls[1].closedAt != 200 || ls[2].closedAt != 0 {
		t.Fatalf("close times %d %d %d, want 100 200 0", ls[0].closedAt, ls[1].closedAt, ls[2].closedAt)
	}
	// A snapshot ending inside ledger 2 (fewer entries than it closed
	// with) does not take its close time: later entries are not read.
	ls = []ledger{{id: 2, entries: 4000}}
	setCloseTimes(ls, utils.ManagedLedgerInfo{Ledgers: []utils.ManagedLedgerInfoLedgerInfo{{LedgerID: 2, Entries: 5000, Timestamp: 200}}})
	if ls[0].closedAt != 0 {
		t.Fatalf("partial ledger closedAt = %d, want 0", ls[0].closedAt)
	}
}
