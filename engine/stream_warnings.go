package engine

import (
	"fmt"

	"github.com/magnetar-sql/magnetar/exec"
)

// AllWarnings returns the statement's warnings, including the ones known
// only once its rows were read: rows dropped as late by watermarks or
// windows, and data sources' own warnings (e.g. undecodable messages).
// Call it after draining Rows; it stays valid after Close.
func (r *Result) AllWarnings() []string {
	out := append([]string(nil), r.Warnings...)
	if r.late != nil {
		out = append(out, r.late()...)
	}
	return out
}

// operatorWarnings walks an operator tree for late-row counts and source
// warnings.
func operatorWarnings(root exec.Operator) []string {
	var late, windowLate int64
	var out []string
	var walk func(o exec.Operator)
	walk = func(o exec.Operator) {
		if u, ok := o.(interface{ Unwrap() exec.Operator }); ok {
			o = u.Unwrap()
		}
		switch x := o.(type) {
		case *exec.WatermarkAssigner:
			late += x.LateRows()
		case *exec.WindowAggregate:
			windowLate += x.LateRows()
		case interface{ Warnings() []string }:
			out = append(out, x.Warnings()...)
		}
		for _, c := range o.Children() {
			walk(c)
		}
	}
	walk(root)
	if late > 0 {
		out = append(out, fmt.Sprintf("%d late row(s) dropped: event time behind the watermark by more than the allowed lateness (SET magnetar.watermark_delay or magnetar.allowed_lateness to keep them, magnetar.late_topic to route them to a table)", late))
	}
	if windowLate > 0 {
		out = append(out, fmt.Sprintf("%d late row(s) ignored by window aggregates: their windows had already closed", windowLate))
	}
	return out
}
