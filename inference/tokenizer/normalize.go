package tokenizer

import (
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// runeMapping maps one rune to its replacement string (see tables.go).
type runeMapping struct {
	from rune
	to   string
}

// lookupMapping finds r in a table sorted by from.
func lookupMapping(table []runeMapping, r rune) (string, bool) {
	if len(table) == 0 || r < table[0].from || r > table[len(table)-1].from {
		return "", false
	}
	i, ok := slices.BinarySearchFunc(table, r, func(m runeMapping, r rune) int { return int(m.from - r) })
	if !ok {
		return "", false
	}
	return table[i].to, true
}

// ASCII character classes after HF's BertNormalizer (clean_text, lowercase) and
// BertPreTokenizer.
const (
	asciiWord  uint8 = iota // letters (already lowercase) and digits: part of a word
	asciiUpper              // A-Z: lowercased, part of a word
	asciiDrop               // control characters removed by clean_text
	asciiSpace              // \t \n \r and ' ': word separator
	asciiPunct              // ASCII punctuation: a word of its own
)

// asciiClass classifies the 128 ASCII characters; it is never written after initialization.
var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for i := range c {
		r := rune(i)
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == ' ':
			c[i] = asciiSpace
		case r < 0x20 || r == 0x7f:
			c[i] = asciiDrop
		case r >= 'A' && r <= 'Z':
			c[i] = asciiUpper
		case (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126):
			c[i] = asciiPunct
		default:
			c[i] = asciiWord
		}
	}
	return c
}()

// lowerASCII maps each ASCII character to its lowercase; BertNormalizer output for the ASCII
// characters that clean_text keeps (\t \n \r map to ' ').
var lowerASCII = func() (l [utf8.RuneSelf]rune) {
	for i := range l {
		l[i] = rune(i)
		switch {
		case i >= 'A' && i <= 'Z':
			l[i] += 'a' - 'A'
		case i == '\t' || i == '\n' || i == '\r':
			l[i] = ' '
		}
	}
	return l
}()

// isHFRemoved reports whether BertNormalizer's clean_text drops r (r == 0, r == U+FFFD or
// is_control: unicode_categories' is_other except \t \n \r).
func isHFRemoved(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == asciiDrop
	}
	return unicode.Is(hfOther, r)
}

// isHFWhitespace is BertNormalizer's is_whitespace (mapped to ' ' by clean_text) and Rust's
// char::is_whitespace used by BertPreTokenizer: the White_Space property (which contains
// \t \n \r). Checked after isHFRemoved, which takes \v \f U+0085.
func isHFWhitespace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == asciiSpace || r == '\v' || r == '\f'
	}
	return unicode.Is(unicode.White_Space, r)
}

// isHFChinese is BertNormalizer's is_chinese_char: the CJK ideograph blocks that
// handle_chinese_chars surrounds with spaces.
func isHFChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// isHFMn is unicode_categories' is_mark_nonspacing, the filter strip_accents applies after NFD.
func isHFMn(r rune) bool {
	return r >= 0x300 && unicode.Is(hfMn, r)
}

// isHFPunct is BertPreTokenizer's is_bert_punc.
func isHFPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == asciiPunct
	}
	return unicode.Is(hfPunct, r)
}

// Hangul syllable decomposition constants (Unicode 3.12).
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulTCount = 28
	hangulNCount = 21 * hangulTCount
	hangulSCount = 19 * hangulNCount
)

// appendNFD appends HF's full canonical decomposition of the single rune r to dst; canonical
// reordering (see hfCCC) is up to the caller.
func appendNFD(dst []rune, r rune) []rune {
	if r < 0xC0 { // no canonical decompositions below U+00C0
		return append(dst, r)
	}
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	if d, ok := lookupMapping(hfDecompExceptions, r); ok {
		for _, x := range d {
			dst = append(dst, x)
		}
		return dst
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFD.Properties(buf[:n]).Decomposition()
	if d == nil {
		return append(dst, r)
	}
	for len(d) > 0 {
		x, size := utf8.DecodeRune(d)
		dst = append(dst, x)
		d = d[size:]
	}
	return dst
}

// appendLower appends Rust's char::to_lowercase(r) (full, context-free mapping) to dst.
func appendLower(dst []rune, r rune) []rune {
	switch {
	case r < utf8.RuneSelf:
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, r)
	case r == 0x130: // the only unconditional multi-rune lowercase mapping
		return append(dst, 'i', 0x307)
	}
	if l, ok := lookupMapping(hfLowerExceptions, r); ok {
		for _, x := range l {
			dst = append(dst, x)
		}
		return dst
	}
	return append(dst, unicode.ToLower(r))
}

// hfCCC is the canonical combining class HF's NFD uses: Go's, except for characters newer than
// HF's Unicode edition, which HF treats as starters (class 0). Combining classes of assigned
// characters never change (Unicode stability policy), so Go's value is HF's otherwise.
func hfCCC(r rune) uint8 {
	if r < 0x300 { // no combining marks below U+0300
		return 0
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	c := norm.NFD.Properties(buf[:n]).CCC()
	if _, found := slices.BinarySearch(hfStarterExceptions, r); c != 0 && found {
		return 0
	}
	return c
}
