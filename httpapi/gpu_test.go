package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/admission"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/modelset"
	"github.com/flinkfn/flinkfn/observe"
)

// oomEngine runs batches of at most fit rows and fails larger ones as a
// CUDA session at its gpu_mem_limit does: with an error wrapping
// inference.ErrDeviceOutOfMemory.
type oomEngine struct {
	engine
	fit int
}

func (e *oomEngine) Run(ctx context.Context, seqs [][]int64) ([][]float32, error) {
	if len(seqs) > e.fit {
		return nil, fmt.Errorf("model fake variant fp32 on cuda:0: batch of %d x 8 tokens: %w (its limit 0.01 GiB): Failed to allocate memory for requested buffer of size 4096",
			len(seqs), inference.ErrDeviceOutOfMemory)
	}
	return e.engine.Run(ctx, seqs)
}

// newSetOver is a model set of two fake models ("fake", the default, and
// "other"), each with its own batcher over eng (any batcher model).
func newSetOver(t *testing.T, eng batcher.Model) *modelset.Set {
	t.Helper()
	set, err := modelset.New(modelset.Options{
		Names: []string{"fake", "other"},
		Open: func(ctx context.Context, name string) (modelset.Loaded, error) {
			b, err := batcher.New(eng, batcher.Options{MaxBatchRows: 32, MaxBatchTokens: 256})
			if err != nil {
				return modelset.Loaded{}, err
			}
			g, err := admission.New(&fakeModel{b: b}, admission.Options{})
			if err != nil {
				return modelset.Loaded{}, err
			}
			return modelset.Loaded{Model: g}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	if err := set.Preload("fake", "other"); err != nil {
		t.Fatal(err)
	}
	if err := set.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	return set
}

// A batch the GPU cannot take: its requests get 507 with the fix, and the
// model goes on serving the next ones. /health reports the GPU memory the
// metrics watch, and nothing of a GPU on the CPU.
func TestGPUOutOfMemory507(t *testing.T) {
	ts := newTestServer(t, &engine{}, func(o *Options) {
		o.Models = newSetOver(t, &oomEngine{fit: 4})
	})
	r := do(t, "POST", ts.url+"/embed", jsonBody(t, map[string]any{"inputs": texts(16, "x")}))
	if r.code != 507 || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q), want 507: %s", r.code, r.header.Get("Retry-After"), r.body)
	}
	e := r.errBody(t)
	for _, w := range []string{"out of GPU memory", "--gpu-memory-fraction", "--max-batch-tokens", "Failed to allocate memory"} {
		if e.Error != KindOutOfMemory || !strings.Contains(e.Message, w) {
			t.Errorf("507 body lacks %q: %+v", w, e)
		}
	}
	// The OpenAI route says the same in its shape.
	r = do(t, "POST", ts.url+"/v1/embeddings", jsonBody(t, map[string]any{"input": texts(16, "y"), "model": "fake"}))
	if r.code != 507 || r.errBody(t).Error != KindOutOfMemory {
		t.Fatalf("OpenAI route: %d %s", r.code, r.body)
	}
	// The model survives: a request that fits is answered.
	if r := do(t, "POST", ts.url+"/embed", `{"inputs": ["a", "b"]}`); r.code != 200 {
		t.Fatalf("after the OOM: %d %s", r.code, r.body)
	}

	health := func() map[string]json.RawMessage {
		r := do(t, "GET", ts.url+"/health", "")
		var h map[string]json.RawMessage
		if r.code != 200 || json.Unmarshal(r.body, &h) != nil {
			t.Fatalf("/health %d %s", r.code, r.body)
		}
		return h
	}
	if h := health(); h["gpu"] != nil {
		t.Errorf("/health on the CPU reports a GPU: %s", h["gpu"])
	}
	ts.metrics.WatchGPU("fake", func() observe.GPUMemory {
		return observe.GPUMemory{Model: "fake", Device: "cuda:0", TotalBytes: 16 << 30, LimitBytes: 6 << 30, UsedBytes: 2 << 30}
	})
	var gpu []observe.GPUMemory
	if err := json.Unmarshal(health()["gpu"], &gpu); err != nil || len(gpu) != 1 {
		t.Fatalf("/health gpu: %+v, %v", gpu, err)
	}
	if g := gpu[0]; g.Model != "fake" || g.Device != "cuda:0" || g.TotalBytes != 16<<30 || g.LimitBytes != 6<<30 || g.UsedBytes != 2<<30 {
		t.Errorf("/health gpu %+v", g)
	}
}
