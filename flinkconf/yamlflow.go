package flinkconf

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"
)

// flowString renders a YAML node as Flink's YamlParserUtils.toYAMLString
// does for list values: snakeyaml-engine's emitter in flow style with the
// core schema and no line splitting (see flowScalar for how a string is
// quoted, flowEmitter.key for mapping keys).
func flowString(n *yaml.Node) (string, error) {
	var e flowEmitter
	if err := e.node(n, 0); err != nil {
		return "", err
	}
	return e.b.String(), nil
}

// flowEmitter writes and keeps the emitter's column (UTF-16 units since the
// last line break), which decides where a complex key's ':' goes.
type flowEmitter struct {
	b   strings.Builder
	col int
}

func (e *flowEmitter) write(s string) {
	e.b.WriteString(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		e.col = len(utf16.Encode([]rune(s[i+1:])))
		return
	}
	e.col += len(utf16.Encode([]rune(s)))
}

func (e *flowEmitter) node(n *yaml.Node, depth int) error {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		e.write("[")
		for i, c := range n.Content {
			if i > 0 {
				e.write(", ")
			}
			if err := e.node(c, depth+1); err != nil {
				return err
			}
		}
		e.write("]")
		return nil
	case yaml.MappingNode:
		e.write("{")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				e.write(", ")
			}
			if err := e.key(n.Content[i], n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		e.write("}")
		return nil
	}
	text, _, err := flowScalarText(n)
	if err != nil {
		return err
	}
	e.write(text)
	return nil
}

// key writes one entry of a flow mapping as Emitter.checkSimpleKey decides:
// "k: v" for a simple key (a scalar that is not empty, not multi-line and,
// with its tag's short form, under 128 characters, or an empty
// collection), else "? k : v", the ':' on a new line indented by the flow
// depth when the key ends past column 80.
func (e *flowEmitter) key(k, v *yaml.Node, depth int) error {
	k = deref(k)
	simple := false
	switch k.Kind {
	case yaml.SequenceNode, yaml.MappingNode:
		simple = len(k.Content) == 0
	default:
		_, tagLen, err := flowScalarText(k)
		if err != nil {
			return err
		}
		raw, err := scalarRaw(k)
		if err != nil {
			return err
		}
		simple = raw != "" && !strings.ContainsAny(raw, "\n\u0085\u2028\u2029") &&
			len(utf16.Encode([]rune(raw)))+tagLen < 128
	}
	if simple {
		if err := e.node(k, depth); err != nil {
			return err
		}
		e.write(": ")
		return e.node(v, depth)
	}
	e.write("? ")
	if err := e.node(k, depth); err != nil {
		return err
	}
	if e.col > 80 {
		e.write("\n" + strings.Repeat(" ", 2*depth) + ": ")
	} else {
		e.write(" : ")
	}
	return e.node(v, depth)
}

// scalarRaw is the text the representer gives a scalar ("null" for null).
func scalarRaw(n *yaml.Node) (string, error) {
	v, err := scalarValue(n)
	if err != nil || v == nil {
		return "null", err
	}
	if v.Type == TypeDouble {
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

// flowScalarText is a scalar as written, with the length of its tag's short
// form ("!!str", "!!int", ...), which counts against a simple key.
func flowScalarText(n *yaml.Node) (string, int, error) {
	v, err := scalarValue(n)
	if err != nil {
		return "", 0, err
	}
	raw, _ := scalarRaw(n)
	switch {
	case v == nil:
		return raw, len("!!null"), nil
	case v.Type == TypeString:
		return flowScalar(v.Text), len("!!str"), nil
	case v.Type == TypeDouble:
		return raw, len("!!float"), nil
	case v.Type == TypeBoolean:
		return raw, len("!!bool"), nil
	}
	return raw, len("!!int"), nil
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
	isBreak := func(c rune) bool { return c == '\n' } // CharConstants.LINEBR
	isBlankT := func(c rune) bool { return c == ' ' || c == '\t' || c == 0 || c == '\r' || c == '\n' }
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
		if esc := emitterEscape(c); esc != "" {
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

// emitterEscape is the emitter's one-letter escape of a character
// (CharConstants.ESCAPES), "" when it has none.
func emitterEscape(c rune) string {
	switch c {
	case 0:
		return "0"
	case 7:
		return "a"
	case 8:
		return "b"
	case 9:
		return "t"
	case '\n':
		return "n"
	case 0x0B:
		return "v"
	case 0x0C:
		return "f"
	case '\r':
		return "r"
	case 0x1B:
		return "e"
	case '"':
		return "\""
	case '\\':
		return "\\"
	case 0x85:
		return "N"
	case 0xA0:
		return "_"
	case 0x2028:
		return "L"
	case 0x2029:
		return "P"
	}
	return ""
}

// isPrintable is StreamReader.isPrintable.
func isPrintable(c rune) bool {
	return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
		(c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF)
}
