package flightclient

import (
	"fmt"
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/shell"
)

// A text of many statements has more statuses than the server's metadata
// carries: the status shown is still the last statement's.
func TestLongScriptStatusIsLast(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	ctx := tctx(t)
	noop := func(*shell.Result) error { return nil }
	if err := c.Run(ctx, "CREATE TABLE many (x INT)", noop); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "INSERT INTO many VALUES (%d);\n", i)
	}
	b.WriteString("INSERT INTO many VALUES (1), (2);")
	var status string
	if err := c.Run(ctx, b.String(), func(r *shell.Result) error { status = r.Status; return nil }); err != nil {
		t.Fatal(err)
	}
	if status != "INSERT 2" {
		t.Errorf("status %q, want the last statement's", status)
	}
}
