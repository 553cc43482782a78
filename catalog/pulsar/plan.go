package pulsar

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)

// pos is a position in a managed ledger (batch members share it).
type pos struct{ ledger, entry int64 }

func (a pos) less(b pos) bool {
	return a.ledger < b.ledger || (a.ledger == b.ledger && a.entry < b.entry)
}

// segment is one reader's task: partition part from start to last
// (inclusive). A bounded segment has last set; an unbounded one reads on.
type segment struct {
	part      int    // partition index, -1: not partitioned
	topic     string // the partition's topic
	earliest  bool   // start at the earliest message
	latest    bool   // start after the last message (unbounded)
	start     pos    // first position (inclusive) unless earliest or after
	bounded   bool
	last      pos   // last position to read (inclusive), when bounded
	estimated int64 // entries, for ordering and progress
	bytes     int64
	// after: start at the message right after (start, afterBatch), a
	// message already read (start_positions). The reader starts at the
	// start entry and the client skips its members up to afterBatch, so a
	// position inside a batch resumes with the rest of that batch.
	after      bool
	afterBatch int32
}

// ledger is a ledger's share of a partition's snapshot.
type ledger struct {
	id, entries, size int64
	closedAt          int64 // close time in ms (0: open or unknown)
}

// parseTopic parses a full topic name.
func parseTopic(topic string) (*utils.TopicName, error) {
	tn, err := utils.GetTopicName(topic)
	if err != nil {
		return nil, fmt.Errorf("pulsar: topic %q: %w", topic, err)
	}
	return tn, nil
}

// planBounded fixes the snapshot end of every partition and splits the reads
// into segments.
func (s *source) planBounded(ctx context.Context, parts []int) ([]segment, error) {
	splits := 1
	if s.opts.split && len(parts) > 0 && len(parts) < s.opts.parallelism {
		splits = (s.opts.parallelism + len(parts) - 1) / len(parts)
	}
	type planned struct {
		segs []segment
		err  error
	}
	res := make([]planned, len(parts))
	// Partitions are planned concurrently: each needs two or three admin
	// round trips.
	sem := make(chan struct{}, 8)
	done := make(chan int, len(parts))
	for i, p := range parts {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			segs, err := s.planPartition(ctx, p, splits)
			res[i] = planned{segs, err}
			done <- i
		}()
	}
	for range parts {
		<-done
	}
	var out []segment
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, r.segs...)
	}
	// Biggest first, so the slowest reader starts first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].estimated > out[j].estimated })
	var tm, tb int64
	for _, sg := range out {
		tm += sg.estimated
		tb += sg.bytes
	}
	s.totalMsgs.Store(tm)
	s.totalBytes.Store(tb)
	return out, nil
}

// planPartition plans one partition's bounded read.
func (s *source) planPartition(ctx context.Context, part, splits int) ([]segment, error) {
	cat := s.t.cat
	topic := partitionTopic(s.t.topic, part)
	tn, err := parseTopic(topic)
	if err != nil {
		return nil, err
	}
	last, err := cat.admin.Topics().GetLastMessageIDWithContext(ctx, *tn)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, nil // a partition never written to
		}
		return nil, cat.adminErr("last message id of "+topic, err)
	}
	stats, err := cat.admin.Topics().GetInternalStatsWithContext(ctx, *tn)
	if err != nil {
		return nil, cat.adminErr("internal stats of "+topic, err)
	}
	end := pos{last.LedgerID, last.EntryID}
	ledgers := snapshotLedgers(stats, end)
	if len(ledgers) == 0 {
		return nil, nil
	}
	end = pos{ledgers[len(ledgers)-1].id, ledgers[len(ledgers)-1].entries - 1}

	// Publish-time pushdown and as-of: skip whole ledgers by close time.
	slackMs := s.t.cat.cfg.PublishTimeSlack.Milliseconds()
	loMs, hiMs := int64(minTime), int64(maxTime)
	if s.bnd.hasPub && s.bnd.pubLo > minTime {
		loMs = s.bnd.pubLo/1000 - slackMs
	}
	if s.bnd.hasPub && s.bnd.pubHi < maxTime {
		hiMs = s.bnd.pubHi/1000 + slackMs
	}
	if s.opts.asOf != 0 {
		hiMs = min(hiMs, s.opts.asOf/1000+slackMs)
	}
	if loMs > minTime || hiMs < maxTime {
		// Internal stats carry no ledger close times (Pulsar 4.0 leaves
		// the field out); the managed ledger's info has them.
		if info, err := cat.admin.Topics().GetInternalInfoWithContext(ctx, *tn); err == nil {
			setCloseTimes(ledgers, info)
		} else {
			cat.log.Debug("pulsar: ledger close times", "topic", topic, "err", err)
		}
	}
	kept := ledgers[:0:0]
	for i, l := range ledgers {
		// All entries of a closed ledger were published before it closed.
		if loMs > minTime && l.closedAt > 0 && l.closedAt < loMs {
			s.skipped++
			continue
		}
		// A ledger is created when its predecessor closes: if that was
		// after the upper bound, so is every entry of this ledger.
		if hiMs < maxTime && i > 0 && ledgers[i-1].closedAt > hiMs {
			s.skipped++
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	// Start by publish time within the first ledger left.
	start := pos{kept[0].id, 0}
	if loMs > minTime && loMs > 0 {
		id, err := cat.admin.Topics().GetMessageIDWithContext(ctx, *tn, loMs)
		if err == nil {
			p := pos{id.LedgerID, id.EntryID}
			if end.less(p) {
				return nil, nil
			}
			if start.less(p) {
				start = p
			}
		} else if !isStatus(err, http.StatusNotFound) {
			cat.log.Debug("pulsar: message id by time", "topic", topic, "err", err)
		}
	}
	// Resume right after a message already read (start_positions).
	rp, resume := s.resumeFor(part)
	if resume {
		rpos := pos{rp.Ledger, rp.Entry}
		if end.less(rpos) {
			return nil, nil
		}
		if start.less(rpos) || start == rpos {
			start = rpos
		} else {
			resume = false // the resume position is older than what is kept
		}
	}
	for len(kept) > 0 && kept[0].id < start.ledger {
		kept = kept[1:]
	}
	if len(kept) == 0 {
		return nil, nil
	}
	segs := splitLedgers(part, topic, kept, start, end, splits)
	if resume && len(segs) > 0 && segs[0].start == start {
		segs[0].after, segs[0].afterBatch = true, rp.Batch
	}
	return segs, nil
}

// snapshotLedgers lists the ledgers holding entries up to end. Internal
// stats list the current ledger with 0 entries; its count comes from end.
func snapshotLedgers(stats utils.PersistentTopicInternalStats, end pos) []ledger {
	var out []ledger
	for _, l := range stats.Ledgers {
		if l.LedgerID > end.ledger {
			break
		}
		lg := ledger{id: l.LedgerID, entries: l.Entries, size: l.Size, closedAt: l.Timestamp}
		if l.LedgerID == end.ledger {
			lg.entries = end.entry + 1
			if lg.size == 0 {
				lg.size = stats.CurrentLedgerSize
			}
			lg.closedAt = 0
			if l.Entries > 0 && l.Entries == lg.entries {
				lg.closedAt = l.Timestamp
			}
		}
		if lg.entries > 0 {
			out = append(out, lg)
		}
	}
	return out
}

// setCloseTimes fills in the close time of every closed ledger in ls from
// the managed ledger's info. A ledger is closed when the info counts as
// many entries as the snapshot does: the open ledger has 0 there.
func setCloseTimes(ls []ledger, info utils.ManagedLedgerInfo) {
	closed := make(map[int64]utils.ManagedLedgerInfoLedgerInfo, len(info.Ledgers))
	for _, l := range info.Ledgers {
		closed[l.LedgerID] = l
	}
	for i := range ls {
		if l, ok := closed[ls[i].id]; ok && ls[i].closedAt == 0 && l.Timestamp > 0 && l.Entries > 0 && l.Entries == ls[i].entries {
			ls[i].closedAt = l.Timestamp
		}
	}
}

// minSplitEntries keeps split ranges from being so small that opening a
// reader costs more than reading them.
const minSplitEntries = 64

// splitLedgers cuts the entries from start to end into at most n ranges of
// about equal entry counts. Ranges may start inside a ledger: a reader can
// start at any (ledger, entry) position, so a topic whose batches keep it
// in one ledger still splits.
func splitLedgers(part int, topic string, ls []ledger, start, end pos, n int) []segment {
	type span struct {
		ledger, first, last int64
		bytesPerEntry       float64
	}
	var spans []span
	var total int64
	for _, l := range ls {
		sp := span{ledger: l.id, first: 0, last: l.entries - 1}
		if l.id == start.ledger {
			sp.first = max(sp.first, start.entry)
		}
		if l.id == end.ledger {
			sp.last = min(sp.last, end.entry)
		}
		if l.id < start.ledger || l.id > end.ledger || sp.first > sp.last {
			continue
		}
		if l.entries > 0 {
			sp.bytesPerEntry = float64(l.size) / float64(l.entries)
		}
		spans = append(spans, sp)
		total += sp.last - sp.first + 1
	}
	if total == 0 {
		return nil
	}
	n = int(max(1, min(int64(n), total/minSplitEntries)))
	per := (total + int64(n) - 1) / int64(n)
	var out []segment
	var cur *segment
	for _, sp := range spans {
		for e := sp.first; e <= sp.last; {
			if cur == nil {
				out = append(out, segment{part: part, topic: topic, bounded: true, start: pos{sp.ledger, e}})
				cur = &out[len(out)-1]
			}
			take := min(sp.last-e+1, per-cur.estimated)
			if len(out) == n {
				take = sp.last - e + 1 // the last range takes the rest
			}
			cur.estimated += take
			cur.bytes += int64(float64(take) * sp.bytesPerEntry)
			e += take
			cur.last = pos{sp.ledger, e - 1}
			if cur.estimated >= per && len(out) < n {
				cur = nil
			}
		}
	}
	if len(out) > 0 {
		out[len(out)-1].last = end
	}
	return out
}
