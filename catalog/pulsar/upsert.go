package pulsar

import (
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/sink"
)

// Upsert tables
//
// A table with a primary key is written by Magnetar's sink as upserts: the
// message key is the primary key (one key column: its text; several: a JSON
// array of their texts), the value the row, and a delete is the key with an
// empty payload and the property magnetar.op=-D (the Go client cannot set
// Pulsar's null-value flag, so an empty payload is what a tombstone looks
// like to readers). Read as a table, such a topic holds the latest message
// per key, as topic compaction keeps it.
//
// The scan's part: for a table with a primary key, a tombstone (a null
// value, as Java's value(null) writes it; an empty payload; or
// magnetar.op=-D) is not an undecodable message but a row whose
// __tombstone column is TRUE, whose primary-key columns are recovered from
// the message key where the sink's key format allows it (integers, floats,
// booleans, strings; other types read NULL; an empty key, which another
// client can write, is the empty string, not "no key") and whose other
// columns are NULL. Null values and empty keys reach us through the
// patched client (third_party/pulsar-client-go/MAGNETAR-PATCH.md). The planner's UpsertMaterialize operator (exec) above the scan
// folds these rows into the changelog of the table keyed on __key.
//
// In a continuous scan that selects __tombstone of an upsert table (the
// planner folds it through UpsertMaterialize), or of a changelog_mode=append
// table with the internal scan option bootstrap_marker=true (the table side
// of a lookup join), one extra row with a NULL
// __tombstone (every other column NULL too) marks the moment every
// partition has been read up to the end it had when its reader started:
// the upsert operators use it to end their bootstrap (emit the table built
// so far as one snapshot, start probing a lookup join).

// Table options of upsert tables.
const (
	// OptChangelogMode: "upsert" (the default for a table with a primary
	// key) or "append" (read every message as a row, tombstones included).
	OptChangelogMode = "changelog_mode"
	// ScanOptBootstrapMarker ("true") asks a continuous scan of a table
	// with a primary key that selects __tombstone for the bootstrap marker
	// even in changelog_mode=append (whose plain reads must not see it):
	// the planner sets it on the table side of a lookup join.
	ScanOptBootstrapMarker = "bootstrap_marker"
)

// Upsert reports whether reads of the table are upserts: it has a primary
// key and its changelog_mode option is not "append".
func (t *Table) Upsert() bool {
	return len(t.def.PrimaryKey) > 0 && !strings.EqualFold(strings.TrimSpace(t.def.Options[OptChangelogMode]), "append")
}

// upsertScanRequest keeps the messages of each partition in order for
// scans that fold an upsert table (they select __tombstone): a bounded
// scan then reads each partition with one reader (no segment_split), so
// the latest message of a key is also the last one delivered.
func (t *Table) upsertScanRequest(req catalog.ScanRequest) catalog.ScanRequest {
	if len(t.def.PrimaryKey) == 0 || !slices.Contains(req.Columns, t.metaIndex(metaTombstone)) {
		return req
	}
	opts := make(map[string]string, len(req.Options)+1)
	for k, v := range req.Options {
		if !strings.EqualFold(k, "segment_split") {
			opts[k] = v
		}
	}
	opts["segment_split"] = "false"
	req.Options = opts
	return req
}

// isTombstone reports whether msg deletes its key: a null value (the
// null_value flag other clients set), an empty payload (a null value
// without the flag, or the sink's delete) or the sink's magnetar.op=-D
// property.
func isTombstone(msg pulsar.Message, payload []byte) bool {
	if msg.IsNullValue() || len(payload) == 0 {
		return true
	}
	return msg.Properties()[sink.PropOp] == "-D"
}

// tombstoneDecoder appends the row of a tombstone: primary-key columns
// parsed from the message key, NULL elsewhere. It implements
// schema.Decoder, so the batch builder takes its rows like any other.
type tombstoneDecoder struct {
	target *arrow.Schema
	pk     []int // target column of each primary-key column; -1 when not decoded
	key    string
	// hasKey: the message has a key, possibly empty (Key() is "" both for
	// no key and for the empty key).
	hasKey bool
	parts  []any
}

func newTombstoneDecoder(target *arrow.Schema, pk []string) *tombstoneDecoder {
	d := &tombstoneDecoder{target: target}
	for _, k := range pk {
		idx := -1
		for i, f := range target.Fields() {
			if strings.EqualFold(f.Name, k) {
				idx = i
				break
			}
		}
		d.pk = append(d.pk, idx)
	}
	return d
}

// Append implements schema.Decoder; it never fails (a key that does not
// parse leaves NULL key columns).
func (d *tombstoneDecoder) Append(b *array.RecordBuilder, _, _ []byte) error {
	texts := d.keyTexts()
	for j := range d.target.NumFields() {
		fb := b.Field(j)
		v, ok := "", false
		for i, c := range d.pk {
			if c == j && i < len(texts) && texts[i] != nil {
				v, ok = *texts[i], true
			}
		}
		if !ok || !appendText(fb, v) {
			fb.AppendNull()
		}
	}
	return nil
}

// keyTexts splits the message key into the text of each key column; nil
// when the message has no key.
func (d *tombstoneDecoder) keyTexts() []*string {
	if d.key == "" && !d.hasKey {
		return nil
	}
	if len(d.pk) == 1 {
		return []*string{&d.key}
	}
	var parts []*string
	if err := json.Unmarshal([]byte(d.key), &parts); err != nil || len(parts) != len(d.pk) {
		return nil
	}
	return parts
}

// appendText appends text parsed as the builder's type; false when the
// type is not one the key format round-trips or the text does not parse.
func appendText(b array.Builder, s string) bool {
	switch x := b.(type) {
	case *array.StringBuilder:
		x.Append(s)
	case *array.LargeStringBuilder:
		x.Append(s)
	case *array.Int64Builder:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false
		}
		x.Append(v)
	case *array.Int32Builder:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return false
		}
		x.Append(int32(v))
	case *array.Int16Builder:
		v, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return false
		}
		x.Append(int16(v))
	case *array.Int8Builder:
		v, err := strconv.ParseInt(s, 10, 8)
		if err != nil {
			return false
		}
		x.Append(int8(v))
	case *array.Float64Builder:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		x.Append(v)
	case *array.Float32Builder:
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return false
		}
		x.Append(float32(v))
	case *array.BooleanBuilder:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return false
		}
		x.Append(v)
	default:
		return false
	}
	return true
}

// bootTracker counts the partitions of one unbounded scan that have been
// read up to the end they had when their reader started.
type bootTracker struct {
	done atomic.Int32
}

// wantsMarker reports whether a scan for req gets the bootstrap marker.
func (t *Table) wantsMarker(req catalog.ScanRequest) bool {
	if req.Mode != catalog.Unbounded || len(t.def.PrimaryKey) == 0 || !slices.Contains(req.Columns, t.metaIndex(metaTombstone)) {
		return false
	}
	if t.Upsert() {
		return true
	}
	for k, v := range req.Options {
		if strings.EqualFold(k, ScanOptBootstrapMarker) {
			on, _ := strconv.ParseBool(strings.TrimSpace(v))
			return on
		}
	}
	return false
}

// markBoot registers s as a scan that sends the bootstrap marker.
func (s *source) markBoot() {
	k := weak.Make(s)
	if _, loaded := bootTrackers.LoadOrStore(k, &bootTracker{}); !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[source]) { bootTrackers.Delete(k) }, k)
	}
}

// sendsMarker reports whether s was registered by markBoot.
func (s *source) sendsMarker() bool {
	_, ok := bootTrackers.Load(weak.Make(s))
	return ok
}

// bootTrackers maps a scan (weakly: the entry goes with the scan) to its
// tracker. The tracker lives outside the source so that the upsert
// bootstrap stays in this file and the reader.
var bootTrackers sync.Map // weak.Pointer[source] → *bootTracker

// caughtUp records that one more partition of s reached its end and
// reports whether that was the last one (true exactly once per scan).
func (s *source) caughtUp() bool {
	k := weak.Make(s)
	v, loaded := bootTrackers.LoadOrStore(k, &bootTracker{})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[source]) { bootTrackers.Delete(k) }, k)
	}
	n := v.(*bootTracker).done.Add(1)
	return n == max(s.nparts.Load(), 1)
}
