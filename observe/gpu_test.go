package observe

import (
	"strings"
	"sync/atomic"
	"testing"
)

// On the CPU no model is watched: no flinkfn_gpu_* series at all. A model
// on a GPU reports its device's total and used memory and its own limit,
// read at each scrape; unwatching it removes them again.
func TestGPUMemoryGauges(t *testing.T) {
	m := New()
	for k := range scrape(t, m) {
		if strings.HasPrefix(k, "flinkfn_gpu_") {
			t.Errorf("on the CPU: %s", k)
		}
	}
	if g := m.GPU(); len(g) != 0 {
		t.Errorf("GPU() on the CPU: %+v", g)
	}
	var used atomic.Int64
	used.Store(3 << 30)
	m.WatchGPU("all-MiniLM-L6-v2", func() GPUMemory {
		return GPUMemory{Model: "all-MiniLM-L6-v2", Device: "cuda:0", TotalBytes: 80 << 30, LimitBytes: 16 << 30, UsedBytes: used.Load()}
	})
	m.WatchGPU("bge-small-en-v1.5", func() GPUMemory {
		return GPUMemory{Model: "bge-small-en-v1.5", Device: "cuda:0", TotalBytes: 80 << 30, LimitBytes: 16 << 30, UsedBytes: used.Load()}
	})
	got := scrape(t, m)
	want(t, got, `flinkfn_gpu_memory_total_bytes{device="cuda:0"}`, 80<<30)
	want(t, got, `flinkfn_gpu_memory_used_bytes{device="cuda:0"}`, 3<<30)
	want(t, got, `flinkfn_gpu_memory_limit_bytes{device="cuda:0",model="all-MiniLM-L6-v2"}`, 16<<30)
	want(t, got, `flinkfn_gpu_memory_limit_bytes{device="cuda:0",model="bge-small-en-v1.5"}`, 16<<30)
	used.Store(5 << 30)
	want(t, scrape(t, m), `flinkfn_gpu_memory_used_bytes{device="cuda:0"}`, 5<<30)
	if g := m.GPU(); len(g) != 2 || g[0].Model != "all-MiniLM-L6-v2" || g[1].UsedBytes != 5<<30 {
		t.Errorf("GPU() %+v", g)
	}
	// A failed reading is left out of /metrics and carries its error in GPU().
	m.WatchGPU("bge-small-en-v1.5", func() GPUMemory {
		return GPUMemory{Model: "bge-small-en-v1.5", Device: "cuda:1", Err: "cudaMemGetInfo: unknown error"}
	})
	got = scrape(t, m)
	wantAbsent(t, got, `flinkfn_gpu_memory_total_bytes{device="cuda:1"}`)
	wantAbsent(t, got, `flinkfn_gpu_memory_limit_bytes{device="cuda:1",model="bge-small-en-v1.5"}`)
	if g := m.GPU(); len(g) != 2 || g[1].Err == "" {
		t.Errorf("GPU() %+v", g)
	}
	m.WatchGPU("all-MiniLM-L6-v2", nil)
	m.WatchGPU("bge-small-en-v1.5", nil)
	for k := range scrape(t, m) {
		if strings.HasPrefix(k, "flinkfn_gpu_") {
			t.Errorf("after unwatching: %s", k)
		}
	}
}
