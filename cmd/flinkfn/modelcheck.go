package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/memory"
)

// checkTexts are the self-test's texts: short, long (truncated), several
// scripts, blank.
var checkTexts = []string{
	"José Müller, Calle Mayor 5, Madrid",
	"Payment to ACME GmbH; Amount: 12.50 EUR",
	"Привет, мир. Καλημέρα κόσμε. こんにちは世界. 你好，世界. مرحبا بالعالم. नमस्ते दुनिया",
	"",
}

// checkModelDir checks a model folder before a user installs it: the
// manifest, the files and checksums it lists, each variant's graph against
// the manifest (embedder.Open checks inputs, output and dims), the
// tokenizer, and a self-test (vectors finite, unit norm when normalised,
// the same in a batch as alone). It prints one line per check and fails
// with the first problem and what to do.
func checkModelDir(ctx context.Context, dir string, getenv func(string) string, stdout io.Writer) error {
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	m, err := inference.LoadManifest(dir)
	if err != nil {
		return fmt.Errorf("%w. Fix %s (see inference/README.md for the format)", err, inference.ManifestFile)
	}
	say("manifest   %s: %d dims, %s pooling, normalize %v, max %d tokens", m.Name, m.Dims, m.Pooling, m.Normalize, m.MaxSeqLength)
	if err := m.VerifyChecksums(); err != nil {
		return fmt.Errorf("%w. Copy the file again, or correct its sha256 in %s", err, inference.ManifestFile)
	}
	say("files      %d listed with checksums: ok", len(m.Artifacts))
	tp, err := m.TokenizerPath()
	if err != nil {
		return err
	}
	kind, err := tokenizerKind(tp)
	if err != nil {
		return err
	}
	if kind != "WordPiece" && kind != "Unigram" {
		return fmt.Errorf("tokenizer %s: model type %q; flinkfn reads WordPiece (BERT) and Unigram (XLM-RoBERTa) tokenizer.json files", tp, kind)
	}
	quiet := slog.New(slog.DiscardHandler)
	for _, v := range m.VariantNames() {
		e, footprint, _, err := loadMeasured(ctx, embedder.Config{ModelDir: dir, Variant: v, Getenv: getenv, Logger: quiet}, quiet)
		if err != nil {
			return fmt.Errorf("variant %s: %w", v, err)
		}
		err = selfTest(ctx, e, m)
		e.Close()
		if err != nil {
			return fmt.Errorf("variant %s: self-test: %w", v, err)
		}
		say("variant    %s: graph matches the manifest; %s tokenizer; self-test on %d texts ok; footprint %s",
			v, kind, len(checkTexts), memory.MiB(footprint))
	}
	say("ok: install it as models/%s under $FLINKFN_HOME (or next to the flinkfn binary) and name it in a template: \"model\": %q", m.Name, m.Name)
	return nil
}

// selfTest embeds checkTexts together and one by one.
func selfTest(ctx context.Context, e *embedder.Embedder, m *inference.Manifest) error {
	together, err := e.Embed(ctx, checkTexts)
	if err != nil {
		return err
	}
	for i, text := range checkTexts {
		v := together[i]
		if len(v) != m.Dims {
			return fmt.Errorf("text %d: %d dims, the manifest says %d", i, len(v), m.Dims)
		}
		var norm float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("text %d: the vector has NaN or Inf: the graph's output is not the last hidden state the manifest's \"output\" should name", i)
			}
			norm += float64(x) * float64(x)
		}
		if m.Normalize && math.Abs(math.Sqrt(norm)-1) > 1e-3 {
			return fmt.Errorf("text %d: norm %.4f, want 1 (normalize is true)", i, math.Sqrt(norm))
		}
		alone, err := e.Embed(ctx, []string{text})
		if err != nil {
			return err
		}
		if c := vecCosine(alone[0], v); c < 0.9999 {
			return errors.New(fmt.Sprintf("text %d: cosine %.6f between its vector alone and in a padded batch: "+
				"padding changes the result; check the manifest's inputs (attention_mask) and the tokenizer's pad token", i, c))
		}
	}
	return nil
}

func vecCosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
