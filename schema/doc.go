// Package schema maps Pulsar schemas to Arrow schemas and decodes message payloads straight into
// Arrow builders. It is the ingest hot path of Magnetar.
//
// # Table shape
//
// A topic's Pulsar schema (an [Info], as stored in the registry) becomes the table's columns:
//
//   - NONE / BYTES (or no schema): one column `value VARBINARY`.
//   - Primitive schemas (STRING, BOOLEAN, INT8..INT64, FLOAT, DOUBLE, DATE, TIME, TIMESTAMP,
//     INSTANT, LOCAL_DATE, LOCAL_TIME, LOCAL_DATE_TIME): one column `value` of the matching type.
//   - AVRO and JSON with a record schema: one column per record field, in order. A non-record Avro
//     schema gives one column `value`.
//   - KEY_VALUE: the key columns, then the value columns. A primitive (or non-record) key becomes
//     column `key`; an Avro/JSON record key contributes its fields prefixed with `key_` (so a key
//     record {id, region} gives columns key_id, key_region). Value columns are not prefixed; a
//     primitive value becomes column `value`. Names that would collide are an error.
//
// # Type mapping
//
// Avro boolean, int, long, float, double, string, bytes map to Boolean, Int32, Int64, Float32,
// Float64, String, Binary; records to Struct, arrays to List, maps to Map(String, V), enums to
// String, fixed to FixedSizeBinary. Logical types: timestamp-millis/micros (and the local-
// variants) → Timestamp(us, "UTC"), date → Date32, time-millis/micros → Time64(us), decimal (bytes
// or fixed) → Decimal128(p, s), uuid → String. A union of null and one type (either order) is a
// nullable column. Other unions become dense unions whose children are the non-null branches,
// named by type ("int", "string", ...) or by the short name of named types, with type codes 0, 1,
// ... in branch order; the column is nullable when null is a branch (a null is a null in the
// first child, as Arrow's builder does it). Unions whose branches share a name are rejected with
// an error naming the field, and JSON payloads cannot fill dense unions.
//
// Arrow field metadata carries what Arrow has no type for:
//   - "magnetar.type" = "json" marks a String column holding JSON text (an Avro string with the
//     custom property "magnetar.type":"json"). [FromArrow] also writes "magnetar.type" for integer
//     widths Avro lacks (int8, int16, uint8, uint16, uint32, uint64) so that a table created from
//     SQL maps back to the same Arrow types.
//   - "avro.default" holds the JSON default of an Avro field (in Arrow units) so that decoders can
//     fill it in when an older writer schema lacks the field.
//
// Column names that are not Avro names (COUNT(*), "a b") are written by [FromArrow] as sanitized
// Avro names with the custom field property "magnetar.name" holding the column name; ToArrow,
// decoders and encoders use that property, so the column keeps its name.
//
// # Decoding
//
// [NewDecoder] compiles, per writer schema and target table schema, the work for one message, in
// two passes so that a corrupt or truncated payload returns an error and leaves the builders
// exactly as they were:
//
//   - Flat records (every field a scalar, optionally a nullable union: long, int, string, bytes,
//     boolean, float, double and their timestamp/date/time logical types), the usual shape of event
//     topics, take a fast path: the first pass reads each field into a fixed slot (numbers, or
//     offset/length pairs into the payload for strings), the second appends the slots to typed
//     builders cached per RecordBuilder.
//   - Everything else compiles to a tree of small functions, one per field: the first pass reads
//     and checks the Avro binary and records values on a reusable tape of uint64, the second
//     drains the tape into the builders and cannot fail.
//
// Neither allocates per row.
//
// Source operators append through a [BatchBuilder] instead of a RecordBuilder: for a target of
// flat columns it keeps its own column buffers (allocated from its allocator and handed to the
// batch's arrays without a copy), and a flat-path decoder writes each field straight into them in
// a single pass (one switch over field ops, a loop-free varint reader, validity bitmaps created
// only when a null appears, capacity reserved from the previous batch). A row is committed by
// moving the row count, so a failed payload still leaves nothing behind. A batch whose first row
// comes from another decoder lives in a RecordBuilder instead; rows of the other kind still fit
// into either (in the column buffers through a one-row builder and a copy), so rows of several
// writer schema versions can share a batch. JSON payloads are checked by a first pass and appended by a second
// run of the same code. Strings are not checked for UTF-8 validity. Target fields that are not
// nullable still receive null when the writer has no value and no default.
//
// Schema evolution follows Avro resolution by field name: target fields missing from the writer
// get their "avro.default" or null; writer fields missing from the target are skipped; int→long→
// float→double promotions and string↔bytes are allowed.
//
// Avro names with '$' (Java nested classes, as Pulsar's Java client derives them) are accepted by
// rewriting '$' to '_' in names; names do not affect the encoding.
//
// # Encoding
//
// [NewEncoder] writes rows back in a topic's schema (Avro binary, JSON text in the representation
// the decoder reads, primitive encodings, KEY_VALUE INLINE; for SEPARATED the encoder also
// implements [KeyEncoder]). [FromArrow] derives the Avro schema of a table created in SQL.
//
// Decoders and encoders keep scratch state and are not safe for concurrent use: make one per
// goroutine.
package schema
