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
// nullable column; other unions are rejected with an error naming the field.
//
// Arrow field metadata carries what Arrow has no type for:
//   - "magnetar.type" = "json" marks a String column holding JSON text (an Avro string with the
//     custom property "magnetar.type":"json"). [FromArrow] also writes "magnetar.type" for integer
//     widths Avro lacks (int8, int16, uint8, uint16, uint32, uint64) so that a table created from
//     SQL maps back to the same Arrow types.
//   - "avro.default" holds the JSON default of an Avro field (in Arrow units) so that decoders can
//     fill it in when an older writer schema lacks the field.
//
// # Decoding
//
// [NewDecoder] compiles, per writer schema and target table schema, a tree of small functions, one
// per field. Avro decoding runs in two passes over one message: the first reads the Avro binary,
// checks it and records the values on a reusable tape of uint64 (numbers, and offset/length pairs
// pointing into the payload for strings and bytes); the second appends the tape to the typed
// builders and cannot fail. So a corrupt or truncated payload returns an error and leaves the
// builders untouched, and no per-row allocation happens. JSON payloads are validated in a first
// pass and appended in a second. Strings are not checked for UTF-8 validity.
//
// Schema evolution follows Avro resolution by field name: target fields missing from the writer
// get their "avro.default" or null; writer fields missing from the target are skipped; int→long→
// float→double promotions and string↔bytes are allowed.
//
// Decoders and encoders keep scratch state and are not safe for concurrent use: make one per
// goroutine.
package schema
