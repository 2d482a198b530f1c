package inference

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceManifests parses every manifest in the source tree
// (inference/models/<name>/manifest.json): the folder name is the model
// name, and the model files are listed as artifacts.
func TestSourceManifests(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("models", "*", ManifestFile))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no manifests under models/: %v", err)
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		m, err := LoadManifest(dir)
		if err != nil {
			t.Error(err)
			continue
		}
		if m.Name != filepath.Base(dir) {
			t.Errorf("%s: name %q, folder %q", p, m.Name, filepath.Base(dir))
		}
	}
	m, err := LoadManifest(filepath.Join("models", DefaultModelName))
	if err != nil {
		t.Fatal(err)
	}
	if m.Dims != 384 || m.Pooling != PoolingMean || !m.Normalize || m.MaxSeqLength != 256 || m.DefaultVariant != "fp32" {
		t.Errorf("default model manifest: %+v", m)
	}
	if got := strings.Join(m.VariantNames(), ","); got != "fp32,int8,int8-fast" {
		t.Errorf("variants %s", got)
	}
}

// TestInstalledModel checks the installed default model's files against
// the SHA-256 its manifest pins, and that the installed manifest is the
// source tree's.
func TestInstalledModel(t *testing.T) {
	dir := testModelDir(t)
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.VerifyChecksums(); err != nil {
		t.Fatal(err)
	}
	for _, v := range m.VariantNames() {
		p, err := m.VariantPath(v)
		if err != nil || filepath.Dir(p) != m.Dir {
			t.Errorf("variant %s: %s, %v", v, p, err)
		}
	}
	if _, err := m.TokenizerPath(); err != nil {
		t.Error(err)
	}
	src, err := LoadManifest(filepath.Join("models", m.Name))
	if err != nil {
		t.Fatal(err)
	}
	src.Dir = m.Dir
	for _, a := range src.Artifacts {
		if _, err := os.Stat(filepath.Join(m.Dir, a.File)); a.Setup == SetupGPU && err == nil {
			src.Variants[a.Variant] = a.File // make setup-gpu added it
		}
	}
	a, _ := json.Marshal(src)
	b, _ := json.Marshal(m)
	if string(a) != string(b) {
		t.Errorf("installed manifest %s differs from models/%s: run make setup", dir, m.Name)
	}
}

func validManifest() map[string]any {
	return map[string]any{
		"name":           "m",
		"dims":           4,
		"pooling":        "mean",
		"normalize":      true,
		"max_seq_length": 8,
		"tokenizer":      "tokenizer.json",
		"inputs":         map[string]any{"input_ids": "ids", "attention_mask": "mask", "token_type_ids": "tt"},
		"output":         "out",
		"variants":       map[string]any{"fp32": "model.onnx"},
		"artifacts": []any{
			map[string]any{"file": "model.onnx", "sha256": strings.Repeat("a", 64), "maven": "g:a:1", "jar_sha256": strings.Repeat("b", 64), "entry": "x.onnx"},
			map[string]any{"file": "tokenizer.json", "sha256": strings.Repeat("c", 64), "maven": "g:a:1", "jar_sha256": strings.Repeat("b", 64), "entry": "t.json"},
		},
	}
}

// addDerived adds q.onnx, computed from model.onnx, as variant int8;
// modify changes the artifact first.
func addDerived(m map[string]any, modify func(a map[string]any)) {
	a := map[string]any{"file": "q.onnx", "sha256": strings.Repeat("d", 64),
		"derived_from": "model.onnx", "tool": "scripts/setup/quantize.py", "recipe": "dynamic-int8"}
	if modify != nil {
		modify(a)
	}
	m["artifacts"] = append(m["artifacts"].([]any), a)
	m["variants"].(map[string]any)["int8"] = "q.onnx"
}

func TestManifestValidation(t *testing.T) {
	art := func(m map[string]any, i int) map[string]any { return m["artifacts"].([]any)[i].(map[string]any) }
	for _, tc := range []struct {
		name   string
		modify func(m map[string]any)
		want   string // "" = valid
	}{
		{"valid", func(m map[string]any) {}, ""},
		{"cls, no token types, default variant", func(m map[string]any) {
			m["pooling"] = "cls"
			delete(m["inputs"].(map[string]any), "token_type_ids")
			m["variants"].(map[string]any)["int8"] = "model.onnx"
			m["default_variant"] = "int8"
		}, ""},
		{"no artifacts (a folder put together by hand)", func(m map[string]any) { delete(m, "artifacts") }, ""},
		{"local artifacts: checksums, no source", func(m map[string]any) {
			for i := range 2 {
				delete(art(m, i), "maven")
				delete(art(m, i), "jar_sha256")
				delete(art(m, i), "entry")
			}
		}, ""},
		{"local artifact with an entry but no jar", func(m map[string]any) { delete(art(m, 0), "maven") }, `field "artifacts[0].maven": "" is not a Maven coordinate`},
		{"missing name", func(m map[string]any) { delete(m, "name") }, `field "name": missing`},
		{"name with slash", func(m map[string]any) { m["name"] = "a/b" }, `field "name": "a/b" is not a plain folder name`},
		{"zero dims", func(m map[string]any) { m["dims"] = 0 }, `field "dims": must be a positive integer, got 0`},
		{"string dims", func(m map[string]any) { m["dims"] = "384" }, `invalid JSON`},
		{"pooling max", func(m map[string]any) { m["pooling"] = "max" }, `field "pooling": "max" is not supported`},
		{"missing normalize", func(m map[string]any) { delete(m, "normalize") }, `field "normalize": missing`},
		{"max_seq_length", func(m map[string]any) { m["max_seq_length"] = -1 }, `field "max_seq_length"`},
		{"tokenizer path", func(m map[string]any) { m["tokenizer"] = "../tokenizer.json" }, `field "tokenizer": "../tokenizer.json" is not a plain file name`},
		{"missing input_ids", func(m map[string]any) { delete(m["inputs"].(map[string]any), "input_ids") }, `field "inputs.input_ids": missing`},
		{"missing attention_mask", func(m map[string]any) { delete(m["inputs"].(map[string]any), "attention_mask") }, `field "inputs.attention_mask": missing`},
		{"same input twice", func(m map[string]any) { m["inputs"].(map[string]any)["token_type_ids"] = "ids" }, `field "inputs": input names must differ`},
		{"missing output", func(m map[string]any) { m["output"] = "" }, `field "output": missing`},
		{"no variants", func(m map[string]any) { m["variants"] = map[string]any{} }, `field "variants": missing`},
		{"variant file", func(m map[string]any) { m["variants"].(map[string]any)["fp16"] = "/abs.onnx" }, `field "variants.fp16": "/abs.onnx" is not a plain file name`},
		{"variant not an artifact", func(m map[string]any) { m["variants"].(map[string]any)["int8"] = "q.onnx" }, `field "variants.int8": "q.onnx" is not listed in artifacts`},
		{"tokenizer not an artifact", func(m map[string]any) { m["tokenizer"] = "vocab.txt" }, `field "tokenizer": "vocab.txt" is not listed in artifacts`},
		{"default variant", func(m map[string]any) { m["default_variant"] = "int8" }, `field "default_variant": "int8" is not one of the variants [fp32]`},
		{"no fp32 and no default", func(m map[string]any) { m["variants"] = map[string]any{"int8": "model.onnx"} }, `field "default_variant": "fp32" is not one of the variants [int8]`},
		{"artifact sha", func(m map[string]any) { art(m, 0)["sha256"] = "ABC" }, `field "artifacts[0].sha256": "ABC" is not 64 lower-case hex digits`},
		{"artifact jar sha", func(m map[string]any) { delete(art(m, 1), "jar_sha256") }, `field "artifacts[1].jar_sha256"`},
		{"artifact maven", func(m map[string]any) { art(m, 0)["maven"] = "g:a" }, `field "artifacts[0].maven": "g:a" is not a Maven coordinate`},
		{"artifact entry", func(m map[string]any) { delete(art(m, 0), "entry") }, `field "artifacts[0].entry": missing`},
		{"artifact twice", func(m map[string]any) { art(m, 1)["file"] = "model.onnx" }, `field "artifacts[1].file": "model.onnx" listed twice`},
		{"unknown field", func(m map[string]any) { m["max_seq_len"] = 3 }, `unknown field "max_seq_len"`},
		{"derived variant", func(m map[string]any) { addDerived(m, nil) }, ""},
		{"derived without recipe", func(m map[string]any) { addDerived(m, func(a map[string]any) { delete(a, "recipe") }) },
			`field "artifacts[2].recipe": missing`},
		{"derived without input", func(m map[string]any) { addDerived(m, func(a map[string]any) { delete(a, "derived_from") }) },
			`field "artifacts[2].derived_from": missing`},
		{"derived from an unlisted file", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["derived_from"] = "other.onnx" }) },
			`field "artifacts[2].derived_from": "other.onnx" is not an artifact listed before this one`},
		{"derived from itself", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["derived_from"] = "q.onnx" }) },
			`field "artifacts[2].derived_from": "q.onnx" is the artifact itself`},
		{"derived from a derived file", func(m map[string]any) {
			addDerived(m, nil)
			m["artifacts"] = append(m["artifacts"].([]any), map[string]any{"file": "q2.onnx", "sha256": strings.Repeat("e", 64),
				"derived_from": "q.onnx", "tool": "scripts/setup/quantize.py", "recipe": "r"})
		}, `field "artifacts[3].derived_from": "q.onnx" is derived itself`},
		{"derived tool outside the tree", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["tool"] = "../q.py" }) },
			`field "artifacts[2].tool": "../q.py" is not a path inside the source tree`},
		{"derived tool absolute", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["tool"] = "/usr/bin/q" }) },
			`field "artifacts[2].tool": "/usr/bin/q" is not a path inside the source tree`},
		{"derived recipe name", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["recipe"] = "a b" }) },
			`field "artifacts[2].recipe": "a b" is not a plain name`},
		{"derived with a jar", func(m map[string]any) { addDerived(m, func(a map[string]any) { a["maven"] = "g:a:1" }) },
			`field "artifacts[2].maven": a derived artifact has no Maven source`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validManifest()
			tc.modify(m)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadManifest(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Dir != dir {
					t.Errorf("Dir %s, want %s", got.Dir, dir)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, ManifestFile)) {
				t.Fatalf("error %q, want one naming the file and containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadManifest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("missing manifest: %v", err)
	}
	if _, err := ParseManifest([]byte(`{"name":"m"} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestManifestFiles(t *testing.T) {
	m, err := ParseManifest(mustJSON(t, validManifest()))
	if err != nil {
		t.Fatal(err)
	}
	m.Dir = t.TempDir()
	if _, err := m.VariantPath(""); err == nil || !strings.Contains(err.Error(), "run make setup") {
		t.Errorf("missing model file: %v", err)
	}
	if _, err := m.VariantPath("int4"); err == nil || !strings.Contains(err.Error(), `no variant "int4" (have fp32)`) {
		t.Errorf("unknown variant: %v", err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "model.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := m.VariantPath("fp32"); err != nil || p != filepath.Join(m.Dir, "model.onnx") {
		t.Errorf("VariantPath: %s, %v", p, err)
	}
	err = m.VerifyChecksums()
	if err == nil || !strings.Contains(err.Error(), "SHA-256 2d711642") || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("VerifyChecksums: %v", err)
	}
}

// TestVerifyChecksumsDerived checks that a derived file whose checksum
// differs is reported with the tool, the recipe and what to check.
func TestVerifyChecksumsDerived(t *testing.T) {
	v := validManifest()
	addDerived(v, nil)
	m, err := ParseManifest(mustJSON(t, v))
	if err != nil {
		t.Fatal(err)
	}
	m.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(m.Dir, "q.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = m.VerifyChecksums()
	for _, want := range []string{"q.onnx: SHA-256 2d711642", "scripts/setup/quantize.py recipe dynamic-int8 from model.onnx", "scripts/setup/quant/requirements.txt"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("VerifyChecksums: %v, want it to contain %q", err, want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
