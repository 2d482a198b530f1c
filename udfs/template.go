package udfs

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// DefaultTemplates is the template file compiled into the binary
// (udfs/templates.json). FLINKFN_TEMPLATES names a file that replaces it.
//
//go:embed templates.json
var DefaultTemplates []byte

// TemplatesEnv names the environment variable with the path of a template
// file that replaces the built-in one.
const TemplatesEnv = "FLINKFN_TEMPLATES"

// Template renders a row into the text an embedding function embeds. The
// rules are those of udfs/_embedding.py (the Python reference): a part is
// left out when any column it names is NULL or a blank string; the kept
// parts are joined with Separator; no part kept means NULL.
type Template struct {
	Name      string // function name, e.g. "ah_embed"
	Module    string // Python module the function is recognised by; default "udfs.<name>_udf"
	Doc       string
	Columns   []string
	Separator string
	parts     [][]piece
}

// piece is a literal (col < 0) or a column placeholder.
type piece struct {
	lit string
	col int
}

type templateJSON struct {
	Module    string   `json:"module"`
	Doc       string   `json:"doc"`
	Columns   []string `json:"columns"`
	Separator string   `json:"separator"`
	Parts     []string `json:"parts"`
}

// LoadTemplates reads the template file named by FLINKFN_TEMPLATES, or the
// built-in one when the variable is unset or empty.
func LoadTemplates(getenv func(string) string) ([]*Template, error) {
	if p := getenv(TemplatesEnv); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("templates (%s): %w", TemplatesEnv, err)
		}
		ts, err := ParseTemplates(data)
		if err != nil {
			return nil, fmt.Errorf("templates %s: %w", p, err)
		}
		return ts, nil
	}
	ts, err := ParseTemplates(DefaultTemplates)
	if err != nil {
		return nil, fmt.Errorf("built-in templates: %w", err)
	}
	return ts, nil
}

// ParseTemplates parses a template file: a JSON object from function name
// to {module?, doc?, columns, separator, parts}. Sorted by name.
func ParseTemplates(data []byte) ([]*Template, error) {
	var raw map[string]templateJSON
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*Template, 0, len(names))
	for _, n := range names {
		t, err := newTemplate(n, raw[n])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func newTemplate(name string, j templateJSON) (*Template, error) {
	if !isIdent(name) {
		return nil, fmt.Errorf("template %q: the name must be a Python identifier", name)
	}
	if len(j.Columns) == 0 {
		return nil, fmt.Errorf("template %s: no columns", name)
	}
	if len(j.Parts) == 0 {
		return nil, fmt.Errorf("template %s: no parts", name)
	}
	t := &Template{Name: name, Module: j.Module, Doc: j.Doc, Columns: j.Columns, Separator: j.Separator}
	if t.Module == "" {
		t.Module = "udfs." + name + "_udf"
	}
	idx := make(map[string]int, len(j.Columns))
	for i, c := range j.Columns {
		if !isIdent(c) {
			return nil, fmt.Errorf("template %s: column %q is not an identifier", name, c)
		}
		if _, dup := idx[c]; dup {
			return nil, fmt.Errorf("template %s: column %q twice", name, c)
		}
		idx[c] = i
	}
	used := make([]bool, len(j.Columns))
	for _, p := range j.Parts {
		ps, err := parsePart(p, idx)
		if err != nil {
			return nil, fmt.Errorf("template %s: part %q: %w", name, p, err)
		}
		for _, x := range ps {
			if x.col >= 0 {
				used[x.col] = true
			}
		}
		t.parts = append(t.parts, ps)
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("template %s: column %q is in no part", name, j.Columns[i])
		}
	}
	return t, nil
}

// parsePart splits "Amount: {amount} {currency}" into pieces, with Python
// str.format's brace rules: "{{" and "}}" are literal braces.
func parsePart(s string, idx map[string]int) ([]piece, error) {
	var out []piece
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '{'")
			}
			name := s[i+1 : i+end]
			col, ok := idx[name]
			if !ok {
				return nil, fmt.Errorf("placeholder {%s} is not a column", name)
			}
			if lit.Len() > 0 {
				out = append(out, piece{lit: lit.String(), col: -1})
				lit.Reset()
			}
			out = append(out, piece{col: col})
			i += end
		case c == '}':
			return nil, fmt.Errorf("single '}'")
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		out = append(out, piece{lit: lit.String(), col: -1})
	}
	return out, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// Render renders one row (values in Columns order). ok is false when every
// part was left out (the function's result is then NULL).
func (t *Template) Render(vals []fn.Value) (text string, ok bool, err error) {
	if len(vals) != len(t.Columns) {
		return "", false, fmt.Errorf("%d values for %d columns", len(vals), len(t.Columns))
	}
	var b strings.Builder
	kept := 0
	for _, ps := range t.parts {
		if !partKept(ps, vals) {
			continue
		}
		if kept > 0 {
			b.WriteString(t.Separator)
		}
		kept++
		for _, p := range ps {
			if p.col < 0 {
				b.WriteString(p.lit)
				continue
			}
			if err := appendValue(&b, vals[p.col]); err != nil {
				return "", false, fmt.Errorf("column %s: %w", t.Columns[p.col], err)
			}
		}
	}
	return b.String(), kept > 0, nil
}

func partKept(ps []piece, vals []fn.Value) bool {
	for _, p := range ps {
		if p.col >= 0 && blank(vals[p.col]) {
			return false
		}
	}
	return true
}

func blank(v fn.Value) bool {
	if v.IsNull() {
		return true
	}
	return v.Kind() == fn.KindString && isPyBlank(v.AsString())
}

// isPyBlank reports whether Python's str.strip() leaves nothing, i.e. every
// rune is whitespace by str.isspace (which, beyond Unicode White_Space,
// includes U+001C..U+001F).
func isPyBlank(s string) bool {
	for _, r := range s {
		if !pyIsSpace(r) {
			return false
		}
	}
	return true
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// appendValue formats a value as udfs/_embedding.py's format_value does.
func appendValue(b *strings.Builder, v fn.Value) error {
	switch v.Kind() {
	case fn.KindString:
		b.WriteString(v.AsString())
	case fn.KindBool:
		if v.AsBool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case fn.KindInt:
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case fn.KindDecimal:
		u, scale, err := v.AsDecimal()
		if err != nil {
			return err
		}
		b.WriteString(plainDecimal(u, scale))
	case fn.KindDate:
		b.WriteString(v.GoTime().Format("2006-01-02"))
	case fn.KindTime:
		b.WriteString(v.GoTime().Format("15:04:05"))
	case fn.KindTimestamp:
		b.WriteString(v.GoTime().Format("2006-01-02 15:04:05"))
	default:
		return fmt.Errorf("cannot render a %s value as text (use STRING, an integer type, DECIMAL, DATE, TIME or TIMESTAMP; CAST floating point to DECIMAL)", sqlKind(v.Kind()))
	}
	return nil
}

// sqlKind names a value kind the way a SQL user knows it.
func sqlKind(k fn.Kind) string {
	switch k {
	case fn.KindFloat32:
		return "FLOAT"
	case fn.KindFloat64:
		return "DOUBLE"
	case fn.KindBytes:
		return "BINARY/BYTES"
	case fn.KindArray:
		return "ARRAY"
	case fn.KindMap:
		return "MAP"
	case fn.KindRow:
		return "ROW"
	}
	return k.String()
}

// plainDecimal is Python's format(Decimal, 'f'): plain notation, the scale
// kept, a negative scale written out as trailing zeros.
func plainDecimal(u *big.Int, scale int) string {
	return fn.FormatDecimal(u, scale)
}

// templateParams are the SQL types a template column accepts: those whose
// text is identical in Go and in the Python reference.
func templateParam(name string) fn.Param {
	return fn.Param{Name: name, Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR, fn.BOOLEAN, fn.TINYINT, fn.SMALLINT,
		fn.INT, fn.BIGINT, fn.DECIMAL, fn.DATE, fn.TIME, fn.TIMESTAMP)}
}
