package pulsar

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// startPos is a parsed Options["start"].
type startPos struct {
	earliest, latest bool
	timeUs           int64 // > 0: first message published at or after
	id               pos
	idPart           int // partition the message id belongs to (-1: any)
	hasID            bool
}

func parseStart(v string) (startPos, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	switch v {
	case "", "earliest":
		return startPos{earliest: true}, nil
	case "latest":
		return startPos{latest: true}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return startPos{timeUs: n}, nil
	}
	if us, ok := parseTime(v); ok {
		return startPos{timeUs: us}, nil
	}
	parts := strings.Split(strings.Trim(v, "()[]"), ":")
	if len(parts) >= 2 && len(parts) <= 4 {
		var nums [4]int64
		nums[2] = -1
		ok := true
		for i, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				ok = false
				break
			}
			nums[i] = n
		}
		if ok {
			return startPos{id: pos{nums[0], nums[1]}, idPart: int(nums[2]), hasID: true}, nil
		}
	}
	return startPos{}, fmt.Errorf("pulsar: scan option start=%q: want earliest, latest, a timestamp or a message id ledger:entry[:partition]", v)
}

// segmentFor returns the unbounded reader task for partition part.
func (s *source) segmentFor(ctx context.Context, sp startPos, part int) (segment, error) {
	topic := partitionTopic(s.t.topic, part)
	sg := segment{part: part, topic: topic}
	if rp, ok := s.resumeFor(part); ok {
		// A recorded position wins over the start option and publish-time
		// bounds (rows before a bound are still filtered while reading).
		sg.start, sg.after, sg.afterBatch = pos{rp.Ledger, rp.Entry}, true, rp.Batch
		return sg, nil
	}
	timeUs := sp.timeUs
	if sp.earliest && s.bnd.hasPub && s.bnd.pubLo > 0 {
		timeUs = s.bnd.pubLo - s.t.cat.cfg.PublishTimeSlack.Microseconds()
	}
	switch {
	case timeUs > 0:
		tn, err := parseTopic(topic)
		if err != nil {
			return sg, err
		}
		id, err := s.t.cat.admin.Topics().GetMessageIDWithContext(ctx, *tn, timeUs/1000)
		switch {
		case err == nil:
			sg.start = pos{id.LedgerID, id.EntryID}
		case isStatus(err, http.StatusNotFound):
			sg.latest = true // nothing published since then yet
		default:
			return sg, s.t.cat.adminErr("message id by time on "+topic, err)
		}
	case sp.latest:
		sg.latest = true
	case sp.hasID && (sp.idPart < 0 || sp.idPart == part || part < 0):
		sg.start = sp.id
	default:
		sg.earliest = true
	}
	return sg, nil
}

// startUnbounded starts one tailing reader per partition, plus a watcher
// that picks up new partitions and fails the scan when the broker stays
// unreachable longer than Config.BrokerTimeout (the client reconnects on
// its own, so a dead broker would otherwise look like an idle topic).
func (s *source) startUnbounded(openCtx, runCtx context.Context, parts []int) error {
	sp, err := parseStart(s.opts.start)
	if err != nil {
		s.cancel()
		return err
	}
	segs := make([]segment, 0, len(parts))
	for _, p := range parts {
		sg, err := s.segmentFor(openCtx, sp, p)
		if err != nil {
			s.cancel()
			return err
		}
		segs = append(segs, sg)
	}
	for _, sg := range segs {
		s.tail(runCtx, sg)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.watch(runCtx, len(s.t.partitions0()))
	}()
	go func() {
		s.wg.Wait()
		close(s.results)
	}()
	return nil
}

// partitions0 is the partition list of the table as loaded.
func (t *Table) partitions0() []int {
	if t.partitions == 0 {
		return []int{-1}
	}
	ps := make([]int, t.partitions)
	for i := range ps {
		ps[i] = i
	}
	return ps
}

// tail starts a goroutine reading sg until the scan closes.
func (s *source) tail(ctx context.Context, sg segment) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		w := s.newWorker()
		defer w.release()
		if err := w.read(ctx, sg); err != nil {
			s.send(ctx, result{err: err})
			s.cancel()
		}
	}()
}

// watch polls the topic's partition count; new partitions are read from
// their beginning.
func (s *source) watch(ctx context.Context, known int) {
	tn, err := parseTopic(s.t.topic)
	if err != nil {
		return
	}
	every := s.t.cat.cfg.RefreshInterval
	timeout := s.t.cat.cfg.BrokerTimeout
	lastOK := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, min(every, 10*time.Second))
		md, err := s.t.cat.admin.Topics().GetMetadataWithContext(rctx, *tn)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if time.Since(lastOK) > timeout {
				s.send(ctx, result{err: fmt.Errorf("pulsar: broker unreachable for %s while reading %s: %s", time.Since(lastOK).Round(time.Second), s.t.topic, shortErr(err))})
				s.cancel()
				return
			}
			continue
		}
		lastOK = time.Now()
		if s.t.partitions == 0 || md.Partitions <= known {
			continue
		}
		for p := known; p < md.Partitions; p++ {
			if s.bnd.parts != nil && !s.bnd.parts[p] {
				continue
			}
			s.t.cat.log.Info("pulsar: reading new partition", "topic", s.t.topic, "partition", p)
			sg := segment{part: p, topic: partitionTopic(s.t.topic, p), earliest: true}
			if rp, ok := s.resumeFor(p); ok { // the catalog's partition count was stale
				sg.earliest, sg.start, sg.after, sg.afterBatch = false, pos{rp.Ledger, rp.Entry}, true, rp.Batch
			}
			s.tail(ctx, sg)
			s.nparts.Add(1)
		}
		known = md.Partitions
	}
}
