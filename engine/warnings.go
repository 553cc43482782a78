package engine

import "github.com/magnetar-sql/magnetar/exec"

// Progresser is implemented by sources that know how far a bounded scan is.
type Progresser interface {
	Progress() (readMsgs, totalMsgs, readBytes, totalBytes int64)
}

// Progress sums the progress of every source of the result; ok is false
// when no source reports progress (e.g. the memory catalog).
func (r *Result) Progress() (readMsgs, totalMsgs, readBytes, totalBytes int64, ok bool) {
	if r.Rows == nil {
		return 0, 0, 0, 0, false
	}
	walk(r.Rows, func(op exec.Operator) {
		if p, is := op.(Progresser); is {
			a, b, c, d := p.Progress()
			readMsgs, totalMsgs, readBytes, totalBytes = readMsgs+a, totalMsgs+b, readBytes+c, totalBytes+d
			ok = true
		}
	})
	return
}

func walk(op exec.Operator, fn func(exec.Operator)) {
	if op == nil {
		return
	}
	fn(op)
	// Wrappers (EXPLAIN ANALYZE's meters) report their inner operator's
	// children as their own; look at the inner operator itself too.
	if u, ok := op.(interface{ Unwrap() exec.Operator }); ok {
		fn(u.Unwrap())
	}
	for _, c := range op.Children() {
		walk(c, fn)
	}
}

// Unwrap exposes the guarded operator to AllWarnings and Progress.
func (o *safeOp) Unwrap() exec.Operator { return o.Operator }
