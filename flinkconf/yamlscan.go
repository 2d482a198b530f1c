package flinkconf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// prepareYAML brings a config.yaml to what the Go YAML library reads the
// same way snakeyaml-engine 2.6 (Flink's YamlParserUtils) does. It walks the
// text with the token boundaries of the engine's ScannerImpl and rejects
// what the engine rejects and the Go library would take:
//
//   - a tab where the engine looks for the next token (after ':', '-', '?',
//     ',', a quoted scalar, a flow collection, a tag or a document marker,
//     in the indentation of a line, on a line of only blanks): "found
//     character '\t(TAB)' that cannot start any token";
//   - "%YAML 2.x" (YamlVersionException), a repeated %YAML directive;
//   - escapes YAML 1.2 does not have ("\'"), a tag followed by something
//     else than a space or a line break, a block-scalar header followed by
//     '#' without a space, an empty block scalar followed by a line that is
//     not at the enclosing indentation (the engine's check for test S98Z);
//
// and rewrites what the engine takes and the Go library would not, or would
// read otherwise: "%YAML 1.x" of any minor version (the Go library takes only
// 1.1), reserved directives ("%FOO ..."), the escape "\/", '?' inside flow
// plain scalars, anchor names with ':', a block scalar's first line that
// starts with a tab, and U+0085, U+2028, U+2029 and a byte order mark inside
// the text (see hideUnicodeBreaks; the returned replacer, when not nil, puts
// them back into the decoded scalars).
//
// Anything else the engine rejects is left for the Go library, which rejects
// the same texts (testdata/corpus proves both against Flink's own classes).
func prepareYAML(data []byte) ([]byte, *strings.Replacer, error) {
	if !utf8.Valid(data) {
		return data, nil, nil // the Go library reports invalid UTF-8
	}
	s := &engineScanner{src: []rune(string(data)), indent: -1, allowSimple: true, keys: map[int]simpleKey{}, anchors: map[string]int{}}
	if err := s.run(); err != nil {
		return nil, nil, err
	}
	sort.SliceStable(s.edits, func(i, j int) bool { return s.edits[i].from < s.edits[j].from })
	var out strings.Builder
	last := 0
	for _, e := range s.edits {
		out.WriteString(string(s.src[last:e.from]))
		out.WriteString(e.text)
		last = e.to
	}
	out.WriteString(string(s.src[last:]))
	text, restore := hideUnicodeBreaks(out.String())
	return []byte(text), restore, nil
}

// hideUnicodeBreaks: the engine's scanner takes U+0085, U+2028 and U+2029
// inside scalars and comments as text, and a byte order mark past the first
// character too; the Go library breaks lines at the first three and rejects
// the fourth. They are handed over as private-use characters that the
// returned replacer turns back in the decoded scalars (unless the text
// already holds those private-use characters).
func hideUnicodeBreaks(text string) (string, *strings.Replacer) {
	unicodeBreaks := [][2]string{{"\u0085", "\uF8F0"}, {"\u2028", "\uF8F1"}, {"\u2029", "\uF8F2"}, {"\uFEFF", "\uF8F3"}}
	bom := strings.HasPrefix(text, "\uFEFF")
	body := strings.TrimPrefix(text, "\uFEFF")
	if !strings.ContainsAny(body, "\u0085\u2028\u2029\uFEFF") || strings.ContainsAny(body, "\uF8F0\uF8F1\uF8F2\uF8F3") {
		return text, nil
	}
	var hide, restore []string
	for _, p := range unicodeBreaks {
		hide = append(hide, p[0], p[1])
		restore = append(restore, p[1], p[0])
	}
	body = strings.NewReplacer(hide...).Replace(body)
	if bom {
		body = "\uFEFF" + body
	}
	return body, strings.NewReplacer(restore...)
}

type simpleKey struct{ index, line, col int }

type textEdit struct {
	from, to int // rune offsets
	text     string
}

// engineScanner follows ScannerImpl's fetchMoreTokens without building
// tokens: only the state that decides where tokens end (flow level,
// indentation stack, simple keys) is kept.
type engineScanner struct {
	src         []rune
	pos         int
	line, col   int
	flow        int
	indent      int
	indents     []int
	allowSimple bool
	keys        map[int]simpleKey
	anchors     map[string]int
	edits       []textEdit
	seenYAML    bool
	reserved    int
	done        bool // something the Go library reports: stop looking
}

const (
	// The engine's character classes (CharConstants): only '\r' and '\n'
	// are line breaks in them, though scanLineBreak also takes U+0085,
	// U+2028 and U+2029.
	engNullBlTLinebr = " \t\r\n"
	engLinebr        = "\r\n"
	engEscapes       = "0abt\tnvfre \"/\\N_LPxuU"
	engDirectiveName = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	engURISuffix     = engDirectiveName + "-;/?:@&=+$_.!~*'()%"
	engURIPrefix     = engURISuffix + ",[]"
)

func (s *engineScanner) peek(n int) rune {
	if s.pos+n < len(s.src) {
		return s.src[s.pos+n]
	}
	return 0
}

// blank: NULL_BL_T_LINEBR (end of input counts as NUL).
func isBlankT(r rune) bool      { return r == 0 || strings.ContainsRune(engNullBlTLinebr, r) }
func isBlank(r rune) bool       { return r == 0 || (r != '\t' && strings.ContainsRune(engNullBlTLinebr, r)) }
func isNullOrBreak(r rune) bool { return r == 0 || strings.ContainsRune(engLinebr, r) }

// forward moves like StreamReader.forward: '\n', or '\r' not followed by
// '\n', starts a new line; a BOM takes no column.
func (s *engineScanner) forward(n int) {
	for ; n > 0 && s.pos < len(s.src); n-- {
		c := s.src[s.pos]
		s.pos++
		switch {
		case c == '\n' || (c == '\r' && s.peek(0) != '\n'):
			s.line++
			s.col = 0
		case c != '\uFEFF':
			s.col++
		}
	}
}

func (s *engineScanner) lineBreak() bool {
	switch c := s.peek(0); c {
	case '\r':
		if s.peek(1) == '\n' {
			s.forward(2)
		} else {
			s.forward(1)
		}
		return true
	case '\n', '\u0085', '\u2028', '\u2029':
		s.forward(1)
		return true
	}
	return false
}

func (s *engineScanner) tabErr() error {
	return newErr(ClassYAML, fmt.Sprintf(
		"found character '\\t(TAB)' that cannot start any token (line %d, column %d): Flink's YAML parser does not take a tab here; use spaces",
		s.line+1, s.col+1), nil)
}

func (s *engineScanner) run() error {
	if s.peek(0) == '\uFEFF' {
		s.forward(1)
	}
	for !s.done {
		s.toNextToken()
		s.staleKeys()
		s.unwind(s.col)
		if err := s.fetch(); err != nil {
			return err
		}
	}
	return nil
}

func (s *engineScanner) toNextToken() {
	for {
		for s.peek(0) == ' ' {
			s.forward(1)
		}
		if s.peek(0) == '#' {
			for !isNullOrBreak(s.peek(0)) {
				s.forward(1)
			}
		}
		at := s.pos
		if !s.lineBreak() {
			return
		}
		if c := s.src[at]; c != '\r' && c != '\n' {
			// U+0085, U+2028, U+2029 between tokens: a line break to the
			// engine that moves neither line nor column; a space to the Go
			// library (which would otherwise get them as text, see
			// hideUnicodeBreaks).
			s.edits = append(s.edits, textEdit{at, at + 1, " "})
		}
		if s.flow == 0 {
			s.allowSimple = true
		}
	}
}

func (s *engineScanner) staleKeys() {
	for lvl, k := range s.keys {
		if k.line != s.line || s.pos-k.index > 1024 {
			delete(s.keys, lvl)
		}
	}
}

func (s *engineScanner) unwind(col int) {
	if s.flow != 0 {
		return
	}
	for s.indent > col {
		s.indent = s.indents[len(s.indents)-1]
		s.indents = s.indents[:len(s.indents)-1]
	}
}

func (s *engineScanner) addIndent(col int) {
	if s.indent < col {
		s.indents = append(s.indents, s.indent)
		s.indent = col
	}
}

func (s *engineScanner) saveKey() {
	if s.allowSimple {
		s.keys[s.flow] = simpleKey{index: s.pos, line: s.line, col: s.col}
	}
}

func (s *engineScanner) fetch() error {
	c := s.peek(0)
	switch {
	case s.pos >= len(s.src):
		s.done = true
		return nil
	case c == '%' && s.col == 0:
		return s.directive()
	case (c == '-' || c == '.') && s.col == 0 && s.peek(1) == c && s.peek(2) == c && isBlankT(s.peek(3)):
		if c == '-' {
			s.seenYAML = false
		}
		s.unwind(-1)
		delete(s.keys, s.flow)
		s.allowSimple = false
		s.forward(3)
		return nil
	case c == '-' && isBlankT(s.peek(1)), c == '?' && isBlankT(s.peek(1)):
		if s.flow == 0 {
			s.addIndent(s.col)
		}
		s.allowSimple = c == '-' || s.flow == 0
		delete(s.keys, s.flow)
		s.forward(1)
		return nil
	case c == '[' || c == '{':
		s.saveKey()
		s.flow++
		s.allowSimple = true
		s.forward(1)
		return nil
	case c == ']' || c == '}':
		delete(s.keys, s.flow)
		if s.flow == 0 {
			s.done = true
			return nil
		}
		s.flow--
		s.allowSimple = false
		s.forward(1)
		return nil
	case c == ',':
		s.allowSimple = true
		delete(s.keys, s.flow)
		s.forward(1)
		return nil
	case c == ':' && (s.flow != 0 || isBlankT(s.peek(1))):
		if k, ok := s.keys[s.flow]; ok {
			delete(s.keys, s.flow)
			if s.flow == 0 {
				s.addIndent(k.col)
			}
			s.allowSimple = false
		} else {
			if s.flow == 0 {
				s.addIndent(s.col)
			}
			s.allowSimple = s.flow == 0
		}
		s.forward(1)
		return nil
	case c == '*' || c == '&':
		s.saveKey()
		s.allowSimple = false
		return s.anchor()
	case c == '!':
		s.saveKey()
		s.allowSimple = false
		return s.tag()
	case (c == '|' || c == '>') && s.flow == 0:
		s.allowSimple = true
		delete(s.keys, s.flow)
		return s.blockScalar()
	case c == '\'' || c == '"':
		s.saveKey()
		s.allowSimple = false
		return s.flowScalar(c == '"')
	case s.checkPlain(c):
		s.saveKey()
		s.allowSimple = false
		s.plain()
		return nil
	case c == '\t':
		return s.tabErr()
	}
	s.done = true // the engine fails here too, on something else than a tab
	return nil
}

func (s *engineScanner) checkPlain(c rune) bool {
	if !isBlankT(c) && !strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", c) {
		return true
	}
	next := s.peek(1)
	if s.flow == 0 {
		return !isBlankT(next) && strings.ContainsRune("-?:", c)
	}
	return !isBlankT(next) && !strings.ContainsRune(",]", next) && strings.ContainsRune("-?", c)
}

// directive follows scanDirective and the parser's directive checks.
func (s *engineScanner) directive() error {
	s.unwind(-1)
	delete(s.keys, s.flow)
	s.allowSimple = false
	start := s.pos
	s.forward(1)
	n := 0
	for strings.ContainsRune(engDirectiveName, s.peek(n)) && s.peek(n) != 0 {
		n++
	}
	if n == 0 || !isBlank(s.peek(n)) {
		s.done = true // "expected alphabetic or numeric character": the Go library fails too
		return nil
	}
	name := string(s.src[s.pos : s.pos+n])
	s.forward(n)
	switch name {
	case "YAML":
		for s.peek(0) == ' ' {
			s.forward(1)
		}
		major, ok := s.directiveNumber()
		if !ok || s.peek(0) != '.' {
			return s.directiveErr("expected a digit or '.'")
		}
		s.forward(1)
		minor, ok := s.directiveNumber()
		if !ok || !isBlank(s.peek(0)) {
			return s.directiveErr("expected a digit or ' '")
		}
		if err := s.directiveLineEnd(); err != nil {
			return err
		}
		if s.seenYAML {
			return newErr(ClassYAML, fmt.Sprintf("found duplicate YAML directive (line %d)", s.line), nil)
		}
		s.seenYAML = true
		if major != 1 {
			return newErr(ClassYAMLVersion, fmt.Sprintf("Version{major=%d, minor=%d}", major, minor), nil)
		}
		s.edits = append(s.edits, textEdit{start, s.lineEnd(start), "%YAML 1.1"})
		return nil
	case "TAG":
		for !isNullOrBreak(s.peek(0)) {
			s.forward(1) // checked by the Go library
		}
		return s.directiveLineEnd()
	}
	for !isNullOrBreak(s.peek(0)) {
		s.forward(1)
	}
	// A reserved directive is ignored by the engine; the Go library knows
	// only YAML and TAG, so it gets a TAG directive no document can use.
	s.reserved++
	s.edits = append(s.edits, textEdit{start, s.pos, fmt.Sprintf("%%TAG !flinkconf-reserved-%d! tag:flinkconf.invalid,%d:", s.reserved, s.reserved)})
	return s.directiveLineEnd()
}

func (s *engineScanner) lineEnd(from int) int {
	i := from
	for i < len(s.src) && !isNullOrBreak(s.src[i]) {
		i++
	}
	return i
}

func (s *engineScanner) directiveNumber() (int, bool) {
	v, n := 0, 0
	for c := s.peek(0); c >= '0' && c <= '9'; c = s.peek(0) {
		if v < 1<<30 {
			v = v*10 + int(c-'0')
		}
		n++
		s.forward(1)
	}
	return v, n > 0
}

func (s *engineScanner) directiveLineEnd() error {
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	if s.peek(0) == '#' {
		for !isNullOrBreak(s.peek(0)) {
			s.forward(1)
		}
	}
	if s.peek(0) != 0 && !s.lineBreak() {
		return s.directiveErr("expected a comment or a line break")
	}
	return nil
}

func (s *engineScanner) directiveErr(what string) error {
	return newErr(ClassYAML, fmt.Sprintf("while scanning a directive: %s, but found %q (line %d, column %d)",
		what, s.peek(0), s.line+1, s.col+1), nil)
}

// tag follows scanTag: a verbatim tag "!<uri>", the non-specific "!", or
// a shorthand "!suffix" / "!handle!suffix" with the engine's URI
// characters; the character after a tag must be a space or a line break (a
// tab or a flow indicator is an error, which the Go library does not make).
func (s *engineScanner) tag() error {
	c := s.peek(1)
	switch {
	case c == '<':
		s.forward(2)
		if s.uri(engURIPrefix) == 0 || s.peek(0) != '>' {
			return s.tagErr("expected '>'")
		}
		s.forward(1)
	case isBlankT(c):
		s.forward(1)
	default:
		handle := false
		for n := 1; !isBlank(s.peek(n)); n++ {
			if s.peek(n) == '!' {
				handle = true
				break
			}
		}
		s.forward(1)
		if handle {
			for strings.ContainsRune(engDirectiveName, s.peek(0)) && s.peek(0) != 0 {
				s.forward(1)
			}
			if s.peek(0) != '!' {
				return s.tagErr("expected '!'")
			}
			s.forward(1)
		}
		if s.uri(engURISuffix) == 0 {
			return s.tagErr("expected URI")
		}
	}
	if s.peek(0) == '\t' {
		return s.tabErr()
	}
	if !isBlank(s.peek(0)) {
		return s.tagErr("expected ' '")
	}
	return nil
}

// uri skips the characters scanTagUri takes ('%' escapes are checked by the
// Go library) and returns how many.
func (s *engineScanner) uri(chars string) int {
	n := 0
	for c := s.peek(0); c != 0 && strings.ContainsRune(chars, c); c = s.peek(0) {
		s.forward(1)
		n++
	}
	return n
}

func (s *engineScanner) tagErr(what string) error {
	return newErr(ClassYAML, fmt.Sprintf("while scanning a tag: %s, but found %q (line %d, column %d)",
		what, s.peek(0), s.line+1, s.col+1), nil)
}

// anchor follows scanAnchor. The engine's anchor names may hold characters
// the Go library ends a name at (':' among them), so every anchor and alias
// is handed over under a plain name of its own.
func (s *engineScanner) anchor() error {
	s.forward(1)
	start := s.pos
	for c := s.peek(0); !isBlankT(c) && !strings.ContainsRune(",[]{}/.*&", c); c = s.peek(0) {
		s.forward(1)
	}
	if s.pos == start || !(isBlankT(s.peek(0)) || strings.ContainsRune("?:,]}%@`", s.peek(0))) {
		s.done = true // "unexpected character found": the Go library fails too
		return nil
	}
	name := string(s.src[start:s.pos])
	id, ok := s.anchors[name]
	if !ok {
		id = len(s.anchors) + 1
		s.anchors[name] = id
	}
	s.edits = append(s.edits, textEdit{start, s.pos, fmt.Sprintf("a%d", id)})
	return nil
}

// blockScalar follows scanBlockScalar: header, indentation and the lines
// it takes, so that what follows is scanned where the engine scans it.
func (s *engineScanner) blockScalar() error {
	s.forward(1)
	increment := 0
	if c := s.peek(0); c == '-' || c == '+' {
		s.forward(1)
		if d := s.peek(0); d >= '0' && d <= '9' {
			if d == '0' {
				return s.blockErr("expected indentation indicator in the range 1-9, but found 0")
			}
			increment = int(d - '0')
			s.forward(1)
		}
	} else if c >= '0' && c <= '9' {
		if c == '0' {
			return s.blockErr("expected indentation indicator in the range 1-9, but found 0")
		}
		increment = int(c - '0')
		s.forward(1)
		if d := s.peek(0); d == '-' || d == '+' {
			s.forward(1)
		}
	}
	header := s.pos
	if s.peek(0) == '\t' {
		return s.tabErr()
	}
	if !isBlank(s.peek(0)) {
		return s.blockErr(fmt.Sprintf("expected chomping or indentation indicators, but found %q", s.peek(0)))
	}
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	if s.peek(0) == '#' {
		for !isNullOrBreak(s.peek(0)) {
			s.forward(1)
		}
	}
	if s.peek(0) != 0 && !s.lineBreak() {
		if s.peek(0) == '\t' {
			return s.tabErr()
		}
		return s.blockErr(fmt.Sprintf("expected a comment or a line break, but found %q", s.peek(0)))
	}
	minIndent := s.indent + 1
	if minIndent < 1 {
		minIndent = 1
	}
	var blockIndent int
	if increment > 0 {
		blockIndent = minIndent + increment - 1
		s.blockBreaks(blockIndent)
	} else {
		maxIndent := 0
		for c := s.peek(0); c == ' ' || c == '\r' || c == '\n'; c = s.peek(0) {
			if c == ' ' {
				s.forward(1)
				if s.col > maxIndent {
					maxIndent = s.col
				}
			} else {
				s.lineBreak()
			}
		}
		blockIndent = max(minIndent, maxIndent)
		// The engine takes a first content line that starts with a tab
		// after its indentation; the Go library only when the indentation
		// is given, so it is given: the one the engine found.
		if inc := blockIndent - max(s.indent, 0); s.col == blockIndent && s.peek(0) == '\t' && inc >= 1 && inc <= 9 {
			s.edits = append(s.edits, textEdit{header, header, strconv.Itoa(inc)})
		}
	}
	if s.col < blockIndent && s.indent != s.col {
		// The engine's check for leading blank lines indented deeper than
		// the first content line (YAML test S98Z) also fails an empty block
		// scalar followed by a line that is not at the enclosing
		// indentation ("a:\n  b: |\nc: 1"); the Go library takes both.
		return s.blockErr(fmt.Sprintf("the leading empty lines contain more spaces (%d) than the first non-empty line", blockIndent))
	}
	for s.col == blockIndent && s.pos < len(s.src) {
		for !isNullOrBreak(s.peek(0)) {
			s.forward(1)
		}
		s.lineBreak()
		s.blockBreaks(blockIndent)
	}
	return nil
}

func (s *engineScanner) blockErr(what string) error {
	return newErr(ClassYAML, fmt.Sprintf("while scanning a block scalar: %s (line %d, column %d)", what, s.line+1, s.col+1), nil)
}

func (s *engineScanner) blockBreaks(indent int) {
	for s.col < indent && s.peek(0) == ' ' {
		s.forward(1)
	}
	for s.lineBreak() {
		for s.col < indent && s.peek(0) == ' ' {
			s.forward(1)
		}
	}
}

// flowScalar skips a quoted scalar. In a double-quoted one it turns the
// escape "\/" into '/', which the Go library does not know, and rejects an
// escape the engine does not know ("\'", which the Go library takes).
func (s *engineScanner) flowScalar(double bool) error {
	quote := s.peek(0)
	s.forward(1)
	for s.pos < len(s.src) {
		c := s.peek(0)
		switch {
		case !double && c == '\'' && s.peek(1) == '\'':
			s.forward(2)
		case c == quote:
			s.forward(1)
			return nil
		case double && c == '\\':
			switch e := s.peek(1); {
			case e == '/':
				s.edits = append(s.edits, textEdit{s.pos, s.pos + 2, "/"})
			case !strings.ContainsRune(engEscapes, e) && !isNullOrBreak(e):
				return newErr(ClassYAML, fmt.Sprintf(
					"while scanning a double-quoted scalar: found unknown escape character %q (line %d, column %d)",
					e, s.line+1, s.col+2), nil)
			}
			s.forward(1)
			if !s.lineBreak() {
				s.forward(1)
			}
		default:
			s.forward(1)
		}
	}
	s.done = true // unterminated: the Go library reports it
	return nil
}

// plain follows scanPlain and scanPlainSpaces: trailing blanks of a plain
// scalar (tabs included) belong to it; a continuation line starts after
// spaces only.
func (s *engineScanner) plain() {
	plainIndent := s.indent + 1
	start, end := s.pos, s.pos
	defer func() {
		// The engine's flow plain scalars may hold '?' ("[x?, y]"), which
		// the Go library's end the scalar; a plain scalar with '?' always
		// resolves to a string, so it is handed over single-quoted.
		if raw := string(s.src[start:end]); s.flow != 0 && strings.ContainsRune(raw, '?') {
			s.edits = append(s.edits, textEdit{start, end, "'" + strings.ReplaceAll(raw, "'", "''") + "'"})
		}
	}()
	for s.peek(0) != '#' {
		n := 0
		for {
			c := s.peek(n)
			if isBlankT(c) ||
				(c == ':' && (isBlankT(s.peek(n+1)) || (s.flow != 0 && strings.ContainsRune(",[]{}", s.peek(n+1))))) ||
				(s.flow != 0 && strings.ContainsRune(",[]{}", c)) {
				break
			}
			n++
		}
		if n == 0 {
			return
		}
		s.allowSimple = false
		s.forward(n)
		end = s.pos
		if !s.plainSpaces() || s.peek(0) == '#' || (s.flow == 0 && s.col < plainIndent) {
			return
		}
	}
}

func (s *engineScanner) plainSpaces() bool {
	n := 0
	for c := s.peek(n); c == ' ' || c == '\t'; c = s.peek(n) {
		n++
	}
	s.forward(n)
	if !s.lineBreak() {
		return n > 0
	}
	s.allowSimple = true
	if s.docSeparator() {
		return false
	}
	for {
		if s.peek(0) == ' ' {
			s.forward(1)
			continue
		}
		if !s.lineBreak() {
			return true
		}
		if s.docSeparator() {
			return false
		}
	}
}

// docSeparator is scanPlainSpaces' test: "---" (followed by anything) or
// "..." followed by a blank.
func (s *engineScanner) docSeparator() bool {
	p := func(c rune) bool { return s.peek(0) == c && s.peek(1) == c && s.peek(2) == c }
	return p('-') || (p('.') && isBlankT(s.peek(3)))
}
