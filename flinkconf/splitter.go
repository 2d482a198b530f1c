package flinkconf

import (
	"strconv"
	"strings"
	"unicode"
)

// splitEscaped is Flink's StructuredOptionsSplitter.splitEscaped: split at
// delimiter, honouring '...' and "..." quoting (a doubled quote escapes it),
// unquoted parts trimmed.
func splitEscaped(s string, delim rune) ([]string, error) {
	type token struct {
		kind int // 0 quoted, 1 unquoted, 2 delimiter
		text string
		pos  int
	}
	var tokens []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for ; j < len(rs); j++ {
				if rs[j] == c {
					if j+1 < len(rs) && rs[j+1] == c {
						b.WriteRune(c)
						j++
						continue
					}
					closed = true
					break
				}
				b.WriteRune(rs[j])
			}
			if !closed {
				return nil, argErr("Could not split string. Quoting was not closed properly.")
			}
			tokens = append(tokens, token{0, b.String(), i})
			i = j + 1
		case c == delim:
			tokens = append(tokens, token{2, string(c), i})
			i++
		case !unicode.IsSpace(c):
			j := i
			for j < len(rs) && rs[j] != delim {
				j++
			}
			tokens = append(tokens, token{1, strings.TrimFunc(string(rs[i:j]), func(r rune) bool { return r <= ' ' }), i})
			i = j
		default:
			i++
		}
	}
	var out []string
	for i, t := range tokens {
		switch t.kind {
		case 0:
			if i+1 < len(tokens) && tokens[i+1].kind != 2 {
				return nil, argErr("Could not split string. Illegal quoting at position: " + strconv.Itoa(tokens[i+1].pos-1))
			}
			out = append(out, t.text)
		case 1:
			out = append(out, t.text)
		case 2:
			if i+1 < len(tokens) && tokens[i+1].kind == 2 {
				out = append(out, "")
			}
		}
	}
	return out, nil
}
