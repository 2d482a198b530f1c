package inference

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuntimeRefCount(t *testing.T) {
	lib := testLibPath(t)
	a, err := OpenRuntime(lib)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != "1.24.1" {
		t.Errorf("ONNX Runtime version %q, want 1.24.1 (inference/runtime.json)", a.Version())
	}
	// The same file through a symbolic link is the same library.
	link := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.Symlink(lib, link); err != nil {
		t.Fatal(err)
	}
	b, err := OpenRuntime(link)
	if err != nil {
		t.Fatal(err)
	}
	if a.LibraryPath() != b.LibraryPath() {
		t.Errorf("library paths %s and %s", a.LibraryPath(), b.LibraryPath())
	}
	// Another library cannot join.
	other := filepath.Join(t.TempDir(), "libother.so")
	if err := os.WriteFile(other, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRuntime(other); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("second library: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // no-op
		t.Fatal(err)
	}
	if ortGlobal.refs != 1 {
		t.Errorf("%d references after closing one of two handles (twice)", ortGlobal.refs)
	}
	// A closed handle cannot make engines, even while another is open.
	if _, err := a.retain(); err == nil {
		t.Error("closed handle retained")
	}
	// b still holds the environment: an engine can be made.
	m, err := LoadManifest(testModelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(b, m, "int8", EngineOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if ortGlobal.refs != 0 {
		t.Errorf("%d references left", ortGlobal.refs)
	}
	// Unloaded: now a bad library is reported as such, and the good one
	// loads again.
	if _, err := OpenRuntime(other); err == nil || !strings.Contains(err.Error(), "need ONNX Runtime >= 1.24") {
		t.Errorf("bad library: %v", err)
	}
	if _, err := OpenRuntime(filepath.Join(t.TempDir(), "missing.so")); err == nil {
		t.Error("missing library opened")
	}
	if _, err := OpenRuntime(""); err == nil {
		t.Error("empty path opened")
	}
	c, err := OpenRuntime(lib)
	if err != nil {
		t.Fatalf("reopening after unload: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
