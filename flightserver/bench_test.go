package flightserver

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	catmem "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/flightclient"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const benchRows = 10_000_000

// bigTable is a memory table of benchRows rows (BIGINT, DOUBLE, INT) in
// batches of 64K rows.
func bigTable(b *testing.B) *catmem.Catalog {
	b.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	const per = 1 << 16
	var batches []arrow.RecordBatch
	bld := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer bld.Release()
	for off := 0; off < benchRows; off += per {
		n := min(per, benchRows-off)
		for i := 0; i < n; i++ {
			v := off + i
			bld.Field(0).(*array.Int64Builder).Append(int64(v))
			bld.Field(1).(*array.Float64Builder).Append(float64(v) * 0.5)
			bld.Field(2).(*array.Int32Builder).Append(int32(v % 1000))
		}
		batches = append(batches, bld.NewRecordBatch())
	}
	cat := catmem.New()
	if err := cat.AddTable("default", catalog.TableDef{Name: "big", Schema: sc}, batches); err != nil {
		b.Fatal(err)
	}
	for _, r := range batches {
		r.Release()
	}
	b.Cleanup(cat.Close)
	return cat
}

// sumIDs is the consumer's work in both paths: touch every id.
func sumIDs(rec arrow.RecordBatch) int64 {
	var s int64
	for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
		s += v
	}
	return s
}

const benchQuery = `SELECT id, price, qty FROM big`

// benchCompute is a query with per-row work (an expression and a filter
// keeping 90% of the rows), where moving the result costs a smaller share.
const benchCompute = `SELECT id, price * 1.1 + qty AS v, qty FROM big WHERE qty < 900`

// BenchmarkTransfer10M compares reading a 10M-row result in-process (the
// engine's batches pulled from the operator, the consumer summing a column)
// with reading it through the Flight SQL server with the Go flightsql client
// over loopback (same consumer). Both are timed end to end, query start
// included. "scan" returns the stored batches as they are, so in-process
// it is pointer passing; "compute" evaluates an expression and a filter.
//
// Flight variants: "flight-arrow" is the server writing with arrow's
// Flight writer and a client with gRPC's defaults (how the server started);
// "flight-plain" the zero-copy writer (wire.go) and a client with gRPC's
// defaults; "flight-tuned" the zero-copy writer and a client with
// flightclient.TransportOptions; "flight-tuned-unix" that over a Unix
// socket. Run with -count to interleave rounds;
// cpu-ms/op is the process's CPU time (server and client together).
func BenchmarkTransfer10M(b *testing.B) {
	cat := bigTable(b)
	for _, c := range []struct{ name, query string }{{"scan", benchQuery}, {"compute", benchCompute}} {
		b.Run(c.name, func(b *testing.B) { benchTransfer(b, cat, c.query) })
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds rows per second and CPU per run to a benchmark.
func report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

func benchTransfer(b *testing.B, cat catalog.Catalog, query string) {
	var want, wantRows int64
	for v := int64(0); v < benchRows; v++ {
		if query == benchQuery || v%1000 < 900 {
			want += v
			wantRows++
		}
	}

	b.Run("inprocess", func(b *testing.B) {
		eng := engine.New(cat, engine.Options{})
		b.SetBytes(benchRows * 20)
		runtime.GC()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			var sum, rows int64
			err := eng.NewSession().Run(context.Background(), query, func(r *engine.Result) error {
				for {
					m, err := r.Rows.Next(context.Background())
					if err != nil {
						return err
					}
					if m.Kind == exec.MsgEnd {
						return nil
					}
					if m.Kind == exec.MsgBatch {
						rows += m.Batch.Rec.NumRows()
						sum += sumIDs(m.Batch.Rec)
						m.Release()
					}
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			if rows != wantRows || sum != want {
				b.Fatalf("rows %d sum %d", rows, sum)
			}
		}
		report(b, cpu0)
	})

	b.Run("flight-arrow", func(b *testing.B) { benchFlight(b, cat, query, want, wantRows, flightVariant{arrowWriter: true}) })
	b.Run("flight-plain", func(b *testing.B) { benchFlight(b, cat, query, want, wantRows, flightVariant{}) })
	b.Run("flight-tuned", func(b *testing.B) {
		benchFlight(b, cat, query, want, wantRows, flightVariant{opts: flightclient.TransportOptions()})
	})
	b.Run("flight-tuned-unix", func(b *testing.B) {
		benchFlight(b, cat, query, want, wantRows, flightVariant{unix: true, opts: flightclient.TransportOptions()})
	})
}

// flightVariant is how the server writes and how the client connects.
type flightVariant struct {
	arrowWriter bool // the server writes with arrow's Flight writer
	unix        bool // a Unix socket instead of TCP loopback
	opts        []grpc.DialOption
}

// benchFlight reads the result with the Go flightsql client.
func benchFlight(b *testing.B, cat catalog.Catalog, query string, want, wantRows int64, v flightVariant) {
	srv, err := New(Config{Catalog: cat})
	if err != nil {
		b.Fatal(err)
	}
	srv.arrowWriter = v.arrowWriter
	network, addr := "tcp", "127.0.0.1:0"
	if v.unix {
		network, addr = "unix", filepath.Join(b.TempDir(), "flight.sock")
	}
	lis, err := net.Listen(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Shutdown()
	target := lis.Addr().String()
	if v.unix {
		target = "unix://" + addr
	}
	opts := append(append([]grpc.DialOption(nil), v.opts...), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cl, err := flightsql.NewClient(target, nil, nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	b.SetBytes(benchRows * 20)
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		info, err := cl.Execute(ctx, query)
		if err != nil {
			b.Fatal(err)
		}
		rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			b.Fatal(err)
		}
		var sum, rows int64
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rows += rec.NumRows()
			sum += sumIDs(rec)
		}
		if err := rdr.Err(); err != nil {
			b.Fatal(err)
		}
		rdr.Release()
		if rows != wantRows || sum != want {
			b.Fatalf("rows %d sum %d", rows, sum)
		}
	}
	report(b, cpu0)
}

// BenchmarkTransferFloor measures what moving the 200 MB of the 10M-row
// result costs without Arrow or gRPC, for comparison with
// BenchmarkTransfer10M: one memory copy, and a raw socket transfer (1 MiB
// writes, reads into a 1 MiB buffer, the reader summing one int64 per
// 20-byte row as the consumer does) over TCP loopback and a Unix socket.
func BenchmarkTransferFloor(b *testing.B) {
	const size = benchRows * 20
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	b.Run("memcpy", func(b *testing.B) {
		dst := make([]byte, size)
		b.SetBytes(size)
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			copy(dst, src)
		}
		report(b, cpu0)
	})
	for _, network := range []string{"tcp", "unix"} {
		b.Run(network, func(b *testing.B) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(b.TempDir(), "floor.sock")
			}
			lis, err := net.Listen(network, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer lis.Close()
			go func() {
				for {
					c, err := lis.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						var one [1]byte
						for {
							if _, err := c.Read(one[:]); err != nil {
								return
							}
							for off := 0; off < size; off += 1 << 20 {
								if _, err := c.Write(src[off:min(off+1<<20, size)]); err != nil {
									return
								}
							}
						}
					}()
				}
			}()
			c, err := net.Dial(network, lis.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(size)
			b.ResetTimer()
			cpu0 := cpuTime()
			var sink int64
			for i := 0; i < b.N; i++ {
				if _, err := c.Write([]byte{1}); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < size; {
					n, err := c.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					for j := 0; j+8 <= n; j += 20 {
						sink += int64(buf[j])
					}
					got += n
				}
			}
			report(b, cpu0)
			_ = sink
		})
	}
}
