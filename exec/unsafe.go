package exec

import "unsafe"

// unsafeString views b as a string without copying; the string must not
// outlive b's buffer.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
