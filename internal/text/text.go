// Package text has the string helpers messages share.
package text

import "unicode/utf8"

// Truncate returns s cut to at most n bytes, on a character boundary, with
// "…" appended when it was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
