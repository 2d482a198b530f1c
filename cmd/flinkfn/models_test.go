package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

func TestModelsListsInstalledModels(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"models"}, envFunc(testfix.HomeEnv(t)), &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	for _, want := range []string{
		"all-MiniLM-L6-v2   384   mean", "WordPiece", "fp32* (86.2 MiB)",
		"bge-small-en-v1.5  384   cls      512",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("`flinkfn models` lacks %q:\n%s", want, out.String())
		}
	}
}

// flinkfn tokenize prints sentence-transformers' ids (the golden file's).
func TestTokenizeMatchesGoldenIDs(t *testing.T) {
	var texts, want []string
	for _, g := range testfix.LoadGolden(t) {
		if g.Text == nil || strings.ContainsAny(*g.Text, "\r\n") || len(texts) == 50 {
			continue
		}
		texts = append(texts, *g.Text)
		ids := make([]string, len(g.IDs))
		for i, id := range g.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		want = append(want, strings.Join(ids, " "))
	}
	stdin := strings.NewReader(strings.Join(texts, "\n") + "\n")
	var out, errb bytes.Buffer
	if err := runTokenize([]string{"--model", "all-MiniLM-L6-v2"}, testfix.HomeEnv(t), stdin, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines for %d texts", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("text %q: ids %s, want %s", texts[i], got[i], want[i])
		}
	}
}

func TestModelsCheck(t *testing.T) {
	env := testfix.HomeEnv(t)
	var out bytes.Buffer
	tiny := filepath.Join("..", "..", "inference", "testdata", "models", "tiny-xlmr")
	if err := run(context.Background(), []string{"models", "check", tiny}, envFunc(env), &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"Unigram tokenizer", "model OK", "install it as models/tiny-xlmr"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}

	// A copy whose model file differs from the manifest's checksum.
	bad := t.TempDir()
	for _, f := range []string{"manifest.json", "tokenizer.json", "model.onnx"} {
		data, err := os.ReadFile(filepath.Join(tiny, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "model.onnx" {
			data = append(data, 0)
		}
		if err := os.WriteFile(filepath.Join(bad, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	err := run(context.Background(), []string{"models", "check", bad}, envFunc(env), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "model.onnx") || !strings.Contains(err.Error(), "replace it, or correct sha256") {
		t.Fatalf("check of a corrupted copy: %v", err)
	}
}
