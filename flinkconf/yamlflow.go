package flinkconf

import (
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// flowString renders a YAML node as Flink's YamlParserUtils.toYAMLString
// does for list values: snakeyaml-engine's emitter in flow style with the
// core schema (see flowScalar for how a string is quoted).
func flowString(n *yaml.Node) (string, error) {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			s, err := flowString(c)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := flowString(n.Content[i])
			if err != nil {
				return "", err
			}
			v, err := flowString(n.Content[i+1])
			if err != nil {
				return "", err
			}
			parts = append(parts, k+": "+v)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	v, err := scalarValue(n)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "null", nil
	}
	switch v.Type {
	case TypeString:
		return flowScalar(v.Text), nil
	case TypeDouble:
		switch {
		case math.IsNaN(v.Float):
			return ".nan", nil
		case math.IsInf(v.Float, 1):
			return ".inf", nil
		case math.IsInf(v.Float, -1):
			return "-.inf", nil
		}
	}
	return v.Text, nil
}

// flowScalar writes a string as snakeyaml-engine 2.6's emitter does inside
// a flow collection with Flink's dump settings (core schema, no line
// splitting, Unicode allowed): StandardRepresenter asks for the literal style
// when the string has a line break, which a flow context cannot take, so it
// is double-quoted; else plain when Emitter.analyzeScalar allows a flow plain
// scalar and the core schema resolves the text to a string; else
// single-quoted when allowed; else double-quoted.
func flowScalar(s string) string {
	multiline := strings.ContainsAny(s, "\n\u0085\u2028\u2029")
	plain, single := analyzeFlowScalar(s)
	switch {
	case multiline:
		return doubleQuoted(s)
	case plain && resolvePlain(s) == kindStr:
		return s
	case single:
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return doubleQuoted(s)
}

// analyzeFlowScalar is Emitter.analyzeScalar reduced to what a flow context
// asks: may the text be a flow plain scalar, may it be single-quoted.
func analyzeFlowScalar(s string) (plain, single bool) {
	if s == "" {
		return true, true
	}
	runes := []rune(s)
	isBreak := func(c rune) bool { return strings.ContainsRune("\n\u0085\u2028\u2029", c) }
	isBlankT := func(c rune) bool { return c == ' ' || c == '\t' || c == 0 || isBreak(c) || c == '\r' }
	indicators := strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...")
	var lineBreaks, special, leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	precededByWS := true
	// Only the first character's test reads it in a flow context.
	followedByWS := len(runes) == 1 || isBlankT(runes[1])
	prevSpace, prevBreak := false, false
	for i, c := range runes {
		if i == 0 {
			if strings.ContainsRune("#,[]{}&*!|>'\"%@`", c) || c == '?' || c == ':' || (c == '-' && followedByWS) {
				indicators = true
			}
		} else if strings.ContainsRune(",?[]{}:", c) || (c == '#' && precededByWS) {
			indicators = true
		}
		br := isBreak(c)
		if br {
			lineBreaks = true
		}
		if !(c == '\n' || (c >= 0x20 && c <= 0x7E)) &&
			!(c == 0x85 || (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF)) {
			special = true
		}
		switch {
		case c == ' ':
			leadingSpace = leadingSpace || i == 0
			trailingSpace = trailingSpace || i == len(runes)-1
			breakSpace = breakSpace || prevBreak
			prevSpace, prevBreak = true, false
		case br:
			leadingBreak = leadingBreak || i == 0
			trailingBreak = trailingBreak || i == len(runes)-1
			spaceBreak = spaceBreak || prevSpace
			prevSpace, prevBreak = false, true
		default:
			prevSpace, prevBreak = false, false
		}
		precededByWS = c == ' ' || c == '\t' || c == 0 || br
	}
	plain, single = true, true
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak || lineBreaks || indicators {
		plain = false
	}
	if breakSpace || spaceBreak || special {
		plain, single = false, false
	}
	return plain, single
}

// doubleQuoted is Emitter.writeDoubleQuoted without line splitting.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		if c != '"' && c != '\\' && c != 0x85 && c != 0x2028 && c != 0x2029 && c != 0xFEFF && c >= 0x20 && c <= 0x7E {
			b.WriteRune(c)
			continue
		}
		if esc, ok := emitterEscapes[c]; ok {
			b.WriteString("\\" + esc)
			continue
		}
		switch {
		case isPrintable(c):
			b.WriteRune(c)
		case c <= 0xFF:
			fmt.Fprintf(&b, "\\x%02x", c)
		case c > 0xFFFF:
			fmt.Fprintf(&b, "\\U%08x", c)
		default:
			fmt.Fprintf(&b, "\\u%04x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// emitterEscapes is CharConstants.ESCAPES: the characters the emitter
// writes as a one-letter escape.
var emitterEscapes = map[rune]string{
	0: "0", 7: "a", 8: "b", 9: "t", '\n': "n", 0x0B: "v", 0x0C: "f", '\r': "r", 0x1B: "e",
	'"': "\"", '\\': "\\", 0x85: "N", 0xA0: "_", 0x2028: "L", 0x2029: "P",
}

// isPrintable is StreamReader.isPrintable.
func isPrintable(c rune) bool {
	return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
		(c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF)
}
