// Package sink writes Arrow batches to Pulsar topics: rows are encoded in the
// topic's registered schema (schema.NewEncoder) and sent asynchronously by a
// batching producer that announces that same schema, so every message carries
// the registry version readers decode it with.
//
// # Messages
//
// An append-only batch gives one message per row. In upsert mode a changelog
// batch gives, per row: +I and +U the key and the new row; -D the key and an
// empty payload with the property magnetar.op=-D (a tombstone: Pulsar's
// compaction drops the key); -U nothing (the +U that follows replaces it).
// pulsar-client-go v0.19 does not expose Pulsar's null_value message flag, so
// a delete is the empty payload plus the property, which is what topic
// compaction treats as a delete anyway.
//
// The message key is the text of the key column (several key columns: a JSON
// array of their texts), so the producer's default router hashes it to a
// partition and all changes of one key stay in order. The event time comes
// from the event-time column when one is named.
package sink

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/schema"
)

// Message properties written by the sink.
const (
	// PropOp marks changelog messages other than inserts ("-D" on tombstones).
	PropOp = "magnetar.op"
)

// Compression names accepted in Options.Compression.
const (
	CompressionNone   = "none"
	CompressionLZ4    = "lz4"
	CompressionZSTD   = "zstd"
	CompressionZLib   = "zlib"
	CompressionSnappy = "snappy"
)

// Defaults for Options.
const (
	DefaultBatchingMaxMessages = 1000
	DefaultBatchingMaxDelay    = 10 * time.Millisecond
)

// Options say how rows become messages.
type Options struct {
	// KeyColumns give the message key; empty: messages have no key (unless
	// the schema is KEY_VALUE SEPARATED, whose key half is the key).
	KeyColumns []string
	// EventTimeColumn, when set, is a TIMESTAMP (or DATE, or BIGINT
	// milliseconds) column giving each message's event time.
	EventTimeColumn string
	// BatchingMaxMessages and BatchingMaxDelay bound producer batches
	// (defaults 1000 and 10ms).
	BatchingMaxMessages uint
	BatchingMaxDelay    time.Duration
	// Compression is none (default), lz4, zstd, zlib or snappy.
	Compression string
	// Upsert writes changelog batches as keyed upserts and tombstones (needs
	// KeyColumns). Without it a batch holding retractions is an error.
	Upsert bool
	// Txn, when set, sends every message in this transaction (see also
	// PulsarWriter.SetTransaction). The client must have transactions enabled.
	Txn pulsar.Transaction
	// ProducerName names the producer (empty: broker-assigned).
	ProducerName string
	// MaxPendingMessages bounds messages in flight (default: client default).
	MaxPendingMessages int
	// DeadLetterTopic, when set, receives the messages the topic refuses
	// as too large (over the broker's maxMessageSize) instead of failing
	// the write: each with its key, event time, payload and properties,
	// plus PropDeadLetterReason, PropDeadLetterTopic and
	// PropDeadLetterBytes. Its producer chunks messages, so the whole
	// payload fits; it writes in the same transaction as the topic.
	DeadLetterTopic string
	// MaxMessageBytes is the broker's maxMessageSize (default
	// DefaultMaxMessageBytes, Pulsar's default): with a dead-letter topic,
	// larger payloads go there without being offered to the topic's
	// producer, because a refused message would also fail the transaction
	// it was sent in.
	MaxMessageBytes int
}

// DefaultMaxMessageBytes is Pulsar's default maxMessageSize (5 MiB).
const DefaultMaxMessageBytes = 5 << 20

// Properties of dead-letter messages (Options.DeadLetterTopic).
const (
	PropDeadLetterReason = "magnetar.dead_letter.reason"
	PropDeadLetterTopic  = "magnetar.dead_letter.topic"
	PropDeadLetterBytes  = "magnetar.dead_letter.bytes"
)

// PulsarWriter is a catalog.Writer producing to one topic (all partitions).
// Write and Flush must not be called concurrently.
type PulsarWriter struct {
	topic    string
	producer pulsar.Producer
	enc      schema.Encoder
	kenc     schema.KeyEncoder // KEY_VALUE SEPARATED: key from the schema's key half
	src      *arrow.Schema
	opts     Options
	keyCols  []int
	keyFmt   []func(arrow.Array, int) string
	evCol    int
	evTime   func(arrow.Array, int) (time.Time, bool)
	txn      pulsar.Transaction
	callback func(pulsar.MessageID, *pulsar.ProducerMessage, error)

	dlq         pulsar.Producer // Options.DeadLetterTopic (nil: none)
	dlqCallback func(pulsar.MessageID, *pulsar.ProducerMessage, error)
	deadLetters atomic.Int64 // messages the dead-letter topic acknowledged

	errMu    sync.Mutex
	firstErr error
	sent     atomic.Int64 // messages acknowledged by the broker
	failed   atomic.Int64
	queued   int64 // messages handed to the producer
	closed   bool

	// heldDelete is the delete a batch's last row, a lone -U, became: held
	// until the next batch shows whether its +U follows (then it is
	// dropped: the pair only straddled two batches), sent before that
	// batch's rows otherwise, or at Flush, Close or a change of
	// transaction.
	heldDelete *pulsar.ProducerMessage
}

var _ catalog.Writer = (*PulsarWriter)(nil)

// NewPulsarWriter checks that rows of src fit the topic's registered schema
// info (each column must be a field of the schema, of a type its encoder can
// write) and opens a producer announcing info. An Info of type BYTES or NONE
// (a topic without schema) produces without a schema.
func NewPulsarWriter(client pulsar.Client, topic string, info schema.Info, src *arrow.Schema, opts Options) (*PulsarWriter, error) {
	w := &PulsarWriter{topic: topic, src: src, opts: opts, evCol: -1, txn: opts.Txn}
	if err := checkFit(topic, info, src); err != nil {
		return nil, err
	}
	enc, err := schema.NewEncoder(info, src)
	if err != nil {
		return nil, fmt.Errorf("sink: %s: %w", topic, err)
	}
	w.enc = enc
	if ke, ok := enc.(schema.KeyEncoder); ok && strings.EqualFold(info.Properties[schema.PropKVEncoding], schema.EncodingSeparated) {
		w.kenc = ke
	}
	for _, k := range opts.KeyColumns {
		i := fieldIndex(src, k)
		if i < 0 {
			return nil, fmt.Errorf("sink: key column %q is not a column of the rows written to %s", k, topic)
		}
		w.keyCols = append(w.keyCols, i)
		w.keyFmt = append(w.keyFmt, keyFormatter(src.Field(i).Type))
	}
	if opts.Upsert && len(w.keyCols) == 0 && w.kenc == nil {
		return nil, fmt.Errorf("sink: upsert into %s needs key columns", topic)
	}
	if opts.EventTimeColumn != "" {
		i := fieldIndex(src, opts.EventTimeColumn)
		if i < 0 {
			return nil, fmt.Errorf("sink: event-time column %q is not a column of the rows written to %s", opts.EventTimeColumn, topic)
		}
		if w.evTime = eventTimeGetter(src.Field(i).Type); w.evTime == nil {
			return nil, fmt.Errorf("sink: event-time column %q is %s, want TIMESTAMP, DATE or BIGINT milliseconds", opts.EventTimeColumn, expr.TypeName(src.Field(i).Type))
		}
		w.evCol = i
	}
	comp, err := compression(opts.Compression)
	if err != nil {
		return nil, err
	}
	po := pulsar.ProducerOptions{
		Topic:                   topic,
		Name:                    opts.ProducerName,
		CompressionType:         comp,
		BatchingMaxMessages:     opts.BatchingMaxMessages,
		BatchingMaxPublishDelay: opts.BatchingMaxDelay,
		MaxPendingMessages:      opts.MaxPendingMessages,
		// Fail fast rather than block forever when the broker is gone; the
		// error surfaces through Flush/Close.
		SendTimeout: 60 * time.Second,
	}
	if po.BatchingMaxMessages == 0 {
		po.BatchingMaxMessages = DefaultBatchingMaxMessages
	}
	if po.BatchingMaxPublishDelay <= 0 {
		po.BatchingMaxPublishDelay = DefaultBatchingMaxDelay
	}
	// Batching is never disabled (BatchingMaxMessages 1 gives batches of
	// one): pulsar-client-go v0.19 readers discard a non-batched message
	// with an empty payload, i.e. a tombstone, as corrupted.
	if ps, err := producerSchema(topic, info); err != nil {
		return nil, err
	} else if ps != nil {
		po.Schema = ps
	}
	p, err := client.CreateProducer(po)
	if err != nil {
		return nil, fmt.Errorf("sink: producer on %s: %w", topic, err)
	}
	w.producer = p
	w.callback = func(_ pulsar.MessageID, msg *pulsar.ProducerMessage, err error) {
		if err != nil {
			if w.dlq != nil && errors.Is(err, pulsar.ErrMessageTooLarge) {
				w.deadLetter(msg, err)
				return
			}
			w.failed.Add(1)
			w.setErr(fmt.Errorf("sink: send to %s: %w", topic, err))
			return
		}
		w.sent.Add(1)
	}
	if opts.DeadLetterTopic != "" {
		// Chunking needs batching off; it splits a message over the
		// broker's size limit into several, which readers reassemble.
		dlq, err := client.CreateProducer(pulsar.ProducerOptions{
			Topic: opts.DeadLetterTopic, DisableBatching: true, EnableChunking: true,
			CompressionType: comp, SendTimeout: po.SendTimeout,
		})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("sink: dead-letter producer on %s: %w", opts.DeadLetterTopic, err)
		}
		w.dlq = dlq
		w.dlqCallback = func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				w.failed.Add(1)
				w.setErr(fmt.Errorf("sink: send to dead-letter topic %s: %w", opts.DeadLetterTopic, err))
				return
			}
			w.deadLetters.Add(1)
		}
	}
	return w, nil
}

func (w *PulsarWriter) maxBytes() int {
	if w.opts.MaxMessageBytes > 0 {
		return w.opts.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

// deadLetter sends a message the topic refused as too large to the
// dead-letter topic, in the same transaction: from Write when the payload
// is over the limit, or from the producer's callback when the broker's
// limit is lower than Options.MaxMessageBytes (the producer calls back from
// SendAsync itself for this error, so on the writer's goroutine).
func (w *PulsarWriter) deadLetter(msg *pulsar.ProducerMessage, cause error) {
	props := make(map[string]string, len(msg.Properties)+3)
	for k, v := range msg.Properties {
		props[k] = v
	}
	props[PropDeadLetterReason] = cause.Error()
	props[PropDeadLetterTopic] = w.topic
	props[PropDeadLetterBytes] = strconv.Itoa(len(msg.Payload))
	d := &pulsar.ProducerMessage{Payload: msg.Payload, Key: msg.Key, EventTime: msg.EventTime,
		Properties: props, Transaction: msg.Transaction}
	w.dlq.SendAsync(context.Background(), d, w.dlqCallback)
}

// checkFit rejects, before anything is written, columns that are not in the
// topic's schema or whose type differs from the schema field's in a way the
// encoder cannot write; the error names the column and both types.
func checkFit(topic string, info schema.Info, src *arrow.Schema) error {
	target, err := schema.ToArrow(info)
	if err != nil {
		return fmt.Errorf("sink: schema of %s: %w", topic, err)
	}
	for _, f := range src.Fields() {
		j := fieldIndex(target, f.Name)
		if j < 0 {
			return fmt.Errorf("sink: column %q is not a field of the %s schema of %s", f.Name, info.Type, topic)
		}
		tf := target.Field(j)
		if arrow.TypeEqual(f.Type, tf.Type) {
			continue
		}
		// Types differ: ask the encoder about this column alone against the
		// target's other columns, so the error names this column.
		probe := make([]arrow.Field, target.NumFields())
		copy(probe, target.Fields())
		probe[j] = arrow.Field{Name: tf.Name, Type: f.Type, Nullable: true}
		if _, err := schema.NewEncoder(info, arrow.NewSchema(probe, nil)); err != nil {
			return fmt.Errorf("sink: column %q is %s but field %s of topic %s is %s: %w",
				f.Name, expr.TypeName(f.Type), tf.Name, topic, expr.TypeName(tf.Type), err)
		}
	}
	return nil
}

func fieldIndex(s *arrow.Schema, name string) int {
	for i, f := range s.Fields() {
		if f.Name == name {
			return i
		}
	}
	for i, f := range s.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

func compression(name string) (pulsar.CompressionType, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", CompressionNone:
		return pulsar.NoCompression, nil
	case CompressionLZ4:
		return pulsar.LZ4, nil
	case CompressionZSTD:
		return pulsar.ZSTD, nil
	case CompressionZLib:
		return pulsar.ZLib, nil
	case CompressionSnappy:
		return pulsar.SNAPPY, nil
	}
	return 0, fmt.Errorf("sink: unknown compression %q (want none, lz4, zstd, zlib or snappy)", name)
}

// schemaTypes maps registry type names to the protocol's schema type numbers
// (pulsar-client-go exports constants for only some of them).
var schemaTypes = map[string]pulsar.SchemaType{
	schema.TypeString: pulsar.STRING, schema.TypeJSON: pulsar.JSON, schema.TypeAvro: pulsar.AVRO,
	schema.TypeBoolean: pulsar.BOOLEAN, schema.TypeInt8: pulsar.INT8, schema.TypeInt16: pulsar.INT16,
	schema.TypeInt32: pulsar.INT32, schema.TypeInt64: pulsar.INT64, schema.TypeFloat: pulsar.FLOAT,
	schema.TypeDouble: pulsar.DOUBLE, schema.TypeDate: 12, schema.TypeTime: 13, schema.TypeTimestamp: 14,
	schema.TypeKeyValue: pulsar.KeyValue, schema.TypeInstant: 16, schema.TypeLocalDate: 17,
	schema.TypeLocalTime: 18, schema.TypeLocalDateTime: 19,
}

// producerSchema is the schema the producer announces: exactly the
// registered one (type, definition, properties), so the broker answers with
// its existing version instead of registering a new one. nil: no schema.
func producerSchema(topic string, info schema.Info) (pulsar.Schema, error) {
	t := strings.ToUpper(strings.TrimSpace(info.Type))
	if t == "" || t == schema.TypeNone || t == schema.TypeBytes {
		return nil, nil
	}
	st, ok := schemaTypes[t]
	if !ok {
		return nil, fmt.Errorf("sink: cannot produce to %s: schema type %s is not supported", topic, info.Type)
	}
	props := info.Properties
	if props == nil {
		props = map[string]string{}
	}
	name := topic
	if i := strings.LastIndexByte(topic, '/'); i >= 0 {
		name = topic[i+1:]
	}
	return &rawSchema{info: pulsar.SchemaInfo{Name: name, Schema: string(info.Schema), Type: st, Properties: props}}, nil
}

// rawSchema announces a registered schema while messages carry payloads the
// sink encoded itself.
type rawSchema struct{ info pulsar.SchemaInfo }

func (s *rawSchema) Encode(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, fmt.Errorf("sink: raw schema encodes []byte only, not %T", v)
}
func (s *rawSchema) Decode([]byte, any) error          { return errors.New("sink: raw schema does not decode") }
func (s *rawSchema) Validate([]byte) error             { return nil }
func (s *rawSchema) GetSchemaInfo() *pulsar.SchemaInfo { return &s.info }

// SetTransaction makes later writes go into txn (nil: no transaction). Call
// it between Flush and the next Write.
func (w *PulsarWriter) SetTransaction(txn pulsar.Transaction) {
	w.sendHeld(context.Background()) // in the transaction it belongs to
	w.txn = txn
}

// sendHeld sends the held delete, if any.
func (w *PulsarWriter) sendHeld(ctx context.Context) {
	if m := w.heldDelete; m != nil {
		w.heldDelete = nil
		m.Transaction = w.txn
		w.queued++
		w.producer.SendAsync(ctx, m, w.callback)
	}
}

func (w *PulsarWriter) setErr(err error) {
	w.errMu.Lock()
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.errMu.Unlock()
}

// Err returns the first send error so far.
func (w *PulsarWriter) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.firstErr
}

// Sent returns how many messages the broker acknowledged so far.
func (w *PulsarWriter) Sent() int64 { return w.sent.Load() }

// DeadLettered returns how many messages went to the dead-letter topic.
func (w *PulsarWriter) DeadLettered() int64 { return w.deadLetters.Load() }

// Write implements catalog.Writer: it encodes every row of b and hands the
// messages to the producer without waiting for acknowledgements. The batch is
// not retained.
func (w *PulsarWriter) Write(ctx context.Context, b exec.Batch) error {
	if w.closed {
		return errors.New("sink: write after close")
	}
	if err := w.Err(); err != nil {
		return err
	}
	rec := b.Rec
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if !w.opts.Upsert && !b.AppendOnly() {
		return fmt.Errorf("sink: %s is append-only (no primary key) but the query produces updates or deletes", w.topic)
	}
	// One arena per batch holds every payload: a message keeps its slice
	// until the producer has copied it into a batch.
	arena := make([]byte, 0, n*64)
	var keyBuf []byte
	// An upsert topic needs no update-before when an update-after of the
	// same key follows: the new value replaces the old. A lone one (an
	// inner lookup join whose table row went away, a filter above an
	// aggregate, a key that changed) is a delete, else the old row stays.
	if w.heldDelete != nil {
		if op := b.Op(0); op == exec.UpdateAfter || op == exec.Insert {
			k, _, err := w.rowKey(rec, 0, keyBuf)
			if err != nil {
				return err
			}
			if k == w.heldDelete.Key {
				w.heldDelete = nil // its +U: the new value replaces the old
			}
		}
		w.sendHeld(ctx)
	}
	var keys []string
	var replaced map[string]int // key -> last row inserting it
	if b.Ops != nil && slices.Contains(b.Ops, exec.UpdateBefore) {
		keys = make([]string, n)
		replaced = map[string]int{}
		for i := 0; i < n; i++ {
			var err error
			if keys[i], keyBuf, err = w.rowKey(rec, i, keyBuf); err != nil {
				return err
			}
			if op := b.Op(i); op == exec.Insert || op == exec.UpdateAfter {
				replaced[keys[i]] = i
			}
		}
	}
	for i := 0; i < n; i++ {
		op := b.Op(i)
		if op == exec.UpdateBefore {
			if last, ok := replaced[keys[i]]; ok && last > i {
				continue
			}
			op = exec.Delete
		}
		msg := &pulsar.ProducerMessage{Transaction: w.txn}
		if keys != nil {
			msg.Key = keys[i]
		} else {
			var err error
			if msg.Key, keyBuf, err = w.rowKey(rec, i, keyBuf); err != nil {
				return err
			}
		}
		if w.evCol >= 0 {
			if t, ok := w.evTime(rec.Column(w.evCol), i); ok {
				msg.EventTime = t
			}
		}
		if op == exec.Delete {
			if msg.Key == "" {
				return fmt.Errorf("sink: delete of a row with a NULL key cannot be written to %s", w.topic)
			}
			msg.Properties = map[string]string{PropOp: exec.Delete.String()}
			if b.Op(i) == exec.UpdateBefore && i == n-1 {
				w.heldDelete = msg // its +U may open the next batch
				continue
			}
		} else {
			start := len(arena)
			var err error
			if arena, err = w.enc.Encode(rec, i, arena); err != nil {
				return fmt.Errorf("sink: %s row %d: %w", w.topic, i, err)
			}
			msg.Payload = arena[start:len(arena):len(arena)]
			if w.dlq != nil && len(msg.Payload) > w.maxBytes() {
				w.deadLetter(msg, fmt.Errorf("%w: %d bytes, limit %d", pulsar.ErrMessageTooLarge, len(msg.Payload), w.maxBytes()))
				continue
			}
		}
		w.queued++
		w.producer.SendAsync(ctx, msg, w.callback)
	}
	return w.Err()
}

// rowKey is the message key of row i ("" for none); buf is scratch space,
// returned for reuse.
func (w *PulsarWriter) rowKey(rec arrow.RecordBatch, i int, buf []byte) (string, []byte, error) {
	if w.kenc != nil {
		var err error
		if buf, err = w.kenc.EncodeKey(rec, i, buf[:0]); err != nil {
			return "", buf, fmt.Errorf("sink: %s row %d key: %w", w.topic, i, err)
		}
		if len(buf) == 0 {
			return "", buf, nil
		}
		return base64.StdEncoding.EncodeToString(buf), buf, nil
	}
	if len(w.keyCols) > 0 {
		return w.key(rec, i), buf, nil
	}
	return "", buf, nil
}

// key is the message key of row i: the key column's text, several columns
// as a JSON array of texts; "" when every key column is NULL.
func (w *PulsarWriter) key(rec arrow.RecordBatch, i int) string {
	if len(w.keyCols) == 1 {
		a := rec.Column(w.keyCols[0])
		if a.IsNull(i) {
			return ""
		}
		return w.keyFmt[0](a, i)
	}
	parts := make([]any, len(w.keyCols))
	allNull := true
	for k, c := range w.keyCols {
		a := rec.Column(c)
		if !a.IsNull(i) {
			parts[k] = w.keyFmt[k](a, i)
			allNull = false
		}
	}
	if allNull {
		return ""
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

func keyFormatter(t arrow.DataType) func(arrow.Array, int) string {
	switch t.ID() {
	case arrow.INT64:
		return func(a arrow.Array, i int) string { return strconv.FormatInt(a.(*array.Int64).Value(i), 10) }
	case arrow.INT32:
		return func(a arrow.Array, i int) string { return strconv.FormatInt(int64(a.(*array.Int32).Value(i)), 10) }
	case arrow.STRING:
		return func(a arrow.Array, i int) string { return a.(*array.String).Value(i) }
	case arrow.LARGE_STRING:
		return func(a arrow.Array, i int) string { return a.(*array.LargeString).Value(i) }
	}
	return expr.FormatValue
}

func eventTimeGetter(t arrow.DataType) func(arrow.Array, int) (time.Time, bool) {
	switch dt := t.(type) {
	case *arrow.TimestampType:
		unit := dt.Unit
		return func(a arrow.Array, i int) (time.Time, bool) {
			if a.IsNull(i) {
				return time.Time{}, false
			}
			return a.(*array.Timestamp).Value(i).ToTime(unit), true
		}
	case *arrow.Date32Type:
		return func(a arrow.Array, i int) (time.Time, bool) {
			if a.IsNull(i) {
				return time.Time{}, false
			}
			return a.(*array.Date32).Value(i).ToTime(), true
		}
	case *arrow.Int64Type:
		return func(a arrow.Array, i int) (time.Time, bool) {
			if a.IsNull(i) {
				return time.Time{}, false
			}
			return time.UnixMilli(a.(*array.Int64).Value(i)), true
		}
	}
	return nil
}

// Flush waits until every message handed to the producer so far is
// acknowledged (or failed) and returns the first send error.
func (w *PulsarWriter) Flush(ctx context.Context) error {
	if w.closed {
		return w.Err()
	}
	w.sendHeld(ctx)
	if err := w.producer.FlushWithCtx(ctx); err != nil {
		w.setErr(fmt.Errorf("sink: flush %s: %w", w.topic, err))
	}
	// After the topic's flush: its callbacks have queued every dead letter.
	if w.dlq != nil {
		if err := w.dlq.FlushWithCtx(ctx); err != nil {
			w.setErr(fmt.Errorf("sink: flush dead-letter topic %s: %w", w.opts.DeadLetterTopic, err))
		}
	}
	return w.Err()
}

// Close implements catalog.Writer: it flushes, closes the producer and
// returns the first error seen.
func (w *PulsarWriter) Close(ctx context.Context) error {
	if w.closed {
		return w.Err()
	}
	err := w.Flush(ctx)
	w.closed = true
	w.producer.Close()
	if w.dlq != nil {
		w.dlq.Close()
	}
	return err
}
