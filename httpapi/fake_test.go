package httpapi

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/modelset"
)

// fakeMaxTokens is the fake model's maximum length: [CLS] + words + [SEP].
const fakeMaxTokens = 8

const fakeDims = 4

// fakeTokens tokenizes as the fake model does: one id per word, between
// two special tokens, truncated to fakeMaxTokens.
func fakeTokens(text string) ([]int64, bool) {
	ids := []int64{101}
	for _, w := range strings.Fields(text) {
		h := fnv.New32a()
		h.Write([]byte(w))
		ids = append(ids, int64(h.Sum32()%30000)+1000)
	}
	truncated := false
	if len(ids) > fakeMaxTokens-1 {
		ids, truncated = ids[:fakeMaxTokens-1], true
	}
	return append(ids, 102), truncated
}

func fakeCount(text string) (int, bool, error) {
	ids, tr := fakeTokens(text)
	return len(ids), tr, nil
}

// fakeVector is the unit vector the fake model gives a token sequence.
func fakeVector(ids []int64) []float32 {
	var sum, sq int64
	for _, id := range ids {
		sum += id
		sq += id * id % 9973
	}
	v := []float32{float32(len(ids)), float32(sum % 1000), float32(sq % 997), 1}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
	return v
}

func wantVector(text string) []float32 {
	ids, _ := fakeTokens(text)
	return fakeVector(ids)
}

// engine is the batcher's model: it runs a batch after gate lets it
// (when gate is not nil) and perRow per row.
type engine struct {
	gate   chan struct{}
	perRow time.Duration
}

func (e *engine) Run(ctx context.Context, seqs [][]int64) ([][]float32, error) {
	if e.gate != nil {
		select {
		case <-e.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.perRow > 0 {
		time.Sleep(time.Duration(len(seqs)) * e.perRow)
	}
	out := make([][]float32, len(seqs))
	for i, s := range seqs {
		out[i] = fakeVector(s)
	}
	return out, nil
}

// fakeModel is a modelset.Model: the fake tokenizer in front of a real
// batcher.
type fakeModel struct {
	b *batcher.Batcher
}

func (m *fakeModel) EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error) {
	seqs := make([][]int64, len(texts))
	trunc := 0
	for i, t := range texts {
		var tr bool
		seqs[i], tr = fakeTokens(t)
		if tr {
			trunc++
		}
	}
	v, err := m.b.Embed(ctx, seqs)
	return v, trunc, err
}

func (m *fakeModel) CountTokens(text string) (int, bool, error) { return fakeCount(text) }

func (m *fakeModel) Close() error { return m.b.Close() }

// newFakeSet is a model set of two fake models ("fake", the default, and
// "other"), each with its own batcher over eng.
func newFakeSet(t *testing.T, eng *engine) *modelset.Set {
	t.Helper()
	return newSetOver(t, eng)
}

func fakeCatalog() []ModelInfo {
	return []ModelInfo{
		{Name: "fake", Variant: "fp32", Dims: fakeDims, MaxTokens: fakeMaxTokens, Pooling: "mean", Normalized: true},
		{Name: "other", Dims: fakeDims, MaxTokens: fakeMaxTokens, Pooling: "cls", Normalized: true},
	}
}

func texts(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s text %d", prefix, i)
	}
	return out
}
