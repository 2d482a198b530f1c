package embedder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/tokenizer"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

// tinyXLMR is the committed tiny XLM-R model folder (scripts/fixtures/gen_tiny_xlmr.py)
// with its manifest's pooling set to pooling: the folder itself for "cls",
// else a folder of links to its files with an edited manifest.
func tinyXLMR(t *testing.T, pooling inference.Pooling) string {
	t.Helper()
	if pooling == inference.PoolingCLS {
		return filepath.Join(testfix.Root(t), "inference", "testdata", "models", "tiny-xlmr")
	}
	return editedTinyXLMR(t, func(m map[string]any) { m["pooling"] = string(pooling) })
}

// editedTinyXLMR is a folder of links to the tiny XLM-R model's files with
// its manifest changed by edit.
func editedTinyXLMR(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	src := filepath.Join(testfix.Root(t), "inference", "testdata", "models", "tiny-xlmr")
	dir := filepath.Join(t.TempDir(), "tiny-xlmr")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.onnx", "tokenizer.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
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
	edit(m)
	data, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, inference.ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEmbedTinyXLMR: texts in, sentence-transformers' vectors out for an
// XLM-RoBERTa model: the Unigram tokenizer (ids equal sentence-transformers'),
// pad id 1, no token_type_ids, position ids from input_ids != padding_idx in
// the graph, CLS and mean pooling, texts truncated at 512; the batcher
// forms mixed-length (padded) batches.
func TestEmbedTinyXLMR(t *testing.T) {
	lib := filepath.Join(testfix.CacheDir(t), "lib", inference.RuntimeLibName)
	for _, pooling := range []inference.Pooling{inference.PoolingCLS, inference.PoolingMean} {
		t.Run(string(pooling), func(t *testing.T) {
			src := filepath.Join(testfix.Root(t), "inference", "testdata", "models", "tiny-xlmr")
			golden := testfix.LoadGoldenFile(t, filepath.Join(src, "golden-"+string(pooling)+".jsonl.gz"), 50)
			dir := tinyXLMR(t, pooling)
			e, err := Open(Config{ModelDir: dir, RuntimeLib: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()

			tok, err := tokenizer.Load(filepath.Join(src, "tokenizer.json"), tokenizer.Options{MaxLen: 512})
			if err != nil {
				t.Fatal(err)
			}
			if tok.PadID() != 1 || tok.Kind() != "unigram" {
				t.Fatalf("tokenizer: pad id %d, kind %s; want 1, unigram", tok.PadID(), tok.Kind())
			}
			// sentence-transformers 6 hands the text to the tokenizer as
			// it is; flinkfn's tokenizer strips it first (as
			// sentence-transformers 2-5 did). For WordPiece that changes
			// nothing, but XLM-R's Metaspace turns trailing whitespace into
			// a "▁" token. Texts with trailing whitespace (that is not
			// truncated away) are left out here until the tokenizer
			// settles which behaviour it follows; the engine test
			// (TestGoldenTinyXLMR) runs their golden ids.
			var kept []testfix.Golden
			for _, g := range golden {
				if strings.TrimRight(*g.Text, " \t\r\n") == *g.Text || len(g.IDs) == 512 {
					kept = append(kept, g)
				}
			}
			if len(golden)-len(kept) > 2 {
				t.Fatalf("%d of %d texts left out, want <= 2", len(golden)-len(kept), len(golden))
			}
			golden = kept
			texts := make([]string, len(golden))
			for i, g := range golden {
				texts[i] = *g.Text
				enc, err := tok.Encode(texts[i])
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(enc.IDs, g.IDs) {
					t.Errorf("line %d (%.40q): ids %v, sentence-transformers %v", i+1, texts[i], enc.IDs, g.IDs)
				}
			}
			vecs, trunc, err := e.EmbedCounted(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			minCos := 1.0
			for i, g := range golden {
				c := cosine(vecs[i], g.Vector)
				minCos = min(minCos, c)
				if c < 0.99999 {
					t.Errorf("line %d (%d tokens, %.40q): cosine %.7f", i+1, len(g.IDs), texts[i], c)
				}
			}
			st := e.Stats()
			if trunc < 3 || st.Batcher.Batches >= int64(len(texts)) {
				t.Errorf("%d truncated (want >= 3), %d batches for %d texts (want mixed batches)", trunc, st.Batcher.Batches, len(texts))
			}
			t.Logf("tiny-xlmr %s pooling, %d texts (%d truncated) in %d batches: min cosine to sentence-transformers %.8f",
				pooling, len(texts), trunc, st.Batcher.Batches, minCos)
		})
	}
}

// TestCheckModelTinyXLMR: the model check passes for the XLM-R model and
// reports its Unigram tokenizer and pad id 1.
func TestCheckModelTinyXLMR(t *testing.T) {
	r, err := CheckModel(context.Background(), tinyXLMR(t, inference.PoolingCLS), checkOpts(t))
	var out strings.Builder
	r.WriteTo(&out)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Info.TokenizerKind != "Unigram" || !strings.Contains(out.String(), "unigram, pad id 1, truncates at 512 tokens") ||
		!strings.Contains(out.String(), "one sequence of 512 tokens runs") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestLongMaxSeqLength: a manifest of 8,192 tokens (bge-m3's) is accepted:
// the tokenizer truncates there, the batch token budget covers one such
// sequence (the worst batch, which the model's memory reservation is
// measured on, is 1 x 8,192), and the model check runs that sequence. The
// tiny graph has 514 positions, so the check fails, saying so.
func TestLongMaxSeqLength(t *testing.T) {
	dir := editedTinyXLMR(t, func(m map[string]any) { m["max_seq_length"] = 8192 })
	lib := filepath.Join(testfix.CacheDir(t), "lib", inference.RuntimeLibName)
	e, err := Open(Config{ModelDir: dir, RuntimeLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if rows, tokens := e.WorstBatch(); rows != 1 || tokens != 8192 {
		t.Errorf("worst batch %d x %d, want 1 x 8192", rows, tokens)
	}
	if e.batchTokens != 8192 {
		t.Errorf("batch token budget %d, want 8192 (max(DefaultMaxBatchTokens, max_seq_length))", e.batchTokens)
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"), tokenizer.Options{MaxLen: 8192})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode(strings.Repeat("Zahlung an Händler in Zürich ", 3000))
	if err != nil {
		t.Fatal(err)
	}
	if len(enc.IDs) != 8192 || !enc.Truncated || enc.IDs[0] != 0 || enc.IDs[8191] != 2 {
		t.Errorf("%d ids (truncated %t), first %d last %d; want 8192, <s> ... </s>", len(enc.IDs), enc.Truncated, enc.IDs[0], enc.IDs[len(enc.IDs)-1])
	}

	r, err := CheckModel(context.Background(), dir, checkOpts(t))
	var out strings.Builder
	r.WriteTo(&out)
	if err == nil || !strings.Contains(err.Error(), "max_seq_length 8192") || !strings.Contains(err.Error(), "minus 2 for XLM-R") {
		t.Errorf("check: %v\n%s", err, out.String())
	}
}
