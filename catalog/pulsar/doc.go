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
//	dead_letter_topic  topic receiving the raw payload of undecodable messages
//	batch_size         rows per batch (default 8192)
//	linger             max time a partial batch waits, Go duration (default 50ms)
//	parallelism        concurrent readers (default Config.ScanParallelism)
//	segment_split      "true" splits each partition into entry ranges read in parallel
//	                   (default Config.SegmentSplit, off)
//
// # Table options
//
// Options of a TableDef are stored as topic properties and schema
// properties with the prefix "magnetar." (e.g. magnetar.event_time,
// magnetar.watermark_delay, magnetar.primary_key, magnetar.comment). Def
// reads them back without the prefix; schema properties win over topic
// properties.
package pulsar
