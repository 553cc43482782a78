package exec

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// Splitting batches for watermark clocks (WatermarkOptions.SplitEvery).
//
// An operator that expires state on watermarks (a state TTL) sees time move
// only between batches, and a source emits one watermark per batch. A live
// stream's batches span little event time, but a backlog read in large
// batches may span more than the TTL: keys would then outlive their TTL by
// as much. A clock assigner therefore cuts a batch where its rows would
// move the watermark SplitEvery past the last one emitted, and emits the
// watermark between the parts; the expiry then lags by at most
// SplitEvery however the input is batched.

// splitAt returns the last row of rec's first part (rows 0..i), or -1 when
// rec is not to be cut.
func (w *WatermarkAssigner) splitAt(rec arrow.RecordBatch) int {
	if !w.opts.KeepLate || w.opts.SplitEvery <= 0 || w.wm == math.MinInt64 {
		return -1
	}
	n := int(rec.NumRows())
	if n < 2 {
		return -1
	}
	tsArr := rec.Column(w.timeCol)
	ts, err := eventTimes(tsArr, &w.scratch)
	if err != nil {
		return -1 // consume reports it
	}
	nulls := tsArr.NullN() > 0
	// The watermark reaches wm + SplitEvery once every active partition's
	// maximum reaches limit.
	limit := satSub(w.wm, -(w.opts.SplitEvery.Microseconds() + w.delay))
	if w.opts.PartitionCol < 0 {
		for i, t := range ts[:n] {
			if nulls && tsArr.IsNull(i) {
				continue
			}
			if t >= limit {
				if i < n-1 {
					return i
				}
				return -1
			}
		}
		return -1
	}
	if w.opts.Partitions > len(w.parts) {
		return -1 // advance waits for the missing partitions
	}
	now := w.opts.Now()
	idle := func(p *wmPartition) bool {
		return w.opts.IdleTimeout > 0 && now.Sub(p.lastSeen) >= w.opts.IdleTimeout
	}
	below := 0 // active partitions whose maximum is under limit
	for _, p := range w.parts {
		if !idle(p) && p.max < limit {
			below++
		}
	}
	if below == 0 {
		return -1
	}
	type simPart struct {
		max     int64
		counted bool
	}
	sim := map[string]*simPart{}
	w.keys = encodeRows([]arrow.Array{rec.Column(w.opts.PartitionCol)}, n, w.keys, &w.i64, &w.u64, &w.f64, &w.strs)
	for i, t := range ts[:n] {
		if nulls && tsArr.IsNull(i) {
			continue
		}
		k := string(w.keys[i])
		s := sim[k]
		if s == nil {
			s = &simPart{max: math.MinInt64}
			if p := w.parts[k]; p != nil {
				s.max, s.counted = p.max, !idle(p) && p.max < limit
			}
			sim[k] = s
		}
		s.max = max(s.max, t)
		// A row makes its partition active.
		switch isBelow := s.max < limit; {
		case s.counted && !isBelow:
			below--
		case !s.counted && isBelow:
			below++
		}
		s.counted = s.max < limit
		if below == 0 {
			if i < n-1 {
				return i
			}
			return -1
		}
	}
	return -1
}

// sliceBatch returns rows [i, j) of b (the record shares b's buffers).
func sliceBatch(b Batch, i, j int) Batch {
	out := Batch{Rec: b.Rec.NewSlice(int64(i), int64(j))}
	if b.Ops != nil {
		out.Ops = append([]ChangeKind(nil), b.Ops[i:j]...)
	}
	return out
}
