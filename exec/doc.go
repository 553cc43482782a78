// Package exec holds Magnetar's physical operators and the message model they
// share. Every operator is written for unbounded input first; a bounded run
// is simply one whose sources end.
//
// # Messages
//
// Operators exchange Messages. A Message is one of:
//
//   - MsgBatch: an Arrow record batch plus a change kind per row (Batch.Ops;
//     nil means every row is an Insert, the fast and common case). Change
//     kinds follow Flink/RisingWave: Insert, Delete, UpdateBefore, UpdateAfter.
//   - MsgWatermark: event time (µs since epoch) below which no more rows will
//     arrive. Operators forward watermarks after emitting what they close.
//   - MsgBarrier: a checkpoint barrier (id). Multi-input operators align them.
//   - MsgEnd: end of data. It acts as a final, infinite watermark: windows
//     close, blocking operators (sort, batch aggregates) emit. After MsgEnd an
//     operator keeps returning MsgEnd.
//
// # Pull, not push
//
// Operators are pulled: Next(ctx) returns the next Message. Pull gives
// backpressure for free (a slow consumer simply calls Next less often, so a
// source reads no further ahead than one batch) and keeps each operator a
// plain sequential function that is easy to test. Two-input operators (joins,
// union) must not starve either side: each child is drained by its own
// goroutine into a channel of capacity 1 (see exec.Prefetch), and the
// operator selects on both, so whichever input has data makes progress and
// memory stays bounded at one batch in flight per input.
//
// # Ownership
//
// Next transfers ownership of the returned record to the caller, who must
// call Release exactly once (or pass ownership on by returning it). An
// operator that keeps a record (e.g. a hash join build side) Retains it.
// Schemas are immutable and shared. Tests use memory.NewCheckedAllocator and
// assert that every byte is returned.
//
// # Context
//
// Cancellation flows through ctx: Next returns ctx.Err() promptly when the
// context is cancelled. Close releases everything an operator holds and
// closes its children; it is safe to call after an error and more than once.
//
// # Operators
//
// One operator per file, each built by a NewX constructor that compiles its
// expressions once (plain column references take a zero-copy path):
//
//   - Values, Filter, Project, Limit, Union (UNION ALL): streaming; Ops stay
//     aligned with their rows. Limit counts physical rows whatever their
//     change kind (meaningful on append-only input only).
//   - HashAggregate: our own hash tables (Arrow has no group-by kernels): an
//     open-addressing table over int64 for one integer-like key, serialized
//     keys in a Go map otherwise. EmitOnEnd (batch) or EmitChangelog
//     (streaming: -U/+U, +I, -D per changed group after each input batch).
//     Retractions are subtracted; MIN/MAX take them in changelog mode
//     (per-group value counts); approx_count_distinct never.
//   - HashJoin (equi + residual; inner/left/right/full/semi/anti): build
//     the right side, then stream the left; it switches to a symmetric join
//     when the build side turns out to be a stream (outer, semi and anti
//     joins then emit a changelog: symjoin_outer.go). NestedLoopJoin for
//     cross and non-equi joins.
//   - Sort (radix sort for one numeric key), TopN, Window: blocking, over
//     bounded input; they forward watermarks and barriers as they arrive.
//   - Metered wraps any operator for EXPLAIN ANALYZE.
//
// Streaming operators keep their state behind State (state.go: a size
// figure, snapshot and restore for job checkpoints):
//
//   - WatermarkAssigner: per-partition watermarks (max event time − delay,
//     minimum over partitions, idle partitions released); late rows are
//     dropped and counted, or handed to a LateRowsTap/LateRowsQueue that
//     writes them to a side table without blocking the pipeline.
//   - WindowAggregate (TUMBLE, HOP, CUMULATE, SESSION in window_session.go):
//     emits a window when the watermark passes its end (+ lateness).
//   - Deduplicate, StreamingTopN: ROW_NUMBER = 1 and top-N per partition,
//     emitting retractions.
//   - IntervalJoin (state expired by watermark); the symmetric hash join
//     (symjoin.go) for regular joins on changelogs. HashAggregate in
//     changelog mode, the symmetric join and Deduplicate take an event-time
//     state TTL (hashagg_ttl.go, symjoin_ttl.go): state untouched for the TTL
//     behind the watermark is forgotten silently, like Flink's state TTL.
//   - UpsertMaterialize: folds an upsert source (latest row per key,
//     tombstones delete) into a changelog after a bootstrap snapshot.
//   - LookupJoin: processing-time enrichment of a stream by an upsert
//     table's current rows; over a changelog stream it remembers what it
//     emitted per live row, so that retractions cancel exactly that.
//
// Test helpers live in exec/exectest.
package exec
