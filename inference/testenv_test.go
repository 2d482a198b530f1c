package inference

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// repoCacheDir walks up from the working directory to the folder holding
// go.mod and returns its .cache folder, where make setup installs the
// runtime library and the models.
func repoCacheDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// testLibPath returns $FLINKFN_ORT_LIB or the library make setup installs.
// A missing library fails the test: these tests are the proof that the
// engine works, and a skipped proof is no proof.
func testLibPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv(EnvORTLib)
	if p == "" {
		p = filepath.Join(repoCacheDir(t), "lib", RuntimeLibName)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ONNX Runtime library missing: %v; run make setup (or set %s)", err, EnvORTLib)
	}
	return p
}

// testModelDir returns $FLINKFN_MODEL_DIR or the default model folder make
// setup installs, failing the test when it is missing.
func testModelDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv(EnvModelDir)
	if d == "" {
		d = filepath.Join(repoCacheDir(t), "models", DefaultModelName)
	}
	if _, err := os.Stat(filepath.Join(d, ManifestFile)); err != nil {
		t.Fatalf("model missing: %v; run make setup (or set %s)", err, EnvModelDir)
	}
	return d
}

// testRuntime opens the runtime for the duration of the test.
func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt, err := OpenRuntime(testLibPath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

// testEngine opens an engine on the installed default model for the
// duration of the test.
func testEngine(t testing.TB, variant string, o EngineOptions) *Engine {
	t.Helper()
	rt := testRuntime(t)
	m, err := LoadManifest(testModelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rt, m, variant, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// goldenLine is one line of the golden file: a text, the token ids
// sentence-transformers' own tokenizer gives it, and the embedding
// sentence-transformers computes for it in PyTorch (fp32).
type goldenLine struct {
	Text   string    `json:"text"`
	IDs    []int64   `json:"ids"`
	Vector []float32 `json:"vector"`
}

// goldenFile is testdata/golden-minilm.jsonl.gz, or $FLINKFN_GOLDEN.
func goldenFile() string {
	if p := os.Getenv("FLINKFN_GOLDEN"); p != "" {
		return p
	}
	return filepath.Join("testdata", "golden-minilm.jsonl.gz")
}

func loadGolden(t testing.TB) []goldenLine {
	t.Helper()
	f, err := os.Open(goldenFile())
	if err != nil {
		t.Fatalf("golden vectors: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("golden vectors %s: %v", goldenFile(), err)
	}
	var lines []goldenLine
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var g goldenLine
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("golden vectors %s line %d: %v", goldenFile(), len(lines)+1, err)
		}
		lines = append(lines, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("golden vectors %s: %v", goldenFile(), err)
	}
	if len(lines) < 200 {
		t.Fatalf("golden vectors %s: %d lines, want >= 200", goldenFile(), len(lines))
	}
	return lines
}
