// Package pulsar is Magnetar's catalog over Apache Pulsar: tenants/namespaces
// are databases ("tenant/namespace"), persistent topics are tables (a
// partitioned topic is one table, its partitions are not listed), and the
// latest schema in Pulsar's schema registry gives a table its columns.
//
// # Metadata columns
//
// Every table also has hidden columns, selectable by name:
//
//	__key            VARCHAR      message key (NULL when the message has none)
//	__topic          VARCHAR      full name of the partition topic the row came from
//	__partition      INT          partition index (-1 for a non-partitioned topic)
//	__message_id     VARCHAR      "ledger:entry:partition:batchIdx"
//	__publish_time   TIMESTAMP    producer-assigned publish time
//	__event_time     TIMESTAMP    event time set by the producer, NULL when unset
//	__producer       VARCHAR      producer name
//	__sequence_id    BIGINT       always NULL: pulsar-client-go v0.19 exposes no sequence id getter
//	__properties     MAP<VARCHAR,VARCHAR>  message properties
//	__schema_version BIGINT       registry version of the writer schema (NULL when absent)
//	__tombstone      BOOLEAN      TRUE on a delete (null value, empty payload or magnetar.op=-D) of a
//	                              primary-key table; NULL on an upsert scan's bootstrap marker
//
// # Scans
//
// A bounded scan fixes the end of every partition when it opens (the
// partition's last message id), reads each partition with a Reader from the
// earliest message (or from a publish-time bound) up to that end, decodes
// each payload with a decoder compiled for its writer schema version and
// appends it to a schema.BatchBuilder (flat Avro records go straight into its
// column buffers; metadata columns go through Arrow builders). Partitions are read in parallel; with
// segment_split a partition is also cut into entry ranges (across and within
// ledgers, from the topic's internal stats) read by parallel readers. Messages that fail to decode are counted and
// skipped (see Warnings), and optionally copied to a dead-letter topic.
//
// An unbounded scan tails every partition from Options["start"]: "earliest"
// (the default: a first query over a table should show its history, as Flink
// SQL users set scan.startup.mode=earliest-offset), "latest", a timestamp
// (microseconds since the epoch, or "2006-01-02 15:04:05[.fraction]" UTC), or
// a message id "ledger:entry[:partition[:batch]]". New partitions are picked
// up every RefreshInterval.
//
// # Scan options (ScanRequest.Options)
//
//	start              unbounded start position (above)
//	as_of              µs since epoch: bounded snapshot of the messages published before it
//	start_positions    per-partition message ids (ledger:entry:partition[:batch], comma-separated):
//	                   each listed partition resumes right after its id (job restarts)
//	dead_letter_topic  topic receiving the raw payload of undecodable messages
//	batch_size         rows per batch (default 8192)
//	linger             max time a partial batch waits, Go duration (default 50ms;
//	                   5ms for continuous scans)
//	parallelism        concurrent readers (default Config.ScanParallelism)
//	segment_split      "true" splits each partition into entry ranges read in parallel
//	                   (default Config.SegmentSplit, off)
//
// # Table options
//
// Options of a TableDef (event_time, watermark_delay, idle_timeout,
// allowed_lateness, sink.*; also primary_key and comment) are stored as
// topic properties and schema properties with the prefix "magnetar." (e.g.
// magnetar.event_time, magnetar.watermark_delay, magnetar.primary_key,
// magnetar.comment), so they stay with the topic and every catalog instance
// reads them back. Def reads them without the prefix: schema properties
// first, then topic properties, which win (AlterOptions changes topic
// properties, which need no new schema version; an empty topic property
// removes an option registered with the schema).
//
// In SQL they are written as the MySQL table option ENGINE_ATTRIBUTE
// (attributes for the storage engine, here Pulsar), as key=value pairs or a
// JSON object, and changed with ALTER TABLE (keys given are set, an empty
// value removes one):
//
//	CREATE TABLE clicks (id BIGINT PRIMARY KEY, ts TIMESTAMP(6))
//	  ENGINE_ATTRIBUTE='event_time=ts, watermark_delay=5 SECONDS' COMMENT='raw clicks'
//	ALTER TABLE clicks ENGINE_ATTRIBUTE='watermark_delay=, allowed_lateness=1 MINUTE'
//	ALTER TABLE clicks COMMENT='all clicks'
//
// SHOW CREATE TABLE prints them in the same form. See docs/sql.md.
//
// # Schema evolution
//
// AddColumns (ALTER TABLE t ADD [COLUMN] ...) registers a new version of an
// AVRO or JSON schema with the new fields appended (nullable with default
// null, or with the column's DEFAULT), keeping the rest of the registered
// schema as it was. The registry checks it under the namespace's
// compatibility strategy. Messages keep their writer schema version, and
// scans decode old versions into the latest table schema, so rows written
// before the change read NULL (or the default) in the new columns.
//
// # PROTOBUF_NATIVE topics
//
// Topics with a PROTOBUF_NATIVE schema (registered by Pulsar's Java client
// or through the admin API) are readable: package schema maps the root
// message to columns and decodes payloads. They cannot be written (no
// encoder) and cannot gain columns through ALTER TABLE.
//
// # Hidden databases
//
// Databases lists every tenant/namespace except those matching
// Config.HideTenants (default: the system tenant "pulsar") and
// Config.HideNamespaces (default: "*/__*" and "public/functions"); hidden
// ones still resolve when named.
package pulsar
