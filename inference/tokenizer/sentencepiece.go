package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// spmPipeline is the part of a Tokenizer specific to sentencepiece Unigram tokenizer.json files
// (the XLM-RoBERTa family): normalizers, the Metaspace pre-tokenizer and the Unigram model.
type spmPipeline struct {
	normalizers []normalizeStep
	meta        metaspace
	model       *unigram
}

// normalizeStep appends the normalization of src to dst.
type normalizeStep func(dst []byte, src string) []byte

// hfSpmJSON is the part of a Unigram tokenizer.json that the sentencepiece path reads.
type hfSpmJSON struct {
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	Model         hfUnigramModel   `json:"model"`
	AddedTokens   []hfAddedToken   `json:"added_tokens"`
	PostProcessor *hfPostProcessor `json:"post_processor"`
	Padding       *struct {
		PadID int64 `json:"pad_id"`
	} `json:"padding"`
}

// hfNormalizer is one HF normalizer (or a Sequence of them).
type hfNormalizer struct {
	Type                string          `json:"type"`
	Normalizers         []hfNormalizer  `json:"normalizers"`
	PrecompiledCharsmap *string         `json:"precompiled_charsmap"`
	Pattern             json.RawMessage `json:"pattern"`
	Content             string          `json:"content"`
	StripLeft           bool            `json:"strip_left"`
	StripRight          bool            `json:"strip_right"`
}

// hfPreTokenizer is one HF pre-tokenizer (or a Sequence of them).
type hfPreTokenizer struct {
	Type           string           `json:"type"`
	PreTokenizers  []hfPreTokenizer `json:"pretokenizers"`
	Replacement    string           `json:"replacement"`
	AddPrefixSpace *bool            `json:"add_prefix_space"`
	PrependScheme  *string          `json:"prepend_scheme"`
	Split          *bool            `json:"split"`
}

// parseSpm builds the sentencepiece path of a Unigram tokenizer.json.
func parseSpm(data []byte) (*spmPipeline, *hfSpmJSON, error) {
	var f hfSpmJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("parse JSON: %w", err)
	}
	p := &spmPipeline{}
	var err error
	if p.model, err = newUnigram(f.Model); err != nil {
		return nil, nil, err
	}
	if len(f.Normalizer) > 0 && string(f.Normalizer) != "null" {
		var n hfNormalizer
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return nil, nil, fmt.Errorf("parse normalizer: %w", err)
		}
		if p.normalizers, err = normalizeSteps(n, p.normalizers); err != nil {
			return nil, nil, err
		}
	}
	if len(f.PreTokenizer) == 0 || string(f.PreTokenizer) == "null" {
		return nil, nil, errors.New("unsupported Unigram tokenizer without pre_tokenizer: want Metaspace")
	}
	var pt hfPreTokenizer
	if err := json.Unmarshal(f.PreTokenizer, &pt); err != nil {
		return nil, nil, fmt.Errorf("parse pre_tokenizer: %w", err)
	}
	if p.meta, err = newMetaspace(pt); err != nil {
		return nil, nil, err
	}
	return p, &f, nil
}

// normalizeSteps appends the steps of n (flattening Sequences) to steps. Supported: the
// normalizers HF's converters put in front of sentencepiece models (Precompiled, Replace,
// Strip); anything else is an error rather than silently different ids.
func normalizeSteps(n hfNormalizer, steps []normalizeStep) ([]normalizeStep, error) {
	switch n.Type {
	case "Sequence":
		var err error
		for _, c := range n.Normalizers {
			if steps, err = normalizeSteps(c, steps); err != nil {
				return nil, err
			}
		}
		return steps, nil
	case "Precompiled":
		if n.PrecompiledCharsmap == nil {
			return nil, errors.New("Precompiled normalizer without precompiled_charsmap (HF tokenizers cannot load it " +
				"either): remove the normalizer or restore the charsmap from the sentencepiece model")
		}
		pc, err := newPrecompiled(*n.PrecompiledCharsmap)
		if err != nil {
			return nil, err
		}
		return append(steps, pc.appendNormalized), nil
	case "Replace":
		r, err := newReplace(n.Pattern, n.Content)
		if err != nil {
			return nil, err
		}
		return append(steps, r), nil
	case "Strip":
		left, right := n.StripLeft, n.StripRight
		return append(steps, func(dst []byte, src string) []byte {
			if left {
				src = strings.TrimLeftFunc(src, unicode.IsSpace) // Rust char::is_whitespace
			}
			if right {
				src = strings.TrimRightFunc(src, unicode.IsSpace)
			}
			return append(dst, src...)
		}), nil
	}
	return nil, fmt.Errorf("unsupported normalizer %q in a Unigram tokenizer: want Precompiled, Replace or Strip "+
		"(alone or in a Sequence)", n.Type)
}

// newReplace is HF's Replace normalizer for a literal pattern ({"String": "..."}) or a regex
// pattern of the form "c{n,}" (a run of at least n of one literal character, which is what
// HF's converters write: " {2,}"); other regexes are refused, as Go's regexp and Rust's
// regex differ in places.
func newReplace(pattern json.RawMessage, content string) (normalizeStep, error) {
	var pat struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(pattern, &pat); err != nil {
		return nil, fmt.Errorf("parse Replace pattern: %w", err)
	}
	switch {
	case pat.String != nil:
		old := *pat.String
		if old == "" {
			return func(dst []byte, src string) []byte { return append(dst, src...) }, nil
		}
		return func(dst []byte, src string) []byte {
			for {
				i := strings.Index(src, old)
				if i < 0 {
					return append(dst, src...)
				}
				dst = append(append(dst, src[:i]...), content...)
				src = src[i+len(old):]
			}
		}, nil
	case pat.Regex != nil:
		re := *pat.Regex
		c, size := utf8.DecodeRuneInString(re)
		rest := re[size:]
		if c == utf8.RuneError || strings.ContainsRune(`\.^$|?*+()[]{}`, c) ||
			!strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, ",}") {
			return nil, fmt.Errorf("unsupported Replace regex %q: only a run of one literal character (\"c{n,}\") is "+
				"supported", re)
		}
		minRun, err := strconv.Atoi(rest[1 : len(rest)-2])
		if err != nil || minRun < 1 {
			return nil, fmt.Errorf("unsupported Replace regex %q: want \"c{n,}\" with n >= 1", re)
		}
		return func(dst []byte, src string) []byte {
			for len(src) > 0 {
				i := strings.IndexRune(src, c)
				if i < 0 {
					return append(dst, src...)
				}
				dst = append(dst, src[:i]...)
				src = src[i:]
				run := 0
				for len(src) > 0 {
					r, n := utf8.DecodeRuneInString(src)
					if r != c {
						break
					}
					run++
					src = src[n:]
				}
				if run >= minRun {
					dst = append(dst, content...)
				} else {
					for range run {
						dst = utf8.AppendRune(dst, c)
					}
				}
			}
			return dst
		}, nil
	}
	return nil, errors.New("unsupported Replace pattern: want {\"String\": ...} or {\"Regex\": ...}")
}

// metaspace is HF's Metaspace pre-tokenizer (pre_tokenizers/metaspace.rs) with prepend_scheme
// "always" or "never", optionally after WhitespaceSplit.
type metaspace struct {
	repl            string // the replacement character, UTF-8
	prepend         bool   // prepend_scheme always
	split           bool
	whitespaceSplit bool // a Sequence[WhitespaceSplit, Metaspace]
}

func newMetaspace(pt hfPreTokenizer) (metaspace, error) {
	var m metaspace
	if pt.Type == "Sequence" {
		if len(pt.PreTokenizers) != 2 || pt.PreTokenizers[0].Type != "WhitespaceSplit" {
			return m, errors.New("unsupported pre_tokenizer Sequence: want Metaspace or [WhitespaceSplit, Metaspace]")
		}
		m.whitespaceSplit = true
		pt = pt.PreTokenizers[1]
	}
	if pt.Type != "Metaspace" {
		return m, fmt.Errorf("unsupported pre_tokenizer %q in a Unigram tokenizer: want Metaspace", pt.Type)
	}
	if r, n := utf8.DecodeRuneInString(pt.Replacement); r == utf8.RuneError || n != len(pt.Replacement) {
		return m, fmt.Errorf("Metaspace replacement %q is not one character", pt.Replacement)
	}
	m.repl = pt.Replacement
	scheme := "always" // HF's default
	if pt.PrependScheme != nil {
		scheme = *pt.PrependScheme
	}
	if pt.AddPrefixSpace != nil && !*pt.AddPrefixSpace {
		if scheme != "never" && pt.PrependScheme != nil {
			return m, errors.New("Metaspace: add_prefix_space false does not match prepend_scheme " + scheme)
		}
		scheme = "never"
	}
	switch scheme {
	case "always":
		m.prepend = true
	case "never":
	default:
		return m, fmt.Errorf("unsupported Metaspace prepend_scheme %q: want always or never", scheme)
	}
	m.split = pt.Split == nil || *pt.Split
	return m, nil
}

// words calls fn with each pre-token of the normalized text s, until fn returns false.
// buf is scratch space, returned for reuse.
func (m *metaspace) words(s string, buf []byte, fn func(word string) bool) []byte {
	if !m.whitespaceSplit {
		buf, _ = m.wordsOf(s, buf, fn)
		return buf
	}
	for s != "" {
		s = strings.TrimLeftFunc(s, unicode.IsSpace) // WhitespaceSplit: Rust char::is_whitespace
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		more := true
		if buf, more = m.wordsOf(s[:end], buf, fn); !more {
			break
		}
		s = s[end:]
	}
	return buf
}

// wordsOf is Metaspace on one split: spaces become the replacement, the replacement is
// prepended (prepend_scheme always) unless the text starts with it, and the text is split
// before every replacement character (MergedWithNext: a run of them gives one word per
// character, the last one joined to what follows). more is false when fn asked to stop.
func (m *metaspace) wordsOf(s string, buf []byte, fn func(word string) bool) (_ []byte, more bool) {
	if s == "" {
		return buf, true // HF's prepend does nothing on an empty string, and empty splits vanish
	}
	buf = buf[:0]
	if m.prepend && s[0] != ' ' && !strings.HasPrefix(s, m.repl) {
		buf = append(buf, m.repl...)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			buf = append(buf, m.repl...)
		} else {
			buf = append(buf, s[i])
		}
	}
	w := string(buf) // one allocation per split; the words are slices of it
	if !m.split {
		return buf, fn(w)
	}
	start := 0
	for i := 1; i < len(w); i++ {
		// UTF-8 is self-synchronising: the replacement cannot match inside another character.
		if w[i] == m.repl[0] && strings.HasPrefix(w[i:], m.repl) {
			if !fn(w[start:i]) {
				return buf, false
			}
			start = i
		}
	}
	return buf, fn(w[start:])
}

// parseUnigram builds a Tokenizer for a sentencepiece Unigram tokenizer.json.
func parseUnigram(data []byte, o Options) (*Tokenizer, error) {
	maxLen, err := maxLenOf(o)
	if err != nil {
		return nil, err
	}
	p, f, err := parseSpm(data)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{maxLen: maxLen, spm: p, unkID: int64(p.model.unkID)}
	if t.clsID, t.sepID, err = postProcessorIDs(f.PostProcessor); err != nil {
		return nil, err
	}
	vocabID := func(s string) (int64, bool) {
		id, ok := p.model.ids[s]
		return int64(id), ok
	}
	if err := t.setAdded(f.AddedTokens, true, vocabID); err != nil {
		return nil, err
	}
	switch id, ok := p.model.ids["<pad>"]; {
	case f.Padding != nil:
		t.padID = f.Padding.PadID
	case ok:
		t.padID = int64(id)
	default:
		for _, a := range f.AddedTokens {
			if a.Content == "<pad>" {
				t.padID = a.ID
			}
		}
	}
	t.pool.New = func() any { return new(spmEncoder) }
	return t, nil
}

// setAdded records the added tokens, which are matched on the raw text; strip allows lstrip
// and rstrip. As in HF's AddedVocabulary, a token whose content is in the model's vocabulary
// gets the model's id, whatever id tokenizer.json gives it (HF only warns).
func (t *Tokenizer) setAdded(tokens []hfAddedToken, strip bool, vocabID func(string) (int64, bool)) error {
	for _, a := range tokens {
		if a.Normalized || a.SingleWord || (!strip && (a.LStrip || a.RStrip)) {
			what := "normalized and single_word"
			if !strip {
				what = "normalized, single_word, lstrip and rstrip"
			}
			return fmt.Errorf("unsupported added token %q: %s must be false", a.Content, what)
		}
		if a.Content == "" {
			continue
		}
		id := a.ID
		if v, ok := vocabID(a.Content); ok {
			id = v
		}
		t.added = append(t.added, addedToken{content: a.Content, id: id, lstrip: a.LStrip, rstrip: a.RStrip})
		t.addedFirst[a.Content[0]/64] |= 1 << (a.Content[0] % 64)
	}
	return nil
}

// nextAdded finds the first added token in s at or after byte from (leftmost, then longest,
// as HF's aho-corasick split). start and end include the whitespace taken by lstrip and rstrip
// (lstrip never reaches before floor, the end of the previous match).
func (t *Tokenizer) nextAdded(s string, from, floor int) (start, end int, id int64, ok bool) {
	for i := from; i < len(s); i++ {
		c := s[i]
		if t.addedFirst[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		best := -1
		for j, a := range t.added {
			if strings.HasPrefix(s[i:], a.content) && (best < 0 || len(a.content) > len(t.added[best].content)) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		a := &t.added[best]
		start, end = i, i+len(a.content)
		if a.lstrip { // Rust regex \s*$: White_Space, i.e. unicode.IsSpace
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), floor)
		}
		if a.rstrip {
			end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
		}
		return start, end, a.id, true
	}
	return 0, 0, 0, false
}

// spmEncoder holds the per-call state of a sentencepiece Encode; encoders are pooled.
type spmEncoder struct {
	ids       []int64 // content ids
	limit     int
	truncated bool
	norm      []byte // output of a normalizer step
	words     []byte
	nodes     []bestNode
	piece     []int64
}

// encodeSpm runs the sentencepiece path on one text: added tokens on the raw text, then for
// the text between them the normalizers, Metaspace and Unigram; truncation to MaxLen.
func (t *Tokenizer) encodeSpm(text string) (enc Encoding, err error) {
	e := t.pool.Get().(*spmEncoder)
	defer func() {
		if r := recover(); r != nil {
			enc, err = Encoding{}, fmt.Errorf("tokenizer: panic while encoding a %d-byte text: %v", len(text), r)
			return // do not return a possibly inconsistent encoder to the pool
		}
		if cap(e.words) <= maxPooledWord && cap(e.norm) <= maxPooledWord && cap(e.nodes) <= maxPooledWord {
			t.pool.Put(e)
		}
	}()
	e.ids, e.limit, e.truncated = e.ids[:0], t.maxLen-2, false
	s := pyStrip(pyDecodeReplace(text))
	pos := 0
	for pos < len(s) && !e.truncated {
		start, end, id, ok := t.nextAdded(s, pos, pos)
		if !ok {
			break
		}
		t.spmSegment(e, s[pos:start])
		e.emit(id)
		pos = end
	}
	if !e.truncated {
		t.spmSegment(e, s[pos:])
	}
	ids := make([]int64, 0, len(e.ids)+2)
	ids = append(ids, t.clsID)
	ids = append(ids, e.ids...)
	ids = append(ids, t.sepID)
	return Encoding{IDs: ids, Truncated: e.truncated}, nil
}

// emit appends one content id; past the limit it records the truncation instead.
func (e *spmEncoder) emit(id int64) bool {
	if e.truncated {
		return false
	}
	if len(e.ids) >= e.limit {
		e.truncated = true
		return false
	}
	e.ids = append(e.ids, id)
	return true
}

// spmSegment normalizes, pre-tokenizes and encodes the text between two added tokens.
func (t *Tokenizer) spmSegment(e *spmEncoder, s string) {
	if s == "" || e.truncated {
		return
	}
	p := t.spm
	for _, step := range p.normalizers {
		e.norm = step(e.norm[:0], s)
		s = string(e.norm) // a copy: the next step may reuse the buffer
	}
	e.words = p.meta.words(s, e.words, func(w string) bool {
		e.piece, e.nodes = p.model.encodeWord(e.piece[:0], w, e.nodes)
		for _, id := range e.piece {
			if !e.emit(id) {
				return false
			}
		}
		return true
	})
}

// pyDecodeReplace returns s when it is valid UTF-8, else what Python's
// s.decode("utf-8", "replace") gives: each maximal prefix of a valid sequence that is cut
// short, and each byte that cannot start one, becomes one U+FFFD.
func pyDecodeReplace(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r != utf8.RuneError || n != 1 {
			b.WriteString(s[:n])
			s = s[n:]
			continue
		}
		b.WriteRune(utf8.RuneError)
		s = s[invalidPrefixLen(s):]
	}
	return b.String()
}

// invalidPrefixLen is the length of the maximal subpart of an ill-formed sequence at the start
// of s (Unicode §3.9, which Python follows): the lead byte and the continuation bytes that are
// still valid for it; at least 1.
func invalidPrefixLen(s string) int {
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch c := s[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		lo, need = 0xA0, 2
	case c == 0xED:
		hi, need = 0x9F, 2
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		lo, need = 0x90, 3
	case c == 0xF4:
		hi, need = 0x8F, 3
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(s); n++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}
