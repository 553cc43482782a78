package engine

import "github.com/magnetar-sql/magnetar/exec"

// Warner is implemented by operators that have something to tell the user
// once they have run: undecodable messages skipped, late rows dropped.
type Warner interface {
	Warnings() []string
}

// Progresser is implemented by sources that know how far a bounded scan is.
type Progresser interface {
	Progress() (readMsgs, totalMsgs, readBytes, totalBytes int64)
}

// RunWarnings returns the statement's warnings together with those the
// operators report now; call it after the rows are drained.
func (r *Result) RunWarnings() []string {
	out := append([]string(nil), r.Warnings...)
	if r.Rows != nil {
		walk(r.Rows, func(op exec.Operator) {
			if w, ok := op.(Warner); ok {
				out = append(out, w.Warnings()...)
			}
		})
	}
	return out
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

// Unwrap exposes the guarded operator to RunWarnings and Progress.
func (o *safeOp) Unwrap() exec.Operator { return o.Operator }
