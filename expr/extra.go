package expr

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // CONVERT_TZ works without a system zoneinfo
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func init() {
	registerRow("str_to_date", FunctionDoc{Signature: "STR_TO_DATE(s, format)", Description: "Parses s with DATE_FORMAT specifiers into a TIMESTAMP; NULL when it does not match.", Example: "SELECT STR_TO_DATE('04/03/2024 10:30', '%d/%m/%Y %H:%i')"},
		2, 2, tTS, strs2, func(b array.Builder, a *rowArgs, i int) error {
			us, ok := strToDate(a.str(0, i), a.str(1, i))
			if !ok {
				b.AppendNull()
				return nil
			}
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
			return nil
		})
	registerRow("format", FunctionDoc{Signature: "FORMAT(x, d)", Description: "x rounded to d decimals with thousands separators ('#,###,###.##').", Example: "SELECT FORMAT(1234567.891, 2)"},
		2, 2, tString, []arrow.DataType{tFloat, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, formatNumber(a.f64(0, i), a.i64(1, i)))
			return nil
		})
	registerRow("convert_tz", FunctionDoc{Signature: "CONVERT_TZ(ts, from_tz, to_tz)", Description: "Shifts a wall-clock TIMESTAMP between time zones (names like 'Europe/Paris' or offsets like '+02:00'); NULL for unknown zones.", Example: "SELECT CONVERT_TZ('2024-01-01 12:00:00', 'UTC', 'Asia/Tokyo')"},
		3, 3, tTS, []arrow.DataType{tTS, tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			from, ok1 := loadZone(a.str(1, i))
			to, ok2 := loadZone(a.str(2, i))
			if !ok1 || !ok2 {
				b.AppendNull()
				return nil
			}
			wall := time.UnixMicro(a.ts(0, i)).UTC()
			inFrom := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), from)
			out := inFrom.In(to)
			res := time.Date(out.Year(), out.Month(), out.Day(), out.Hour(), out.Minute(), out.Second(), out.Nanosecond(), time.UTC)
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(res.UnixMicro()))
			return nil
		})
	registerRow("time_to_sec", FunctionDoc{Signature: "TIME_TO_SEC(t)", Description: "Seconds of a TIME value.", Example: "SELECT TIME_TO_SEC('01:00:05')"},
		1, 1, tInt64, []arrow.DataType{tTime}, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(a.arrs[0].(*array.Time64).Value(i))/usPerSec)
			return nil
		})
	registerRow("sec_to_time", FunctionDoc{Signature: "SEC_TO_TIME(n)", Description: "TIME from seconds.", Example: "SELECT SEC_TO_TIME(3605)"},
		1, 1, tTime, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.Time64Builder).Append(arrow.Time64(a.i64(0, i) * usPerSec))
			return nil
		})
	registerRow("timediff", FunctionDoc{Signature: "TIMEDIFF(a, b)", Description: "a - b as TIME.", Example: "SELECT TIMEDIFF('2024-01-01 12:00:00', '2024-01-01 10:30:00')"},
		2, 2, tTime, []arrow.DataType{tTS, tTS}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.Time64Builder).Append(arrow.Time64(a.ts(0, i) - a.ts(1, i)))
			return nil
		})
	registerRow("from_days", FunctionDoc{Signature: "FROM_DAYS(n)", Description: "DATE from a day number (TO_DAYS inverse).", Example: "SELECT FROM_DAYS(739252)"},
		1, 1, tDate, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			b.(*array.Date32Builder).Append(arrow.Date32(a.i64(0, i) - daysTo1970))
			return nil
		})
	registerRow("makedate", FunctionDoc{Signature: "MAKEDATE(year, dayofyear)", Description: "DATE from a year and day of year; NULL when day < 1.", Example: "SELECT MAKEDATE(2024, 60)"},
		2, 2, tDate, []arrow.DataType{tInt64, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			y, d := a.i64(0, i), a.i64(1, i)
			if d < 1 || y < 0 || y > 9999 {
				b.AppendNull()
				return nil
			}
			t := time.Date(int(y), 1, int(d), 0, 0, 0, 0, time.UTC)
			b.(*array.Date32Builder).Append(arrow.Date32FromTime(t))
			return nil
		})
	registerRow("to_base64", FunctionDoc{Signature: "TO_BASE64(s)", Description: "Base64 encoding.", Example: "SELECT TO_BASE64('abc')"},
		1, 1, tString, []arrow.DataType{tBinary}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, base64.StdEncoding.EncodeToString([]byte(a.str(0, i))))
			return nil
		})
	registerRow("from_base64", FunctionDoc{Signature: "FROM_BASE64(s)", Description: "Base64 decoding; NULL for invalid input.", Example: "SELECT FROM_BASE64('YWJj')"},
		1, 1, tBinary, strs1, func(b array.Builder, a *rowArgs, i int) error {
			out, err := base64.StdEncoding.DecodeString(a.str(0, i))
			if err != nil {
				b.AppendNull()
				return nil
			}
			b.(*array.BinaryBuilder).Append(out)
			return nil
		})
	registerRow("unhex", FunctionDoc{Signature: "UNHEX(s)", Description: "Bytes from hex digits; NULL for invalid input.", Example: "SELECT UNHEX('616263')"},
		1, 1, tBinary, strs1, func(b array.Builder, a *rowArgs, i int) error {
			s := a.str(0, i)
			if len(s)%2 == 1 {
				s = "0" + s
			}
			out, err := hex.DecodeString(s)
			if err != nil {
				b.AppendNull()
				return nil
			}
			b.(*array.BinaryBuilder).Append(out)
			return nil
		})
	register("field", FunctionDoc{Signature: "FIELD(x, a, b, ...)", Description: "1-based position of x among the arguments; 0 when absent or x is NULL.", Example: "SELECT FIELD('b', 'a', 'b', 'c')"},
		resolveField, rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			if a.null(0, i) {
				appendI64(b, 0)
				return nil
			}
			x := FormatValue(a.arrs[0], i)
			for k := 1; k < len(a.arrs); k++ {
				if !a.null(k, i) && FormatValue(a.arrs[k], i) == x {
					appendI64(b, int64(k))
					return nil
				}
			}
			appendI64(b, 0)
			return nil
		}, true))
	registerRow("elt", FunctionDoc{Signature: "ELT(n, s1, s2, ...)", Description: "The n-th string; NULL when out of range.", Example: "SELECT ELT(2, 'a', 'b', 'c')"},
		2, -1, tString, []arrow.DataType{tInt64, tString}, nil)
	registry["elt"].compile = rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
		if a.null(0, i) {
			b.AppendNull()
			return nil
		}
		n := a.i64(0, i)
		if n < 1 || n >= int64(len(a.arrs)) || a.null(int(n), i) {
			b.AppendNull()
			return nil
		}
		appendStr(b, a.str(int(n), i))
		return nil
	}, true)
	registerRow("insert", FunctionDoc{Signature: "INSERT(s, pos, len, new)", Description: "s with len characters from pos replaced by new (s unchanged when pos is out of range).", Example: "SELECT INSERT('Quadratic', 3, 4, 'What')"},
		4, 4, tString, []arrow.DataType{tString, tInt64, tInt64, tString}, func(b array.Builder, a *rowArgs, i int) error {
			s, pos, n, repl := []rune(a.str(0, i)), a.i64(1, i), a.i64(2, i), a.str(3, i)
			if pos < 1 || pos > int64(len(s)) {
				appendStr(b, string(s))
				return nil
			}
			end := int64(len(s))
			if n >= 0 && pos-1+n < end {
				end = pos - 1 + n
			}
			appendStr(b, string(s[:pos-1])+repl+string(s[end:]))
			return nil
		})
	registerRow("char", FunctionDoc{Signature: "CHAR(n, ...)", Description: "The characters with the given code points.", Example: "SELECT CHAR(77, 121)"},
		1, -1, tString, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			var sb strings.Builder
			for k := range a.arrs {
				if c := a.i64(k, i); c >= 0 && c <= utf8.MaxRune {
					sb.WriteRune(rune(c))
				}
			}
			appendStr(b, sb.String())
			return nil
		})
	register("rand", FunctionDoc{Signature: "RAND([seed])", Description: "A uniform DOUBLE in [0, 1) per row; with a seed, a repeatable sequence per batch.", Example: "SELECT RAND()"},
		fixedArgs(0, 1, tFloat, tInt64), func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
			e := &randEval{mem: mem}
			if len(args) == 1 {
				lit, ok := constOf(args[0])
				if !ok || lit.Value == nil {
					return nil, errorf("rand", "seed must be a constant")
				}
				e.seed, e.seeded = lit.Value.(int64), true
			}
			return e, nil
		})
	register("uuid", FunctionDoc{Signature: "UUID()", Description: "A random (version 4) UUID per row.", Example: "SELECT UUID()"},
		fixedArgs(0, 0, tString, tString), func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
			return &uuidEval{mem: mem}, nil
		})
}

func resolveField(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, -1); err != nil {
		return nil, nil, err
	}
	allNum := true
	for _, a := range args {
		if !isNumeric(a.Type()) && !isNull(a.Type()) && !isBool(a.Type()) {
			allNum = false
		}
	}
	var want arrow.DataType = tString
	if allNum {
		want = tFloat
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		c, err := coerceArg(name, i, a, want)
		if err != nil {
			return nil, nil, err
		}
		out[i] = c
	}
	return out, tInt64, nil
}

type randEval struct {
	seed   int64
	seeded bool
	mem    memory.Allocator
}

func (e *randEval) Eval(_ context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	var r *mrand.Rand
	if e.seeded {
		r = mrand.New(mrand.NewPCG(uint64(e.seed), 0x9e3779b97f4a7c15))
	} else {
		r = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	buf, vals := allocFixed[float64](e.mem, n)
	for i := range vals {
		vals[i] = r.Float64()
	}
	return makeArray(tFloat, n, nil, buf, 0), nil
}

type uuidEval struct{ mem memory.Allocator }

func (e *uuidEval) Eval(_ context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	b := array.NewStringBuilder(e.mem)
	defer b.Release()
	var u [16]byte
	for i := 0; i < n; i++ {
		if _, err := rand.Read(u[:]); err != nil {
			return nil, &Error{Func: "uuid", Msg: err.Error()}
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		b.Append(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
	}
	return b.NewArray(), nil
}

// formatNumber renders like MySQL FORMAT: rounded half away from zero,
// comma thousands separators, '.' decimal point.
func formatNumber(x float64, d int64) string {
	d = max(0, min(d, 30))
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	p := math.Pow(10, float64(d))
	r := math.Round(x*p) / p
	s := strconv.FormatFloat(math.Abs(r), 'f', int(d), 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var sb strings.Builder
	if r < 0 {
		sb.WriteByte('-')
	}
	for k, c := range intPart {
		if k > 0 && (len(intPart)-k)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	if d > 0 {
		sb.WriteByte('.')
		sb.WriteString(frac)
	}
	return sb.String()
}

func loadZone(name string) (*time.Location, bool) {
	n := strings.TrimSpace(name)
	if strings.EqualFold(n, "UTC") || strings.EqualFold(n, "SYSTEM") || n == "" {
		return time.UTC, true
	}
	if (n[0] == '+' || n[0] == '-') && len(n) > 1 {
		hh, mm, ok := parseOffset(n[1:])
		if !ok || hh > 14 || mm > 59 {
			return nil, false
		}
		off := hh*3600 + mm*60
		if n[0] == '-' {
			off = -off
		}
		return time.FixedZone(n, off), true
	}
	loc, err := time.LoadLocation(n)
	if err != nil {
		return nil, false
	}
	return loc, true
}

var monthNames = map[string]int{}

func init() {
	for m := time.January; m <= time.December; m++ {
		monthNames[strings.ToLower(m.String())] = int(m)
		monthNames[strings.ToLower(m.String()[:3])] = int(m)
	}
}

// strToDate parses s against a DATE_FORMAT-style format.
func strToDate(s, format string) (int64, bool) {
	y, mo, d, h, mi, sec, us := 0, 1, 1, 0, 0, 0, 0
	pm, ampm := false, false
	p := 0
	num := func(maxDigits int) (int, bool) {
		start := p
		v := 0
		for p < len(s) && p-start < maxDigits && s[p] >= '0' && s[p] <= '9' {
			v = v*10 + int(s[p]-'0')
			p++
		}
		return v, p > start
	}
	var ok bool
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			if c == ' ' {
				for p < len(s) && s[p] == ' ' {
					p++
				}
				continue
			}
			if p >= len(s) || s[p] != c {
				return 0, false
			}
			p++
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			y, ok = num(4)
		case 'y':
			y, ok = num(2)
			if y < 70 {
				y += 2000
			} else {
				y += 1900
			}
		case 'm', 'c':
			mo, ok = num(2)
		case 'd', 'e':
			d, ok = num(2)
		case 'H', 'k':
			h, ok = num(2)
		case 'h', 'I', 'l':
			h, ok = num(2)
			ampm = true
		case 'i':
			mi, ok = num(2)
		case 's', 'S':
			sec, ok = num(2)
		case 'f':
			start := p
			us, ok = num(6)
			for k := p - start; k < 6; k++ {
				us *= 10
			}
		case 'p':
			ok = p+2 <= len(s)
			if ok {
				switch strings.ToUpper(s[p : p+2]) {
				case "AM":
				case "PM":
					pm = true
				default:
					ok = false
				}
				p += 2
			}
		case 'M', 'b':
			end := p
			for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
				end++
			}
			mo, ok = monthNames[strings.ToLower(s[p:end])]
			p = end
		case 'T':
			h, ok = num(2)
			if ok && p < len(s) && s[p] == ':' {
				p++
				mi, ok = num(2)
				if ok && p < len(s) && s[p] == ':' {
					p++
					sec, ok = num(2)
				}
			}
		case '%':
			ok = p < len(s) && s[p] == '%'
			p++
		default:
			return 0, false
		}
		if !ok {
			return 0, false
		}
	}
	if ampm {
		if h < 1 || h > 12 {
			return 0, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo), y) || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC).UnixMicro() + int64(us), true
}
