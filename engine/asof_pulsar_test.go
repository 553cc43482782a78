package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// TestPulsarAsOfTimestamp: `FROM t AS OF TIMESTAMP '...'` reads the topic as
// it stood at that time.
func TestPulsarAsOfTimestamp(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	s := New(cat, Options{Mem: mem}).NewSession()
	mustRun(t, s, "USE `"+ns+"`")
	mustRun(t, s, "CREATE TABLE ev (id BIGINT, v VARCHAR(10))")
	mustRun(t, s, "INSERT INTO ev VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	time.Sleep(1200 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(1200 * time.Millisecond)
	mustRun(t, s, "INSERT INTO ev VALUES (4, 'd'), (5, 'e')")

	for _, tc := range []struct {
		q    string
		want string
	}{
		{fmt.Sprintf("SELECT count(*), max(id) FROM ev AS OF TIMESTAMP '%s'", mid.Format("2006-01-02 15:04:05.000000")), "3\t3"},
		{"SELECT count(*), max(id) FROM ev", "5\t5"},
		{"SELECT count(*) FROM ev AS OF TIMESTAMP '2001-01-01 00:00:00'", "0"},
	} {
		rows, _, err := runSQL(ctx, s, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if len(rows) != 1 || rows[0] != tc.want {
			t.Errorf("%s: got %v, want %s", tc.q, rows, tc.want)
		}
	}
	if _, _, err := runSQL(ctx, s, "SELECT * FROM ev AS OF TIMESTAMP id"); err == nil {
		t.Error("AS OF with a column: want an error")
	}
}
