package tokenizer

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUnicodeTablesMatchHF checks every Unicode scalar value against the probe of HF tokenizers'
// own components in testdata/hf-unicode.txt.gz (scripts/fixtures/gen_tokenizer_fixture.py unicode):
// clean_text, handle_chinese_chars, NFD (decomposition and whether the combining class is
// non-zero), strip_accents, lowercase, and BertPreTokenizer's whitespace and punctuation.
func TestUnicodeTablesMatchHF(t *testing.T) {
	data := readGzipOrPlain(t, filepath.Join("testdata", "hf-unicode.txt.gz"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	hex := func(s string) rune {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		return rune(v)
	}
	mapping := func(s string, r rune) string {
		if s == "=" {
			return string(r)
		}
		var out []rune
		for _, h := range strings.Split(s, ",") {
			out = append(out, hex(h))
		}
		return string(out)
	}
	var n, bad int
	fail := func(format string, args ...any) {
		bad++
		if bad <= 50 {
			t.Errorf(format, args...)
		}
	}
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 5 || len(fs[2]) != 5 {
			t.Fatalf("bad line %q", sc.Text())
		}
		lo, hi, cls := hex(fs[0]), hex(fs[1]), fs[2]
		for r := lo; r <= hi; r++ {
			n++
			var clean byte = 'K'
			if isHFRemoved(r) {
				clean = 'R'
			} else if isHFWhitespace(r) && r != ' ' {
				clean = 'S'
			}
			if clean != cls[0] {
				fail("U+%04X clean_text: got %c, HF %c", r, clean, cls[0])
			}
			if got := isHFChinese(r); got != (cls[1] == 'C') {
				fail("U+%04X chinese: got %v, HF %c", r, got, cls[1])
			}
			nfd := appendNFD(nil, r)
			allMn := true
			for _, d := range nfd {
				allMn = allMn && isHFMn(d)
			}
			if allMn != (cls[2] == 'M') {
				fail("U+%04X strip_accents removes all of NFD: got %v, HF %c", r, allMn, cls[2])
			}
			var split byte = '-'
			if isHFWhitespace(r) {
				split = 'W'
			} else if isHFPunct(r) {
				split = 'P'
			}
			if split != cls[3] {
				fail("U+%04X BertPreTokenizer: got %c, HF %c", r, split, cls[3])
			}
			if fs[3] == "=" && (hfCCC(r) != 0) != (cls[4] == 'Z') {
				fail("U+%04X canonical combining class: got %d, HF non-zero: %v", r, hfCCC(r), cls[4] == 'Z')
			}
			if got, want := string(nfd), mapping(fs[3], r); got != want {
				fail("U+%04X NFD: got %+q, HF %+q", r, got, want)
			}
			if got, want := string(appendLower(nil, r)), mapping(fs[4], r); got != want {
				fail("U+%04X lowercase: got %+q, HF %+q", r, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 0x110000-0x800 {
		t.Errorf("probe covers %d code points, want %d", n, 0x110000-0x800)
	}
	if bad > 0 {
		t.Errorf("%d code point properties differ from HF", bad)
	}
	t.Logf("%d code points checked", n)
}

// normalizeString runs only the BertNormalizer part of the encoder on s.
func normalizeString(t *Tokenizer, s string) string {
	var b strings.Builder
	e := &encoder{sink: func(r rune) { b.WriteRune(r) }}
	e.reset(t)
	e.segment(s)
	return b.String()
}
