package inference

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

// int8Cosines embeds the golden ids with e in batches of batchSize
// sequences of neighbouring lengths (as the batcher forms them, so that a
// long sequence does not pad every batch) and returns the worst and mean
// cosine of the vectors to the golden (fp32) ones.
func int8Cosines(t *testing.T, e *Engine, golden []goldenLine, batchSize int) (minCos, mean float64) {
	t.Helper()
	order := make([]int, len(golden))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(golden[a].IDs) - len(golden[b].IDs) })
	minCos = 1
	for i := 0; i < len(order); i += batchSize {
		idx := order[i:min(i+batchSize, len(order))]
		seqs := make([][]int64, len(idx))
		for j, k := range idx {
			seqs[j] = golden[k].IDs
		}
		vs, err := e.Run(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		for j, k := range idx {
			c := cosine(vs[j], golden[k].Vector)
			minCos, mean = min(minCos, c), mean+c
		}
	}
	return minCos, mean / float64(len(golden))
}

// TestGoldenInt8BGESmall: bge-small-en-v1.5's int8 variant (the same
// scripts/setup/quantize.py recipe as all-MiniLM-L6-v2's) against the fp32
// golden vectors, in batches of 8 sequences of neighbouring lengths.
func TestGoldenInt8BGESmall(t *testing.T) {
	golden := testfix.LoadGoldenFile(t, filepath.Join(testfix.Root(t), "inference", "testdata", "golden-bge-small.jsonl.gz"), 300)
	e, _ := dirEngine(t, installedModelDir(t, "bge-small-en-v1.5"), "int8", EngineOptions{})
	minCos, mean := int8Cosines(t, e, golden, 8)
	t.Logf("bge-small-en-v1.5 int8 vs fp32, %d texts: min cosine %.5f, mean cosine %.5f", len(golden), minCos, mean)
	// Measured with ONNX Runtime 1.24.1 on x86-64 (AMD EPYC, AVX2): min
	// 0.99741, mean 0.99926.
	if minCos < 0.99 || mean < 0.998 {
		t.Errorf("int8 drifted: min cosine %.5f (floor 0.99), mean %.5f (floor 0.998)", minCos, mean)
	}
}

// TestGoldenInt8Fast: the int8-fast variants (scripts/setup/quantize.py's
// dynamic-int8-attn-ffn1-rr: the feed-forward input projection in int8
// too) trade accuracy on the shortest texts for speed; their floors keep
// them where they were measured (ONNX Runtime 1.24.1, AMD EPYC with AVX2:
// all-MiniLM-L6-v2 min 0.97922, mean 0.99508, the 2-token texts the
// worst; bge-small-en-v1.5 min 0.98891, mean 0.99798).
func TestGoldenInt8Fast(t *testing.T) {
	for _, tc := range []struct {
		model, golden       string
		batch               int
		minFloor, meanFloor float64
	}{
		{"all-MiniLM-L6-v2", "golden-minilm.jsonl.gz", 32, 0.975, 0.993},
		{"bge-small-en-v1.5", "golden-bge-small.jsonl.gz", 8, 0.985, 0.997},
	} {
		t.Run(tc.model, func(t *testing.T) {
			golden := testfix.LoadGoldenFile(t, filepath.Join(testfix.Root(t), "inference", "testdata", tc.golden), 299)
			e, _ := dirEngine(t, installedModelDir(t, tc.model), "int8-fast", EngineOptions{})
			minCos, mean := int8Cosines(t, e, golden, tc.batch)
			t.Logf("%s int8-fast vs fp32, %d texts: min cosine %.5f, mean cosine %.5f", tc.model, len(golden), minCos, mean)
			if minCos < tc.minFloor || mean < tc.meanFloor {
				t.Errorf("int8-fast drifted: min cosine %.5f (floor %.3f), mean %.5f (floor %.3f)", minCos, tc.minFloor, mean, tc.meanFloor)
			}
		})
	}
}
