package expr

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestTimeFunctions(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	ts := Lit("2024-03-04 05:06:07.123456")
	runConst(t, []constCase{
		{c("year", ts), "2024"},
		{c("month", ts), "3"},
		{c("day", ts), "4"},
		{c("hour", ts), "5"},
		{c("minute", ts), "6"},
		{c("second", ts), "7"},
		{c("microsecond", ts), "123456"},
		{c("quarter", ts), "1"},
		{c("dayofweek", ts), "2"},
		{c("weekday", ts), "0"},
		{c("dayofyear", ts), "64"},
		{c("week", Lit("2024-01-01")), "0"},
		{c("week", Lit("2024-01-07")), "1"},
		{c("weekofyear", Lit("2024-12-30")), "1"},
		{c("dayname", ts), "Monday"},
		{c("monthname", ts), "March"},
		{c("date", ts), "2024-03-04"},
		{c("time", ts), "05:06:07.123456"},
		{c("last_day", Lit("2024-02-10")), "2024-02-29"},
		{c("datediff", Lit("2024-03-01"), Lit("2024-02-01 23:00:00")), "29"},
		{c("date_format", ts, Lit("%Y-%m-%d %H:%i:%s.%f %W %M %D %j %p %a %b %e %c %y %T %%")),
			"2024-03-04 05:06:07.123456 Monday March 4th 064 AM Mon Mar 4 3 24 05:06:07 %"},
		{c("date_format", Lit("2024-01-01"), Lit("%U %u %V %v %X %x")), "00 01 53 01 2023 2024"},
		{c("unix_timestamp", Lit("2024-01-01 00:00:01")), "1704067201"},
		{c("from_unixtime", Lit(1704067201)), "2024-01-01 00:00:01"},
		{c("from_unixtime", Lit(1704067201.5)), "2024-01-01 00:00:01.500000"},
		{c("from_unixtime", Lit(0), Lit("%Y")), "1970"},
		{c("extract", Lit("YEAR"), ts), "2024"},
		{c("extract", Lit("day_hour"), ts), "405"},
		{c("extract", Lit("YEAR_MONTH"), ts), "202403"},
		{c("extract", Lit("MICROSECOND"), ts), "123456"},
		{c("date_add", Lit("2024-01-31"), Lit(1), Lit("MONTH")), "2024-02-29 00:00:00"},
		{c("date_add", &Literal{Value: arrow.Date32(19753), T: tDate}, Lit(1), Lit("MONTH")), "2024-02-29"},
		{c("date_add", &Literal{Value: arrow.Date32(19753), T: tDate}, Lit(1), Lit("HOUR")), "2024-01-31 01:00:00"},
		{c("date_sub", ts, Lit(10), Lit("SECOND")), "2024-03-04 05:05:57.123456"},
		{c("date_add", ts, Lit(1.5), Lit("SECOND")), "2024-03-04 05:06:08.623456"},
		{c("date_add", ts, Lit("1 2"), Lit("DAY_HOUR")), "2024-03-05 07:06:07.123456"},
		{c("date_add", ts, Lit("-1:30"), Lit("HOUR_MINUTE")), "2024-03-04 03:36:07.123456"},
		{c("date_add", ts, Lit(1), Lit("YEAR")), "2025-03-04 05:06:07.123456"},
		{c("date_sub", Lit("2024-03-31"), Lit(1), Lit("QUARTER")), "2023-12-31 00:00:00"},
		{c("date_add", ts, Lit(2), Lit("WEEK")), "2024-03-18 05:06:07.123456"},
		{c("date_add", ts, Lit(5), Lit("MICROSECOND")), "2024-03-04 05:06:07.123461"},
		{c("date_add", Lit("bogus"), Lit(5), Lit("DAY")), "NULL"},
		{c("timestampdiff", Lit("MONTH"), Lit("2024-01-31"), Lit("2024-03-01")), "1"},
		{c("timestampdiff", Lit("MONTH"), Lit("2024-03-01"), Lit("2024-01-31")), "-1"},
		{c("timestampdiff", Lit("YEAR"), Lit("2020-02-29"), Lit("2024-02-28")), "3"},
		{c("timestampdiff", Lit("SECOND"), Lit("2024-01-01"), Lit("2024-01-01 00:01:00")), "60"},
		{c("timestampdiff", Lit("DAY"), Lit("2024-01-02"), Lit("2024-01-01 12:00:00")), "0"},
		{c("=", Lit("2024-01-01"), &Literal{Value: arrow.Date32(19723), T: tDate}), "true"},
		{c("<", ts, Lit("2024-03-04 05:06:08")), "true"},
	})
}

func TestNowIsFixedPerStatement(t *testing.T) {
	mem := checked(t)
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	ctx := WithNow(context.Background(), fixed)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), int64(2)})
	defer rec.Release()
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{call(t, "now"), "2024-05-06 07:08:09"},
		{call(t, "current_timestamp", Lit(6)), "2024-05-06 07:08:09.123456"},
		{call(t, "curdate"), "2024-05-06"},
		{call(t, "curtime"), "07:08:09"},
		{call(t, "unix_timestamp"), "1714979289"},
	} {
		ev, err := Compile(tc.e, mem)
		if err != nil {
			t.Fatal(err)
		}
		arr, err := ev.Eval(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < arr.Len(); i++ {
			if got := FormatValue(arr, i); got != tc.want {
				t.Errorf("%s row %d = %s, want %s", tc.e, i, got, tc.want)
			}
		}
		arr.Release()
	}
	if IsConstant(call(t, "now")) {
		t.Error("NOW() must not be folded")
	}
	if _, err := NewCall("date_add", Lit("2024-01-01"), Lit(1), Lit("FORTNIGHT")); err == nil {
		t.Error("unknown unit accepted")
	}
}

func TestPlannerIntervalShapes(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	day := &Literal{Value: arrow.Date32(19753), T: tDate} // 2024-01-31
	runConst(t, []constCase{
		{c("date_add", Lit("2024-01-01 00:00:00"), Lit(int64(90_000_000))), "2024-01-01 00:01:30"},
		{c("date_sub", Lit("2024-01-01 00:00:00"), Lit(int64(1))), "2023-12-31 23:59:59.999999"},
		{c("date_add", day, c("*", Lit(2), Lit(int64(86_400_000_000)))), "2024-02-02"},
		{c("date_add", day, Lit(int64(3_600_000_000))), "2024-01-31 01:00:00"},
		{c("add_months", day, Lit(1)), "2024-02-29"},
		{c("add_months", Lit("2024-03-31 10:00:00"), Lit(-1)), "2024-02-29 10:00:00"},
		{c("adddate", day, Lit(2)), "2024-02-02"},
		{c("subdate", day, Lit(31)), "2023-12-31"},
		{c("timestampadd", Lit("MINUTE"), Lit(5), Lit("2024-01-01")), "2024-01-01 00:05:00"},
		{c("&", Lit(6), Lit(3)), "2"},
		{c("|", Lit(6), Lit(3)), "7"},
		{c("^", Lit(6), Lit(3)), "5"},
		{c("<<", Lit(1), Lit(4)), "16"},
		{c(">>", Lit(256), Lit(4)), "16"},
		{c("~", Lit(0)), "18446744073709551615"},
		{c("&", Lit(-1), Lit(255)), "255"},
	})
}
