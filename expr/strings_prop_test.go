package expr

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestStringProperties checks identities of the string functions on random
// ASCII/multi-byte strings and positions, row by row.
func TestStringProperties(t *testing.T) {
	mem := checked(t)
	rng := rand.New(rand.NewSource(5))
	alphabet := []rune("ab.é€😀 ")
	const n = 200
	strs, nums := make([]any, n), make([]any, n)
	for i := range strs {
		k := rng.Intn(8)
		rs := make([]rune, k)
		for j := range rs {
			rs[j] = alphabet[rng.Intn(len(alphabet))]
		}
		strs[i] = string(rs)
		nums[i] = int64(rng.Intn(12) - 3)
	}
	rec := testBatch(t, mem, []arrow.DataType{tString, tInt64}, strs, nums)
	defer rec.Release()
	s, k := col(0, tString), col(1, tInt64)
	eval := func(e Expr) []string {
		got, err := evalStrings(t, mem, e, rec)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		return got
	}
	left := eval(call(t, "left", s, k))
	rest := eval(call(t, "substring", s, call(t, "+", call(t, "greatest", k, Lit(0)), Lit(1))))
	right := eval(call(t, "right", s, k))
	rev := eval(call(t, "reverse", call(t, "reverse", s)))
	lpad := eval(call(t, "lpad", s, k, Lit("é")))
	clen := eval(call(t, "char_length", s))
	blen := eval(call(t, "length", s))
	up := eval(call(t, "lower", call(t, "upper", s)))
	loc := eval(call(t, "locate", Lit("."), s))
	sub := eval(call(t, "substring", s, k, Lit(2)))
	for i := 0; i < n; i++ {
		str := strs[i].(string)
		kk := int(nums[i].(int64))
		rs := []rune(str)
		if left[i]+rest[i] != str {
			t.Errorf("left+rest of %q at %d: %q + %q", str, kk, left[i], rest[i])
		}
		if kk >= 0 && kk <= len(rs) && right[i] != string(rs[len(rs)-kk:]) {
			t.Errorf("right(%q, %d) = %q", str, kk, right[i])
		}
		if rev[i] != str {
			t.Errorf("reverse twice %q = %q", str, rev[i])
		}
		if kk >= 0 && utf8.RuneCountInString(lpad[i]) != kk {
			t.Errorf("lpad(%q, %d) = %q", str, kk, lpad[i])
		}
		if kk < 0 && lpad[i] != "NULL" {
			t.Errorf("lpad(%q, %d) = %q, want NULL", str, kk, lpad[i])
		}
		if clen[i] != itoa(len(rs)) || blen[i] != itoa(len(str)) {
			t.Errorf("lengths of %q: %s %s", str, clen[i], blen[i])
		}
		if up[i] != strings.ToLower(strings.ToUpper(str)) {
			t.Errorf("case of %q", str)
		}
		wantLoc := 0
		if j := strings.Index(str, "."); j >= 0 {
			wantLoc = utf8.RuneCountInString(str[:j]) + 1
		}
		if loc[i] != itoa(wantLoc) {
			t.Errorf("locate('.', %q) = %s, want %d", str, loc[i], wantLoc)
		}
		// SUBSTRING(s, k, 2) against a rune-slice reference.
		var want string
		switch {
		case kk > 0 && kk <= len(rs):
			want = string(rs[kk-1 : min(kk+1, len(rs))])
		case kk < 0 && -kk <= len(rs):
			st := len(rs) + kk
			want = string(rs[st:min(st+2, len(rs))])
		}
		if sub[i] != want {
			t.Errorf("substring(%q, %d, 2) = %q, want %q", str, kk, sub[i], want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
