package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// tokenizerJSON finds the all-MiniLM-L6-v2 tokenizer.json: $FLINKFN_TOKENIZER_JSON, else
// <repo root>/.cache/models/all-MiniLM-L6-v2/tokenizer.json. It fails the test when the file
// is missing: a skipped proof is no proof.
func tokenizerJSON(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FLINKFN_TOKENIZER_JSON"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("FLINKFN_TOKENIZER_JSON: %v", err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("cannot find the repository root (go.mod) above the test's working directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, ".cache", "models", "all-MiniLM-L6-v2", "tokenizer.json")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("tokenizer.json for all-MiniLM-L6-v2 is missing (%v): run `make setup`, "+
			"or point FLINKFN_TOKENIZER_JSON at it", err)
	}
	return p
}

var loadOnce struct {
	sync.Mutex
	m map[int]*Tokenizer
}

// loadTokenizer loads (once per MaxLen) the tokenizer under test.
func loadTokenizer(tb testing.TB, maxLen int) *Tokenizer {
	tb.Helper()
	loadOnce.Lock()
	defer loadOnce.Unlock()
	if t := loadOnce.m[maxLen]; t != nil {
		return t
	}
	t, err := Load(tokenizerJSON(tb), Options{MaxLen: maxLen})
	if err != nil {
		tb.Fatal(err)
	}
	if loadOnce.m == nil {
		loadOnce.m = map[int]*Tokenizer{}
	}
	loadOnce.m[maxLen] = t
	return t
}

// readGzipOrPlain returns the content of path, gunzipped when it is gzip.
func readGzipOrPlain(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
	}
	return data
}

type fixtureRow struct {
	Cat       string  `json:"cat"`
	Text      string  `json:"text"`
	IDs       []int64 `json:"ids"`
	Truncated *bool   `json:"truncated"`
	// Normalized is HF's BertNormalizer output for Text (optional).
	Normalized *string `json:"normalized"`
}

// TestMatchesHuggingFace requires ids identical to HuggingFace tokenizers for every string of
// the fixture written by scripts/fixtures/gen_tokenizer_fixture.py (testdata/hf-ids.jsonl.gz, or the
// file named by $FLINKFN_TOKENIZER_FIXTURE).
func TestMatchesHuggingFace(t *testing.T) {
	tok := loadTokenizer(t, 0)
	path := os.Getenv("FLINKFN_TOKENIZER_FIXTURE")
	if path == "" {
		path = filepath.Join("testdata", "hf-ids.jsonl.gz")
	}
	sc := bufio.NewScanner(bytes.NewReader(readGzipOrPlain(t, path)))
	sc.Buffer(nil, 64<<20)
	var n, failures int
	perCat := map[string][2]int{}
	for sc.Scan() {
		var row fixtureRow
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s line %d: %v", path, n+1, err)
		}
		n++
		c := perCat[row.Cat]
		c[0]++
		enc, err := tok.Encode(row.Text)
		switch {
		case err != nil:
			failures++
			c[1]++
			t.Errorf("text %q: error %v", row.Text, err)
		case !slices.Equal(enc.IDs, row.IDs):
			failures++
			c[1]++
			t.Errorf("text %q:\n  expected %v\n  got      %v", row.Text, row.IDs, enc.IDs)
		case row.Truncated != nil && enc.Truncated != *row.Truncated:
			failures++
			c[1]++
			t.Errorf("text %q: Truncated = %v, HF overflowing = %v", row.Text, enc.Truncated, *row.Truncated)
		case row.Normalized != nil && normalizeString(tok, row.Text) != *row.Normalized:
			// Ids are blind to some normalizer differences (e.g. the order of combining marks
			// inside a word that becomes [UNK]); the normalized text is not.
			failures++
			c[1]++
			t.Errorf("text %q: normalized to %+q, HF %+q", row.Text, normalizeString(tok, row.Text), *row.Normalized)
		}
		perCat[row.Cat] = c
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if n < 5000 && os.Getenv("FLINKFN_TOKENIZER_FIXTURE") == "" {
		t.Errorf("fixture %s has only %d strings", path, n)
	}
	reportAgreement(t, path, n, failures, perCat, "")
}

// reportAgreement logs how many fixture strings per category agree with
// HuggingFace (perCat: category -> {strings, differing}) and fails the
// test when any differs.
func reportAgreement(t *testing.T, path string, n, failures int, perCat map[string][2]int, note string) {
	t.Helper()
	cats := make([]string, 0, len(perCat))
	for k, v := range perCat {
		cats = append(cats, fmt.Sprintf("%s=%d/%d", k, v[0]-v[1], v[0]))
	}
	slices.Sort(cats)
	t.Logf("%s: %d/%d strings identical to HuggingFace (%s%s)", path, n-failures, n, note, strings.Join(cats, " "))
	if failures > 0 {
		t.Errorf("%d of %d strings differ from HuggingFace", failures, n)
	}
}

// Expected ids below are from HuggingFace tokenizers 0.23.3 (Tokenizer.from_file,
// no_padding, enable_truncation(256)) on str.strip()'ed text.
func TestHardCases(t *testing.T) {
	tok := loadTokenizer(t, 0)
	cases := []struct {
		name, text string
		want       []int64
	}{
		{"empty", "", []int64{101, 102}},
		{"whitespace only", "   \t\n \u00a0\u3000", []int64{101, 102}},
		{"accents", "José Müller", []int64{101, 4560, 12304, 102}},
		{"accents upper", "JOSÉ MÜLLER", []int64{101, 4560, 12304, 102}},
		{"accents NFD input", "Jose\u0301 Mu\u0308ller", []int64{101, 4560, 12304, 102}},
		{"angstrom lodz", "Ångström Łódź", []int64{101, 17076, 15687, 17814, 102}},
		{"dotted capital I", "İstanbul", []int64{101, 9960, 102}},
		{"sharp s", "Straße ß", []int64{101, 2358, 27807, 1096, 102}},
		{"vietnamese", "Nguyễn Thị", []int64{101, 16577, 16215, 2072, 102}},
		{"NBSP", "hello\u00a0world", []int64{101, 7592, 2088, 102}},
		{"ideographic space", "hello\u3000world", []int64{101, 7592, 2088, 102}},
		{"zero width space", "a\u200bb", []int64{101, 11113, 102}},
		{"control chars", "a\x00b\x07c\ufffdd\ufeffe", []int64{101, 5925, 3207, 102}},
		{"chinese", "我的银行", []int64{101, 1855, 1916, 100, 1945, 102}},
		{"japanese", "東京タワー", []int64{101, 1879, 1755, 1709, 30262, 30265, 102}},
		{"korean", "서울", []int64{101, 1461, 30008, 29999, 30014, 30022, 102}},
		{"punctuation", "hello, world!", []int64{101, 7592, 1010, 2088, 999, 102}},
		{"special tokens in text", "[CLS] x [MASK]", []int64{101, 101, 1060, 103, 102}},
		{"long word", strings.Repeat("a", 101), []int64{101, 100, 102}},
		{"amount", "1,234.56 EUR", []int64{101, 1015, 1010, 22018, 1012, 5179, 7327, 2099, 102}},
		{"emoji", "👍🏽 ok", []int64{101, 100, 7929, 102}},
		{"U+11938 not decomposed by HF", "\U00011938", []int64{101, 100, 102}},
		{"banking", "Account holder José Müller, lives at 12 Rue de Rivoli, Paris, FR; occupation nurse",
			[]int64{101, 4070, 9111, 4560, 12304, 1010, 3268, 2012, 2260, 13413, 2139, 15544, 6767, 3669, 1010,
				3000, 1010, 10424, 1025, 6139, 6821, 102}},
		{"invalid UTF-8 reads as U+FFFD", "ab\xffc\xc3", []int64{101, 5925, 102}},
	}
	for _, c := range cases {
		enc, err := tok.Encode(c.text)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(enc.IDs, c.want) || enc.Truncated {
			t.Errorf("%s: Encode(%q) = %v (truncated %v), want %v", c.name, c.text, enc.IDs, enc.Truncated, c.want)
		}
	}
}

func TestTruncation(t *testing.T) {
	tok := loadTokenizer(t, 0)
	if tok.MaxLen() != 256 {
		t.Fatalf("MaxLen() = %d, want 256", tok.MaxLen())
	}
	for _, n := range []int{253, 254, 255, 300, 5000} {
		enc, err := tok.Encode(strings.TrimSpace(strings.Repeat("the ", n)))
		if err != nil {
			t.Fatal(err)
		}
		wantLen, wantTrunc := n+2, false
		if n > 254 {
			wantLen, wantTrunc = 256, true
		}
		if len(enc.IDs) != wantLen || enc.Truncated != wantTrunc {
			t.Errorf("%d words: len %d truncated %v, want %d %v", n, len(enc.IDs), enc.Truncated, wantLen, wantTrunc)
		}
		if enc.IDs[0] != 101 || enc.IDs[len(enc.IDs)-1] != 102 || enc.IDs[1] != 1996 || enc.IDs[len(enc.IDs)-2] != 1996 {
			t.Errorf("%d words: unexpected ids %v", n, enc.IDs)
		}
	}
	small := loadTokenizer(t, 4)
	enc, err := small.Encode("hello big world")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{101, 7592, 2502, 102}; !slices.Equal(enc.IDs, want) || !enc.Truncated {
		t.Errorf("MaxLen 4: %v %v, want %v true", enc.IDs, enc.Truncated, want)
	}
	enc, err = small.Encode("hello big")
	if err != nil {
		t.Fatal(err)
	}
	if enc.Truncated || len(enc.IDs) != 4 {
		t.Errorf("MaxLen 4, exactly full: %v %v", enc.IDs, enc.Truncated)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json"), Options{}); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	data, err := os.ReadFile(tokenizerJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(data, Options{MaxLen: 1}); err == nil {
		t.Error("MaxLen 1 accepted")
	}
	bad := bytes.Replace(data, []byte(`"strip_accents": null`), []byte(`"strip_accents": false`), 1)
	if bytes.Equal(bad, data) {
		t.Fatal("fixture tokenizer.json has no strip_accents null")
	}
	if _, err := parse(bad, Options{}); err == nil {
		t.Error("strip_accents false accepted")
	}
	if _, err := parse([]byte(`{"model": {"type": "WordPiece"}}`), Options{}); err == nil {
		t.Error("incomplete tokenizer.json accepted")
	}
	if _, err := parse([]byte(`{`), Options{}); err == nil {
		t.Error("broken JSON accepted")
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := loadTokenizer(t, 0)
	texts := []string{"José Müller", "我的银行", strings.Repeat("paris, ", 300), "", "[SEP]ok"}
	want := make([][]int64, len(texts))
	for i, s := range texts {
		enc, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = enc.IDs
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := (i + g) % len(texts)
				enc, err := tok.Encode(texts[k])
				if err != nil || !slices.Equal(enc.IDs, want[k]) {
					t.Errorf("concurrent Encode(%q) = %v, %v", texts[k], enc.IDs, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzEncode(f *testing.F) {
	tok := loadTokenizer(f, 0)
	for _, s := range []string{"", "José Müller", "İstanbul", "我的银行", "a\u0301\u0327", "[CLS]x[SEP]",
		"\xff\xfe", "hello\u00a0world\u3000!", strings.Repeat("ab ", 300), strings.Repeat("x", 120),
		"Account holder José Müller, lives at 12 Rue de Rivoli, Paris, FR; occupation nurse"} {
		f.Add(s)
	}
	vocabSize := int64(len(tok.vocab))
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := tok.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		ids := enc.IDs
		if len(ids) < 2 || len(ids) > tok.MaxLen() || ids[0] != 101 || ids[len(ids)-1] != 102 {
			t.Fatalf("Encode(%q) = %v: want [101 ... 102] of length 2..%d", s, ids, tok.MaxLen())
		}
		for _, id := range ids {
			if id < 0 || id >= vocabSize {
				t.Fatalf("Encode(%q): id %d outside the vocabulary", s, id)
			}
		}
		if enc.Truncated && len(ids) != tok.MaxLen() {
			t.Fatalf("Encode(%q): truncated at length %d", s, len(ids))
		}
		if !utf8.ValidString(s) {
			// Invalid bytes read as U+FFFD, which clean_text removes.
			enc2, err := tok.Encode(strings.ToValidUTF8(s, "\ufffd"))
			if err != nil || !slices.Equal(enc2.IDs, ids) {
				t.Fatalf("Encode(%q) = %v, but with U+FFFD for invalid bytes %v (%v)", s, ids, enc2.IDs, err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok := loadTokenizer(b, 0)
	texts := map[string]string{
		"banking": "Account holder José Müller, lives at 12 Rue de Rivoli, Paris, FR; occupation nurse",
		"ascii":   "Payment of 1,234.56 EUR received from John Smith (AMAZON MKTPLACE) on 2024-03-01",
		"cjk":     "東京都渋谷区神南1-2-3 我的银行账户余额不足。 서울특별시 강남구",
		"long":    strings.Repeat("Account holder José Müller, lives at 12 Rue de Rivoli. ", 40),
	}
	for _, name := range []string{"banking", "ascii", "cjk", "long"} {
		text := texts[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := tok.Encode(text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("banking-parallel", func(b *testing.B) {
		text := texts["banking"]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tok.Encode(text); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// Long runs of combining marks (and long words) must stay cheap: no
// quadratic step. Wall time alone depends on the machine's load (and the
// race detector), so the test compares each input with one four times
// longer: linear work takes about 4x, quadratic 16x.
func TestPathologicalInputs(t *testing.T) {
	tok := loadTokenizer(t, 0)
	// U+1D16D (class 226) and U+1D165 (class 216) survive strip_accents and get reordered.
	inputs := map[string]func(n int) string{
		"marks":         func(n int) string { return "a" + strings.Repeat("\U0001d16d\U0001d165", n) },
		"accents":       func(n int) string { return "a" + strings.Repeat("\u0301\u0316", n) },
		"long word":     func(n int) string { return strings.Repeat("é", 5*n) },
		"99-char words": func(n int) string { return strings.Repeat(strings.Repeat("q", 99)+" ", n/100) },
		"brackets":      func(n int) string { return strings.Repeat("[CLS", n) },
	}
	encode := func(name, s string) time.Duration {
		best := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			enc, err := tok.Encode(s)
			best = min(best, time.Since(start))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(enc.IDs) < 2 || len(enc.IDs) > tok.MaxLen() {
				t.Errorf("%s: %d ids", name, len(enc.IDs))
			}
		}
		return best
	}
	for name, gen := range inputs {
		// A busy machine can stall one measurement: superlinear only when
		// three attempts in a row say so.
		var why []string
		for range 3 {
			small, large := encode(name, gen(12_500)), encode(name, gen(50_000))
			ratio := float64(large) / float64(max(small, time.Microsecond))
			if ratio <= 10 || large <= 50*time.Millisecond {
				why = nil
				break
			}
			why = append(why, fmt.Sprintf("%.1fx (%v vs %v)", ratio, large, small))
		}
		if why != nil {
			t.Errorf("%s: 4x the input took %s the time: superlinear", name, strings.Join(why, ", "))
		}
	}
}
