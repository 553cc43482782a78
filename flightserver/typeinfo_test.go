package flightserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
)

// Every type GetXdbcTypeInfo lists is one CREATE TABLE takes, rows come
// ordered by data type, and a request for one data type gets only its rows.
func TestXdbcTypeInfo(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.addr, clientOpts{})
	ctx := tctx(t)

	info, err := cl.GetXdbcTypeInfo(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, rows := fetch(t, ctx, cl, info)
	if !sc.Equal(schema_ref.XdbcTypeInfo) {
		t.Fatalf("schema %s", sc)
	}
	if len(rows) != len(typeInfos) {
		t.Fatalf("%d rows, want %d", len(rows), len(typeInfos))
	}
	prev := -1 << 31
	names := map[string]bool{}
	for i, r := range rows {
		var code int
		if _, err := fmt.Sscan(r[1], &code); err != nil || code < prev {
			t.Errorf("row %d (%s): data_type %s after %d", i, r[0], r[1], prev)
		}
		prev = code
		names[r[0]] = true
		// A column of the type can be created (with a length where the
		// type's create_params ask for one) and holds NULL.
		tbl := fmt.Sprintf("t%d", i)
		typ := r[0]
		if strings.Contains(r[5], "length") {
			typ += "(10)"
		}
		mustUpdate(t, ctx, cl, fmt.Sprintf("CREATE TABLE %s (c %s)", tbl, typ))
		mustUpdate(t, ctx, cl, fmt.Sprintf("INSERT INTO %s VALUES (NULL)", tbl))
	}
	for _, want := range []string{"BIGINT", "VARCHAR", "DOUBLE", "TIMESTAMP", "DECIMAL", "BOOLEAN"} {
		if !names[want] {
			t.Errorf("%s missing from %v", want, names)
		}
	}

	ts93 := xdbcTimestamp
	info, err = cl.GetXdbcTypeInfo(ctx, &ts93)
	if err != nil {
		t.Fatal(err)
	}
	_, rows = fetch(t, ctx, cl, info)
	var got []string
	for _, r := range rows {
		got = append(got, r[0]+":"+r[3]+r[4]+":"+r[15]+"/"+r[16])
	}
	if s := strings.Join(got, ","); s != "TIMESTAMP:'':9/3,DATETIME:'':9/3" {
		t.Errorf("timestamp types %s", s)
	}
}
