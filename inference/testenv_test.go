package inference

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

// repoCacheDir is the repository's .cache folder, where make setup installs
// the runtime library and the models.
func repoCacheDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(testfix.Root(t), ".cache")
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

// goldenLine is one line of the golden file (testfix.GoldenFile): a text,
// the token ids sentence-transformers' own tokenizer gives it, and the
// embedding sentence-transformers computes for it in PyTorch (fp32).
type goldenLine = testfix.Golden

func loadGolden(t testing.TB) []goldenLine { return testfix.LoadGolden(t) }
