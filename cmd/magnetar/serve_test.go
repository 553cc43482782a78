package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestServeMemoryCatalog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- serve(ctx, []string{"--catalog", "memory", "--listen", "127.0.0.1:0"}, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	}
	cl, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.ExecuteUpdate(ctx, "CREATE TABLE t (x BIGINT)"); err != nil {
		t.Fatal(err)
	}
	if n, err := cl.ExecuteUpdate(ctx, "INSERT INTO t VALUES (1), (2)"); err != nil || n != 2 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	info, err := cl.Execute(ctx, "SELECT SUM(x) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() || rdr.RecordBatch().Column(0).ValueStr(0) != "3" {
		t.Fatalf("sum: %v", rdr.Err())
	}
	rdr.Release()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d: %s", code, stderr.String())
	}
}

func TestServeFlagErrors(t *testing.T) {
	var stderr bytes.Buffer
	if code := serve(context.Background(), []string{"--tls-cert", "x.pem"}, &stderr, nil); code != 2 {
		t.Errorf("--tls-cert without --tls-key: exit %d", code)
	}
}
