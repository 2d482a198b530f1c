package observe

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics are the embedding API's metrics (package httpapi), on the
// registry of the Metrics they were created from.
type HTTPMetrics struct {
	requests     *prometheus.CounterVec
	totalSeconds *prometheus.HistogramVec
	queueSeconds *prometheus.HistogramVec
	embedSeconds *prometheus.HistogramVec
	inputs       *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	m            *Metrics
}

// NewHTTPMetrics registers the embedding API's metrics on m's registry. It
// fails if they are registered there already.
func NewHTTPMetrics(m *Metrics) (*HTTPMetrics, error) {
	if m == nil {
		return nil, fmt.Errorf("observe: NewHTTPMetrics: nil Metrics")
	}
	h := &HTTPMetrics{
		m: m,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkfn_http_requests_total",
			Help: "Embedding API requests, by route and HTTP status.",
		}, []string{"route", "code"}),
		totalSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_http_request_seconds",
			Help:    "Embedding API requests' time from the request's headers to its response's last byte, in seconds, by route.",
			Buckets: inferenceBuckets(),
		}, []string{"route"}),
		queueSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_http_queue_wait_seconds",
			Help:    "Time an admitted embedding request waited for one of the API's concurrency slots, in seconds, by model.",
			Buckets: inferenceBuckets(),
		}, []string{"model"}),
		embedSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_http_inference_seconds",
			Help:    "Time an embedding request spent in its model's shared batcher (its queue and the batches that ran its texts), in seconds, by model.",
			Buckets: inferenceBuckets(),
		}, []string{"model"}),
		inputs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkfn_http_request_inputs",
			Help:    "Texts per embedding request, by model.",
			Buckets: rowBuckets(),
		}, []string{"model"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flinkfn_http_requests_in_flight",
			Help: "Embedding requests admitted and not yet answered.",
		}),
	}
	for _, c := range []prometheus.Collector{h.requests, h.totalSeconds, h.queueSeconds, h.embedSeconds, h.inputs, h.inFlight} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("observe: register the HTTP metrics: %w", err)
		}
	}
	return h, nil
}

// Request counts one answered request of route with its status and time.
func (h *HTTPMetrics) Request(route string, code int, took time.Duration) {
	h.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	h.totalSeconds.WithLabelValues(route).Observe(took.Seconds())
}

// Embedded records one embedding request's texts, its wait for a
// concurrency slot and its time in the model's batcher.
func (h *HTTPMetrics) Embedded(model string, inputs int, queued, embed time.Duration) {
	h.inputs.WithLabelValues(model).Observe(float64(inputs))
	h.queueSeconds.WithLabelValues(model).Observe(queued.Seconds())
	h.embedSeconds.WithLabelValues(model).Observe(embed.Seconds())
}

// InFlight moves the gauge of admitted requests by delta.
func (h *HTTPMetrics) InFlight(delta int) { h.inFlight.Add(float64(delta)) }
