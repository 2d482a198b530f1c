package fn

import (
	"fmt"
	"strconv"
	"strings"
)

// maxParseDepth bounds the nesting of ARRAY, MAP, MULTISET and ROW in
// ParseType, so that hostile input cannot exhaust the stack.
const maxParseDepth = 64

// ParseType parses a Flink SQL type string, as printed by Flink's
// LogicalType.asSummaryString() or asSerializableString(), or by
// Type.String(). Examples:
//
//	BIGINT
//	INT NOT NULL
//	DECIMAL(38, 18)
//	STRING, VARCHAR(10), CHAR, BYTES, BINARY(16)
//	TIMESTAMP(9), TIMESTAMP_LTZ(3), TIMESTAMP(3) WITH LOCAL TIME ZONE
//	ARRAY<INT>, INT ARRAY, MAP<STRING, INT>
//	ROW<a INT, b STRING>, ROW(a INT, b STRING), ROW<`a b` INT 'comment'>
//
// Keywords are case-insensitive. Defaults follow Flink: CHAR, VARCHAR,
// BINARY and VARBINARY have length 1, DECIMAL is DECIMAL(10, 0), TIME is
// TIME(0), TIMESTAMP and TIMESTAMP_LTZ have precision 6. The synonyms
// INTEGER, DEC, NUMERIC, DOUBLE PRECISION, TIME WITHOUT TIME ZONE and
// TIMESTAMP WITHOUT TIME ZONE are accepted, as are explicit NULL and the
// *ROWTIME* / *PROCTIME* markers of asSummaryString (ignored). ROW fields
// without a name (which Type.String prints for unnamed fields) are accepted
// too. Types the worker cannot represent (INTERVAL, RAW, STRUCTURED, ...)
// are an error.
func ParseType(s string) (Type, error) {
	toks, err := tokenizeType(s)
	if err != nil {
		return Type{}, fmt.Errorf("parse type %q: %w", s, err)
	}
	p := &typeParser{src: s, toks: toks}
	t, err := p.parseType(0)
	if err != nil {
		return Type{}, fmt.Errorf("parse type %q: %w", s, err)
	}
	if p.pos < len(p.toks) {
		tok := p.toks[p.pos]
		return Type{}, fmt.Errorf("parse type %q: unexpected %q at position %d", s, tok.text, tok.at)
	}
	return t, nil
}

// DecimalTextUnchecked returns a DECIMAL value holding s without validating
// it. It is meant for decoders that have already checked that s is valid
// Java BigDecimal text (plain or scientific); with any other text the
// value's AsDecimal reports an error later. Prefer DecimalText.
func DecimalTextUnchecked(s string) Value {
	return Value{kind: KindDecimal, s: s}
}

type tokKind uint8

const (
	tokWord   tokKind = iota // keyword or bare identifier
	tokIdent                 // `quoted identifier`
	tokString                // 'string literal'
	tokInt                   // 123
	tokSymbol                // < > ( ) , .
)

type typeToken struct {
	kind tokKind
	text string // the word upper-cased for tokWord; unescaped for tokIdent/tokString
	raw  string // the word as written (tokWord)
	at   int    // byte offset in the input
}

func isTypeDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '<', '>', '(', ')', ',', '.', '\'', '`':
		return true
	}
	return false
}

func tokenizeType(s string) ([]typeToken, error) {
	var toks []typeToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == '.':
			toks = append(toks, typeToken{kind: tokSymbol, text: s[i : i+1], at: i})
			i++
		case c == '\'' || c == '`':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c {
						b.WriteByte(c)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated %c at position %d", c, start)
			}
			k := tokString
			if c == '`' {
				k = tokIdent
			}
			toks = append(toks, typeToken{kind: k, text: b.String(), at: start})
		case c >= '0' && c <= '9':
			start := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			toks = append(toks, typeToken{kind: tokInt, text: s[start:i], at: start})
		default:
			start := i
			for i < len(s) && !isTypeDelim(s[i]) {
				i++
			}
			w := s[start:i]
			toks = append(toks, typeToken{kind: tokWord, text: strings.ToUpper(w), raw: w, at: start})
		}
	}
	return toks, nil
}

type typeParser struct {
	src  string
	toks []typeToken
	pos  int
}

func (p *typeParser) peek(k int) (typeToken, bool) {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k], true
	}
	return typeToken{}, false
}

func (p *typeParser) peekWord(k int, words ...string) bool {
	t, ok := p.peek(k)
	if !ok || t.kind != tokWord {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (p *typeParser) peekSymbol(k int, sym string) bool {
	t, ok := p.peek(k)
	return ok && t.kind == tokSymbol && t.text == sym
}

func (p *typeParser) errAt(format string, args ...any) error {
	at := len(p.src)
	if p.pos < len(p.toks) {
		at = p.toks[p.pos].at
	}
	return fmt.Errorf("%s at position %d", fmt.Sprintf(format, args...), at)
}

func (p *typeParser) expectSymbol(sym string) error {
	if !p.peekSymbol(0, sym) {
		if t, ok := p.peek(0); ok {
			return p.errAt("expected %q, found %q", sym, t.text)
		}
		return p.errAt("expected %q, found end of input", sym)
	}
	p.pos++
	return nil
}

func (p *typeParser) expectWord(w string) error {
	if !p.peekWord(0, w) {
		if t, ok := p.peek(0); ok {
			return p.errAt("expected %s, found %q", w, t.text)
		}
		return p.errAt("expected %s, found end of input", w)
	}
	p.pos++
	return nil
}

func (p *typeParser) parseInt() (int, error) {
	t, ok := p.peek(0)
	if !ok || t.kind != tokInt {
		return 0, p.errAt("expected an integer")
	}
	n, err := strconv.ParseInt(t.text, 10, 32)
	if err != nil {
		return 0, p.errAt("integer %s out of range", t.text)
	}
	p.pos++
	return int(n), nil
}

// parseOptParams parses "(a)" or "(a, b)" if present; max is 1 or 2.
func (p *typeParser) parseOptParams(max int) ([]int, error) {
	if !p.peekSymbol(0, "(") {
		return nil, nil
	}
	p.pos++
	var out []int
	for {
		n, err := p.parseInt()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if len(out) < max && p.peekSymbol(0, ",") {
			p.pos++
			continue
		}
		break
	}
	if err := p.expectSymbol(")"); err != nil {
		return nil, err
	}
	return out, nil
}

// parseNullability consumes "NOT NULL" or "NULL" and reports nullability.
func (p *typeParser) parseNullability() bool {
	if p.peekWord(0, "NOT") && p.peekWord(1, "NULL") {
		p.pos += 2
		return false
	}
	if p.peekWord(0, "NULL") {
		p.pos++
	}
	return true
}

func (p *typeParser) skipTimeAttribute() {
	if p.peekWord(0, "*ROWTIME*", "*PROCTIME*") {
		p.pos++
	}
}

func (p *typeParser) parseType(depth int) (Type, error) {
	if depth > maxParseDepth {
		return Type{}, p.errAt("type nested deeper than %d levels", maxParseDepth)
	}
	t, err := p.parseBase(depth)
	if err != nil {
		return Type{}, err
	}
	p.skipTimeAttribute()
	t.Nullable = p.parseNullability()
	// Postfix notation: "INT ARRAY", "INT MULTISET", possibly repeated.
	for p.peekWord(0, "ARRAY", "MULTISET") && !p.peekSymbol(1, "<") {
		name := ARRAY
		if p.toks[p.pos].text == "MULTISET" {
			name = MULTISET
		}
		p.pos++
		elem := t
		t = Type{Name: name, Elem: &elem}
		t.Nullable = p.parseNullability()
	}
	return t, nil
}

func lengthType(name TypeName, params []int, def int) (Type, error) {
	n := def
	if len(params) > 0 {
		n = params[0]
	}
	if n < 1 {
		return Type{}, fmt.Errorf("%s length %d must be between 1 and %d", name, n, MaxLength)
	}
	return Type{Name: name, Length: n}, nil
}

func precisionType(name TypeName, params []int, def int) (Type, error) {
	n := def
	if len(params) > 0 {
		n = params[0]
	}
	if n < 0 || n > 9 {
		return Type{}, fmt.Errorf("%s precision %d must be between 0 and 9", name, n)
	}
	return Type{Name: name, Precision: n}, nil
}

func (p *typeParser) parseBase(depth int) (Type, error) {
	tok, ok := p.peek(0)
	if !ok {
		return Type{}, p.errAt("expected a type, found end of input")
	}
	if tok.kind != tokWord {
		return Type{}, p.errAt("expected a type, found %q", tok.text)
	}
	p.pos++
	wrap := func(t Type, err error) (Type, error) {
		if err != nil {
			return Type{}, fmt.Errorf("%w at position %d", err, tok.at)
		}
		return t, nil
	}
	switch tok.text {
	case "BOOLEAN":
		return Type{Name: BOOLEAN}, nil
	case "TINYINT":
		return Type{Name: TINYINT}, nil
	case "SMALLINT":
		return Type{Name: SMALLINT}, nil
	case "INT", "INTEGER":
		return Type{Name: INT}, nil
	case "BIGINT":
		return Type{Name: BIGINT}, nil
	case "FLOAT":
		return Type{Name: FLOAT}, nil
	case "DOUBLE":
		if p.peekWord(0, "PRECISION") {
			p.pos++
		}
		return Type{Name: DOUBLE}, nil
	case "DATE":
		return Type{Name: DATE}, nil
	case "STRING":
		return Type{Name: VARCHAR, Length: MaxLength}, nil
	case "BYTES":
		return Type{Name: VARBINARY, Length: MaxLength}, nil
	case "CHAR", "VARCHAR", "BINARY", "VARBINARY":
		params, err := p.parseOptParams(1)
		if err != nil {
			return Type{}, err
		}
		name := map[string]TypeName{"CHAR": CHAR, "VARCHAR": VARCHAR, "BINARY": BINARY, "VARBINARY": VARBINARY}[tok.text]
		return wrap(lengthType(name, params, 1))
	case "DECIMAL", "DEC", "NUMERIC":
		params, err := p.parseOptParams(2)
		if err != nil {
			return Type{}, err
		}
		prec, scale := 10, 0
		if len(params) > 0 {
			prec = params[0]
		}
		if len(params) > 1 {
			scale = params[1]
		}
		if prec < 1 || prec > 38 {
			return wrap(Type{}, fmt.Errorf("DECIMAL precision %d must be between 1 and 38", prec))
		}
		if scale < 0 || scale > prec {
			return wrap(Type{}, fmt.Errorf("DECIMAL scale %d must be between 0 and the precision %d", scale, prec))
		}
		return Type{Name: DECIMAL, Precision: prec, Scale: scale}, nil
	case "TIME":
		params, err := p.parseOptParams(1)
		if err != nil {
			return Type{}, err
		}
		if p.peekWord(0, "WITHOUT") {
			p.pos++
			if err := p.expectWords("TIME", "ZONE"); err != nil {
				return Type{}, err
			}
		}
		return wrap(precisionType(TIME, params, 0))
	case "TIMESTAMP":
		params, err := p.parseOptParams(1)
		if err != nil {
			return Type{}, err
		}
		name := TIMESTAMP
		switch {
		case p.peekWord(0, "WITHOUT"):
			p.pos++
			if err := p.expectWords("TIME", "ZONE"); err != nil {
				return Type{}, err
			}
		case p.peekWord(0, "WITH"):
			p.pos++
			name = ZONED_TIMESTAMP
			if p.peekWord(0, "LOCAL") {
				p.pos++
				name = LOCAL_ZONED_TIMESTAMP
			}
			if err := p.expectWords("TIME", "ZONE"); err != nil {
				return Type{}, err
			}
		}
		return wrap(precisionType(name, params, 6))
	case "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		params, err := p.parseOptParams(1)
		if err != nil {
			return Type{}, err
		}
		name := LOCAL_ZONED_TIMESTAMP
		if tok.text == "TIMESTAMP_TZ" {
			name = ZONED_TIMESTAMP
		}
		return wrap(precisionType(name, params, 6))
	case "NULL":
		return Type{Name: NULL}, nil
	case "ARRAY", "MULTISET":
		name := ARRAY
		if tok.text == "MULTISET" {
			name = MULTISET
		}
		if name == MULTISET && !p.peekSymbol(0, "<") {
			// Type.String prints a MULTISET without its element type.
			return Type{Name: MULTISET}, nil
		}
		if err := p.expectSymbol("<"); err != nil {
			return Type{}, err
		}
		elem, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expectSymbol(">"); err != nil {
			return Type{}, err
		}
		return Type{Name: name, Elem: &elem}, nil
	case "MAP":
		if err := p.expectSymbol("<"); err != nil {
			return Type{}, err
		}
		k, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expectSymbol(","); err != nil {
			return Type{}, err
		}
		v, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expectSymbol(">"); err != nil {
			return Type{}, err
		}
		return Type{Name: MAP, Key: &k, Value: &v}, nil
	case "ROW":
		return p.parseRow(depth)
	case "INTERVAL", "RAW", "LEGACY", "STRUCTURED", "DESCRIPTOR", "VARIANT", "BITMAP":
		return Type{}, fmt.Errorf("unsupported type %s at position %d", tok.text, tok.at)
	}
	return Type{}, fmt.Errorf("unknown type %q at position %d", tok.raw, tok.at)
}

func (p *typeParser) expectWords(words ...string) error {
	for _, w := range words {
		if err := p.expectWord(w); err != nil {
			return err
		}
	}
	return nil
}

// typeStart reports whether the token at offset k begins a type (for
// telling a field name from an unnamed field's type).
func (p *typeParser) typeStart(k int) bool {
	t, ok := p.peek(k)
	if !ok || t.kind != tokWord {
		return false
	}
	switch t.text {
	case "ARRAY", "MULTISET":
		return p.peekSymbol(k+1, "<")
	case "BOOLEAN", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE",
		"DATE", "STRING", "BYTES", "CHAR", "VARCHAR", "BINARY", "VARBINARY", "DECIMAL",
		"DEC", "NUMERIC", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "MAP", "ROW",
		"INTERVAL", "RAW", "LEGACY", "STRUCTURED", "DESCRIPTOR", "VARIANT", "BITMAP":
		return true
	}
	return false
}

func (p *typeParser) parseRow(depth int) (Type, error) {
	end := ">"
	switch {
	case p.peekSymbol(0, "<"):
	case p.peekSymbol(0, "("):
		end = ")"
	default:
		return Type{}, p.errAt("expected '<' or '(' after ROW")
	}
	p.pos++
	t := Type{Name: ROW, Fields: []Field{}}
	for !p.peekSymbol(0, end) {
		if len(t.Fields) > 0 {
			if err := p.expectSymbol(","); err != nil {
				return Type{}, err
			}
		}
		var f Field
		tok, ok := p.peek(0)
		switch {
		case !ok:
			return Type{}, p.errAt("expected a field, found end of input")
		case tok.kind == tokIdent:
			f.Name = tok.text
			p.pos++
		case tok.kind == tokWord && (!p.typeStart(0) || p.typeStart(1)):
			f.Name = tok.raw
			p.pos++
		}
		ft, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		f.Type = ft
		// Optional field description.
		if t, ok := p.peek(0); ok && t.kind == tokString {
			p.pos++
		}
		t.Fields = append(t.Fields, f)
	}
	p.pos++
	return t, nil
}
