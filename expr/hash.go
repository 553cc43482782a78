package expr

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func init() {
	registerRow("md5", FunctionDoc{Signature: "MD5(s)", Description: "MD5 digest as 32 hex digits.", Example: "SELECT MD5('abc')"},
		1, 1, tString, []arrow.DataType{tBinary}, func(b array.Builder, a *rowArgs, i int) error {
			sum := md5.Sum([]byte(a.str(0, i)))
			appendStr(b, hex.EncodeToString(sum[:]))
			return nil
		})
	registerRow("sha1", FunctionDoc{Signature: "SHA1(s)", Description: "SHA-1 digest as 40 hex digits.", Example: "SELECT SHA1('abc')"},
		1, 1, tString, []arrow.DataType{tBinary}, func(b array.Builder, a *rowArgs, i int) error {
			sum := sha1.Sum([]byte(a.str(0, i)))
			appendStr(b, hex.EncodeToString(sum[:]))
			return nil
		})
	alias("sha", "sha1")
	registerRow("sha2", FunctionDoc{Signature: "SHA2(s, bits)", Description: "SHA-2 digest in hex; bits 224, 256 (or 0), 384, 512; NULL otherwise.", Example: "SELECT SHA2('abc', 256)"},
		2, 2, tString, []arrow.DataType{tBinary, tInt64}, func(b array.Builder, a *rowArgs, i int) error {
			data := []byte(a.str(0, i))
			switch a.i64(1, i) {
			case 224:
				s := sha256.Sum224(data)
				appendStr(b, hex.EncodeToString(s[:]))
			case 0, 256:
				s := sha256.Sum256(data)
				appendStr(b, hex.EncodeToString(s[:]))
			case 384:
				s := sha512.Sum384(data)
				appendStr(b, hex.EncodeToString(s[:]))
			case 512:
				s := sha512.Sum512(data)
				appendStr(b, hex.EncodeToString(s[:]))
			default:
				b.AppendNull()
			}
			return nil
		})
	registerRow("crc32", FunctionDoc{Signature: "CRC32(s)", Description: "CRC-32 (IEEE) checksum as BIGINT.", Example: "SELECT CRC32('MySQL')"},
		1, 1, tInt64, []arrow.DataType{tBinary}, func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(crc32.ChecksumIEEE([]byte(a.str(0, i)))))
			return nil
		})
	register("hex", FunctionDoc{Signature: "HEX(x)", Description: "Upper-case hex of the bytes of a string, or of the value of an integer.", Example: "SELECT HEX('abc'), HEX(255)"},
		func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
			if err := arity(name, args, 1, 1); err != nil {
				return nil, nil, err
			}
			var want arrow.DataType = tBinary
			if isInteger(args[0].Type()) || isBool(args[0].Type()) {
				want = tInt64
			}
			x, err := coerceArg(name, 0, args[0], want)
			if err != nil {
				return nil, nil, err
			}
			return []Expr{x}, tString, nil
		}, rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			if ints, ok := a.arrs[0].(*array.Int64); ok {
				appendStr(b, strings.ToUpper(strconv.FormatUint(uint64(ints.Value(i)), 16)))
				return nil
			}
			appendStr(b, strings.ToUpper(hex.EncodeToString([]byte(a.str(0, i)))))
			return nil
		}, false))
}
