// Package observe holds flinkfn's Prometheus metrics, the HTTP server that
// exposes them together with health and readiness probes, and the JSON
// logger used by the commands.
//
// Every metric lives on a registry owned by a Metrics value (never the
// process-wide default registry), so several Metrics can coexist in one
// process, e.g. in tests.
package observe

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flinkfn/flinkfn/fnharness"
	"github.com/flinkfn/flinkfn/inference/batcher"
)

// Error kinds besides the harness's bundle failures (fnharness.ErrSetup,
// ErrFunction, ErrDecode, ErrData, ErrInternal).
const (
	ErrRefused = "refused" // a session the memory budget could not take
	ErrModel   = "model"   // a model failed to load or a model batch failed
)

// ErrorKinds lists the error kinds New creates at zero, so that they show
// up in a scrape before the first error.
func ErrorKinds() []string {
	return []string{fnharness.ErrSetup, fnharness.ErrFunction, fnharness.ErrDecode, fnharness.ErrData, fnharness.ErrInternal, ErrRefused, ErrModel}
}

// Histogram buckets (functions, so that no slice is shared package state).

// bundleBuckets: 1 ms .. 60 s, exponential.
func bundleBuckets() []float64 { return prometheus.ExponentialBucketsRange(0.001, 60, 17) }

// inferenceBuckets: 1 ms .. 10 s, exponential.
func inferenceBuckets() []float64 { return prometheus.ExponentialBucketsRange(0.001, 10, 15) }

// rowBuckets: 1, 2, 4, ..., 256.
func rowBuckets() []float64 { return prometheus.ExponentialBuckets(1, 2, 9) }

// tokenBuckets: 16, 32, ..., 65536.
func tokenBuckets() []float64 { return prometheus.ExponentialBuckets(16, 2, 13) }

// MemoryState is a snapshot of the worker's memory accounting, read by
// WatchMemory's function at every scrape.
type MemoryState struct {
	Limit       int64            // memory limit in bytes; 0 = no limit
	Reserved    map[string]int64 // bytes reserved, by kind (e.g. "model", "buffers")
	Used        int64            // bytes in use (process RSS)
	BufferInUse int64            // bytes of pooled buffers currently in use
}

// Metrics is every flinkfn metric, on its own registry together with the Go
// runtime and process collectors. All methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	bundles       *prometheus.CounterVec
	rows          *prometheus.CounterVec
	bundleSeconds prometheus.Histogram
	errors        *prometheus.CounterVec

	inferenceSeconds  *prometheus.HistogramVec
	batchRows         *prometheus.HistogramVec
	batchTokens       *prometheus.HistogramVec
	batchRealTokens   *prometheus.CounterVec
	batchPaddedTokens *prometheus.CounterVec
	queueTokens       *prometheus.GaugeVec
	batches           *prometheus.CounterVec

	textsEmbedded  *prometheus.CounterVec
	textsTruncated *prometheus.CounterVec

	modelLoads     *prometheus.CounterVec
	modelLoadSecs  *prometheus.GaugeVec
	modelFootprint *prometheus.GaugeVec

	sessionsActive  prometheus.Gauge
	sessionsStarted prometheus.Counter
	sessionsRefused *prometheus.CounterVec

	ready prometheus.Gauge

	memory *memoryCollector
	gpu    *gpuCollector
}

// New returns a Metrics with every flinkfn metric registered on a fresh
// registry, plus the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),

		bundles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_bundles_total",
			Help: "Bundles processed, by Python function (full name) taking part in the bundle.",
		}, []string{"function"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_rows_total",
			Help: "Input rows processed, by Python function (full name); a bundle's rows count once for each function in it.",
		}, []string{"function"}),
		bundleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flinkfn_bundle_seconds",
			Help:    "Wall time to process one bundle, from its first element to its completion, in seconds.",
			Buckets: bundleBuckets(),
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_errors_total",
			Help: "Errors, by kind (setup, function, decode, data, internal, refused, model).",
		}, []string{"kind"}),

		inferenceSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_inference_seconds",
			Help:    "Time one model batch took to run (failed batches included), in seconds.",
			Buckets: inferenceBuckets(),
		}, []string{"model"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_batch_rows",
			Help:    "Rows (sequences) per model batch.",
			Buckets: rowBuckets(),
		}, []string{"model"}),
		batchTokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_batch_tokens",
			Help:    "Padded tokens (rows x longest sequence) per model batch.",
			Buckets: tokenBuckets(),
		}, []string{"model"}),
		batchRealTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_batch_real_tokens_total",
			Help: "Real (unpadded) tokens sent to the model, summed over batches.",
		}, []string{"model"}),
		batchPaddedTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_batch_padded_tokens_total",
			Help: "Padded tokens (rows x longest sequence) sent to the model, summed over batches.",
		}, []string{"model"}),
		queueTokens: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flinkfn_queue_tokens",
			Help: "Tokens waiting in the batcher queue when the last batch finished.",
		}, []string{"model"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_batches_total",
			Help: "Model batches run, failed ones included.",
		}, []string{"model"}),

		textsEmbedded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_texts_embedded_total",
			Help: "Texts embedded, by Python function (full name) and model.",
		}, []string{"function", "model"}),
		textsTruncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_texts_truncated_total",
			Help: "Texts truncated to the model's maximum sequence length before embedding, by Python function (full name) and model.",
		}, []string{"function", "model"}),

		modelLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_model_loads_total",
			Help: "Model loads completed, by model and variant.",
		}, []string{"model", "variant"}),
		modelLoadSecs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flinkfn_model_load_seconds",
			Help: "Time the latest load of the model took, in seconds, by model and variant.",
		}, []string{"model", "variant"}),
		modelFootprint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flinkfn_model_footprint_bytes",
			Help: "Memory footprint of the loaded model in bytes, by model and variant.",
		}, []string{"model", "variant"}),

		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flinkfn_sessions_active",
			Help: "Worker sessions (one per Flink Python worker environment) currently active.",
		}),
		sessionsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flinkfn_sessions_started_total",
			Help: "Worker sessions started.",
		}),
		sessionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_sessions_refused_total",
			Help: "Worker sessions refused, by reason.",
		}, []string{"reason"}),

		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flinkfn_ready",
			Help: "1 when the worker is ready to serve, else 0.",
		}),

		memory: newMemoryCollector(),
		gpu:    newGPUCollector(),
	}
	for _, k := range ErrorKinds() {
		m.errors.WithLabelValues(k)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.bundles, m.rows, m.bundleSeconds, m.errors,
		m.inferenceSeconds, m.batchRows, m.batchTokens, m.batchRealTokens,
		m.batchPaddedTokens, m.queueTokens, m.batches,
		m.textsEmbedded, m.textsTruncated,
		m.modelLoads, m.modelLoadSecs, m.modelFootprint,
		m.sessionsActive, m.sessionsStarted, m.sessionsRefused,
		m.ready,
		m.memory, m.gpu,
	)
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return m
}

// Registry returns the registry holding every metric.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the /metrics handler for the registry.
func (m *Metrics) Handler() http.Handler { return m.handler }

// nonNeg clamps a count to >= 0: counters panic on negative increments.
func nonNeg[T int | int64](v T) float64 {
	if v < 0 {
		return 0
	}
	return float64(v)
}

// BundleDone records a finished bundle: each distinct function in it gets one
// bundle and rowsIn rows; the bundle's duration is observed once. A non-empty
// errKind also counts an error of that kind.
func (m *Metrics) BundleDone(functions []string, rowsIn int64, took time.Duration, errKind string) {
	rows := nonNeg(rowsIn)
	for i, f := range functions {
		if dup(functions[:i], f) {
			continue
		}
		m.bundles.WithLabelValues(f).Inc()
		m.rows.WithLabelValues(f).Add(rows)
	}
	m.bundleSeconds.Observe(took.Seconds())
	if errKind != "" {
		m.Error(errKind)
	}
}

func dup(seen []string, s string) bool {
	for _, x := range seen {
		if x == s {
			return true
		}
	}
	return false
}

// Error counts one error of the given kind (see ErrorKinds); an empty kind
// is counted as "internal".
func (m *Metrics) Error(kind string) {
	if kind == "" {
		kind = fnharness.ErrInternal
	}
	m.errors.WithLabelValues(kind).Inc()
}

// Batches returns the batcher.Observer of one model's batcher: its
// batches are labelled with the model's name.
func (m *Metrics) Batches(model string) batcher.Observer {
	return modelBatches{
		inference: m.inferenceSeconds.WithLabelValues(model),
		rows:      m.batchRows.WithLabelValues(model),
		tokens:    m.batchTokens.WithLabelValues(model),
		padded:    m.batchPaddedTokens.WithLabelValues(model),
		real:      m.batchRealTokens.WithLabelValues(model),
		queue:     m.queueTokens.WithLabelValues(model),
		batches:   m.batches.WithLabelValues(model),
		m:         m,
	}
}

type modelBatches struct {
	inference, rows, tokens prometheus.Observer
	padded, real, batches   prometheus.Counter
	queue                   prometheus.Gauge
	m                       *Metrics
}

// BatchDone records one model batch, and counts a "model" error when err
// is not nil.
func (b modelBatches) BatchDone(rows, paddedTokens, realTokens int, queueDepthTokens int, took time.Duration, err error) {
	b.batches.Inc()
	b.inference.Observe(took.Seconds())
	b.rows.Observe(nonNeg(rows))
	b.tokens.Observe(nonNeg(paddedTokens))
	b.padded.Add(nonNeg(paddedTokens))
	b.real.Add(nonNeg(realTokens))
	b.queue.Set(float64(queueDepthTokens))
	if err != nil {
		b.m.Error(ErrModel)
	}
}

// TextsEmbedded counts texts a function embedded with a model, and how
// many of them were truncated. The function label is its full Python name,
// as in flinkfn_rows_total.
func (m *Metrics) TextsEmbedded(function, model string, texts, truncated int) {
	m.textsEmbedded.WithLabelValues(function, model).Add(nonNeg(texts))
	m.textsTruncated.WithLabelValues(function, model).Add(nonNeg(truncated))
}

// ModelLoaded records a completed model load: its duration and the model's
// memory footprint.
func (m *Metrics) ModelLoaded(model, variant string, took time.Duration, footprintBytes int64) {
	m.modelLoads.WithLabelValues(model, variant).Inc()
	m.modelLoadSecs.WithLabelValues(model, variant).Set(took.Seconds())
	m.modelFootprint.WithLabelValues(model, variant).Set(float64(footprintBytes))
}

// SessionStarted records a new active session.
func (m *Metrics) SessionStarted() {
	m.sessionsStarted.Inc()
	m.sessionsActive.Inc()
}

// SessionEnded records the end of an active session.
func (m *Metrics) SessionEnded() { m.sessionsActive.Dec() }

// SessionRefused counts a refused session by reason. It does not count an
// error; callers that treat the refusal as one call Error(ErrRefused).
func (m *Metrics) SessionRefused(reason string) {
	m.sessionsRefused.WithLabelValues(reason).Inc()
}

// SetReady sets flinkfn_ready to 1 (ready) or 0.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// WatchMemory makes the memory gauges report f's result, called once per
// scrape. It replaces any earlier function; a nil f stops the memory gauges
// from being reported. f must be safe for concurrent use.
func (m *Metrics) WatchMemory(f func() MemoryState) { m.memory.f.Store(&f) }

// memoryCollector reports the memory gauges from a function read at scrape
// time.
type memoryCollector struct {
	f           atomic.Pointer[func() MemoryState]
	limit       *prometheus.Desc
	reserved    *prometheus.Desc
	used        *prometheus.Desc
	bufferInUse *prometheus.Desc
}

func newMemoryCollector() *memoryCollector {
	return &memoryCollector{
		limit: prometheus.NewDesc("flinkfn_memory_limit_bytes",
			"Memory limit the worker keeps within, in bytes (0 = no limit).", nil, nil),
		reserved: prometheus.NewDesc("flinkfn_memory_reserved_bytes",
			"Memory reserved against the limit, in bytes, by kind.", []string{"kind"}, nil),
		used: prometheus.NewDesc("flinkfn_memory_used_bytes",
			"Memory in use by the process (resident set size), in bytes.", nil, nil),
		bufferInUse: prometheus.NewDesc("flinkfn_memory_buffer_in_use_bytes",
			"Pooled buffer memory currently in use, in bytes.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.limit
	ch <- c.reserved
	ch <- c.used
	ch <- c.bufferInUse
}

// Collect implements prometheus.Collector.
func (c *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.f.Load()
	if p == nil || *p == nil {
		return
	}
	s := (*p)()
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(s.Limit))
	for kind, v := range s.Reserved {
		ch <- prometheus.MustNewConstMetric(c.reserved, prometheus.GaugeValue, float64(v), kind)
	}
	ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(s.Used))
	ch <- prometheus.MustNewConstMetric(c.bufferInUse, prometheus.GaugeValue, float64(s.BufferInUse))
}
