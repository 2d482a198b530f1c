// Package tokenizer turns texts into the token ids HuggingFace tokenizers (and so
// sentence-transformers, which uses it) gives, in pure Go, for two families of tokenizer.json,
// chosen by its model type (Kind):
//
//   - "wordpiece": uncased BERT files such as sentence-transformers/all-MiniLM-L6-v2's;
//   - "unigram": sentencepiece Unigram files of the XLM-RoBERTa family (BAAI/bge-m3,
//     intfloat/multilingual-e5-*), described at the end.
//
// Both are proven identical to HF on committed fixtures of thousands of strings
// (testdata/hf-ids.jsonl.gz, testdata/hf-xlmr-ids.jsonl.gz) and live by make test-tokenizer.
//
// # WordPiece
//
// The pipeline for one text is the one sentence-transformers runs:
//
//  1. str(text).strip(): Python's str.strip, which removes the characters str.isspace accepts.
//  2. HF AddedVocabulary: exact occurrences of the added tokens ("[CLS]", "[SEP]", "[PAD]",
//     "[UNK]", "[MASK]") in the raw text become those tokens; the text between them goes on.
//  3. BertNormalizer(clean_text, handle_chinese_chars, strip_accents = null -> lowercase = true,
//     lowercase), implemented here per character with tables probed from the HF library itself
//     (see tables.go, gen_tables.go and scripts/fixtures/gen_tokenizer_fixture.py).
//  4. BertPreTokenizer: split on whitespace, isolate each punctuation character.
//  5. WordPiece (github.com/sugarme/tokenizer's model, with a whole-word vocabulary fast path).
//  6. Truncation to MaxLen tokens including [CLS] and [SEP]; no padding. The truncation and
//     padding settings inside tokenizer.json are ignored, as sentence-transformers overrides them.
//
// Invalid UTF-8 (Flink delivers valid UTF-8, so this should not happen): every invalid byte is
// read as U+FFFD, which clean_text removes, i.e. the text is tokenized as Python would after
// bytes.decode("utf-8", "replace").
//
// github.com/sugarme/tokenizer's own normalizer and pre-tokenizer are not used: they treat
// strip_accents null as false, strip accents without NFD, know only ASCII whitespace and use
// Go's (newer) Unicode tables where HF uses older ones.
//
// # Unigram (XLM-RoBERTa)
//
//  1. str(text).strip(), after reading invalid UTF-8 as Python's decode("utf-8", "replace").
//  2. Added tokens (<s>, <pad>, </s>, <unk>, <mask>) matched on the raw text, leftmost-longest;
//     lstrip/rstrip tokens (<mask>) also take the whitespace beside them.
//  3. The normalizers between them (precompiled.go, sentencepiece.go): Precompiled, the
//     sentencepiece nmt_nfkc character map, applied as HF does (per extended grapheme cluster
//     under 6 bytes the shortest matching key replaces the whole cluster, else per character);
//     Replace (a literal, or a run "c{n,}" such as " {2,}"); Strip.
//  4. Metaspace: spaces become "▁", "▁" is prepended (prepend_scheme always; never is also
//     supported), the text is split before each "▁"; optionally after WhitespaceSplit.
//  5. Unigram (unigram.go): Viterbi over the pieces starting at each character, an unknown
//     character scored min_score - 10, consecutive unknowns fused into one <unk>, optional
//     byte_fallback. Everything in the vocabulary is a piece, "<s>" included.
//  6. <s> ... </s> (TemplateProcessing or RobertaProcessing) and truncation to MaxLen ids as
//     for WordPiece. PadID is tokenizer.json's padding pad_id, else <pad>'s id (1).
//
// github.com/sugarme/tokenizer is not used for this path: its Unigram adds a length bonus HF
// does not have and caps pieces at 20 bytes, and its Precompiled normalizer differs.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	sgtok "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
)

// maxPooledWord is the largest word buffer an encoder keeps in the pool.
const maxPooledWord = 64 << 10

// DefaultMaxLen is sentence-transformers' max_seq_length for all-MiniLM-L6-v2.
const DefaultMaxLen = 256

// Options configures a Tokenizer.
type Options struct {
	// MaxLen is the maximum number of ids in an Encoding, the two special tokens included.
	// 0 means DefaultMaxLen; otherwise it must be at least 2.
	MaxLen int
}

// Encoding is the tokenization of one text.
type Encoding struct {
	IDs       []int64 // [CLS] ... [SEP] (WordPiece) or <s> ... </s> (Unigram), len <= MaxLen
	Truncated bool    // true when tokens were dropped to fit MaxLen
}

// Tokenizer encodes texts; it is safe for concurrent use.
type Tokenizer struct {
	maxLen  int
	vocab   map[string]int32
	unkID   int64
	clsID   int64
	sepID   int64
	maxWord int // WordPiece max_input_chars_per_word
	// added are HF's added tokens, matched in the raw text before normalization.
	added []addedToken
	// addedFirst has a bit set for every first byte of an added token.
	addedFirst [256 / 64]uint64
	wp         wordpiece.WordPiece
	pool       sync.Pool // *encoder
	// padID is the id batches are padded with (see PadID).
	padID int64
	// spm is set for sentencepiece Unigram tokenizers (see sentencepiece.go); the WordPiece
	// fields above are then unused, except added and addedFirst.
	spm *spmPipeline
}

type addedToken struct {
	content string
	id      int64
	// lstrip and rstrip: the token also takes the whitespace on its left or right.
	lstrip, rstrip bool
}

// hfTokenizerJSON is the part of HF's tokenizer.json that Load reads.
type hfTokenizerJSON struct {
	AddedTokens []hfAddedToken `json:"added_tokens"`
	Normalizer  *struct {
		Type               string `json:"type"`
		CleanText          bool   `json:"clean_text"`
		HandleChineseChars bool   `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          bool   `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix string           `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int64 `json:"vocab"`
	} `json:"model"`
	PostProcessor *hfPostProcessor `json:"post_processor"`
	Padding       *struct {
		PadID int64 `json:"pad_id"`
	} `json:"padding"`
}

// hfAddedToken is one entry of tokenizer.json's added_tokens.
type hfAddedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
}

// hfPostProcessor is tokenizer.json's post_processor.
type hfPostProcessor struct {
	Type   string `json:"type"`
	Single []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
	// BertProcessing, RobertaProcessing
	Sep []any `json:"sep"`
	Cls []any `json:"cls"`
}

// Load reads a HuggingFace tokenizer.json and returns a Tokenizer for it. Two configurations
// are supported: uncased BERT (BertNormalizer with clean_text, handle_chinese_chars,
// lowercase and strip_accents null or true; BertPreTokenizer; WordPiece; a [CLS] A [SEP]
// post-processor) and sentencepiece Unigram (see the package doc); anything else is an error
// rather than silently different ids.
func Load(path string, o Options) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	t, err := parse(data, o)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	return t, nil
}

func parse(data []byte, o Options) (t *Tokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("panic while building the tokenizer: %v", r)
		}
	}()
	var head struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	switch head.Model.Type {
	case "WordPiece":
		return parseWordPiece(data, o)
	case "Unigram":
		return parseUnigram(data, o)
	}
	return nil, fmt.Errorf("unsupported model type %q: want WordPiece (BERT) or Unigram (XLM-RoBERTa)", head.Model.Type)
}

// maxLenOf validates Options.MaxLen and applies its default.
func maxLenOf(o Options) (int, error) {
	if o.MaxLen == 0 {
		return DefaultMaxLen, nil
	}
	if o.MaxLen < 2 {
		return 0, fmt.Errorf("MaxLen %d is below 2 (the two special tokens around the text)", o.MaxLen)
	}
	return o.MaxLen, nil
}

func parseWordPiece(data []byte, o Options) (t *Tokenizer, err error) {
	var f hfTokenizerJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	maxLen, err := maxLenOf(o)
	if err != nil {
		return nil, err
	}
	n := f.Normalizer
	if n == nil || n.Type != "BertNormalizer" || !n.CleanText || !n.HandleChineseChars || !n.Lowercase ||
		(n.StripAccents != nil && !*n.StripAccents) {
		return nil, errors.New("unsupported normalizer: want BertNormalizer with clean_text, handle_chinese_chars, " +
			"lowercase and strip_accents null or true")
	}
	if f.PreTokenizer == nil || f.PreTokenizer.Type != "BertPreTokenizer" {
		return nil, errors.New("unsupported pre_tokenizer: want BertPreTokenizer")
	}
	m := f.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf("unsupported model type %q: want WordPiece", m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New("empty WordPiece vocabulary")
	}
	if m.ContinuingSubwordPrefix == "" {
		m.ContinuingSubwordPrefix = "##"
	}
	if m.MaxInputCharsPerWord == 0 {
		m.MaxInputCharsPerWord = 100
	}
	t = &Tokenizer{
		maxLen:  maxLen,
		vocab:   make(map[string]int32, len(m.Vocab)),
		maxWord: m.MaxInputCharsPerWord,
	}
	sv := make(model.Vocab, len(m.Vocab))
	for tok, id := range m.Vocab {
		if id < 0 || id > 1<<31-1 {
			return nil, fmt.Errorf("vocabulary id %d of %q out of range", id, tok)
		}
		t.vocab[tok] = int32(id)
		sv[tok] = int(id)
	}
	unk, ok := m.Vocab[m.UnkToken]
	if !ok {
		return nil, fmt.Errorf("unk_token %q is not in the vocabulary", m.UnkToken)
	}
	t.unkID = unk
	t.padID = m.Vocab["[PAD]"] // 0 when missing, as BERT's [PAD]
	if f.Padding != nil {
		t.padID = f.Padding.PadID
	}
	t.wp = wordpiece.NewWordPieceBuilder().
		Vocab(&sv).
		UnkToken(m.UnkToken).
		ContinuingSubwordPrefix(m.ContinuingSubwordPrefix).
		MaxInputCharsPerWord(m.MaxInputCharsPerWord).
		Build()
	if t.clsID, t.sepID, err = postProcessorIDs(f.PostProcessor); err != nil {
		return nil, err
	}
	vocabID := func(s string) (int64, bool) {
		id, ok := m.Vocab[s]
		return id, ok
	}
	if err := t.setAdded(f.AddedTokens, false, vocabID); err != nil {
		return nil, err
	}
	t.pool.New = func() any { return new(encoder) }
	return t, nil
}

// postProcessorIDs returns the ids the post-processor puts before and after a single sequence.
func postProcessorIDs(p *hfPostProcessor) (cls, sep int64, err error) {
	if p == nil {
		return 0, 0, errors.New("missing post_processor")
	}
	switch p.Type {
	case "TemplateProcessing":
		s := p.Single
		if len(s) != 3 || s[0].SpecialToken == nil || s[1].Sequence == nil || s[2].SpecialToken == nil {
			return 0, 0, errors.New("unsupported TemplateProcessing: want single = [special] $A [special]")
		}
		one := func(name string) (int64, error) {
			st, ok := p.SpecialTokens[name]
			if !ok || len(st.IDs) != 1 {
				return 0, fmt.Errorf("TemplateProcessing special token %q must have exactly one id", name)
			}
			return st.IDs[0], nil
		}
		if cls, err = one(s[0].SpecialToken.ID); err != nil {
			return 0, 0, err
		}
		if sep, err = one(s[2].SpecialToken.ID); err != nil {
			return 0, 0, err
		}
		return cls, sep, nil
	case "BertProcessing", "RobertaProcessing":
		id := func(pair []any, what string) (int64, error) {
			if len(pair) != 2 {
				return 0, fmt.Errorf("%s %s must be [token, id]", p.Type, what)
			}
			v, ok := pair[1].(float64)
			if !ok {
				return 0, fmt.Errorf("%s %s id is not a number", p.Type, what)
			}
			return int64(v), nil
		}
		if cls, err = id(p.Cls, "cls"); err != nil {
			return 0, 0, err
		}
		if sep, err = id(p.Sep, "sep"); err != nil {
			return 0, 0, err
		}
		return cls, sep, nil
	}
	return 0, 0, fmt.Errorf("unsupported post_processor type %q", p.Type)
}

// MaxLen is the maximum length of an Encoding's IDs, the two special tokens included.
func (t *Tokenizer) MaxLen() int { return t.maxLen }

// PadID is the id to pad batches with: tokenizer.json's padding pad_id when set, else the id
// of the pad token ([PAD], 0 for BERT; <pad>, 1 for XLM-RoBERTa).
func (t *Tokenizer) PadID() int64 { return t.padID }

// Kind is the model type, for diagnostics: "wordpiece" or "unigram".
func (t *Tokenizer) Kind() string {
	if t.spm != nil {
		return "unigram"
	}
	return "wordpiece"
}

// Encode tokenizes one text the way sentence-transformers does (see the package doc).
// A panic anywhere inside is returned as an error.
func (t *Tokenizer) Encode(text string) (enc Encoding, err error) {
	if t.spm != nil {
		return t.encodeSpm(text)
	}
	e := t.pool.Get().(*encoder)
	defer func() {
		if r := recover(); r != nil {
			enc, err = Encoding{}, fmt.Errorf("tokenizer: panic while encoding a %d-byte text: %v", len(text), r)
			return // do not return a possibly inconsistent encoder to the pool
		}
		if cap(e.word) <= maxPooledWord {
			t.pool.Put(e)
		}
	}()
	e.reset(t)
	e.encode(pyStrip(text))
	if e.err != nil {
		return Encoding{}, fmt.Errorf("tokenizer: encode a %d-byte text: %w", len(text), e.err)
	}
	ids := make([]int64, 0, len(e.ids)+2)
	ids = append(ids, t.clsID)
	ids = append(ids, e.ids...)
	ids = append(ids, t.sepID)
	return Encoding{IDs: ids, Truncated: e.truncated}, nil
}

// pyStrip is Python's str.strip() without arguments: it removes leading and trailing
// characters for which str.isspace() is true.
func pyStrip(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if !pyIsSpace(r) {
			break
		}
		s = s[n:]
	}
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !pyIsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// pyIsSpace is Python's str.isspace for one character (bidirectional class WS, B or S, or
// category Zs).
func pyIsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// encoder holds the per-call state of Encode; encoders are pooled per Tokenizer.
type encoder struct {
	t         *Tokenizer
	ids       []int64 // content ids, without [CLS] and [SEP]
	limit     int     // maximum number of content ids
	truncated bool
	done      bool // limit exceeded: nothing more is needed
	err       error
	word      []byte // the current word, UTF-8
	wordRunes int
	marks     []mark // pending run of non-starters (canonical combining class != 0)
	scratch   []rune // decomposition of one rune
	lower     []rune // lowercase of one rune
	// sink, when set (tests only), receives the normalized runes instead of the pre-tokenizer.
	sink func(rune)
}

// mark is a non-starter waiting for canonical reordering.
type mark struct {
	r   rune
	ccc uint8
}

func (e *encoder) reset(t *Tokenizer) {
	e.t = t
	e.ids = e.ids[:0]
	e.limit = t.maxLen - 2
	e.truncated, e.done, e.err = false, false, nil
	e.word, e.wordRunes = e.word[:0], 0
	e.marks = e.marks[:0]
}

// encode runs steps 2-5 on the stripped text.
func (e *encoder) encode(s string) {
	t := e.t
	start := 0
	for i := 0; i < len(s) && !e.done; i++ {
		c := s[i]
		if t.addedFirst[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		// Leftmost-longest match among the added tokens, as HF's aho-corasick split does.
		best := -1
		for j, a := range t.added {
			if strings.HasPrefix(s[i:], a.content) && (best < 0 || len(a.content) > len(t.added[best].content)) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		e.segment(s[start:i])
		e.emitID(t.added[best].id)
		i += len(t.added[best].content) - 1
		start = i + 1
	}
	if !e.done {
		e.segment(s[start:])
	}
}

// segment normalizes, pre-tokenizes and WordPiece-encodes text between added tokens.
//
// BertNormalizer is applied per rune: clean_text, handle_chinese_chars, NFD (decomposition
// here, then canonical reordering of each run of non-starters in flushMarks), the
// strip_accents filter and lowercase; every normalized rune then goes through BertPreTokenizer
// (pretok).
func (e *encoder) segment(s string) {
	for _, r := range s { // an invalid byte reads as U+FFFD, which clean_text removes
		if e.done {
			return
		}
		if r < utf8.RuneSelf {
			c := asciiClass[r]
			if c == asciiDrop { // removed before NFD: it does not end a run of marks
				continue
			}
			if len(e.marks) > 0 {
				e.flushMarks()
			}
			if e.sink != nil {
				e.sink(lowerASCII[r])
				continue
			}
			switch c {
			case asciiWord:
				e.word = append(e.word, byte(r))
				e.wordRunes++
			case asciiUpper:
				e.word = append(e.word, byte(r)+'a'-'A')
				e.wordRunes++
			case asciiSpace:
				e.flush()
			case asciiPunct:
				e.flush()
				e.word = append(e.word, byte(r))
				e.wordRunes++
				e.flush()
			}
			continue
		}
		switch {
		case isHFRemoved(r):
		case isHFWhitespace(r):
			e.decomposed(' ')
		case isHFChinese(r):
			e.decomposed(' ')
			e.decompose(r)
			e.decomposed(' ')
		default:
			e.decompose(r)
		}
	}
	e.flushMarks()
	e.flush()
}

// decompose feeds the canonical decomposition of r to decomposed.
func (e *encoder) decompose(r rune) {
	e.scratch = appendNFD(e.scratch[:0], r)
	for _, d := range e.scratch {
		e.decomposed(d)
	}
}

// decomposed takes one rune of the decomposed text: non-starters wait in marks for canonical
// reordering; a starter ends the run. Non-starters that strip_accents removes are dropped
// right away: a stable sort keeps the relative order of the others either way.
func (e *encoder) decomposed(d rune) {
	if c := hfCCC(d); c != 0 {
		if !isHFMn(d) {
			e.marks = append(e.marks, mark{d, c})
		}
		return
	}
	if len(e.marks) > 0 {
		e.flushMarks()
	}
	e.stripLower(d)
}

// flushMarks puts the pending run of non-starters in canonical order (a stable sort by
// combining class) and passes them on.
func (e *encoder) flushMarks() {
	m := e.marks
	if len(m) <= 16 {
		for i := 1; i < len(m); i++ { // insertion sort: stable, and runs are short
			for j := i; j > 0 && m[j-1].ccc > m[j].ccc; j-- {
				m[j-1], m[j] = m[j], m[j-1]
			}
		}
	} else {
		slices.SortStableFunc(m, func(a, b mark) int { return int(a.ccc) - int(b.ccc) })
	}
	for _, x := range m {
		e.stripLower(x.r)
	}
	e.marks = m[:0]
}

// stripLower applies the strip_accents filter and lowercase to one rune in NFD order.
func (e *encoder) stripLower(d rune) {
	if isHFMn(d) {
		return
	}
	e.lower = appendLower(e.lower[:0], d)
	for _, l := range e.lower {
		if e.sink != nil {
			e.sink(l)
			continue
		}
		e.pretok(l)
	}
}

// pretok is BertPreTokenizer for one normalized rune: whitespace ends the current word, a
// punctuation character is a word of its own, anything else extends the current word.
func (e *encoder) pretok(n rune) {
	switch {
	case isHFWhitespace(n):
		e.flush()
	case isHFPunct(n):
		e.flush()
		e.word = utf8.AppendRune(e.word, n)
		e.wordRunes++
		e.flush()
	default:
		e.word = utf8.AppendRune(e.word, n)
		e.wordRunes++
	}
}

// flush WordPiece-encodes the current word, if any.
func (e *encoder) flush() {
	if len(e.word) == 0 || e.done {
		e.word, e.wordRunes = e.word[:0], 0
		return
	}
	t := e.t
	switch {
	case e.wordRunes > t.maxWord:
		e.emitID(t.unkID)
	default:
		if id, ok := t.vocab[string(e.word)]; ok {
			// Fast path: WordPiece's greedy longest match takes the whole word first.
			e.emitID(int64(id))
			break
		}
		toks, err := t.wp.Tokenize(string(e.word))
		if err != nil {
			e.err = fmt.Errorf("WordPiece: %w", err)
			e.done = true
			break
		}
		e.emitTokens(toks)
	}
	e.word, e.wordRunes = e.word[:0], 0
}

func (e *encoder) emitTokens(toks []sgtok.Token) {
	for _, tk := range toks {
		e.emitID(int64(tk.Id))
	}
}

// emitID appends one content id, enforcing the truncation limit.
func (e *encoder) emitID(id int64) {
	if e.done {
		return
	}
	if len(e.ids) >= e.limit {
		e.truncated, e.done = true, true
		return
	}
	e.ids = append(e.ids, id)
}
