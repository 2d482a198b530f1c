package embedder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

func checkOpts(t *testing.T) CheckOptions {
	return CheckOptions{RuntimeLib: filepath.Join(testfix.CacheDir(t), "lib", inference.RuntimeLibName)}
}

// TestCheckModelInstalled: the models set-up installs pass every check.
func TestCheckModelInstalled(t *testing.T) {
	for _, tc := range []struct {
		name, dir, kind string
		pooling         inference.Pooling
		variants        int
	}{
		{"all-MiniLM-L6-v2", "", "WordPiece", inference.PoolingMean, 3}, // fp32, int8, int8-fast
		{"bge-small-en-v1.5", "", "WordPiece", inference.PoolingCLS, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(testfix.CacheDir(t), "models", tc.name)
			}
			if _, err := os.Stat(filepath.Join(dir, "model_fp16.onnx")); err == nil {
				tc.variants++ // make setup-gpu added the fp16 variant
			}
			r, err := CheckModel(context.Background(), dir, checkOpts(t))
			var out strings.Builder
			r.WriteTo(&out)
			t.Logf("\n%s", out.String())
			if err != nil || !r.OK() {
				t.Fatalf("check failed: %v", err)
			}
			if r.Info.Name != tc.name || r.Info.Pooling != tc.pooling || len(r.Info.Variants) != tc.variants || r.Info.TokenizerKind != tc.kind {
				t.Errorf("info %+v", r.Info)
			}
			var selfTests int
			for _, c := range r.Results {
				if strings.HasPrefix(c.Name, "self-test ") && c.Status == CheckOK {
					selfTests++
				}
			}
			if selfTests != tc.variants || !strings.Contains(out.String(), "checksums         ") && !strings.Contains(out.String(), "files match their SHA-256") {
				t.Errorf("%d self-tests passed, want %d", selfTests, tc.variants)
			}
		})
	}
}

// brokenModel is a folder with links to the files of the installed model
// name and its manifest.json, changed by edit (nil: removed).
func brokenModel(t *testing.T, name string, edit func(m map[string]any) map[string]any) string {
	t.Helper()
	src := filepath.Join(testfix.CacheDir(t), "models", name)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != inference.ManifestFile {
			if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(src, inference.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m = edit(m); m != nil {
		data, _ = json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, inference.ManifestFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCheckModelFailures: each kind of mistake in a model folder a user
// brings fails its check with what is wrong and what to do.
func TestCheckModelFailures(t *testing.T) {
	fp32 := CheckOptions{Variants: []string{"fp32"}}
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any) map[string]any
		opts  CheckOptions
		check string   // the failed check
		want  []string // in its detail
	}{
		{"no manifest", func(map[string]any) map[string]any { return nil }, fp32, "manifest",
			[]string{"no such file", "inference/README.md"}},
		{"manifest field", func(m map[string]any) map[string]any { m["pooling"] = "max"; return m }, fp32, "manifest",
			[]string{`field "pooling": "max" is not supported`}},
		{"missing file", func(m map[string]any) map[string]any {
			m["variants"].(map[string]any)["fp32"] = "model_fp32.onnx"
			m["artifacts"] = []any{}
			return m
		}, fp32, "files", []string{"model_fp32.onnx", "put the files in the folder"}},
		{"checksum", func(m map[string]any) map[string]any {
			m["artifacts"].([]any)[0].(map[string]any)["sha256"] = strings.Repeat("0", 64)
			return m
		}, fp32, "checksums", []string{"manifest says 0000", "sha256sum FILE"}},
		{"dims", func(m map[string]any) map[string]any { m["dims"] = 768; return m }, fp32, "graph fp32",
			[]string{"want float32 [batch, sequence, 768]", "correct the manifest"}},
		{"output", func(m map[string]any) map[string]any { m["output"] = "sentence_embedding"; return m }, fp32, "graph fp32",
			[]string{`"sentence_embedding" is not a graph output`, "last_hidden_state"}},
		{"max_seq_length beyond the graph's positions", func(m map[string]any) map[string]any { m["max_seq_length"] = 8192; return m }, fp32, "self-test fp32",
			[]string{"max_seq_length 8192", "lower max_seq_length"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := brokenModel(t, "all-MiniLM-L6-v2", tc.edit)
			o := tc.opts
			o.RuntimeLib = checkOpts(t).RuntimeLib
			r, err := CheckModel(context.Background(), dir, o)
			var out strings.Builder
			r.WriteTo(&out)
			if err == nil || r.OK() {
				t.Fatalf("check passed:\n%s", out.String())
			}
			var failed []CheckResult
			for _, c := range r.Results {
				if c.Status == CheckFailed {
					failed = append(failed, c)
				}
			}
			if len(failed) != 1 || failed[0].Name != tc.check {
				t.Fatalf("failed checks %+v, want only %q:\n%s", failed, tc.check, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(failed[0].Detail, w) || !strings.Contains(err.Error(), w) {
					t.Errorf("detail %q / error %q lacks %q", failed[0].Detail, err, w)
				}
			}
			if !strings.Contains(out.String(), "model NOT usable") {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}
