package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// String functions work on UTF-8 text: positions and lengths count
// characters (runes) except LENGTH, which counts bytes. Comparisons are
// binary (case-sensitive), unlike MySQL's default case-insensitive
// collation.

// maxStringResult bounds REPEAT/LPAD/RPAD results (MySQL's
// max_allowed_packet gives NULL beyond its limit).
const maxStringResult = 64 << 20

func init() {
	register("concat", FunctionDoc{Signature: "CONCAT(s1, s2, ...)", Description: "Concatenation; NULL if any argument is NULL.", Example: "SELECT CONCAT('a', 1, 'b')"},
		fixedArgs(1, -1, tString, tString), compileConcat)
	register("concat_ws", FunctionDoc{Signature: "CONCAT_WS(sep, s1, s2, ...)", Description: "Concatenation with separator; NULL arguments are skipped.", Example: "SELECT CONCAT_WS(',', 'a', NULL, 'b')"},
		fixedArgs(2, -1, tString, tString), rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			if a.null(0, i) {
				b.AppendNull()
				return nil
			}
			var sb strings.Builder
			first := true
			for k := 1; k < len(a.arrs); k++ {
				if a.null(k, i) {
					continue
				}
				if !first {
					sb.WriteString(a.str(0, i))
				}
				first = false
				sb.WriteString(a.str(k, i))
			}
			appendStr(b, sb.String())
			return nil
		}, true))
	substr := func(b array.Builder, a *rowArgs, i int) error {
		s := a.str(0, i)
		pos := a.i64(1, i)
		length := int64(-1)
		if len(a.arrs) > 2 {
			length = a.i64(2, i)
		}
		appendStr(b, substring(s, pos, length, len(a.arrs) > 2))
		return nil
	}
	registerRow("substring", FunctionDoc{Signature: "SUBSTRING(s, pos[, len])", Description: "Characters from 1-based pos (negative counts from the end), optionally len of them.", Example: "SELECT SUBSTRING('magnetar', -3, 2)"},
		2, 3, tString, []arrow.DataType{tString, tInt64, tInt64}, substr)
	alias("substr", "substring")
	alias("mid", "substring")
	registerRow("left", FunctionDoc{Signature: "LEFT(s, n)", Description: "The first n characters.", Example: "SELECT LEFT('magnetar', 3)"},
		2, 2, tString, []arrow.DataType{tString, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			s, n := a.str(0, i), a.i64(1, i)
			if n <= 0 {
				appendStr(b, "")
				return nil
			}
			appendStr(b, substring(s, 1, n, true))
			return nil
		})
	registerRow("right", FunctionDoc{Signature: "RIGHT(s, n)", Description: "The last n characters.", Example: "SELECT RIGHT('magnetar', 3)"},
		2, 2, tString, []arrow.DataType{tString, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			s, n := a.str(0, i), a.i64(1, i)
			l := int64(utf8.RuneCountInString(s))
			if n <= 0 {
				appendStr(b, "")
				return nil
			}
			if n >= l {
				appendStr(b, s)
				return nil
			}
			appendStr(b, substring(s, l-n+1, n, true))
			return nil
		})
	registerRow("upper", FunctionDoc{Signature: "UPPER(s)", Description: "Upper case.", Example: "SELECT UPPER('abc')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strings.ToUpper(a.str(0, i)))
			return nil
		})
	alias("ucase", "upper")
	registerRow("lower", FunctionDoc{Signature: "LOWER(s)", Description: "Lower case.", Example: "SELECT LOWER('ABC')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strings.ToLower(a.str(0, i)))
			return nil
		})
	alias("lcase", "lower")
	registerRow("length", FunctionDoc{Signature: "LENGTH(s)", Description: "Length in bytes.", Example: "SELECT LENGTH('héllo')"},
		1, 1, tInt64, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(len(a.str(0, i))))
			return nil
		})
	alias("octet_length", "length")
	registerRow("char_length", FunctionDoc{Signature: "CHAR_LENGTH(s)", Description: "Length in characters.", Example: "SELECT CHAR_LENGTH('héllo')"},
		1, 1, tInt64, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(utf8.RuneCountInString(a.str(0, i))))
			return nil
		})
	alias("character_length", "char_length")
	registerRow("trim", FunctionDoc{Signature: "TRIM(s[, remstr[, 'BOTH'|'LEADING'|'TRAILING']])",
		Description: "Removes remstr (default space) from both ends, or from the side given (the planner maps TRIM(LEADING x FROM s) to trim(s, x, 'LEADING')).", Example: "SELECT TRIM('  a  ')"},
		1, 3, tString, []arrow.DataType{tString, tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			s, rem, dir := a.str(0, i), " ", "BOTH"
			if len(a.arrs) > 1 {
				rem = a.str(1, i)
			}
			if len(a.arrs) > 2 {
				dir = strings.ToUpper(a.str(2, i))
			}
			if rem == "" {
				appendStr(b, s)
				return nil
			}
			if dir == "BOTH" || dir == "LEADING" {
				for strings.HasPrefix(s, rem) {
					s = s[len(rem):]
				}
			}
			if dir == "BOTH" || dir == "TRAILING" {
				for strings.HasSuffix(s, rem) {
					s = s[:len(s)-len(rem)]
				}
			}
			appendStr(b, s)
			return nil
		})
	registerRow("ltrim", FunctionDoc{Signature: "LTRIM(s)", Description: "Removes leading spaces.", Example: "SELECT LTRIM('  a')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strings.TrimLeft(a.str(0, i), " "))
			return nil
		})
	registerRow("rtrim", FunctionDoc{Signature: "RTRIM(s)", Description: "Removes trailing spaces.", Example: "SELECT RTRIM('a  ')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, strings.TrimRight(a.str(0, i), " "))
			return nil
		})
	registerRow("replace", FunctionDoc{Signature: "REPLACE(s, from, to)", Description: "Replaces every occurrence of from by to.", Example: "SELECT REPLACE('a-b-c', '-', '+')"},
		3, 3, tString, []arrow.DataType{tString, tString, tString}, func(b array.Builder, a *rowArgs, i int) error {
			from := a.str(1, i)
			if from == "" {
				appendStr(b, a.str(0, i))
				return nil
			}
			appendStr(b, strings.ReplaceAll(a.str(0, i), from, a.str(2, i)))
			return nil
		})
	registerRow("locate", FunctionDoc{Signature: "LOCATE(substr, s[, pos])", Description: "1-based character position of substr in s at or after pos; 0 when absent.", Example: "SELECT LOCATE('b', 'abcb', 3)"},
		2, 3, tInt64, []arrow.DataType{tString, tString, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			pos := int64(1)
			if len(a.arrs) > 2 {
				pos = a.i64(2, i)
			}
			appendI64(b, locate(a.str(0, i), a.str(1, i), pos))
			return nil
		})
	alias("position", "locate")
	registerRow("instr", FunctionDoc{Signature: "INSTR(s, substr)", Description: "1-based character position of substr in s; 0 when absent.", Example: "SELECT INSTR('abc', 'c')"},
		2, 2, tInt64, strs2, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, locate(a.str(1, i), a.str(0, i), 1))
			return nil
		})
	pad := func(left bool) rowFn {
		return func(b array.Builder, a *rowArgs, i int) error {
			s, n, p := a.str(0, i), a.i64(1, i), a.str(2, i)
			if n < 0 || n > maxStringResult {
				b.AppendNull()
				return nil
			}
			rs := []rune(s)
			if int64(len(rs)) >= n {
				appendStr(b, string(rs[:n]))
				return nil
			}
			if p == "" {
				b.AppendNull()
				return nil
			}
			need := int(n) - len(rs)
			pr := []rune(p)
			fill := make([]rune, 0, need)
			for len(fill) < need {
				fill = append(fill, pr[:min(len(pr), need-len(fill))]...)
			}
			if left {
				appendStr(b, string(fill)+s)
			} else {
				appendStr(b, s+string(fill))
			}
			return nil
		}
	}
	registerRow("lpad", FunctionDoc{Signature: "LPAD(s, len, pad)", Description: "Left-pads s with pad to len characters (truncates when longer).", Example: "SELECT LPAD('7', 3, '0')"},
		3, 3, tString, []arrow.DataType{tString, tInt64, tString}, pad(true))
	registerRow("rpad", FunctionDoc{Signature: "RPAD(s, len, pad)", Description: "Right-pads s with pad to len characters.", Example: "SELECT RPAD('7', 3, '0')"},
		3, 3, tString, []arrow.DataType{tString, tInt64, tString}, pad(false))
	registerRow("substring_index", FunctionDoc{Signature: "SUBSTRING_INDEX(s, delim, count)", Description: "Text before the count-th delim (after, counting from the right, when count < 0).", Example: "SELECT SUBSTRING_INDEX('a.b.c', '.', 2)"},
		3, 3, tString, []arrow.DataType{tString, tString, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			appendStr(b, substringIndex(a.str(0, i), a.str(1, i), a.i64(2, i)))
			return nil
		})
	registerRow("reverse", FunctionDoc{Signature: "REVERSE(s)", Description: "Characters in reverse order.", Example: "SELECT REVERSE('abc')"},
		1, 1, tString, strs1, func(b array.Builder, a *rowArgs, i int) error {
			r := []rune(a.str(0, i))
			for x, y := 0, len(r)-1; x < y; x, y = x+1, y-1 {
				r[x], r[y] = r[y], r[x]
			}
			appendStr(b, string(r))
			return nil
		})
	registerRow("repeat", FunctionDoc{Signature: "REPEAT(s, n)", Description: "s repeated n times ('' when n < 1).", Example: "SELECT REPEAT('ab', 3)"},
		2, 2, tString, []arrow.DataType{tString, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			s, n := a.str(0, i), a.i64(1, i)
			if n < 1 || s == "" {
				appendStr(b, "")
				return nil
			}
			// Divide rather than multiply: len(s)*n can overflow int64.
			if n > maxStringResult/int64(len(s)) {
				b.AppendNull()
				return nil
			}
			appendStr(b, strings.Repeat(s, int(n)))
			return nil
		})
	registerRow("space", FunctionDoc{Signature: "SPACE(n)", Description: "n spaces.", Example: "SELECT SPACE(3)"},
		1, 1, tString, []arrow.DataType{tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			n := a.i64(0, i)
			if n > maxStringResult {
				b.AppendNull()
				return nil
			}
			appendStr(b, strings.Repeat(" ", int(max(n, 0))))
			return nil
		})
	registerRow("ascii", FunctionDoc{Signature: "ASCII(s)", Description: "Code of the first byte (0 for '').", Example: "SELECT ASCII('A')"},
		1, 1, tInt64, strs1, func(b array.Builder, a *rowArgs, i int) error {
			s := a.str(0, i)
			if s == "" {
				appendI64(b, 0)
			} else {
				appendI64(b, int64(s[0]))
			}
			return nil
		})
	registerRow("strcmp", FunctionDoc{Signature: "STRCMP(a, b)", Description: "-1, 0 or 1 comparing a and b (binary).", Example: "SELECT STRCMP('a', 'b')"},
		2, 2, tInt64, strs2, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(strings.Compare(a.str(0, i), a.str(1, i))))
			return nil
		})
}

// substring implements SUBSTRING(s, pos[, length]) on characters.
func substring(s string, pos, length int64, hasLen bool) string {
	if pos == 0 || (hasLen && length <= 0) {
		return ""
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	n := int64(len(s))
	var rs []rune
	if !ascii {
		rs = []rune(s)
		n = int64(len(rs))
	}
	start := pos - 1
	if pos < 0 {
		start = n + pos
		if start < 0 {
			return ""
		}
	}
	if start >= n {
		return ""
	}
	end := n
	if hasLen && length < n-start {
		end = start + length
	}
	if ascii {
		return s[start:end]
	}
	return string(rs[start:end])
}

// locate returns the 1-based character position of sub in s searching
// from character pos, or 0.
func locate(sub, s string, pos int64) int64 {
	if pos < 1 {
		return 0
	}
	// Byte offset of character pos.
	off := 0
	for c := int64(1); c < pos; c++ {
		if off >= len(s) {
			return 0
		}
		_, w := utf8.DecodeRuneInString(s[off:])
		off += w
	}
	if off > len(s) {
		return 0
	}
	k := strings.Index(s[off:], sub)
	if k < 0 {
		return 0
	}
	return pos + int64(utf8.RuneCountInString(s[off:off+k]))
}

func substringIndex(s, delim string, count int64) string {
	if delim == "" || count == 0 {
		return ""
	}
	if count > 0 {
		idx := 0
		for c := int64(0); c < count; c++ {
			k := strings.Index(s[idx:], delim)
			if k < 0 {
				return s
			}
			idx += k + len(delim)
		}
		return s[:idx-len(delim)]
	}
	end := len(s)
	want := uint64(-(count + 1)) + 1 // -count without overflow at MinInt64
	for c := uint64(0); c < want; c++ {
		k := strings.LastIndex(s[:end], delim)
		if k < 0 {
			return s
		}
		end = k
	}
	return s[end+len(delim):]
}

func compileConcat(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &rowEval{args: args, t: tString, mem: mem, fn: func(b array.Builder, a *rowArgs, i int) error {
		sb := b.(*array.StringBuilder)
		if len(a.arrs) == 1 {
			sb.Append(a.str(0, i))
			return nil
		}
		total := 0
		for k := range a.arrs {
			total += len(a.str(k, i))
		}
		buf := make([]byte, 0, total)
		for k := range a.arrs {
			buf = append(buf, a.str(k, i)...)
		}
		sb.BinaryBuilder.Append(buf)
		return nil
	}}, nil
}
