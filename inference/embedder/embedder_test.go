package embedder

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

// Texts in, sentence-transformers' vectors out: tokenizer + batcher + engine,
// four concurrent callers sharing one batcher, each its own order.
func TestEmbedMatchesSentenceTransformers(t *testing.T) {
	e, err := Open(Config{Locations: inference.Locations{Home: testfix.CacheDir(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var gs []testfix.Golden
	for _, g := range testfix.LoadGolden(t) {
		if g.Text != nil {
			gs = append(gs, g)
		}
	}
	if len(gs) < 200 || e.Dims() != 384 {
		t.Fatalf("%d golden texts, dims %d", len(gs), e.Dims())
	}
	var wg sync.WaitGroup
	type res struct {
		minCos, maxAbs float64
		err            error
	}
	results := make([]res, 4)
	for w := range results {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// Caller w embeds the texts in a rotated order.
			texts := make([]string, len(gs))
			want := make([][]float32, len(gs))
			for i := range gs {
				g := gs[(i+w*37)%len(gs)]
				texts[i], want[i] = *g.Text, g.Vector
			}
			vecs, err := e.Embed(context.Background(), texts)
			r := res{minCos: 1, err: err}
			for i, v := range vecs {
				var dot, na, nb float64
				for j := range v {
					w := float64(want[i][j])
					d := math.Abs(float64(v[j]) - w)
					r.maxAbs = math.Max(r.maxAbs, d)
					dot += float64(v[j]) * w
					na += float64(v[j]) * float64(v[j])
					nb += w * w
				}
				r.minCos = math.Min(r.minCos, dot/math.Sqrt(na*nb))
			}
			results[w] = r
		}(w)
	}
	wg.Wait()
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("caller %d: %v", w, r.err)
		}
		if r.minCos < 0.99999 || r.maxAbs > 1e-4 {
			t.Errorf("caller %d: min cosine %.8f, max abs diff %.2g", w, r.minCos, r.maxAbs)
		}
		t.Logf("caller %d: min cosine %.8f, max abs diff %.2g", w, r.minCos, r.maxAbs)
	}
	st := e.Stats()
	if st.Texts != int64(4*len(gs)) || st.Truncated == 0 || st.Batcher.Batches == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEmbedCancelled(t *testing.T) {
	e, err := Open(Config{Locations: inference.Locations{Home: testfix.CacheDir(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"a", "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
