package flightserver

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	// ADBC's Flight SQL driver behind database/sql: a second, independent
	// Go client (it drives prepared statements, parameter binding and
	// updates its own way).
	_ "github.com/apache/arrow-adbc/go/adbc/sqldriver/flightsql"
)

func TestADBCGoDatabaseSQL(t *testing.T) {
	ts := startServer(t, nil)
	db, err := sql.Open("flightsql", "uri=grpc://"+ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := tctx(t)

	if _, err := db.ExecContext(ctx, createPeople); err != nil {
		t.Fatal(err)
	}
	res, err := db.ExecContext(ctx, insertPeople)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 3 {
		t.Errorf("rows affected %d, %v", n, err)
	}
	// Parameters go through prepared statements (the driver takes bound
	// values on an unprepared statement for bulk ingestion).
	ins, err := db.PrepareContext(ctx, `INSERT INTO people VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ins.ExecContext(ctx, int64(4), "dee", 4.5); err != nil {
		t.Fatal(err)
	}
	ins.Close()

	sel, err := db.PrepareContext(ctx, `SELECT id, name, score FROM people WHERE id >= ? AND name <> ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	rows, err := sel.QueryContext(ctx, int64(2), "cy")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var (
			id    int64
			name  string
			score sql.NullFloat64
		)
		if err := rows.Scan(&id, &name, &score); err != nil {
			t.Fatal(err)
		}
		s := "NULL"
		if score.Valid {
			s = fmt.Sprint(score.Float64)
		}
		got = append(got, fmt.Sprintf("%d,%s,%s", id, name, s))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if g := strings.Join(got, "|"); g != "2,bob,NULL|4,dee,4.5" {
		t.Errorf("rows %s", g)
	}

	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM people`).Scan(&n); err != nil || n != 4 {
		t.Errorf("count %d, %v", n, err)
	}
	if _, err := db.QueryContext(ctx, `SELECT nope FROM people`); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown column: %v", err)
	}
	db.Close()
	eventually(t, "ADBC queries to close", func() bool { return ts.RunningQueries() == 0 })
}
