package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
)

// SettingWindowEarlyFire makes the window aggregates of a continuous query
// also emit the partial results of the windows that changed, every interval
// of processing time ('1 SECOND'), as Flink's table.exec.emit.early-fire:
// their output becomes a changelog (+I, then -U/+U per window and group;
// the final result at the window's end is a -U/+U only if it changed).
// Bounded queries ignore it.
const SettingWindowEarlyFire = "magnetar.window_early_fire"

// ParseWindowEarlyFire checks a magnetar.window_early_fire value ("" and
// "0" are off).
func ParseWindowEarlyFire(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return 0, nil
	}
	d, err := parseDuration(SettingWindowEarlyFire, v)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: must be positive", SettingWindowEarlyFire)
	}
	return d, nil
}

// windowEarlyFire sets the early-fire interval of every window aggregate of
// a continuous query when magnetar.window_early_fire is set; changelog()
// then reports their output as updating.
func windowEarlyFire(ctx context.Context, n Node) (Node, error) {
	sess := sessionFrom(ctx)
	if sess.mode != catalog.Unbounded {
		return n, nil // bounded runs emit final results only
	}
	every, err := ParseWindowEarlyFire(sess.setting(SettingWindowEarlyFire))
	if err != nil || every == 0 {
		return n, err
	}
	return transformUp(n, func(n Node) (Node, error) {
		x, ok := n.(*WindowAggregate)
		if !ok {
			return n, nil
		}
		nw := *x
		nw.Spec.EarlyFire = every
		return &nw, nil
	})
}
