package pulsar

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/schema"
	"github.com/magnetar-sql/magnetar/sink"
)

// Table options read by writers (stored as magnetar.<name> properties).
const (
	optEventTime      = "event_time"
	optCompression    = "sink.compression"
	optBatchMessages  = "sink.batching_max_messages"
	optBatchDelay     = "sink.batching_max_delay"
	optSinkProducerID = "sink.producer_name"
	optSinkDeadLetter = "sink.dead_letter_topic"
)

var _ catalog.Insertable = (*Table)(nil)

// OpenWriter implements catalog.Insertable: rows are encoded in the topic's
// latest registered schema and produced to the topic (every partition, routed
// by key). A table with a primary key is written in upsert mode (key = the
// primary key, deletes become tombstones); its event_time option names the
// column giving message event times.
func (t *Table) OpenWriter(ctx context.Context) (catalog.Writer, error) {
	return t.NewWriter(ctx, t.schema, sink.Options{})
}

// SchemaInfo returns the registered schema the table was loaded with.
func (t *Table) SchemaInfo() schema.Info { return t.info }

// WriterOptions returns the sink options the table's definition implies
// (key, upsert, event time, batching, compression).
func (t *Table) WriterOptions() (sink.Options, error) {
	o := sink.Options{
		KeyColumns:      append([]string(nil), t.def.PrimaryKey...),
		Upsert:          len(t.def.PrimaryKey) > 0,
		EventTimeColumn: t.def.Options[optEventTime],
		Compression:     t.def.Options[optCompression],
		ProducerName:    t.def.Options[optSinkProducerID],
		DeadLetterTopic: t.deadLetterTopic(t.def.Options[optSinkDeadLetter]),
	}
	if v := t.def.Options[optBatchMessages]; v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return o, fmt.Errorf("pulsar: table %s option %s=%q: %w", t.name, optBatchMessages, v, err)
		}
		o.BatchingMaxMessages = uint(n)
	}
	if v := t.def.Options[optBatchDelay]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("pulsar: table %s option %s=%q: %w", t.name, optBatchDelay, v, err)
		}
		o.BatchingMaxDelay = d
	}
	return o, nil
}

// NewWriter opens a sink writer for rows of src (columns named as the
// table's). Fields of extra left at their zero value are taken from the
// table's definition (WriterOptions); a transaction or other settings come
// from extra.
func (t *Table) NewWriter(ctx context.Context, src *arrow.Schema, extra sink.Options) (*sink.PulsarWriter, error) {
	o, err := t.WriterOptions()
	if err != nil {
		return nil, err
	}
	if extra.KeyColumns != nil {
		o.KeyColumns = extra.KeyColumns
		o.Upsert = extra.Upsert
	}
	if extra.EventTimeColumn != "" {
		o.EventTimeColumn = extra.EventTimeColumn
	}
	if extra.Compression != "" {
		o.Compression = extra.Compression
	}
	if extra.BatchingMaxMessages != 0 {
		o.BatchingMaxMessages = extra.BatchingMaxMessages
	}
	if extra.BatchingMaxDelay != 0 {
		o.BatchingMaxDelay = extra.BatchingMaxDelay
	}
	if extra.ProducerName != "" {
		o.ProducerName = extra.ProducerName
	}
	o.Txn = extra.Txn
	o.MaxPendingMessages = extra.MaxPendingMessages
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := sink.NewPulsarWriter(t.cat.client, t.topic, t.info, src, o)
	if err != nil {
		return nil, fmt.Errorf("pulsar: INSERT INTO %s.%s: %w", t.db, t.name, err)
	}
	return w, nil
}

// deadLetterTopic resolves the sink.dead_letter_topic option: a full topic
// name as it is, "tenant/namespace/topic" or "tenant/namespace.topic" in
// that namespace, a bare name beside the table's own topic.
func (t *Table) deadLetterTopic(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || strings.Contains(v, "://"):
		return v
	case strings.Count(v, "/") == 2:
		return "persistent://" + v
	case strings.Contains(v, "/") && strings.Contains(v, "."):
		i := strings.LastIndex(v, ".")
		return "persistent://" + v[:i] + "/" + v[i+1:]
	}
	return t.topic[:strings.LastIndex(t.topic, "/")+1] + v
}
