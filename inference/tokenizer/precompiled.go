package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is sentencepiece's precompiled character map as HF tokenizers applies it
// (normalizers::Precompiled, crate spm_precompiled): a darts-clone double-array trie whose
// values are offsets of NUL-terminated replacements in a string blob.
//
// HF's application, reproduced exactly (it is not sentencepiece's own):
//   - the text is cut into extended grapheme clusters;
//   - a cluster shorter than 6 bytes is looked up whole: when any key is a prefix of it, the
//     whole cluster becomes the replacement of the SHORTEST such key;
//   - otherwise (or when nothing matched) each character is looked up alone the same way and
//     kept as is when no key is a prefix of it.
type precompiled struct {
	units []uint32 // the double array
	blob  []byte   // normalized strings, NUL-terminated
}

func newPrecompiled(b64 string) (*precompiled, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("Precompiled normalizer: precompiled_charsmap is not base64: %w", err)
	}
	if len(raw) < 4 {
		return nil, errors.New("Precompiled normalizer: precompiled_charsmap is shorter than its 4-byte header")
	}
	size := binary.LittleEndian.Uint32(raw)
	n := int(size / 4)
	if n > (len(raw)-4)/4 {
		return nil, fmt.Errorf("Precompiled normalizer: the trie of %d bytes does not fit in the %d-byte charsmap",
			size, len(raw))
	}
	p := &precompiled{units: make([]uint32, n)}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(raw[4+4*i:])
	}
	p.blob = raw[4+4*n:]
	if !utf8.Valid(p.blob) {
		return nil, errors.New("Precompiled normalizer: the normalized strings of precompiled_charsmap are not UTF-8")
	}
	if n == 0 {
		return nil, errors.New("Precompiled normalizer: the charsmap has an empty trie")
	}
	return p, nil
}

// transform returns the replacement for chunk: that of the shortest key that is a prefix of
// chunk (spm_precompiled's transform). ok is false when no key is a prefix of chunk.
func (p *precompiled) transform(chunk string) (repl string, ok bool) {
	u := p.units
	offset := func(x uint32) uint32 { return (x >> 10) << ((x & (1 << 9)) >> 6) }
	pos := offset(u[0])
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			return "", false
		}
		pos ^= uint32(c)
		if int(pos) >= len(u) {
			return "", false
		}
		x := u[pos]
		if x&((1<<31)|0xFF) != uint32(c) {
			return "", false
		}
		pos ^= offset(x)
		if (x>>8)&1 == 1 {
			if int(pos) >= len(u) {
				return "", false
			}
			start := int(u[pos] & (1<<31 - 1))
			if start > len(p.blob) {
				return "", false
			}
			end := start
			for end < len(p.blob) && p.blob[end] != 0 {
				end++
			}
			return string(p.blob[start:end]), true
		}
	}
	return "", false
}

// appendNormalized appends the normalization of s to dst.
func (p *precompiled) appendNormalized(dst []byte, s string) []byte {
	state := -1
	for len(s) > 0 {
		var g string
		c1, n1 := utf8.DecodeRuneInString(s)
		if graphemeSimple(c1) && c1 != '\r' {
			if c2, _ := utf8.DecodeRuneInString(s[n1:]); n1 == len(s) || graphemeSimple(c2) {
				g, s, state = s[:n1], s[n1:], -1
			}
		}
		if g == "" {
			g, s = nextGrapheme(&state, g, s)
		}
		if len(g) < 6 {
			if r, ok := p.transform(g); ok {
				dst = append(dst, r...)
				continue
			}
		}
		for len(g) > 0 {
			_, n := utf8.DecodeRuneInString(g)
			part := g[:n]
			g = g[n:]
			if r, ok := p.transform(part); ok {
				dst = append(dst, r...)
			} else {
				dst = append(dst, part...)
			}
		}
	}
	return dst
}

// nextGrapheme cuts the first extended grapheme cluster off s with uniseg, joining to it the
// characters that became Extend after uniseg's Unicode edition (15.0) and before HF's
// (unicode-segmentation, Unicode 17): after them uniseg continues the cluster as after any
// other character.
func nextGrapheme(state *int, g, s string) (string, string) {
	whole := s
	g, s, _, *state = uniseg.FirstGraphemeClusterInString(s, *state)
	for s != "" {
		r, _ := utf8.DecodeRuneInString(s)
		last, _ := utf8.DecodeLastRuneInString(g)
		if !newerExtend(r) || graphemeControl(last) {
			break
		}
		var more string
		more, s, _, *state = uniseg.FirstGraphemeClusterInString(s, -1)
		g = whole[:len(g)+len(more)]
	}
	return g, s
}

// graphemeControl reports whether r has grapheme break property Control, CR or LF, after which
// a cluster always ends (UAX #29 GB4).
func graphemeControl(r rune) bool {
	switch r {
	case 0x200C, 0x200D: // Extend, ZWJ
		return false
	case 0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD,
		0x110CD: // Prepend
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp, unicode.Cf)
}

// newerExtend reports whether r has grapheme break property Extend in HF's Unicode edition but
// is unassigned in uniseg's (found by TestPrecompiledGraphemes for the BMP).
func newerExtend(r rune) bool {
	return r == 0x0897 || r >= 0x1ACF && r <= 0x1ADD || r >= 0x1AE0 && r <= 0x1AEB
}

// graphemeSimple reports whether r is in a range of characters that never join a grapheme
// cluster with a neighbour from these ranges (UAX #29: grapheme break property Other, LF or
// Control, or Hangul syllables, and no Extend, SpacingMark, Prepend, ZWJ or Regional
// Indicator in between), CR excepted by the caller. Between two of them there is always a
// boundary, so the segmenter can be skipped; an Extended_Pictographic among them (©, ®) only
// joins after a ZWJ, which is not in these ranges.
func graphemeSimple(r rune) bool {
	switch {
	case r < 0x300: // ASCII, Latin-1, Latin Extended-A/B, IPA, spacing modifiers
		return true
	case r < 0x370: // combining diacritical marks
		return false
	case r < 0x483: // Greek, Cyrillic letters
		return true
	case r < 0x48A: // Cyrillic combining marks
		return false
	case r < 0x530: // Cyrillic, Cyrillic Supplement
		return true
	case r >= 0x3041 && r < 0x3097, r >= 0x30A0 && r < 0x3100: // kana, without U+3099/309A
		return true
	case r >= 0x4E00 && r < 0xA000: // CJK unified ideographs
		return true
	case r >= 0xAC00 && r < 0xD7A4: // Hangul syllables (join only with conjoining jamo)
		return true
	}
	return false
}
