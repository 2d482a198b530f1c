// Package testfix gives tests the repository's fixtures: the .cache folder
// where set-up installs ONNX Runtime and the models, and the golden
// embeddings written by scripts/fixtures/gen_golden.py from sentence-transformers.
// Missing fixtures fail the test (a skipped proof is no proof).
package testfix

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository root (the folder of go.mod).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testfix: cannot locate the repository")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// CacheDir is the repository's .cache (FLINKFN_HOME layout: lib/, models/),
// failing the test when the default model is not installed there.
func CacheDir(t testing.TB) string {
	t.Helper()
	home := filepath.Join(Root(t), ".cache")
	for _, p := range []string{filepath.Join(home, "lib", "libonnxruntime.so"),
		filepath.Join(home, "models", "all-MiniLM-L6-v2", "manifest.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run `make setup`", err)
		}
	}
	return home
}

// HomeEnv is a getenv that sets only FLINKFN_HOME, to CacheDir.
func HomeEnv(t testing.TB) func(string) string {
	t.Helper()
	home := CacheDir(t)
	return func(k string) string {
		if k == "FLINKFN_HOME" {
			return home
		}
		return ""
	}
}

// Golden is one line of inference/testdata/golden-minilm.jsonl.gz: a text
// (nil when the Python reference rendered NULL), sentence-transformers' token
// ids and fp32 vector for it, and for sample rows the function and the row.
type Golden struct {
	Fn     string             `json:"fn"`
	Row    map[string]*string `json:"row"`
	Text   *string            `json:"text"`
	IDs    []int64            `json:"ids"`
	Vector []float32          `json:"vector"`
}

// GoldenFile is $FLINKFN_GOLDEN or the committed golden file.
func GoldenFile(t testing.TB) string {
	if p := os.Getenv("FLINKFN_GOLDEN"); p != "" {
		return p
	}
	return filepath.Join(Root(t), "inference", "testdata", "golden-minilm.jsonl.gz")
}

// LoadGolden reads every line of the golden file (at least 200).
func LoadGolden(t testing.TB) []Golden {
	t.Helper()
	return LoadGoldenFile(t, GoldenFile(t), 200)
}

// LoadGoldenFile reads every line of a golden file in the same format
// (gzipped JSON lines), failing the test when it has fewer than min lines.
func LoadGoldenFile(t testing.TB, path string, min int) []Golden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden vectors: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("golden vectors %s: %v", path, err)
	}
	var lines []Golden
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var g Golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("golden vectors %s line %d: %v", path, len(lines)+1, err)
		}
		lines = append(lines, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("golden vectors %s: %v", path, err)
	}
	if len(lines) < min {
		t.Fatalf("golden vectors %s: %d lines, want >= %d", path, len(lines), min)
	}
	return lines
}
