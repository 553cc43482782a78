package exec

// StreamingInputs reports whether SetStreamingInputs was called: the join
// is symmetric from its first Next.
func (j *HashJoin) StreamingInputs() bool { return j.streamIn }
