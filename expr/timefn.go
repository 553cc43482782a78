package expr

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Time functions work in UTC on Timestamp(µs, UTC) values; DATE arguments
// are widened to TIMESTAMP at midnight and strings are parsed (NULL when
// unparseable). NOW() and friends return the statement time (WithNow).
//
// Intervals: DATE_ADD/DATE_SUB take the TiDB parser's shape
// date_add(x, value, 'UNIT') where UNIT is a string literal
// (MICROSECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR or a
// composite like 'DAY_HOUR' with a string value such as '1 2'). MONTH,
// QUARTER and YEAR are calendar arithmetic clamped to the month's last day.

func init() {
	nowDoc := FunctionDoc{Signature: "NOW([fsp])", Description: "The statement's start time (same for every row), with fsp fractional digits (default 0).", Example: "SELECT NOW()"}
	register("now", nowDoc, fixedArgs(0, 1, tTS, tInt64), compileNow)
	for _, a := range []string{"current_timestamp", "localtime", "localtimestamp", "sysdate"} {
		alias(a, "now")
	}
	register("utc_timestamp", FunctionDoc{Signature: "UTC_TIMESTAMP([fsp])", Description: "Same as NOW() (the engine runs in UTC).", Example: "SELECT UTC_TIMESTAMP()"},
		fixedArgs(0, 1, tTS, tInt64), compileNow)
	register("curdate", FunctionDoc{Signature: "CURDATE()", Description: "The statement's date.", Example: "SELECT CURDATE()"},
		fixedArgs(0, 0, tDate, tInt64), compileNow)
	alias("current_date", "curdate")
	alias("utc_date", "curdate")
	register("curtime", FunctionDoc{Signature: "CURTIME([fsp])", Description: "The statement's time of day.", Example: "SELECT CURTIME()"},
		fixedArgs(0, 1, tTime, tInt64), compileNow)
	alias("current_time", "curtime")
	alias("utc_time", "curtime")

	registerRow("date", FunctionDoc{Signature: "DATE(x)", Description: "The date part of a timestamp or date string.", Example: "SELECT DATE('2024-01-02 03:04:05')"},
		1, 1, tDate, []arrow.DataType{tTS}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.Date32Builder).Append(arrow.Date32(floorDiv(a.ts(0, i), usPerDay)))
			return nil
		})
	registerRow("time", FunctionDoc{Signature: "TIME(x)", Description: "The time-of-day part.", Example: "SELECT TIME('2024-01-02 03:04:05')"},
		1, 1, tTime, []arrow.DataType{tTime}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.Time64Builder).Append(a.arrs[0].(*array.Time64).Value(i))
			return nil
		})
	registerRow("timestamp", FunctionDoc{Signature: "TIMESTAMP(x)", Description: "x as a TIMESTAMP.", Example: "SELECT TIMESTAMP('2024-01-02')"},
		1, 1, tTS, []arrow.DataType{tTS}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(a.ts(0, i)))
			return nil
		})
	registerRow("datediff", FunctionDoc{Signature: "DATEDIFF(a, b)", Description: "Days from b to a (dates only).", Example: "SELECT DATEDIFF('2024-03-01', '2024-02-01')"},
		2, 2, tInt64, []arrow.DataType{tTS, tTS}, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, floorDiv(a.ts(0, i), usPerDay)-floorDiv(a.ts(1, i), usPerDay))
			return nil
		})
	registerRow("date_format", FunctionDoc{Signature: "DATE_FORMAT(ts, format)", Description: "Formats with MySQL specifiers (%Y-%m-%d %H:%i:%s, %W, %M, %f, %U, ...).", Example: "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d')"},
		2, 2, tString, []arrow.DataType{tTS, tString}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, dateFormat(a.ts(0, i), a.str(1, i)))
			return nil
		})
	register("unix_timestamp", FunctionDoc{Signature: "UNIX_TIMESTAMP([ts])", Description: "Seconds since 1970-01-01 UTC as BIGINT (fractions truncated); without argument the statement time.", Example: "SELECT UNIX_TIMESTAMP('2024-01-01')"},
		fixedArgs(0, 1, tInt64, tTS), func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
			if len(args) == 0 {
				return &nowEval{t: tInt64, mem: mem}, nil
			}
			return &rowEval{args: args, t: tInt64, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
				appendI64(b, floorDiv(a.ts(0, i), usPerSec))
				return nil
			}}, nil
		})
	registerRow("from_unixtime", FunctionDoc{Signature: "FROM_UNIXTIME(secs[, format])", Description: "TIMESTAMP from seconds since the epoch (fractions kept), or formatted text with format.", Example: "SELECT FROM_UNIXTIME(0)"},
		1, 2, tTS, []arrow.DataType{tFloat, tString}, nil)
	registry["from_unixtime"].resolve = func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		r := fixedArgs(1, 2, tTS, tFloat, tString)
		out, _, err := r(name, args)
		if err != nil {
			return nil, nil, err
		}
		if len(out) == 2 {
			return out, tString, nil
		}
		return out, tTS, nil
	}
	registry["from_unixtime"].compile = rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
		f := a.f64(0, i)
		if f < 0 || f > 32536771199.999999 {
			b.AppendNull()
			return nil
		}
		us := int64(math.Round(f * 1e6))
		if len(a.arrs) == 2 {
			appendStr(b, dateFormat(us, a.str(1, i)))
			return nil
		}
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
		return nil
	}, false)

	part := func(name, desc string, f func(t time.Time, us int64) int64) {
		registerRow(name, FunctionDoc{Signature: upper(name) + "(x)", Description: desc, Example: "SELECT " + upper(name) + "('2024-03-04 05:06:07')"},
			1, 1, tInt64, []arrow.DataType{tTS}, func(b array.Builder, a *rowArgs, i int) error {
				us := a.ts(0, i)
				appendI64(b, f(time.UnixMicro(us).UTC(), us))
				return nil
			})
	}
	part("year", "Year.", func(t time.Time, _ int64) int64 { return int64(t.Year()) })
	part("month", "Month 1-12.", func(t time.Time, _ int64) int64 { return int64(t.Month()) })
	part("day", "Day of month 1-31.", func(t time.Time, _ int64) int64 { return int64(t.Day()) })
	alias("dayofmonth", "day")
	part("hour", "Hour 0-23.", func(t time.Time, _ int64) int64 { return int64(t.Hour()) })
	part("minute", "Minute 0-59.", func(t time.Time, _ int64) int64 { return int64(t.Minute()) })
	part("second", "Second 0-59.", func(t time.Time, _ int64) int64 { return int64(t.Second()) })
	part("microsecond", "Microseconds 0-999999.", func(t time.Time, _ int64) int64 { return int64(t.Nanosecond() / 1000) })
	part("quarter", "Quarter 1-4.", func(t time.Time, _ int64) int64 { return int64(t.Month()+2) / 3 })
	part("dayofweek", "1 = Sunday ... 7 = Saturday.", func(t time.Time, _ int64) int64 { return int64(t.Weekday()) + 1 })
	part("weekday", "0 = Monday ... 6 = Sunday.", func(t time.Time, _ int64) int64 { return int64(t.Weekday()+6) % 7 })
	part("dayofyear", "Day of year 1-366.", func(t time.Time, _ int64) int64 { return int64(t.YearDay()) })
	part("weekofyear", "ISO week 1-53 (WEEK(x, 3)).", func(t time.Time, _ int64) int64 {
		w, _ := calcWeek(t, weekMode(3))
		return int64(w)
	})
	part("to_days", "Days since year 0.", func(t time.Time, us int64) int64 { return floorDiv(us, usPerDay) + daysTo1970 })
	registerRow("week", FunctionDoc{Signature: "WEEK(x[, mode])", Description: "Week number with MySQL week modes 0-7 (default 0).", Example: "SELECT WEEK('2024-03-04')"},
		1, 2, tInt64, []arrow.DataType{tTS, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			mode := int64(0)
			if len(a.arrs) > 1 {
				mode = a.i64(1, i)
			}
			w, _ := calcWeek(time.UnixMicro(a.ts(0, i)).UTC(), weekMode(int(mode)))
			appendI64(b, int64(w))
			return nil
		})
	strPart := func(name, desc string, f func(t time.Time) string) {
		registerRow(name, FunctionDoc{Signature: upper(name) + "(x)", Description: desc, Example: "SELECT " + upper(name) + "('2024-03-04')"},
			1, 1, tString, []arrow.DataType{tTS}, func(b array.Builder, a *rowArgs, i int) error {
				appendStr(b, f(time.UnixMicro(a.ts(0, i)).UTC()))
				return nil
			})
	}
	strPart("dayname", "Weekday name.", func(t time.Time) string { return t.Weekday().String() })
	strPart("monthname", "Month name.", func(t time.Time) string { return t.Month().String() })
	registerRow("last_day", FunctionDoc{Signature: "LAST_DAY(x)", Description: "Last day of x's month.", Example: "SELECT LAST_DAY('2024-02-10')"},
		1, 1, tDate, []arrow.DataType{tTS}, func(b array.Builder, a *rowArgs, i int) error {
			t := time.UnixMicro(a.ts(0, i)).UTC()
			last := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC)
			b.(*array.Date32Builder).Append(arrow.Date32FromTime(last))
			return nil
		})

	register("extract", FunctionDoc{Signature: "EXTRACT(unit FROM x)", Description: "A field of x: MICROSECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR or composites (YEAR_MONTH, DAY_HOUR, HOUR_MINUTE, MINUTE_SECOND, ...). Called as extract('UNIT', x).", Example: "SELECT EXTRACT(YEAR FROM NOW())"},
		resolveExtract, compileExtract)
	for _, n := range []string{"date_add", "date_sub"} {
		sign := "+"
		if n == "date_sub" {
			sign = "-"
		}
		register(n, FunctionDoc{Signature: upper(n) + "(x, INTERVAL v unit)", Description: "x " + sign + " the interval; called as " + n + "(x, v, 'UNIT'). DATE stays DATE for day-or-larger units.", Example: "SELECT " + upper(n) + "('2024-01-31', INTERVAL 1 MONTH)"},
			resolveDateAdd, compileDateAdd)
	}
	for _, n := range []string{"adddate", "subdate"} {
		register(n, FunctionDoc{Signature: upper(n) + "(x, days) | " + upper(n) + "(x, INTERVAL v unit)", Description: "DATE_ADD/DATE_SUB; a plain number is days.", Example: "SELECT " + upper(n) + "('2024-01-31', 2)"},
			resolveDateAdd, compileDateAdd)
	}
	register("add_months", FunctionDoc{Signature: "ADD_MONTHS(x, n)", Description: "x plus n calendar months (day clamped to the month's end); DATE stays DATE.", Example: "SELECT ADD_MONTHS('2024-01-31', 1)"},
		func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
			if len(args) == 3 {
				return resolveDateAdd(name, args) // already resolved
			}
			if err := arity(name, args, 2, 2); err != nil {
				return nil, nil, err
			}
			return resolveDateAdd(name, []Expr{args[0], args[1], Lit("MONTH")})
		}, compileDateAdd)
	register("timestampadd", FunctionDoc{Signature: "TIMESTAMPADD(unit, n, x)", Description: "x plus n units; called as timestampadd('UNIT', n, x).", Example: "SELECT TIMESTAMPADD(MINUTE, 5, '2024-01-01')"},
		func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
			if err := arity(name, args, 3, 3); err != nil {
				return nil, nil, err
			}
			if _, err := unitArg(name, args[0]); err != nil {
				// Already resolved to the (x, n, 'UNIT') order.
				return resolveDateAdd(name, args)
			}
			return resolveDateAdd(name, []Expr{args[2], args[1], args[0]})
		}, compileDateAdd)
	register("timestampdiff", FunctionDoc{Signature: "TIMESTAMPDIFF(unit, a, b)", Description: "b - a in whole units (MONTH/QUARTER/YEAR by calendar); called as timestampdiff('UNIT', a, b).", Example: "SELECT TIMESTAMPDIFF(MONTH, '2024-01-31', '2024-03-01')"},
		resolveTimestampDiff, compileTimestampDiff)
}

const daysTo1970 = 719528

// ---- NOW ----

type nowEval struct {
	t   arrow.DataType
	fsp int64
	mem memory.Allocator
}

func compileNow(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	e := &nowEval{t: c.T, mem: mem}
	if len(args) == 1 {
		lit, ok := constOf(args[0])
		if !ok || lit.Value == nil {
			return nil, errorf(c.Name, "precision must be a constant")
		}
		e.fsp = lit.Value.(int64)
		if e.fsp < 0 || e.fsp > 6 {
			return nil, errorf(c.Name, "precision %d out of range 0..6", e.fsp)
		}
	}
	return e, nil
}

func (e *nowEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	us := NowFrom(ctx).UnixMicro()
	unit := int64(math.Pow10(6 - int(e.fsp)))
	us = floorDiv(us, unit) * unit
	var lit *Literal
	switch e.t.ID() {
	case arrow.DATE32:
		lit = &Literal{Value: arrow.Date32(floorDiv(us, usPerDay)), T: tDate}
	case arrow.TIME64:
		lit = &Literal{Value: arrow.Time64(us - floorDiv(us, usPerDay)*usPerDay), T: tTime}
	case arrow.INT64:
		lit = &Literal{Value: floorDiv(us, usPerSec), T: tInt64}
	default:
		lit = &Literal{Value: arrow.Timestamp(us), T: tTS}
	}
	return literalArray(e.mem, lit, int(rec.NumRows()))
}

// ---- units ----

// unitArg reads a literal unit name.
func unitArg(fn string, e Expr) (string, error) {
	l, ok := e.(*Literal)
	if !ok {
		return "", errorf(fn, "unit must be a literal, got %s", e.String())
	}
	s, ok := l.Value.(string)
	if !ok {
		return "", errorf(fn, "unit must be a string literal, got %s", e.String())
	}
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimPrefix(u, "SQL_TSI_")
	if _, ok := unitFields[u]; !ok {
		return "", errorf(fn, "unknown unit %q", s)
	}
	return u, nil
}

// unitFields lists the fields of each unit, largest first.
var unitFields = map[string][]string{
	"MICROSECOND": {"MICROSECOND"}, "SECOND": {"SECOND"}, "MINUTE": {"MINUTE"}, "HOUR": {"HOUR"},
	"DAY": {"DAY"}, "WEEK": {"WEEK"}, "MONTH": {"MONTH"}, "QUARTER": {"QUARTER"}, "YEAR": {"YEAR"},
	"SECOND_MICROSECOND": {"SECOND", "MICROSECOND"}, "MINUTE_MICROSECOND": {"MINUTE", "SECOND", "MICROSECOND"},
	"MINUTE_SECOND": {"MINUTE", "SECOND"}, "HOUR_MICROSECOND": {"HOUR", "MINUTE", "SECOND", "MICROSECOND"},
	"HOUR_SECOND": {"HOUR", "MINUTE", "SECOND"}, "HOUR_MINUTE": {"HOUR", "MINUTE"},
	"DAY_MICROSECOND": {"DAY", "HOUR", "MINUTE", "SECOND", "MICROSECOND"}, "DAY_SECOND": {"DAY", "HOUR", "MINUTE", "SECOND"},
	"DAY_MINUTE": {"DAY", "HOUR", "MINUTE"}, "DAY_HOUR": {"DAY", "HOUR"}, "YEAR_MONTH": {"YEAR", "MONTH"},
}

var fieldMicros = map[string]int64{
	"MICROSECOND": 1, "SECOND": usPerSec, "MINUTE": 60 * usPerSec, "HOUR": 3600 * usPerSec, "DAY": usPerDay, "WEEK": 7 * usPerDay,
}

var fieldMonths = map[string]int64{"MONTH": 1, "QUARTER": 3, "YEAR": 12}

// interval is a parsed INTERVAL value: calendar months plus microseconds.
type interval struct{ months, us int64 }

// parseInterval reads the value of an INTERVAL in unit u. Simple units
// take numbers (SECOND keeps fractions, the others round); composite units
// take strings of numbers separated by any punctuation ('1 2:30').
func parseInterval(u string, num float64, text string, isText bool) (interval, bool) {
	fields := unitFields[u]
	if len(fields) == 1 {
		v := num
		if isText {
			f, ok := parseFloatPrefix(text)
			if !ok && strings.TrimSpace(text) == "" {
				return interval{}, false
			}
			v = f
		}
		f := fields[0]
		if m, ok := fieldMonths[f]; ok {
			return interval{months: int64(math.Round(v)) * m}, true
		}
		if f == "SECOND" {
			return interval{us: int64(math.Round(v * 1e6))}, true
		}
		return interval{us: int64(math.Round(v)) * fieldMicros[f]}, true
	}
	if !isText {
		text = strconv.FormatFloat(num, 'f', -1, 64)
	}
	s := strings.TrimSpace(text)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if len(parts) == 0 || len(parts) > len(fields) {
		return interval{}, false
	}
	// Missing leading fields: the given numbers fill the smallest fields.
	fields = fields[len(fields)-len(parts):]
	var iv interval
	for k, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return interval{}, false
		}
		f := fields[k]
		if f == "MICROSECOND" && len(parts) > 1 {
			// '1.5' SECOND_MICROSECOND means 1.500000 s.
			for l := len(p); l < 6; l++ {
				v *= 10
			}
		}
		if m, ok := fieldMonths[f]; ok {
			iv.months += v * m
		} else {
			iv.us += v * fieldMicros[f]
		}
	}
	if neg {
		iv.months, iv.us = -iv.months, -iv.us
	}
	return iv, true
}

// addMonths adds calendar months to a timestamp, clamping the day.
func addMonths(us int64, months int64) (int64, bool) {
	t := time.UnixMicro(us).UTC()
	y, m := int64(t.Year()), int64(t.Month())-1+months
	y += floorDiv(m, 12)
	m = m - floorDiv(m, 12)*12
	if y < 0 || y > 9999 {
		return 0, false
	}
	d := t.Day()
	if dim := daysIn(time.Month(m+1), int(y)); d > dim {
		d = dim
	}
	nt := time.Date(int(y), time.Month(m+1), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return nt.UnixMicro(), true
}

func resolveDateAdd(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if len(args) == 2 {
		if name == "adddate" || name == "subdate" {
			// ADDDATE(x, days).
			args = []Expr{args[0], args[1], Lit("DAY")}
		} else {
			// date_add(x, µs): the interval already in microseconds (the
			// planner's INTERVAL n UNIT * unit_micros form).
			args = []Expr{args[0], args[1], Lit("MICROSECOND")}
			if IsConstant(args[1]) {
				if f, err := Fold(context.Background(), args[1], nil); err == nil {
					args[1] = f
				}
			}
		}
	}
	if err := arity(name, args, 3, 3); err != nil {
		return nil, nil, err
	}
	u, err := unitArg(name, args[2])
	if err != nil {
		return nil, nil, err
	}
	x := args[0]
	var xt arrow.DataType = tTS
	if x.Type().ID() == arrow.DATE32 && (!strings.Contains(strings.Join(unitFields[u], ","), "SECOND") &&
		!strings.Contains(u, "HOUR") && !strings.Contains(u, "MINUTE") || wholeDays(u, args[1])) {
		xt = tDate
	}
	if !isTemporal(x.Type()) && !isNull(x.Type()) && !isStringy(x.Type()) && !isBinaryish(x.Type()) {
		return nil, nil, argTypeError(name, 0, x.Type())
	}
	cx, err := coerceArg(name, 0, x, xt)
	if err != nil {
		return nil, nil, err
	}
	v := args[1]
	var vt arrow.DataType = tFloat
	if len(unitFields[u]) > 1 || isStringy(v.Type()) {
		vt = tString
	} else if isInteger(v.Type()) || isBool(v.Type()) {
		vt = tInt64
	}
	cv, err := coerceArg(name, 1, v, vt)
	if err != nil {
		return nil, nil, err
	}
	return []Expr{cx, cv, &Literal{Value: u, T: tString}}, xt, nil
}

// wholeDays: a literal MICROSECOND interval that is a whole number of days
// keeps DATE arithmetic in DATE.
func wholeDays(u string, v Expr) bool {
	l, ok := v.(*Literal)
	if !ok || u != "MICROSECOND" {
		return false
	}
	n, ok := l.Value.(int64)
	return ok && n%usPerDay == 0
}

func compileDateAdd(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	u := c.Args[2].(*Literal).Value.(string)
	sign := int64(1)
	if c.Name == "date_sub" || c.Name == "subdate" {
		sign = -1
	}
	isDate := c.T.ID() == arrow.DATE32
	textVal := c.Args[1].Type().ID() == arrow.STRING
	intVal := c.Args[1].Type().ID() == arrow.INT64
	return &rowEval{args: args[:2], t: c.T, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
		var iv interval
		var ok bool
		switch {
		case intVal:
			n := a.i64(1, i)
			if m, isMonths := fieldMonths[u]; isMonths {
				iv = interval{months: n * m}
			} else {
				iv = interval{us: n * fieldMicros[u]}
			}
			ok = true
		case textVal:
			iv, ok = parseInterval(u, 0, a.str(1, i), true)
		default:
			iv, ok = parseInterval(u, a.f64(1, i), "", false)
		}
		if !ok {
			b.AppendNull()
			return nil
		}
		var us int64
		if isDate {
			us = int64(a.arrs[0].(*array.Date32).Value(i)) * usPerDay
		} else {
			us = a.ts(0, i)
		}
		if iv.months != 0 {
			if us, ok = addMonths(us, sign*iv.months); !ok {
				b.AppendNull()
				return nil
			}
		}
		us += sign * iv.us
		if isDate {
			b.(*array.Date32Builder).Append(arrow.Date32(floorDiv(us, usPerDay)))
		} else {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
		}
		return nil
	}}, nil
}

// ---- EXTRACT ----

func resolveExtract(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, 2); err != nil {
		return nil, nil, err
	}
	u, err := unitArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	x, err := coerceArg(name, 1, args[1], tTS)
	if err != nil {
		return nil, nil, err
	}
	return []Expr{&Literal{Value: u, T: tString}, x}, tInt64, nil
}

func compileExtract(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	u := c.Args[0].(*Literal).Value.(string)
	return &rowEval{args: args[1:], t: tInt64, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
		appendI64(b, extractUnit(u, a.ts(0, i)))
		return nil
	}}, nil
}

func extractField(f string, t time.Time) int64 {
	switch f {
	case "MICROSECOND":
		return int64(t.Nanosecond() / 1000)
	case "SECOND":
		return int64(t.Second())
	case "MINUTE":
		return int64(t.Minute())
	case "HOUR":
		return int64(t.Hour())
	case "DAY":
		return int64(t.Day())
	case "WEEK":
		w, _ := calcWeek(t, weekMode(0))
		return int64(w)
	case "MONTH":
		return int64(t.Month())
	case "QUARTER":
		return int64(t.Month()+2) / 3
	}
	return int64(t.Year())
}

var fieldWidth = map[string]int64{"MICROSECOND": 1000000, "SECOND": 100, "MINUTE": 100, "HOUR": 100, "DAY": 100, "MONTH": 100, "YEAR": 10000}

// extractUnit concatenates the unit's fields as digits, like MySQL
// (EXTRACT(DAY_HOUR ...) of the 4th at 05:00 is 405).
func extractUnit(u string, us int64) int64 {
	t := time.UnixMicro(us).UTC()
	var v int64
	for k, f := range unitFields[u] {
		if k > 0 {
			v *= fieldWidth[f]
		}
		v += extractField(f, t)
	}
	return v
}

// ---- TIMESTAMPDIFF ----

func resolveTimestampDiff(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 3, 3); err != nil {
		return nil, nil, err
	}
	u, err := unitArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	if len(unitFields[u]) > 1 {
		return nil, nil, errorf(name, "unit %s not supported", u)
	}
	a, err := coerceArg(name, 1, args[1], tTS)
	if err != nil {
		return nil, nil, err
	}
	b, err := coerceArg(name, 2, args[2], tTS)
	if err != nil {
		return nil, nil, err
	}
	return []Expr{&Literal{Value: u, T: tString}, a, b}, tInt64, nil
}

func compileTimestampDiff(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	u := c.Args[0].(*Literal).Value.(string)
	return &rowEval{args: args[1:], t: tInt64, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
		appendI64(b, timestampDiff(u, a.ts(0, i), a.ts(1, i)))
		return nil
	}}, nil
}

func timestampDiff(u string, a, b int64) int64 {
	if m, ok := fieldMonths[u]; ok {
		return monthsBetween(a, b) / m
	}
	return (b - a) / fieldMicros[u]
}

// monthsBetween counts whole calendar months from a to b (truncated toward
// zero, comparing day and time of day like MySQL).
func monthsBetween(a, b int64) int64 {
	neg := false
	if b < a {
		a, b = b, a
		neg = true
	}
	ta, tb := time.UnixMicro(a).UTC(), time.UnixMicro(b).UTC()
	months := int64(tb.Year()-ta.Year())*12 + int64(tb.Month()) - int64(ta.Month())
	// Compare the rest (day, time) of b against a.
	ra := int64(ta.Day())*usPerDay + (a - floorDiv(a, usPerDay)*usPerDay)
	rb := int64(tb.Day())*usPerDay + (b - floorDiv(b, usPerDay)*usPerDay)
	if rb < ra {
		months--
	}
	if neg {
		return -months
	}
	return months
}

// ---- DATE_FORMAT ----

var shortDays = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

func dateFormat(us int64, format string) string {
	t := time.UnixMicro(us).UTC()
	var sb strings.Builder
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch != '%' || i+1 == len(format) {
			sb.WriteByte(ch)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			sb.WriteString(shortDays[t.Weekday()])
		case 'b':
			sb.WriteString(t.Month().String()[:3])
		case 'c':
			sb.WriteString(strconv.Itoa(int(t.Month())))
		case 'D':
			sb.WriteString(strconv.Itoa(t.Day()) + ordinalSuffix(t.Day()))
		case 'd':
			fmt.Fprintf(&sb, "%02d", t.Day())
		case 'e':
			sb.WriteString(strconv.Itoa(t.Day()))
		case 'f':
			fmt.Fprintf(&sb, "%06d", t.Nanosecond()/1000)
		case 'H':
			fmt.Fprintf(&sb, "%02d", t.Hour())
		case 'h', 'I':
			fmt.Fprintf(&sb, "%02d", hour12(t.Hour()))
		case 'i':
			fmt.Fprintf(&sb, "%02d", t.Minute())
		case 'j':
			fmt.Fprintf(&sb, "%03d", t.YearDay())
		case 'k':
			sb.WriteString(strconv.Itoa(t.Hour()))
		case 'l':
			sb.WriteString(strconv.Itoa(hour12(t.Hour())))
		case 'M':
			sb.WriteString(t.Month().String())
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(t.Month()))
		case 'p':
			if t.Hour() < 12 {
				sb.WriteString("AM")
			} else {
				sb.WriteString("PM")
			}
		case 'r':
			ampm := "AM"
			if t.Hour() >= 12 {
				ampm = "PM"
			}
			fmt.Fprintf(&sb, "%02d:%02d:%02d %s", hour12(t.Hour()), t.Minute(), t.Second(), ampm)
		case 'S', 's':
			fmt.Fprintf(&sb, "%02d", t.Second())
		case 'T':
			fmt.Fprintf(&sb, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
		case 'U':
			w, _ := calcWeek(t, weekFirstWeekday)
			fmt.Fprintf(&sb, "%02d", w)
		case 'u':
			w, _ := calcWeek(t, weekMondayFirst)
			fmt.Fprintf(&sb, "%02d", w)
		case 'V':
			w, _ := calcWeek(t, weekYear|weekFirstWeekday)
			fmt.Fprintf(&sb, "%02d", w)
		case 'v':
			w, _ := calcWeek(t, weekYear|weekMondayFirst)
			fmt.Fprintf(&sb, "%02d", w)
		case 'X':
			_, y := calcWeek(t, weekYear|weekFirstWeekday)
			fmt.Fprintf(&sb, "%04d", y)
		case 'x':
			_, y := calcWeek(t, weekYear|weekMondayFirst)
			fmt.Fprintf(&sb, "%04d", y)
		case 'W':
			sb.WriteString(t.Weekday().String())
		case 'w':
			sb.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'Y':
			fmt.Fprintf(&sb, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&sb, "%02d", t.Year()%100)
		default:
			sb.WriteByte(format[i])
		}
	}
	return sb.String()
}

func hour12(h int) int {
	h %= 12
	if h == 0 {
		return 12
	}
	return h
}

func ordinalSuffix(d int) string {
	if d >= 11 && d <= 13 {
		return "th"
	}
	switch d % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// MySQL week computation (sql-common/my_time.cc calc_week).
const (
	weekMondayFirst  = 1
	weekYear         = 2
	weekFirstWeekday = 4
)

func weekMode(mode int) int {
	f := mode & 7
	if f&weekMondayFirst == 0 {
		f ^= weekFirstWeekday
	}
	return f
}

func dayNr(y, m, d int) int64 {
	return floorDiv(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix(), 86400) + daysTo1970
}

func daysInYear(y int) int64 {
	if (y%4 == 0 && y%100 != 0) || y%400 == 0 {
		return 366
	}
	return 365
}

func calcWeek(t time.Time, behaviour int) (int, int) {
	daynr := dayNr(t.Year(), int(t.Month()), t.Day())
	first := dayNr(t.Year(), 1, 1)
	mondayFirst := behaviour&weekMondayFirst != 0
	weekYr := behaviour&weekYear != 0
	firstWeekday := behaviour&weekFirstWeekday != 0
	sundayFirst := int64(0)
	if !mondayFirst {
		sundayFirst = 1
	}
	weekday := (first + 5 + sundayFirst) % 7
	year := t.Year()
	if t.Month() == 1 && int64(t.Day()) <= 7-weekday {
		if !weekYr && ((firstWeekday && weekday != 0) || (!firstWeekday && weekday >= 4)) {
			return 0, year
		}
		weekYr = true
		year--
		days := daysInYear(year)
		first -= days
		weekday = (weekday + 53*7 - days) % 7
	}
	var days int64
	if (firstWeekday && weekday != 0) || (!firstWeekday && weekday >= 4) {
		days = daynr - (first + (7 - weekday))
	} else {
		days = daynr - (first - weekday)
	}
	if weekYr && days >= 52*7 {
		weekday = (weekday + daysInYear(year)) % 7
		if (!firstWeekday && weekday < 4) || (firstWeekday && weekday == 0) {
			return 1, year + 1
		}
	}
	return int(days/7 + 1), year
}
