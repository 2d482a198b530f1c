package inference

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flinkfn/flinkfn/inference/tokenizer"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

// installedModelDir is .cache/models/<name>, which make setup installs
// from the registry, failing the test when it is missing.
func installedModelDir(t testing.TB, name string) string {
	t.Helper()
	d := filepath.Join(repoCacheDir(t), "models", name)
	if _, err := os.Stat(filepath.Join(d, ManifestFile)); err != nil {
		t.Fatalf("model %s missing: %v; run make setup", name, err)
	}
	return d
}

// dirEngine opens an engine on the model folder dir for the duration of
// the test.
func dirEngine(t testing.TB, dir, variant string, o EngineOptions) (*Engine, *Manifest) {
	t.Helper()
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(testRuntime(t), m, variant, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e, m
}

// compareGolden embeds the golden ids in batches of batchSize and checks
// every vector against its golden one. The batches are formed as the
// batcher forms them, of sequences of neighbouring lengths (sorted by
// length; ties in a seeded random order), so that most sequences are
// padded, yet a 512-token sequence does not make every batch 512 long.
func compareGolden(t *testing.T, e *Engine, golden []goldenLine, batchSize int, seed uint64) (minCos, maxDiff float64) {
	t.Helper()
	order := rand.New(rand.NewPCG(seed, 1)).Perm(len(golden))
	slices.SortStableFunc(order, func(a, b int) int { return len(golden[a].IDs) - len(golden[b].IDs) })
	got := make([][]float32, len(golden))
	padded := 0
	for i := 0; i < len(order); i += batchSize {
		idx := order[i:min(i+batchSize, len(order))]
		seqs := make([][]int64, len(idx))
		longest := 0
		for j, k := range idx {
			seqs[j] = golden[k].IDs
			longest = max(longest, len(seqs[j]))
		}
		for _, s := range seqs {
			if len(s) < longest {
				padded++
			}
		}
		vs, err := e.Run(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		for j, k := range idx {
			got[k] = vs[j]
		}
	}
	if padded == 0 && batchSize > 1 {
		t.Fatal("no sequence was padded: the test does not exercise padding")
	}
	minCos = 1
	for i, g := range golden {
		if len(got[i]) != len(g.Vector) {
			t.Fatalf("line %d: %d dims, golden has %d", i+1, len(got[i]), len(g.Vector))
		}
		c, d := cosine(got[i], g.Vector), maxAbsDiff(got[i], g.Vector)
		minCos, maxDiff = min(minCos, c), max(maxDiff, d)
		if c < 0.99999 {
			text := ""
			if g.Text != nil {
				text = *g.Text
			}
			t.Errorf("line %d (%d tokens, %.40q): cosine %.7f, max abs diff %.2e", i+1, len(g.IDs), text, c, d)
		}
	}
	return minCos, maxDiff
}

// TestGoldenBGESmall: bge-small-en-v1.5 (CLS pooling, 512 tokens) against
// ONNX Runtime from Python with HF tokenizers' ids, one text at a time
// (scripts/fixtures/gen_golden_bge.py), in padded batches of 8.
func TestGoldenBGESmall(t *testing.T) {
	golden := testfix.LoadGoldenFile(t, filepath.Join(testfix.Root(t), "inference", "testdata", "golden-bge-small.jsonl.gz"), 300)
	e, m := dirEngine(t, installedModelDir(t, "bge-small-en-v1.5"), "", EngineOptions{})
	if m.Pooling != PoolingCLS || e.Dims() != 384 || e.MaxSeqLen() != 512 {
		t.Fatalf("manifest: pooling %s, dims %d, max_seq_length %d", m.Pooling, e.Dims(), e.MaxSeqLen())
	}
	full := 0
	for _, g := range golden {
		if len(g.IDs) == e.MaxSeqLen() {
			full++
		}
	}
	if full < 4 {
		t.Fatalf("%d golden texts reach %d tokens, want >= 4 (truncated ones)", full, e.MaxSeqLen())
	}
	minCos, maxDiff := compareGolden(t, e, golden, 8, 7)
	t.Logf("bge-small-en-v1.5 fp32 vs ONNX Runtime (Python), %d texts (%d at 512 tokens), batches of 8: min cosine %.8f, max abs diff %.3e",
		len(golden), full, minCos, maxDiff)
}

// TestTokenizerBGESmall: flinkfn's tokenizer on bge-small-en-v1.5's
// tokenizer.json gives HF tokenizers' ids (the golden file's) for every
// golden text, truncation at 512 included.
func TestTokenizerBGESmall(t *testing.T) {
	golden := testfix.LoadGoldenFile(t, filepath.Join(testfix.Root(t), "inference", "testdata", "golden-bge-small.jsonl.gz"), 300)
	m, err := LoadManifest(installedModelDir(t, "bge-small-en-v1.5"))
	if err != nil {
		t.Fatal(err)
	}
	path, err := m.TokenizerPath()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(path, tokenizer.Options{MaxLen: m.MaxSeqLength})
	if err != nil {
		t.Fatal(err)
	}
	truncated := 0
	for i, g := range golden {
		enc, err := tok.Encode(*g.Text)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !slices.Equal(enc.IDs, g.IDs) {
			t.Errorf("line %d (%.40q): ids %v, HF tokenizers %v", i+1, *g.Text, enc.IDs, g.IDs)
		}
		if enc.Truncated {
			truncated++
		}
	}
	if truncated < 4 {
		t.Errorf("%d texts truncated, want >= 4", truncated)
	}
}

// tinyXLMRDir is the committed tiny XLM-R model (scripts/fixtures/gen_tiny_xlmr.py).
func tinyXLMRDir(t testing.TB) string {
	return filepath.Join(testfix.Root(t), "inference", "testdata", "models", "tiny-xlmr")
}

// TestGoldenTinyXLMR: the XLM-R path (pad id 1, position ids computed by
// the graph from input_ids != padding_idx, no token_type_ids input, 512
// tokens) against sentence-transformers on the same random weights, for
// CLS and mean pooling, in padded batches.
func TestGoldenTinyXLMR(t *testing.T) {
	dir := tinyXLMRDir(t)
	for _, pooling := range []Pooling{PoolingCLS, PoolingMean} {
		t.Run(string(pooling), func(t *testing.T) {
			golden := testfix.LoadGoldenFile(t, filepath.Join(dir, "golden-"+string(pooling)+".jsonl.gz"), 50)
			m, err := LoadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Inputs.TokenTypeIDs != "" || m.MaxSeqLength != 512 {
				t.Fatalf("manifest: token_type_ids %q, max_seq_length %d", m.Inputs.TokenTypeIDs, m.MaxSeqLength)
			}
			m.Pooling = pooling // one model, both poolings
			e, err := NewEngine(testRuntime(t), m, "", EngineOptions{PadID: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			full := 0
			for _, g := range golden {
				if len(g.IDs) == m.MaxSeqLength {
					full++
				}
			}
			if full < 3 {
				t.Fatalf("%d golden texts reach %d tokens, want >= 3", full, m.MaxSeqLength)
			}
			for _, bs := range []int{1, 7} {
				minCos, maxDiff := compareGolden(t, e, golden, bs, uint64(bs))
				t.Logf("tiny-xlmr %s pooling vs sentence-transformers, %d texts (%d at 512 tokens), batches of %d: min cosine %.8f, max abs diff %.3e",
					pooling, len(golden), full, bs, minCos, maxDiff)
			}
		})
	}
}
