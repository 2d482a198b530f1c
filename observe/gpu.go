package observe

import (
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// GPUMemory is one model's GPU memory at one instant: the device's total,
// the model session's limit (ONNX Runtime's gpu_mem_limit: what its arena
// may reserve; 0 = none) and what the device has in use (every process on
// it). /metrics and the HTTP API's /health report the same readings.
type GPUMemory struct {
	Model      string `json:"model"`
	Device     string `json:"device"`
	TotalBytes int64  `json:"total_bytes"`
	LimitBytes int64  `json:"limit_bytes"`
	UsedBytes  int64  `json:"used_bytes"`
	// Err is why the reading failed ("" when it did not).
	Err string `json:"error,omitempty"`
}

// gpuCollector reports the GPU memory gauges of the models that run on a
// GPU, read at scrape time. With no model on a GPU (the CPU) it reports
// nothing: the gauges are absent, not zero.
type gpuCollector struct {
	mu    sync.Mutex
	read  map[string]func() GPUMemory // by model
	total *prometheus.Desc
	limit *prometheus.Desc
	used  *prometheus.Desc
}

func newGPUCollector() *gpuCollector {
	return &gpuCollector{
		read: map[string]func() GPUMemory{},
		total: prometheus.NewDesc("flinkfn_gpu_memory_total_bytes",
			"Memory of the GPU a model runs on, in bytes.", []string{"device"}, nil),
		limit: prometheus.NewDesc("flinkfn_gpu_memory_limit_bytes",
			"GPU memory a model's ONNX Runtime session may reserve (gpu_mem_limit: --gpu-memory-fraction of the GPU, split between the models), in bytes.",
			[]string{"model", "device"}, nil),
		used: prometheus.NewDesc("flinkfn_gpu_memory_used_bytes",
			"GPU memory in use on the device (every process: total - free as CUDA reports it), in bytes.", []string{"device"}, nil),
	}
}

// WatchGPU makes /metrics and /health report model's GPU memory, read by
// read at each scrape or request; nil stops reporting it. read must be
// safe for concurrent use.
func (m *Metrics) WatchGPU(model string, read func() GPUMemory) {
	c := m.gpu
	c.mu.Lock()
	defer c.mu.Unlock()
	if read == nil {
		delete(c.read, model)
		return
	}
	c.read[model] = read
}

// GPU reads every watched model's GPU memory, by model name; empty on the
// CPU.
func (m *Metrics) GPU() []GPUMemory {
	c := m.gpu
	c.mu.Lock()
	reads := make([]func() GPUMemory, 0, len(c.read))
	for _, k := range slices.Sorted(maps.Keys(c.read)) {
		reads = append(reads, c.read[k])
	}
	c.mu.Unlock()
	out := make([]GPUMemory, 0, len(reads))
	for _, r := range reads {
		out = append(out, r())
	}
	return out
}

// Describe implements prometheus.Collector.
func (c *gpuCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.limit
	ch <- c.used
}

// Collect implements prometheus.Collector: one total and used per device,
// one limit per model.
func (c *gpuCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reads := make([]func() GPUMemory, 0, len(c.read))
	for _, k := range slices.Sorted(maps.Keys(c.read)) {
		reads = append(reads, c.read[k])
	}
	c.mu.Unlock()
	devices := map[string]bool{}
	for _, r := range reads {
		g := r()
		if g.Err != "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(g.LimitBytes), g.Model, g.Device)
		if devices[g.Device] {
			continue
		}
		devices[g.Device] = true
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(g.TotalBytes), g.Device)
		ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(g.UsedBytes), g.Device)
	}
}

// GPU reads the GPU memory of the models the API serves (empty on the
// CPU), for /health.
func (h *HTTPMetrics) GPU() []GPUMemory { return h.m.GPU() }
