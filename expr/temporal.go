package expr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	usPerSec = int64(1_000_000)
	usPerDay = 86400 * usPerSec
)

// castToTemporal converts to DATE, TIME or TIMESTAMP.
func castToTemporal(ctx context.Context, in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	if out, ok := fastTemporalCast(in, to, mem); ok {
		return out, nil
	}
	n := in.Len()
	b := array.NewBuilder(mem, to)
	defer b.Release()
	b.Reserve(n)
	from := in.DataType()
	var unit arrow.TimeUnit = arrow.Microsecond
	switch tt := to.(type) {
	case *arrow.TimestampType:
		unit = tt.Unit
	case *arrow.Time64Type:
		unit = tt.Unit
	case *arrow.Time32Type:
		unit = tt.Unit
	}
	today := NowFrom(ctx).UTC().Truncate(24 * time.Hour).UnixMicro()
	for i := 0; i < n; i++ {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		// us holds the value as µs since the epoch (timestamps, dates) or
		// since midnight (times).
		var us int64
		ok := true
		isTimeVal := false
		switch {
		case isStringy(from) || isBinaryish(from):
			s, _ := textOf(in, i)
			if to.ID() == arrow.TIME64 || to.ID() == arrow.TIME32 {
				us, ok = parseTimeOfDay(s)
				isTimeVal = true
			} else {
				us, ok = parseTimestamp(s)
			}
		case isTemporal(from):
			switch v := Scalar(in, i).(type) {
			case arrow.Date32:
				us = int64(v) * usPerDay
			case arrow.Timestamp:
				us = int64(v)
			case arrow.Time64:
				us = int64(v)
				isTimeVal = true
			}
		case isInteger(from) || isFloat(from) || isDecimal(from):
			var x int64
			switch v := Scalar(in, i).(type) {
			case int64:
				x = v
			case uint64:
				x = int64(v)
			case float64:
				x = int64(v)
			default:
				x = int64(v.(interface{ ToFloat64(int32) float64 }).ToFloat64(from.(*arrow.Decimal128Type).Scale))
			}
			us, ok = parseTimestamp(fmt.Sprint(x))
		default:
			return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(to))}
		}
		if !ok {
			b.AppendNull()
			continue
		}
		switch bb := b.(type) {
		case *array.Date32Builder:
			bb.Append(arrow.Date32(floorDiv(us, usPerDay)))
		case *array.Date64Builder:
			bb.Append(arrow.Date64(floorDiv(us, usPerDay) * 86_400_000))
		case *array.TimestampBuilder:
			if isTimeVal {
				us += today
			}
			bb.Append(arrow.Timestamp(fromMicros(us, unit)))
		case *array.Time64Builder:
			if !isTimeVal {
				us -= floorDiv(us, usPerDay) * usPerDay
			}
			bb.Append(arrow.Time64(fromMicros(us, unit)))
		case *array.Time32Builder:
			if !isTimeVal {
				us -= floorDiv(us, usPerDay) * usPerDay
			}
			bb.Append(arrow.Time32(fromMicros(us, unit)))
		default:
			return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(to))}
		}
	}
	return b.NewArray(), nil
}

// parseTimestamp reads the MySQL date/datetime literal forms: YYYY-MM-DD,
// YYYY-MM-DD hh:mm:ss[.ffffff] (also 'T' separator, '/' date separator,
// one-digit fields, trailing Z or ±hh:mm offset), YYYYMMDD and
// YYYYMMDDhhmmss[.ffffff]. It returns µs since the epoch (UTC).
func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	// Compact numeric forms.
	if allDigits(s, '.') {
		digits, frac, _ := strings.Cut(s, ".")
		switch len(digits) {
		case 8:
			s = digits[0:4] + "-" + digits[4:6] + "-" + digits[6:8]
		case 14:
			s = digits[0:4] + "-" + digits[4:6] + "-" + digits[6:8] + " " + digits[8:10] + ":" + digits[10:12] + ":" + digits[12:14]
			if frac != "" {
				s += "." + frac
			}
		default:
			return 0, false
		}
	}
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
	sep := func(chars string) bool {
		if p < len(s) && strings.IndexByte(chars, s[p]) >= 0 {
			p++
			return true
		}
		return false
	}
	y, ok := num(4)
	if !ok || !sep("-/") {
		return 0, false
	}
	mo, ok := num(2)
	if !ok || !sep("-/") {
		return 0, false
	}
	d, ok := num(2)
	if !ok {
		return 0, false
	}
	var h, mi, sec, us int
	if p < len(s) {
		if !sep(" T") {
			return 0, false
		}
		for p < len(s) && s[p] == ' ' {
			p++
		}
		if h, ok = num(2); !ok {
			return 0, false
		}
		if sep(":") {
			if mi, ok = num(2); !ok {
				return 0, false
			}
			if sep(":") {
				if sec, ok = num(2); !ok {
					return 0, false
				}
				if sep(".") {
					start := p
					f, _ := num(9)
					nd := p - start
					for ; nd < 6; nd++ {
						f *= 10
					}
					for ; nd > 6; nd-- {
						f /= 10
					}
					us = f
				}
			}
		}
	}
	offset := 0
	if p < len(s) {
		rest := strings.TrimSpace(s[p:])
		switch {
		case rest == "Z" || rest == "z" || rest == "UTC" || rest == "":
		case (rest[0] == '+' || rest[0] == '-') && len(rest) >= 3:
			sign := 1
			if rest[0] == '-' {
				sign = -1
			}
			hh, mm, ok2 := parseOffset(rest[1:])
			if !ok2 {
				return 0, false
			}
			offset = sign * (hh*3600 + mm*60)
		default:
			return 0, false
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo), y) || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return t.UnixMicro() + int64(us) - int64(offset)*usPerSec, true
}

func parseOffset(s string) (int, int, bool) {
	s = strings.ReplaceAll(s, ":", "")
	if len(s) != 4 && len(s) != 2 || !allDigits(s, 0) {
		return 0, 0, false
	}
	hh := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := 0
	if len(s) == 4 {
		mm = int(s[2]-'0')*10 + int(s[3]-'0')
	}
	return hh, mm, true
}

func allDigits(s string, also byte) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (also == 0 || s[i] != also) {
			return false
		}
	}
	return s != ""
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTimeOfDay reads [-][D ]hh:mm[:ss[.ffffff]], hhmmss or a datetime
// (keeping its time part) and returns µs.
func parseTimeOfDay(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if us, ok := parseTimestamp(s); ok && strings.ContainsAny(s, "-/") && len(s) > 10 {
		return us - floorDiv(us, usPerDay)*usPerDay, true
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	days := 0
	if d, rest, ok := strings.Cut(s, " "); ok && allDigits(d, 0) {
		for _, c := range d {
			days = days*10 + int(c-'0')
		}
		s = strings.TrimSpace(rest)
	}
	main, frac, _ := strings.Cut(s, ".")
	var h, m, sec int
	if strings.Contains(main, ":") {
		parts := strings.Split(main, ":")
		if len(parts) > 3 {
			return 0, false
		}
		vals := [3]int{}
		for i, p := range parts {
			if !allDigits(p, 0) {
				return 0, false
			}
			for _, c := range p {
				vals[i] = vals[i]*10 + int(c-'0')
			}
		}
		h, m, sec = vals[0], vals[1], vals[2]
	} else {
		if !allDigits(main, 0) || len(main) > 7 {
			return 0, false
		}
		v := 0
		for _, c := range main {
			v = v*10 + int(c-'0')
		}
		h, m, sec = v/10000, v/100%100, v%100
	}
	if m > 59 || sec > 59 {
		return 0, false
	}
	us := 0
	if frac != "" {
		if !allDigits(frac, 0) {
			return 0, false
		}
		for i := 0; i < 6; i++ {
			us *= 10
			if i < len(frac) {
				us += int(frac[i] - '0')
			}
		}
	}
	total := (int64(days*24+h)*3600+int64(m*60+sec))*usPerSec + int64(us)
	if neg {
		total = -total
	}
	return total, true
}

// fastTemporalCast handles the common DATE ⇄ TIMESTAMP and timestamp unit
// conversions with typed loops.
func fastTemporalCast(in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, bool) {
	n := in.Len()
	tt, toTS := to.(*arrow.TimestampType)
	switch from := in.DataType().(type) {
	case *arrow.Date32Type:
		if !toTS {
			return nil, false
		}
		mul := fromMicros(usPerDay, tt.Unit)
		src := values[int32](in)
		buf, dst := allocFixed[int64](mem, n)
		for i, d := range src {
			dst[i] = int64(d) * mul
		}
		validity, nulls := andValidity(mem, n, in)
		return makeArray(to, n, validity, buf, nulls), true
	case *arrow.TimestampType:
		src := values[int64](in)
		switch {
		case toTS:
			buf, dst := allocFixed[int64](mem, n)
			for i, v := range src {
				dst[i] = fromMicros(toMicros(v, from.Unit), tt.Unit)
			}
			validity, nulls := andValidity(mem, n, in)
			return makeArray(to, n, validity, buf, nulls), true
		case to.ID() == arrow.DATE32:
			buf, dst := allocFixed[int32](mem, n)
			for i, v := range src {
				dst[i] = int32(floorDiv(toMicros(v, from.Unit), usPerDay))
			}
			validity, nulls := andValidity(mem, n, in)
			return makeArray(to, n, validity, buf, nulls), true
		}
	}
	return nil, false
}
