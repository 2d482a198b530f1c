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
// (udfs/templates.json). A file the configuration names (FLINKFN_TEMPLATES,
// --templates) replaces it.
//
//go:embed templates.json
var DefaultTemplates []byte

// TemplatesEnv names the environment variable with the path of a template
// file that replaces the built-in one (read by the command's
// configuration, which hands the path to LoadTemplates).
const TemplatesEnv = "FLINKFN_TEMPLATES"

// Template renders a row into the text an embedding function embeds. The
// rules are those of udfs/_embedding.py (the Python reference): with the
// default NULL policy a part is left out when any column it names is NULL
// or a blank string, and no part kept means NULL; with a NULL literal every
// part is kept and NULL renders as the literal. The kept parts are joined
// with Separator.
type Template struct {
	Name      string // function name, e.g. "ah_embed"
	Module    string // Python module the function is recognised by; default "udfs.<name>_udf"
	Doc       string
	Columns   []string
	Separator string
	// Values is how values become text: ValuesDefault or ValuesPython.
	Values string
	// NullLiteral, when non-nil, is the text of a NULL value (the "null"
	// policy {"literal": ...}); nil is the "skip" policy.
	NullLiteral *string
	// Model names the model that embeds the rendered text (a folder name
	// under models/, e.g. "bge-small-en-v1.5"); "" is the process's
	// default model.
	Model string
	// Source names the file the template came from, for messages: the
	// FLINKFN_TEMPLATES path or the built-in file.
	Source string
	parts  [][]piece
}

// Value styles of a template's "values" key.
const (
	// ValuesDefault: strings as they are, BOOLEAN true/false, DECIMAL in
	// plain notation, TIMESTAMP without fractions; FLOAT/DOUBLE refused.
	ValuesDefault = "default"
	// ValuesPython: Python's str() of the value PyFlink hands a Python
	// function (True, Decimal, datetime with microseconds, float repr), as
	// an f-string or str() in the team's own function renders it.
	ValuesPython = "python"
)

// BuiltinTemplatesSource names the compiled-in template file in messages.
const BuiltinTemplatesSource = "the built-in templates (udfs/templates.json; FLINKFN_TEMPLATES is not set)"

// piece is a literal (col < 0) or a column placeholder.
type piece struct {
	lit string
	col int
}

type templateJSON struct {
	Module    string          `json:"module"`
	Doc       string          `json:"doc"`
	Columns   []string        `json:"columns"`
	Separator string          `json:"separator"`
	Parts     []string        `json:"parts"`
	Values    string          `json:"values"`
	Null      json.RawMessage `json:"null"`
	Model     string          `json:"model"`
}

// LoadTemplates reads the template file path, or the built-in one when
// path is "". from names the setting the path came from, for messages
// ("FLINKFN_TEMPLATES", "--templates"; "" is TemplatesEnv).
func LoadTemplates(path, from string) ([]*Template, error) {
	if from == "" {
		from = TemplatesEnv
	}
	if p := path; p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("templates (%s): %w", from, err)
		}
		ts, err := ParseTemplates(data)
		if err != nil {
			return nil, fmt.Errorf("templates %s (%s): %w", p, from, err)
		}
		for _, t := range ts {
			t.Source = p + " (" + from + ")"
		}
		return ts, nil
	}
	ts, err := ParseTemplates(DefaultTemplates)
	if err != nil {
		return nil, fmt.Errorf("built-in templates: %w", err)
	}
	for _, t := range ts {
		t.Source = BuiltinTemplatesSource
	}
	return ts, nil
}

// ParseTemplates parses a template file: a JSON object from function name
// to {module?, doc?, columns, separator?, parts, values?, null?, model?}. Sorted by
// name.
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
	t := &Template{Name: name, Module: j.Module, Doc: j.Doc, Columns: j.Columns, Separator: j.Separator, Model: j.Model}
	if t.Model != "" && !isModelName(t.Model) {
		return nil, fmt.Errorf("template %s: \"model\": %q is not a model name; write the name of an installed model (its folder under models/, listed by `flinkfn models`), e.g. \"all-MiniLM-L6-v2\", or leave \"model\" out for the default model",
			name, t.Model)
	}
	if t.Module == "" {
		t.Module = "udfs." + name + "_udf"
	} else if !isModule(t.Module) {
		return nil, fmt.Errorf("template %s: \"module\": %q is not a Python module path; write the module your function is defined in, e.g. \"udfs.%s_udf\" for udfs/%s_udf.py",
			name, t.Module, name, name)
	}
	switch j.Values {
	case "", ValuesDefault:
		t.Values = ValuesDefault
	case ValuesPython:
		t.Values = ValuesPython
	default:
		return nil, fmt.Errorf("template %s: \"values\": unknown style %q; write \"python\" (str() of each value, as a Python f-string renders it) or \"default\"",
			name, j.Values)
	}
	lit, err := parseNullPolicy(j.Null)
	if err != nil {
		return nil, fmt.Errorf("template %s: \"null\": %w", name, err)
	}
	t.NullLiteral = lit
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

// parseNullPolicy reads the "null" key: absent or "skip" (nil), or
// {"literal": "<text>"}.
func parseNullPolicy(raw json.RawMessage) (*string, error) {
	const fix = `write "skip" (leave out a part whose column is NULL or blank; the default) or {"literal": "None"} (render NULL as that text, as Python's str(None) does)`
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "skip" {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown policy %q; %s", s, fix)
	}
	var obj struct {
		Literal *string `json:"literal"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil || obj.Literal == nil {
		return nil, fmt.Errorf("cannot use %s; %s", raw, fix)
	}
	return obj.Literal, nil
}

// isModelName reports whether s can name a model folder (the rule of
// inference's manifest names).
func isModelName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// isModule reports whether s is a dotted Python module path.
func isModule(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if !isIdent(p) {
			return false
		}
	}
	return true
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
	format := appendValue
	if t.Values == ValuesPython {
		format = appendPyValue
	}
	var b strings.Builder
	kept := 0
	for _, ps := range t.parts {
		if t.NullLiteral == nil && !partKept(ps, vals) {
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
			v := vals[p.col]
			if v.IsNull() && t.NullLiteral != nil {
				b.WriteString(*t.NullLiteral)
				continue
			}
			if err := format(&b, v); err != nil {
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

// templateParam is a template column: the SQL types whose text is
// identical in Go and in the Python reference for the template's style
// (FLOAT and DOUBLE only with Python's repr).
func (t *Template) templateParam(name string) fn.Param {
	names := []fn.TypeName{fn.CHAR, fn.VARCHAR, fn.BOOLEAN, fn.TINYINT, fn.SMALLINT,
		fn.INT, fn.BIGINT, fn.DECIMAL, fn.DATE, fn.TIME, fn.TIMESTAMP}
	if t.Values == ValuesPython {
		names = append(names, fn.FLOAT, fn.DOUBLE)
	}
	return fn.Param{Name: name, Accepts: fn.OneOf(names...)}
}

// arityError is the message for a call of the template's function with a
// number of arguments other than its columns: typically a team's own
// function of the same module and name with its own signature. It names
// the template file in use and shows the entry to write.
func (t *Template) arityError(args []*fn.Type) error {
	types := make([]string, len(args))
	cols := make([]string, len(args))
	refs := make([]string, len(args))
	for i, a := range args {
		types[i] = "?"
		if a != nil {
			types[i] = a.String()
		}
		cols[i] = fmt.Sprintf("%q", fmt.Sprintf("c%d", i+1))
		refs[i] = fmt.Sprintf("{c%d}", i+1)
	}
	skeleton := fmt.Sprintf(`{%q: {"module": %q, "columns": [%s], "values": "python", "null": {"literal": "None"}, "parts": [%q]}}`,
		t.Name, t.Module, strings.Join(cols, ", "), strings.Join(refs, " "))
	where := "write a templates file with this entry (rename the columns, write the parts as your function builds its text) and set " +
		TemplatesEnv + "=<that file> for the Flink workers"
	if t.Source != BuiltinTemplatesSource && t.Source != "" {
		where = "edit the entry " + strconv.Quote(t.Name) + " of that file so that its \"columns\" match your call, e.g."
	}
	return fmt.Errorf("%s.%s is flinkfn's template function %q from %s, with %d columns (%s), but the job calls it with %d argument(s) (%s). "+
		"If this is your own %s, tell flinkfn what it renders: %s:\n  %s\n"+
		"(\"values\": \"python\" and \"null\": {\"literal\": \"None\"} render values as str() in an f-string does; see README \"Moving an existing PyFlink job to flinkfn\")",
		t.Module, t.Name, t.Name, t.Source, len(t.Columns), strings.Join(t.Columns, ", "), len(args), strings.Join(types, ", "),
		t.Name, where, skeleton)
}
