package inference

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An artifact only make setup-gpu computes ("setup": "gpu", with the
// variant it becomes): valid only on a derived file with a variant name;
// a folder without it verifies, one with a wrong file does not.
func TestGPUSetupArtifact(t *testing.T) {
	gpu := func(a map[string]any) { a["file"], a["setup"], a["variant"] = "h.onnx", "gpu", "fp16" }
	v := validManifest()
	addDerived(v, gpu)
	delete(v["variants"].(map[string]any), "int8") // not a variant of the source manifest
	m, err := ParseManifest(mustJSON(t, v))
	if err != nil {
		t.Fatal(err)
	}
	if names := m.VariantNames(); len(names) != 1 || names[0] != "fp32" {
		t.Errorf("variants %v", names)
	}
	m.Dir = t.TempDir()
	for _, f := range []string{"model.onnx", "tokenizer.json"} {
		if err := os.WriteFile(filepath.Join(m.Dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// model.onnx and tokenizer.json have other sums than the fixture's;
	// h.onnx, absent, is not among the errors.
	err = m.VerifyChecksums()
	if err == nil || strings.Contains(err.Error(), "h.onnx") || !strings.Contains(err.Error(), "model.onnx") {
		t.Errorf("without the GPU file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "h.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.VerifyChecksums(); err == nil || !strings.Contains(err.Error(), "h.onnx: SHA-256") {
		t.Errorf("with a wrong GPU file: %v", err)
	}

	for _, tc := range []struct {
		modify func(a map[string]any)
		want   string
	}{
		{func(a map[string]any) { gpu(a); a["setup"] = "cuda" }, `want "gpu"`},
		{func(a map[string]any) { gpu(a); delete(a, "variant") }, `"gpu" is for a derived file with a "variant" name`},
		{func(a map[string]any) { a["file"], a["variant"] = "h.onnx", "fp16" }, `only with "setup": "gpu"`},
	} {
		v := validManifest()
		addDerived(v, tc.modify)
		if _, err := ParseManifest(mustJSON(t, v)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
