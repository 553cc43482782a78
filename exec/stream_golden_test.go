package exec_test

// Streaming goldens: each file in testdata/stream describes inputs (rows
// with event times, watermarks, processing-time steps), a pipeline of
// streaming operators and the expected result. The harness runs every case
// feeding the inputs in batches of one row, of three rows and in whole
// segments, and
// checks that the folded changelog of each run equals the expected rows.
// Cases whose operators can all snapshot their state run twice more with a
// checkpoint (snapshot, rebuild, restore) at every segment break.
// See testdata/stream/README.md for the syntax. STREAM_GOLDEN_LOG=1 logs
// every run's changelog (go test -v).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

func TestStreamGoldens(t *testing.T) {
	files, err := filepath.Glob("../testdata/stream/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/stream")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			c, err := parseGolden(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, bs := range []int{1, 3, 1 << 20} {
				for _, cp := range []bool{false, true} {
					mode := fmt.Sprintf("batch size %d, checkpoints %v", bs, cp)
					got, late, err := c.run(t, bs, cp)
					if cp && errors.Is(err, errNoCheckpoint) {
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					if err := exectest.Equal(got, c.want); err != nil {
						t.Errorf("%s: %v", mode, err)
					}
					if c.late >= 0 && late != c.late {
						t.Errorf("%s: %d late rows, want %d", mode, late, c.late)
					}
				}
			}
		})
	}
}

// goldenCase is one parsed file.
type goldenCase struct {
	inputs   map[string]*goldenInput
	order    []string
	pipeline []goldenOp
	want     []string
	late     int64 // -1: not checked
}

type goldenInput struct {
	schema *arrow.Schema
	items  []goldenItem
}

// goldenItem is a run of rows, a watermark or a processing-time step.
type goldenItem struct {
	rows [][]any
	ops  []exec.ChangeKind
	wm   *int64
	proc time.Duration
}

type goldenOp struct {
	line   int
	stream string // "" for the current stream
	name   string
	args   map[string]string
}

func parseGolden(path string) (*goldenCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &goldenCase{inputs: map[string]*goldenInput{}, late: -1}
	section := ""
	var cur *goldenInput
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, ln, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(line, "input"):
			head, cols, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fail("input needs ': columns'")
			}
			name := strings.TrimSpace(strings.TrimPrefix(head, "input"))
			if name == "" {
				name = "in"
			}
			s, err := parseSchema(cols)
			if err != nil {
				return nil, fail("%v", err)
			}
			cur = &goldenInput{schema: s}
			c.inputs[name] = cur
			c.order = append(c.order, name)
			section = "input"
			continue
		case line == "pipeline:":
			section = "pipeline"
			continue
		case line == "output:":
			section = "output"
			continue
		case strings.HasPrefix(line, "late:"):
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "late:")), 10, 64)
			if err != nil {
				return nil, fail("late: %v", err)
			}
			c.late = n
			continue
		}
		switch section {
		case "input":
			if err := cur.parseLine(line); err != nil {
				return nil, fail("%v", err)
			}
		case "pipeline":
			op := goldenOp{line: ln, args: map[string]string{}}
			if head, rest, ok := strings.Cut(line, ":"); ok && !strings.ContainsAny(head, " =") {
				op.stream, line = head, strings.TrimSpace(rest)
			}
			fields := strings.Fields(line)
			op.name = fields[0]
			for _, kv := range fields[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fail("argument %q is not key=value", kv)
				}
				op.args[k] = v
			}
			c.pipeline = append(c.pipeline, op)
		case "output":
			c.want = append(c.want, strings.ReplaceAll(line, " ", ""))
		default:
			return nil, fail("line outside of a section")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Strings(c.want)
	return c, nil
}

func parseSchema(cols string) (*arrow.Schema, error) {
	var args []any
	for _, c := range strings.Split(cols, ",") {
		f := strings.Fields(c)
		if len(f) != 2 {
			return nil, fmt.Errorf("column %q: want 'name TYPE'", c)
		}
		var t arrow.DataType
		switch strings.ToUpper(f[1]) {
		case "BIGINT":
			t = arrow.PrimitiveTypes.Int64
		case "DOUBLE":
			t = arrow.PrimitiveTypes.Float64
		case "VARCHAR":
			t = arrow.BinaryTypes.String
		case "BOOLEAN":
			t = arrow.FixedWidthTypes.Boolean
		case "TIMESTAMP":
			t = tsType
		default:
			return nil, fmt.Errorf("unknown type %s", f[1])
		}
		args = append(args, f[0], t)
	}
	return exectest.Schema(args...), nil
}

func (in *goldenInput) parseLine(line string) error {
	if rest, ok := strings.CutPrefix(line, "wm "); ok {
		us, err := parseTime(strings.TrimSpace(rest))
		if err != nil {
			return err
		}
		in.items = append(in.items, goldenItem{wm: &us})
		return nil
	}
	if rest, ok := strings.CutPrefix(line, "proc "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return err
		}
		in.items = append(in.items, goldenItem{proc: d})
		return nil
	}
	if line == "--" { // segment break
		in.items = append(in.items, goldenItem{})
		return nil
	}
	op := exec.Insert
	for _, k := range []exec.ChangeKind{exec.Insert, exec.Delete, exec.UpdateBefore, exec.UpdateAfter} {
		if rest, ok := strings.CutPrefix(line, k.String()+" "); ok {
			op, line = k, rest
		}
	}
	cells := strings.Split(line, ",")
	if len(cells) != in.schema.NumFields() {
		return fmt.Errorf("row has %d cells, schema %d", len(cells), in.schema.NumFields())
	}
	row := make([]any, len(cells))
	for i, cell := range cells {
		cell = strings.TrimSpace(cell)
		if strings.EqualFold(cell, "NULL") {
			continue
		}
		var err error
		switch in.schema.Field(i).Type.ID() {
		case arrow.INT64:
			row[i], err = strconv.ParseInt(cell, 10, 64)
		case arrow.FLOAT64:
			row[i], err = strconv.ParseFloat(cell, 64)
		case arrow.STRING:
			row[i] = strings.Trim(cell, "'")
		case arrow.BOOL:
			row[i], err = strconv.ParseBool(cell)
		case arrow.TIMESTAMP:
			var us int64
			us, err = parseTime(cell)
			row[i] = arrow.Timestamp(us)
		}
		if err != nil {
			return fmt.Errorf("cell %q: %v", cell, err)
		}
	}
	n := len(in.items)
	if n == 0 || in.items[n-1].wm != nil || in.items[n-1].proc != 0 || in.items[n-1].rows == nil {
		in.items = append(in.items, goldenItem{rows: [][]any{}})
		n++
	}
	in.items[n-1].rows = append(in.items[n-1].rows, row)
	in.items[n-1].ops = append(in.items[n-1].ops, op)
	return nil
}

// parseTime reads an event time written as a duration since the epoch
// ("12s", "1.5s", "-3s").
func parseTime(s string) (int64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Microseconds(), nil
}

// clock is the processing-time clock the sources step and the watermark
// assigners read.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// scriptSource plays an input: runs of rows as batches of at most
// batchSize rows, watermarks, and processing-time steps on a shared clock.
type scriptSource struct {
	schema    *arrow.Schema
	mem       memory.Allocator
	items     []goldenItem
	batchSize int
	clk       *clock
	barriers  bool // segment breaks are checkpoint barriers
	pos, row  int
	barrier   uint64
}

func (s *scriptSource) Schema() *arrow.Schema      { return s.schema }
func (s *scriptSource) Open(context.Context) error { return nil }
func (s *scriptSource) Close() error               { return nil }
func (s *scriptSource) Children() []exec.Operator  { return nil }
func (s *scriptSource) String() string             { return "Script" }

func (s *scriptSource) Next(ctx context.Context) (exec.Message, error) {
	for s.pos < len(s.items) {
		it := s.items[s.pos]
		switch {
		case it.wm != nil:
			s.pos++
			return exec.WatermarkMsg(*it.wm), nil
		case it.proc != 0:
			s.clk.now = s.clk.now.Add(it.proc)
			s.pos++
		case it.rows == nil && s.barriers:
			s.pos++
			s.barrier++
			return exec.Message{Kind: exec.MsgBarrier, Barrier: s.barrier}, nil
		case s.row < len(it.rows):
			end := min(len(it.rows), s.row+s.batchSize)
			rec := exectest.Record(s.mem, s.schema, it.rows[s.row:end]...)
			ops := slices.Clone(it.ops[s.row:end])
			if !slices.ContainsFunc(ops, func(k exec.ChangeKind) bool { return k != exec.Insert }) {
				ops = nil
			}
			s.row = end
			return exec.BatchMsg(rec, ops), nil
		default:
			s.pos++
			s.row = 0
		}
	}
	return exec.EndMsg, nil
}

// lateCounter is implemented by operators that drop late rows.
type lateCounter interface{ LateRows() int64 }

// errNoCheckpoint: the case's pipeline cannot be checkpointed (an operator
// without snapshots, or two inputs whose prefetching makes the cut inexact).
var errNoCheckpoint = errors.New("pipeline cannot be checkpointed")

// goldenPipeline is one built pipeline: its operators in build order and
// the one whose output is the result.
type goldenPipeline struct {
	ops      []exec.Operator
	top      exec.Operator
	counters []lateCounter
}

func (c *goldenCase) build(sources map[string]*scriptSource, clk *clock, mem memory.Allocator) (*goldenPipeline, error) {
	streams := map[string]exec.Operator{}
	current := ""
	for _, name := range c.order {
		streams[name] = sources[name]
		current = name
	}
	p := &goldenPipeline{}
	for _, op := range c.pipeline {
		target := op.stream
		if target == "" {
			target = current
		}
		child := streams[target]
		if child == nil {
			return nil, fmt.Errorf("line %d: no stream %q", op.line, target)
		}
		out, err := buildGoldenOp(op, child, streams, clk, mem)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", op.line, op.name, err)
		}
		if lc, ok := out.(lateCounter); ok {
			p.counters = append(p.counters, lc)
		}
		if op.name == "intervaljoin" || op.name == "join" {
			target = "joined"
		}
		p.ops = append(p.ops, out)
		streams[target] = out
		current = target
	}
	p.top = streams[current]
	return p, nil
}

// run plays the case with batches of at most batchSize rows and returns the
// folded output and the late rows counted by its operators. With checkpoint
// set, every segment break is a checkpoint barrier: when it reaches the
// output, every operator's state is snapshotted, the pipeline is torn down,
// rebuilt and restored, and the run goes on from there.
func (c *goldenCase) run(t *testing.T, batchSize int, checkpoint bool) (_ []string, _ int64, err error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if checkpoint && len(c.order) > 1 {
		return nil, 0, errNoCheckpoint
	}
	clk := &clock{now: time.Unix(1000, 0)}
	sources := map[string]*scriptSource{}
	for _, name := range c.order {
		in := c.inputs[name]
		sources[name] = &scriptSource{schema: in.schema, mem: mem, items: in.items, batchSize: batchSize, clk: clk, barriers: checkpoint}
	}
	p, err := c.build(sources, clk, mem)
	if err != nil {
		return nil, 0, err
	}
	ctx := context.Background()
	var msgs []exec.Message
	defer func() { exectest.ReleaseMessages(msgs) }()
	defer func() {
		if cerr := p.top.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := p.top.Open(ctx); err != nil {
		return nil, 0, err
	}
	for {
		m, err := p.top.Next(ctx)
		if err != nil {
			return nil, 0, err
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind != exec.MsgBarrier {
			msgs = append(msgs, m)
			continue
		}
		snaps := make([][]byte, len(p.ops))
		for i, op := range p.ops {
			st, ok := op.(exec.Stateful)
			if !ok {
				return nil, 0, errNoCheckpoint
			}
			var buf bytes.Buffer
			if err := st.State().Snapshot(&buf); err != nil {
				if errors.Is(err, exec.ErrSnapshotUnsupported) {
					return nil, 0, errNoCheckpoint
				}
				return nil, 0, err
			}
			snaps[i] = buf.Bytes()
		}
		if err := p.top.Close(); err != nil {
			return nil, 0, err
		}
		for name, s := range sources {
			ns := *s // continue where the old source stopped
			sources[name] = &ns
		}
		if p, err = c.build(sources, clk, mem); err != nil {
			return nil, 0, err
		}
		for i, op := range p.ops {
			if err := op.(exec.Stateful).State().Restore(bytes.NewReader(snaps[i])); err != nil {
				return nil, 0, err
			}
		}
		if err := p.top.Open(ctx); err != nil {
			return nil, 0, err
		}
		t.Logf("batch size %d: checkpoint %d restored", batchSize, m.Barrier)
	}
	if os.Getenv("STREAM_GOLDEN_LOG") != "" {
		for _, m := range msgs {
			if m.Kind == exec.MsgWatermark {
				t.Logf("wm %s", time.Duration(m.Watermark)*time.Microsecond)
			}
			for i := 0; m.Kind == exec.MsgBatch && i < int(m.Batch.Rec.NumRows()); i++ {
				t.Logf("%s %s", m.Batch.Op(i), stRow(m.Batch.Rec, i))
			}
		}
	}
	got, err := foldRows(msgs)
	var late int64
	for _, lc := range p.counters {
		late += lc.LateRows()
	}
	return got, late, err
}

// foldRows applies a changelog (rows rendered by stRow) and returns what
// remains, sorted.
func foldRows(msgs []exec.Message) ([]string, error) {
	count := map[string]int{}
	for _, m := range msgs {
		if m.Kind != exec.MsgBatch {
			continue
		}
		for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
			row := stRow(m.Batch.Rec, i)
			if m.Batch.Op(i).IsRetraction() {
				if count[row] == 0 {
					return nil, fmt.Errorf("retraction of absent row %q", row)
				}
				count[row]--
			} else {
				count[row]++
			}
		}
	}
	var out []string
	for row, n := range count {
		for ; n > 0; n-- {
			out = append(out, row)
		}
	}
	sort.Strings(out)
	return out, nil
}

func buildGoldenOp(op goldenOp, child exec.Operator, streams map[string]exec.Operator, clk *clock, mem memory.Allocator) (exec.Operator, error) {
	s := child.Schema()
	a := goldenArgs{op.args, s}
	switch op.name {
	case "watermark":
		ts, err := a.colIndex("ts")
		if err != nil {
			return nil, err
		}
		opts := exec.WatermarkOptions{PartitionCol: -1, Now: clk.Now, Mem: mem, IdleTimeout: a.dur("idle"), AllowedLateness: a.dur("lateness")}
		if _, ok := op.args["partition"]; ok {
			if opts.PartitionCol, err = a.colIndex("partition"); err != nil {
				return nil, err
			}
		}
		return exec.NewWatermarkAssigner(child, ts, a.dur("delay"), opts)
	case "tumble", "hop", "cumulate", "session":
		spec := exec.WindowSpec{Size: a.dur("size"), Slide: a.dur("slide") + a.dur("step"), Gap: a.dur("gap"), AllowedLateness: a.dur("lateness")}
		spec.Kind = map[string]exec.WindowKind{"tumble": exec.Tumble, "hop": exec.Hop, "cumulate": exec.Cumulate, "session": exec.Session}[op.name]
		var err error
		if spec.TimeCol, err = a.col(op.args["ts"]); err != nil {
			return nil, err
		}
		groups, err := a.cols("group")
		if err != nil {
			return nil, err
		}
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.(*expr.Column).Name
		}
		aggs, err := a.aggs()
		if err != nil {
			return nil, err
		}
		w, err := exec.NewWindowAggregate(child, spec, groups, names, aggs, mem)
		if err != nil {
			return nil, err
		}
		w.SetRetractable(op.args["retract"] == "true")
		return w, nil
	case "dedup":
		keys, err := a.cols("keys")
		if err != nil {
			return nil, err
		}
		var order expr.Expr
		if o := op.args["order"]; o != "" {
			if order, err = a.col(o); err != nil {
				return nil, err
			}
		}
		d, err := exec.NewDeduplicate(child, keys, order, op.args["keep"] == "last", mem)
		if err != nil {
			return nil, err
		}
		if ttl := a.dur("ttl"); ttl > 0 {
			d.SetStateTTL(ttl)
		}
		return d, nil
	case "topn":
		n, err := strconv.Atoi(op.args["n"])
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		part, err := a.cols("partition")
		if err != nil {
			return nil, err
		}
		var keys []exec.SortKey
		for _, o := range strings.Split(op.args["order"], ",") {
			name, dir, _ := strings.Cut(o, ":")
			c, err := a.col(name)
			if err != nil {
				return nil, err
			}
			desc := dir == "desc"
			keys = append(keys, exec.SortKey{Expr: c, Desc: desc, NullsFirst: !desc})
		}
		tn, err := exec.NewStreamingTopN(child, part, keys, n, mem)
		if err != nil {
			return nil, err
		}
		tn.SetRetractable(op.args["retract"] == "true")
		if o := op.args["offset"]; o != "" {
			m, err := strconv.Atoi(o)
			if err != nil {
				return nil, fmt.Errorf("offset: %w", err)
			}
			if err := tn.SetOffset(m); err != nil {
				return nil, err
			}
		}
		tn.SetStateTTL(a.dur("ttl"))
		if e := op.args["expire"]; e != "" {
			c, err := a.col(e)
			if err != nil {
				return nil, err
			}
			if err := tn.SetPartitionExpiry(c); err != nil {
				return nil, err
			}
		}
		return tn, nil
	case "intervaljoin":
		left, right, lk, rk, err := goldenJoinInputs(op, streams)
		if err != nil {
			return nil, err
		}
		la, ra := goldenArgs{op.args, left.Schema()}, goldenArgs{op.args, right.Schema()}
		lt, err := la.col(op.args["ltime"])
		if err != nil {
			return nil, err
		}
		rt, err := ra.col(op.args["rtime"])
		if err != nil {
			return nil, err
		}
		return exec.NewIntervalJoin(left, right, lk, rk, lt, rt, la.dur("lower"), la.dur("upper"), nil, mem)
	}
	if b, ok := extraGoldenOps[op.name]; ok {
		return b(op, child, streams, mem)
	}
	return nil, fmt.Errorf("unknown operator")
}

type goldenArgs struct {
	m map[string]string
	s *arrow.Schema
}

func (a goldenArgs) dur(k string) time.Duration {
	d, _ := time.ParseDuration(a.m[k])
	return d
}

func (a goldenArgs) col(name string) (expr.Expr, error) {
	idx := a.s.FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("no column %q", name)
	}
	return &expr.Column{Index: idx[0], Name: name, T: a.s.Field(idx[0]).Type}, nil
}

func (a goldenArgs) colIndex(k string) (int, error) {
	c, err := a.col(a.m[k])
	if err != nil {
		return 0, err
	}
	return c.(*expr.Column).Index, nil
}

func (a goldenArgs) cols(k string) ([]expr.Expr, error) {
	var out []expr.Expr
	if a.m[k] == "" {
		return nil, nil
	}
	for _, name := range strings.Split(a.m[k], ",") {
		c, err := a.col(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// aggs parses aggs=count(*),max(v),count_distinct(v).
func (a goldenArgs) aggs() ([]exec.AggCall, error) {
	var out []exec.AggCall
	for _, call := range strings.Split(a.m["aggs"], ",") {
		fn, arg, ok := strings.Cut(strings.TrimSuffix(call, ")"), "(")
		if !ok {
			return nil, fmt.Errorf("aggregate %q: want fn(arg)", call)
		}
		ac := exec.AggCall{Func: fn, Name: call}
		if arg == "*" {
			ac.Func = "count_star"
		} else {
			if d, ok := strings.CutSuffix(fn, "_distinct"); ok {
				ac.Func, ac.Distinct = d, true
			}
			c, err := a.col(arg)
			if err != nil {
				return nil, err
			}
			ac.Args = []expr.Expr{c}
		}
		out = append(out, ac)
	}
	if slices.ContainsFunc(out, func(c exec.AggCall) bool { return c.Func == "" }) {
		return nil, fmt.Errorf("empty aggregate")
	}
	return out, nil
}
