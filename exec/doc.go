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
package exec
