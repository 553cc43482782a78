package exec

import (
	"time"
)

// State time-to-live of the streaming (changelog) hash aggregate.
//
// The clock is the input's watermark, not the wall clock: a group's last
// touch is the watermark in force when a batch last updated it (groups
// updated before the first watermark count as touched by it), and the group
// is forgotten once the watermark passes last touch + TTL. Forgetting is
// silent (no -D: like Flink's table.exec.state.ttl, the row already emitted
// stays where it went); a later row of the key starts a fresh group, emitted
// as +I. Watermarks travel in-band, so for a given stream of rows and
// watermarks the result does not depend on how the rows between two
// watermarks are cut into batches, on timing, or on checkpoint/restore
// cycles. (Where a watermark assigner makes the watermarks, one follows
// each source batch; the planner's TTL clocks also cut batches spanning more
// than a tenth of the TTL, see WatermarkOptions.SplitEvery.)
//
// Expired groups give their aggregate state back at once; their hash table
// slots are reclaimed by a compaction that rebuilds the grouper with the
// live groups once the expired ones outnumber them.

// aggTTL is the TTL bookkeeping of a HashAggregate.
type aggTTL struct {
	ttl     int64   // µs
	wm      int64   // last input watermark; minInt64 before the first
	touch   []int64 // per group: watermark of the last update
	live    []bool  // per group: holds state (has an item in q)
	nlive   int
	q       ttlQueue
	expired int64 // groups forgotten so far
	orphans int64 // retractions dropped: their group had expired
}

// ttlItem says group g was touched at (or after) at.
type ttlItem struct {
	at int64
	g  uint32
}

// ttlQueue is a min-heap of ttlItems by time. Each live group has exactly
// one item; an item older than its group's last touch is pushed again with
// the newer time when it comes up, rather than on every touch. (Typed
// sifts: container/heap's interface calls cost a third of the expiry.)
type ttlQueue []ttlItem

func (q *ttlQueue) push(it ttlItem) {
	*q = append(*q, it)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= it.at {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
}

func (q *ttlQueue) pop() ttlItem {
	h := *q
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	*q = h
	if len(h) > 0 {
		h.siftDown(0, last)
	}
	return top
}

// siftDown places it at i or below.
func (q ttlQueue) siftDown(i int, it ttlItem) {
	n := len(q)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && q[c+1].at < q[c].at {
			c++
		}
		if it.at <= q[c].at {
			break
		}
		q[i] = q[c]
		i = c
	}
	q[i] = it
}

// init orders the queue as a heap.
func (q ttlQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.siftDown(i, q[i])
	}
}

// SetStateTTL makes the aggregate (changelog mode only) forget a group once
// the watermark passes the group's last update plus ttl; see aggTTL. 0
// keeps groups forever.
func (h *HashAggregate) SetStateTTL(ttl time.Duration) {
	if ttl <= 0 || h.opts.Emit != EmitChangelog {
		h.ttl = nil
		return
	}
	h.ttl = &aggTTL{ttl: ttl.Microseconds(), wm: minInt64}
}

// StateTTL returns the state time-to-live (0: none).
func (h *HashAggregate) StateTTL() time.Duration {
	if h.ttl == nil {
		return 0
	}
	return time.Duration(h.ttl.ttl) * time.Microsecond
}

// ExpiredGroups is how many groups the TTL has forgotten so far.
func (h *HashAggregate) ExpiredGroups() int64 {
	if h.ttl == nil {
		return 0
	}
	return h.ttl.expired
}

// ttlTouch records that groups gs were updated at the current watermark.
func (h *HashAggregate) ttlTouch(gs []uint32) {
	t := h.ttl
	ng := h.g.numGroups()
	t.touch = growSlice(t.touch, ng)
	t.live = growSlice(t.live, ng)
	for _, g := range gs {
		t.touch[g] = t.wm
		if !t.live[g] {
			t.live[g] = true
			t.nlive++
			t.q.push(ttlItem{at: t.wm, g: g})
		}
	}
}

// ttlWatermark advances the clock to wm and forgets the groups whose last
// touch + TTL it passed.
func (h *HashAggregate) ttlWatermark(wm int64) {
	t := h.ttl
	if wm <= t.wm {
		return
	}
	t.wm = wm
	var gone map[uint32]bool
	for len(t.q) > 0 && satSub(t.q[0].at, -t.ttl) < wm {
		it := t.q.pop()
		g := it.g
		if !t.live[g] {
			continue
		}
		last := t.touch[g]
		if last == minInt64 {
			// Updated before the first watermark: touched by this one.
			last = wm
			t.touch[g] = wm
		}
		if satSub(last, -t.ttl) >= wm {
			t.q.push(ttlItem{at: last, g: g})
			continue
		}
		for _, a := range h.accs {
			a.reset(g)
		}
		h.rows[g] = 0
		if int(g) < len(h.emitted) {
			h.emitted[g] = false
		}
		t.live[g] = false
		t.nlive--
		t.expired++
		if gone == nil {
			gone = map[uint32]bool{}
		}
		gone[g] = true
	}
	if gone == nil {
		return
	}
	for _, a := range h.accs {
		if f, ok := a.(interface{ forget(map[uint32]bool) }); ok {
			f.forget(gone)
		}
	}
	if dead := h.g.numGroups() - t.nlive; dead >= 64 && dead >= t.nlive {
		h.ttlCompact()
	}
}

// ttlDropOrphans removes from b (whose rows' groups are in h.gids) the
// retractions of rows the aggregate no longer holds because their group
// expired (the group has no rows left at that point of the batch): folding
// them in would make counts negative and sums wrong. Like the expiry, this
// is silent. ok is false when there are none (b is to be used as is).
func (h *HashAggregate) ttlDropOrphans(b Batch) (Batch, bool, error) {
	var net map[uint32]int64
	var keep []int32
	dropped := 0
	for i, g := range h.gids {
		d := delta(b.Ops, i)
		if d < 0 {
			have := net[g]
			if int(g) < len(h.rows) {
				have += h.rows[g]
			}
			if have <= 0 {
				if keep == nil {
					keep = make([]int32, 0, len(h.gids))
					for j := 0; j < i; j++ {
						keep = append(keep, int32(j))
					}
				}
				dropped++
				continue
			}
		}
		if net == nil {
			net = map[uint32]int64{}
		}
		net[g] += d
		if keep != nil {
			keep = append(keep, int32(i))
		}
	}
	if dropped == 0 {
		return Batch{}, false, nil
	}
	h.ttl.orphans += int64(dropped)
	rec, err := takeRecord(h.mem, b.Rec, keep)
	if err != nil {
		return Batch{}, false, err
	}
	ops := make([]ChangeKind, len(keep))
	for j, i := range keep {
		ops[j] = b.Ops[i]
	}
	return Batch{Rec: rec, Ops: ops}, true, nil
}

// OrphanRetractions is how many retractions the aggregate dropped because
// the group of the retracted row had expired.
func (h *HashAggregate) OrphanRetractions() int64 {
	if h.ttl == nil {
		return 0
	}
	return h.ttl.orphans
}

// groupCompacter is implemented by accumulators whose per-group state can
// be renumbered: keep lists the groups that stay, in order (group keep[i]
// becomes i); remap maps old group ids to new ones (-1: dropped).
type groupCompacter interface {
	compact(keep []uint32, remap []int32)
}

// ttlCompact rebuilds the grouper and the accumulators with the live groups
// only, giving back the hash table slots of expired groups. It does nothing
// when an accumulator cannot be renumbered.
func (h *HashAggregate) ttlCompact() {
	for _, a := range h.accs {
		if _, ok := a.(groupCompacter); !ok {
			return
		}
	}
	t := h.ttl
	ng := h.g.numGroups()
	keep := make([]uint32, 0, t.nlive)
	remap := make([]int32, ng)
	for g := 0; g < ng; g++ {
		remap[g] = -1
		if g < len(t.live) && t.live[g] {
			remap[g] = int32(len(keep))
			keep = append(keep, uint32(g))
		}
	}
	ng2, err := newGrouper(h.groupTypes)
	if err != nil {
		return // cannot happen: the same types built the current grouper
	}
	if len(keep) > 0 {
		keys := h.g.keyArrays(h.mem, keep)
		gids := ng2.lookup(keys, len(keep), nil)
		releaseArrays(keys)
		for i, g := range gids {
			if int(g) != i {
				return // keys were not distinct: keep the old table
			}
		}
	}
	h.g = ng2
	for _, a := range h.accs {
		a.(groupCompacter).compact(keep, remap)
	}
	h.rows = gather(h.rows, keep)
	h.emitted = gather(h.emitted, keep)
	h.mark = make([]bool, len(keep))
	t.touch = gather(t.touch, keep)
	t.live = gather(t.live, keep)
	q := t.q[:0]
	for _, it := range t.q {
		if int(it.g) < len(remap) && remap[it.g] >= 0 {
			q = append(q, ttlItem{at: it.at, g: uint32(remap[it.g])})
		}
	}
	t.q = q
	t.q.init()
}

// gather returns s's elements at keep (zero where s is shorter).
func gather[T any](s []T, keep []uint32) []T {
	out := make([]T, len(keep))
	for i, g := range keep {
		if int(g) < len(s) {
			out[i] = s[g]
		}
	}
	return out
}

func (a *countAcc) compact(keep []uint32, _ []int32)    { a.c = gather(a.c, keep) }
func (a *rowsAcc) compact([]uint32, []int32)            {}
func (a *sumIntAcc) compact(keep []uint32, _ []int32)   { a.st = gather(a.st, keep) }
func (a *sumFloatAcc) compact(keep []uint32, _ []int32) { a.st = gather(a.st, keep) }
func (a *sumDecAcc) compact(keep []uint32, _ []int32)   { a.st = gather(a.st, keep) }
func (a *nullAcc) compact(keep []uint32, _ []int32)     { a.n = len(keep) }
func (a *hllAcc) compact(keep []uint32, _ []int32)      { a.h = gather(a.h, keep) }

func (a *minmaxAcc[T]) compact(keep []uint32, _ []int32) {
	a.vals = gather(a.vals, keep)
	a.has = gather(a.has, keep)
	if a.counted {
		a.counts = gather(a.counts, keep)
	}
}

// compact renumbers the inner accumulator and the (group, value) set.
func (a *distinctAcc) compact(keep []uint32, remap []int32) {
	if c, ok := a.inner.(groupCompacter); ok {
		c.compact(keep, remap)
	}
	seen := make(map[string]int64, len(a.seen))
	for k, c := range a.seen {
		g := distinctGroup(k)
		if int(g) >= len(remap) || remap[g] < 0 {
			continue
		}
		n := uint32(remap[g])
		nk := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, k[4:]...)
		seen[string(nk)] = c
	}
	a.seen = seen
}

// forget drops the values seen in groups gone, so that a group started
// afresh counts them again.
func (a *distinctAcc) forget(gone map[uint32]bool) {
	for k := range a.seen {
		if gone[distinctGroup(k)] {
			delete(a.seen, k)
		}
	}
}

// distinctGroup reads the group id prefix of a distinctAcc key.
func distinctGroup(k string) uint32 {
	return uint32(k[0]) | uint32(k[1])<<8 | uint32(k[2])<<16 | uint32(k[3])<<24
}
