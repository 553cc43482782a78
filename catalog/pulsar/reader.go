package pulsar

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/schema"
)

// idleCheck is how long a bounded reader waits for the next message before
// asking the broker whether any is left. The snapshot end comes from the
// admin API, which counts entries a reader never receives (transaction
// markers, uncommitted transactional writes); without the check such an
// entry at the end would make the scan wait forever.
const idleCheck = 2 * time.Second

// receiverQueue is the readers' prefetch depth.
const receiverQueue = 2000

// worker reads segments into its own batch builders: a schema.BatchBuilder
// for the table columns (the decoders' fast path writes straight into its
// column buffers) and, when metadata columns are selected, a RecordBuilder
// for those, filled in step.
type worker struct {
	s    *source
	bb   *schema.BatchBuilder
	mbld *array.RecordBuilder // metadata columns; nil when none are selected
	nvis int
	decs map[int64]schema.Decoder
	bad  map[int64]error // versions without a usable decoder
	meta []func(m pulsar.Message, mc *msgCtx)
	kv   bool
	buf  []byte
	rows int
	// tomb decodes tombstones of a table with a primary key (nil for
	// other tables, whose empty payloads stay undecodable); see upsert.go.
	tomb *tombstoneDecoder
	// boot: the scan marks when every partition has caught up
	// (upsert.go: wantsMarker).
	boot bool
}

// msgCtx is what metadata columns need besides the message.
type msgCtx struct {
	part    int
	topic   string
	ver     int64
	pubUs   int64
	id      pulsar.MessageID
	idStr   []byte
	hasVers bool
	tomb    int8 // __tombstone: 0 FALSE, 1 TRUE
}

func (s *source) newWorker() *worker {
	mem := s.t.cat.cfg.allocator()
	w := &worker{
		s:    s,
		bb:   schema.NewBatchBuilder(mem, s.target),
		nvis: s.target.NumFields(),
		decs: map[int64]schema.Decoder{},
		bad:  map[int64]error{},
		kv:   s.t.info.Type == schema.TypeKeyValue,
	}
	if len(s.t.def.PrimaryKey) > 0 {
		w.tomb = newTombstoneDecoder(s.target, s.t.def.PrimaryKey)
	}
	w.boot = w.tomb != nil && s.sendsMarker()
	if len(s.metas) > 0 {
		w.mbld = array.NewRecordBuilder(mem, arrow.NewSchema(s.bschema.Fields()[w.nvis:], nil))
		for j, m := range s.metas {
			w.meta = append(w.meta, metaAppender(m, w.mbld.Field(j)))
		}
	}
	return w
}

func (w *worker) release() {
	w.bb.Release()
	if w.mbld != nil {
		w.mbld.Release()
	}
}

// newRecord returns the rows decoded so far in builder layout (s.bschema)
// and starts the next batch.
func (w *worker) newRecord() arrow.RecordBatch {
	rec := w.bb.NewRecordBatch()
	if w.mbld == nil {
		return rec
	}
	meta := w.mbld.NewRecordBatch()
	cols := make([]arrow.Array, 0, rec.NumCols()+meta.NumCols())
	cols = append(cols, rec.Columns()...)
	cols = append(cols, meta.Columns()...)
	out := array.NewRecordBatch(w.s.bschema, cols, rec.NumRows())
	rec.Release()
	meta.Release()
	return out
}

// metaAppender returns the function appending metadata column m to b.
func metaAppender(m int, b array.Builder) func(pulsar.Message, *msgCtx) {
	switch m {
	case metaKey:
		sb := b.(*array.StringBuilder)
		return func(msg pulsar.Message, _ *msgCtx) {
			// NULL only when the message has no key: Java's key("") is
			// the key '' (compaction keys on it too).
			if k := msg.Key(); k != "" || msg.HasKey() {
				sb.Append(k)
			} else {
				sb.AppendNull()
			}
		}
	case metaTopic:
		sb := b.(*array.StringBuilder)
		return func(_ pulsar.Message, mc *msgCtx) { sb.Append(mc.topic) }
	case metaPartition:
		ib := b.(*array.Int32Builder)
		return func(_ pulsar.Message, mc *msgCtx) { ib.Append(int32(mc.part)) }
	case metaMessageID:
		sb := b.(*array.StringBuilder)
		return func(_ pulsar.Message, mc *msgCtx) { sb.BinaryBuilder.Append(mc.messageID()) }
	case metaPublishTime:
		tb := b.(*array.TimestampBuilder)
		return func(_ pulsar.Message, mc *msgCtx) { tb.Append(arrowTS(mc.pubUs)) }
	case metaEventTime:
		tb := b.(*array.TimestampBuilder)
		return func(msg pulsar.Message, _ *msgCtx) {
			if et := msg.EventTime(); !et.IsZero() && et.UnixMilli() != 0 {
				tb.Append(arrowTS(et.UnixMicro()))
			} else {
				tb.AppendNull()
			}
		}
	case metaProducer:
		sb := b.(*array.StringBuilder)
		return func(msg pulsar.Message, _ *msgCtx) {
			if p := msg.ProducerName(); p != "" {
				sb.Append(p)
			} else {
				sb.AppendNull()
			}
		}
	case metaSequenceID:
		// pulsar-client-go has no getter for the sequence id.
		return func(pulsar.Message, *msgCtx) { b.AppendNull() }
	case metaProperties:
		mb := b.(*array.MapBuilder)
		kb := mb.KeyBuilder().(*array.StringBuilder)
		vb := mb.ItemBuilder().(*array.StringBuilder)
		return func(msg pulsar.Message, _ *msgCtx) {
			props := msg.Properties()
			if len(props) == 0 {
				mb.AppendNull()
				return
			}
			mb.Append(true)
			for _, k := range sortedKeys(props) {
				kb.Append(k)
				vb.Append(props[k])
			}
		}
	case metaTombstone:
		bb := b.(*array.BooleanBuilder)
		return func(_ pulsar.Message, mc *msgCtx) { bb.Append(mc.tomb == 1) }
	case metaSchemaVersion:
		ib := b.(*array.Int64Builder)
		return func(_ pulsar.Message, mc *msgCtx) {
			if mc.hasVers {
				ib.Append(mc.ver)
			} else {
				ib.AppendNull()
			}
		}
	}
	return func(pulsar.Message, *msgCtx) { b.AppendNull() }
}

// messageID renders "ledger:entry:partition:batchIdx" into a reused buffer.
func (mc *msgCtx) messageID() []byte {
	b := mc.idStr[:0]
	b = strconv.AppendInt(b, mc.id.LedgerID(), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, mc.id.EntryID(), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(mc.part), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(mc.id.BatchIdx()), 10)
	mc.idStr = b
	return b
}

func arrowTS(us int64) arrow.Timestamp { return arrow.Timestamp(us) }

// schemaVersion decodes Pulsar's schema version bytes (a big-endian long).
func schemaVersion(v []byte) (int64, bool) {
	switch len(v) {
	case 8:
		return int64(binary.BigEndian.Uint64(v)), true
	case 0:
		return -1, false
	}
	// Other registries may use other encodings; treat as unknown.
	return -1, false
}

// decoder returns the decoder for writer schema version ver (-1: the
// table's schema).
func (w *worker) decoder(ctx context.Context, ver int64) (schema.Decoder, error) {
	if d, ok := w.decs[ver]; ok {
		return d, nil
	}
	if err, ok := w.bad[ver]; ok {
		return nil, err
	}
	t := w.s.t
	info := t.info
	if ver >= 0 && ver != t.version {
		var err error
		info, err = t.cat.writerSchema(ctx, t.topic, ver)
		if err != nil {
			// A registry error is not the message's fault: fail the scan
			// rather than silently skipping every row of this version.
			return nil, &fatalErr{err}
		}
	}
	d, err := schema.NewDecoder(info, w.s.target)
	if err != nil {
		err = fmt.Errorf("schema version %d: %w", ver, err)
		w.bad[ver] = err
		return nil, err
	}
	w.decs[ver] = d
	return d, nil
}

type fatalErr struct{ err error }

func (e *fatalErr) Error() string { return e.err.Error() }
func (e *fatalErr) Unwrap() error { return e.err }

// openReader creates a reader for sg, retrying a few times: a broker that
// is restarting or moving the topic answers after a moment.
func (w *worker) openReader(ctx context.Context, sg segment) (pulsar.Reader, error) {
	opts := pulsar.ReaderOptions{
		Topic:                   sg.topic,
		StartMessageIDInclusive: true,
		ReceiverQueueSize:       receiverQueue,
		SubscriptionRolePrefix:  "magnetar-scan",
	}
	switch {
	case sg.earliest:
		opts.StartMessageID = pulsar.EarliestMessageID()
	case sg.latest:
		opts.StartMessageID = pulsar.LatestMessageID()
		opts.StartMessageIDInclusive = false
	case sg.after: // the client skips the entry's members up to afterBatch
		opts.StartMessageID = pulsar.NewMessageID(sg.start.ledger, sg.start.entry, sg.afterBatch, -1)
		opts.StartMessageIDInclusive = false
	default:
		opts.StartMessageID = pulsar.NewMessageID(sg.start.ledger, sg.start.entry, -1, -1)
	}
	var err error
	for attempt := range 3 {
		var r pulsar.Reader
		if r, err = w.s.t.cat.client.CreateReader(opts); err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
	return nil, fmt.Errorf("pulsar: reader on %s: %w", sg.topic, err)
}

// read reads one segment, sending batches as they fill or linger.
func (w *worker) read(ctx context.Context, sg segment) error {
	if ctx.Err() != nil {
		return nil
	}
	s := w.s
	r, err := w.openReader(ctx, sg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer r.Close()

	slackUs := s.t.cat.cfg.PublishTimeSlack.Microseconds()
	lo, hi := s.bnd.pubLo, s.bnd.pubHi
	stopAfter := int64(maxTime) // publish time beyond which the segment ends
	if s.bnd.hasPub && hi < maxTime-slackUs {
		stopAfter = hi + slackUs
	}
	asOf := s.opts.asOf
	if asOf != 0 {
		stopAfter = min(stopAfter, asOf+slackUs)
	}

	mc := msgCtx{part: sg.part, topic: sg.topic}
	// bt is the deadline of the batch being filled (linger).
	var bt struct {
		ctx    context.Context
		cancel context.CancelFunc
	}
	resetBatch := func() {
		if bt.cancel != nil {
			bt.cancel()
		}
		bt.ctx, bt.cancel = nil, nil
	}
	defer resetBatch()
	flush := func() bool {
		resetBatch()
		if w.rows == 0 {
			return true
		}
		rec := w.newRecord()
		w.rows = 0
		return s.send(ctx, result{rec: rec, part: sg.part})
	}

	caught := !w.boot || sg.bounded
	for {
		more := true
		if !caught {
			if more, err = HasNext(r); err != nil {
				return fmt.Errorf("pulsar: read %s: %w", sg.topic, err)
			}
		}
		if !caught && !more {
			// Read up to the end the partition had. Its rows go out
			// first: the marker, sent by whichever partition gets there
			// last (the upsert operators' bootstrap is then complete),
			// must follow every partition's rows in the results channel.
			caught = true
			if !flush() {
				return nil
			}
			if s.caughtUp() {
				w.appendMarker()
				if !flush() {
					return nil
				}
			}
		}
		nctx, ncancel := ctx, context.CancelFunc(nil)
		switch {
		case w.rows > 0:
			if bt.ctx == nil {
				bt.ctx, bt.cancel = context.WithTimeout(ctx, s.opts.linger)
			}
			nctx = bt.ctx
		case sg.bounded:
			nctx, ncancel = context.WithTimeout(ctx, idleCheck)
		}
		msg, err := r.Next(nctx)
		if ncancel != nil {
			ncancel()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // closing
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if w.rows > 0 {
					if !flush() {
						return nil
					}
					continue
				}
				if sg.bounded {
					more, err := HasNext(r)
					if err != nil {
						return fmt.Errorf("pulsar: read %s: %w", sg.topic, err)
					}
					if more {
						continue
					}
					s.t.cat.log.Warn("pulsar: reader found no more messages before the snapshot end", "topic", sg.topic, "end", fmt.Sprint(sg.last))
					break
				}
				continue
			}
			return fmt.Errorf("pulsar: read %s: %w", sg.topic, err)
		}
		id := msg.ID()
		p := pos{id.LedgerID(), id.EntryID()}
		if sg.bounded && sg.last.less(p) {
			break // past the snapshot end
		}
		payload := msg.Payload()
		s.readMsgs.Add(1)
		s.readBytes.Add(int64(len(payload)))
		mc.pubUs = msg.PublishTime().UnixMicro()
		if mc.pubUs > stopAfter {
			break
		}
		lastOfSegment := sg.bounded && p == sg.last && id.BatchIdx() >= id.BatchSize()-1
		keep := (asOf == 0 || mc.pubUs < asOf) && mc.pubUs >= lo && mc.pubUs <= hi
		if keep {
			if err := w.append(ctx, msg, payload, &mc); err != nil {
				return err
			}
			if w.rows >= s.opts.batchSize {
				if !flush() {
					return nil
				}
			}
		}
		if lastOfSegment {
			break
		}
	}
	flush()
	return nil
}

// append decodes one message into the builder; undecodable messages are
// counted and skipped.
func (w *worker) append(ctx context.Context, msg pulsar.Message, payload []byte, mc *msgCtx) error {
	mc.ver, mc.hasVers = schemaVersion(msg.SchemaVersion())
	mc.id = msg.ID()
	mc.tomb = 0
	if w.tomb != nil && isTombstone(msg, payload) {
		w.tomb.key = msg.Key()
		w.tomb.hasKey = w.tomb.key != "" || msg.HasKey()
		if err := w.bb.Append(w.tomb, nil, nil); err != nil {
			return err // cannot happen: the tombstone decoder does not fail
		}
		mc.tomb = 1
		for _, f := range w.meta {
			f(msg, mc)
		}
		w.rows++
		return nil
	}
	dec, err := w.decoder(ctx, mc.ver)
	if err == nil {
		var key []byte
		if w.kv {
			key = []byte(msg.Key())
		}
		err = w.bb.Append(dec, key, payload)
		if err != nil && !mc.hasVers {
			err = w.appendAnyVersion(ctx, key, payload, err)
		}
	}
	if err != nil {
		var fe *fatalErr
		if errors.As(err, &fe) {
			return fe.err
		}
		id := string(mc.messageID())
		w.s.recordFailure(id, err)
		if w.s.dlq != nil {
			w.s.dlq.send(ctx, msg, id, err)
		}
		return nil
	}
	for _, f := range w.meta {
		f(msg, mc)
	}
	w.rows++
	return nil
}

// appendMarker appends the bootstrap marker row: NULL in every column.
func (w *worker) appendMarker() {
	w.tomb.key, w.tomb.hasKey = "", false
	_ = w.bb.Append(w.tomb, nil, nil) // never fails
	if w.mbld != nil {
		for j := range w.mbld.Schema().NumFields() {
			w.mbld.Field(j).AppendNull()
		}
	}
	w.rows++
}

// appendAnyVersion decodes a message that carries no schema version (the
// Go client's producer sends none with batching disabled) with the topic's
// older schemas, newest first; the first that decodes wins. A decoder
// rejects payloads with bytes left over, so a wrong version rarely fits.
func (w *worker) appendAnyVersion(ctx context.Context, key, payload []byte, first error) error {
	vers, err := w.s.t.cat.allVersions(ctx, w.s.t.topic)
	if err != nil {
		return &fatalErr{err}
	}
	for _, v := range vers {
		if v == w.s.t.version {
			continue // the table's schema was tried first
		}
		dec, err := w.decoder(ctx, v)
		if err != nil {
			var fe *fatalErr
			if errors.As(err, &fe) {
				return err
			}
			continue
		}
		if w.bb.Append(dec, key, payload) == nil {
			return nil
		}
	}
	return first
}

// deadLetter copies undecodable messages to a topic.
type deadLetter struct {
	cat   *Catalog
	topic string
	once  sync.Once
	prod  pulsar.Producer
	mu    sync.Mutex
	err   error
	sent  atomic.Int64
}

func (d *deadLetter) send(ctx context.Context, msg pulsar.Message, id string, cause error) {
	d.once.Do(func() {
		d.prod, d.err = d.cat.deadLetterProducer(d.topic)
	})
	if d.prod == nil {
		return
	}
	props := map[string]string{
		"magnetar.source_topic":      msg.Topic(),
		"magnetar.source_message_id": id,
		"magnetar.error":             shortErr(cause),
	}
	for k, v := range msg.Properties() {
		props[k] = v
	}
	d.prod.SendAsync(ctx, &pulsar.ProducerMessage{
		Payload:    append([]byte(nil), msg.Payload()...),
		Key:        msg.Key(),
		Properties: props,
		EventTime:  msg.EventTime(),
	}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
		if err != nil {
			d.mu.Lock()
			if d.err == nil {
				d.err = err
			}
			d.mu.Unlock()
			return
		}
		d.sent.Add(1)
	})
}

func (d *deadLetter) flush() {
	if d.prod != nil {
		if err := d.prod.Flush(); err != nil {
			d.mu.Lock()
			if d.err == nil {
				d.err = err
			}
			d.mu.Unlock()
		}
	}
}

func (d *deadLetter) error() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// deadLetterProducer returns the catalog's shared producer for topic.
func (c *Catalog) deadLetterProducer(topic string) (pulsar.Producer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.dlq[topic]; ok {
		return p, nil
	}
	if c.dlq == nil {
		return nil, errors.New("catalog closed")
	}
	p, err := c.client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		return nil, fmt.Errorf("pulsar: dead-letter producer for %s: %w", topic, err)
	}
	c.dlq[topic] = p
	return p, nil
}
