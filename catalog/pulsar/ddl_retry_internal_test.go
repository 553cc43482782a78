package pulsar

import (
	"errors"
	"fmt"
	"testing"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/rest"
)

// A topic created in a namespace made a moment ago can be refused with 412
// "Failed to find ownership" until the bundle is owned (seen in CI); that,
// and 503, are retried; other refusals are not.
func TestTransientAdminErr(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{rest.Error{Code: 412, Reason: "Failed to find ownership for topic:persistent://public/t-1/src"}, true},
		{fmt.Errorf("create: %w", rest.Error{Code: 503, Reason: "Service unavailable"}), true},
		{rest.Error{Code: 412, Reason: "Topic already has a schema"}, false},
		{rest.Error{Code: 409, Reason: "This topic already exists"}, false},
		{rest.Error{Code: 404, Reason: "Namespace does not exist"}, false},
		{errors.New("connection refused"), false},
	} {
		if got := transientAdminErr(c.err); got != c.want {
			t.Errorf("transientAdminErr(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
