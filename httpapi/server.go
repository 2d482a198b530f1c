// Package httpapi serves the process's embedding models over HTTP, in the
// shapes of HuggingFace text-embeddings-inference (POST /embed, GET /info)
// and OpenAI (POST /v1/embeddings), plus GET /health.
//
// A request goes through the same admission as a Flink session's rows: it
// acquires its model from the process's model set and calls the model, whose
// admission gate (package admission) shares it between the Flink sessions
// and the API's requests, and whose batcher's token budget every caller
// shares; the memory a request holds (its body, token ids, vectors and
// response) is reserved from the process's memory budget first. On top of
// that the API bounds itself: at most Limits.MaxConcurrent requests in the
// model at once, at most Limits.MaxQueued waiting for a slot (beyond: 429
// with Retry-After), and a deadline per request (504).
//
// It imports the model set, the memory budget and the metrics; cmd builds a
// Server from Options and mounts its routes on the pool's HTTP listener or
// on `flinkfn serve`'s.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flinkfn/flinkfn/admission"
	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/modelset"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
)

// Class is the admission class of the API's requests (the Flink sessions'
// is the default class, "").
const Class = "http"

// KindRequest is the memory budget's kind for an HTTP request's buffers.
const KindRequest memory.Kind = "http"

// Models are the process's models (a *modelset.Set).
type Models interface {
	Acquire(ctx context.Context, name string) (*modelset.Handle, error)
	Default() string
}

var _ Models = (*modelset.Set)(nil)

// ModelInfo describes one model the API serves.
type ModelInfo struct {
	Name       string `json:"id"`
	Variant    string `json:"variant,omitempty"`
	Dims       int    `json:"dims"`
	MaxTokens  int    `json:"max_input_length"`
	Pooling    string `json:"pooling,omitempty"`
	Normalized bool   `json:"normalized"`
}

// Limits bound what one request, and all of them, may ask.
type Limits struct {
	// MaxInputs is the most texts per request (default 32).
	MaxInputs int `json:"max_client_batch_size"`
	// MaxBodyBytes is the largest request body (default 2 MiB).
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// MaxConcurrent is the most requests in the models' batchers at once
	// (default 16).
	MaxConcurrent int `json:"max_concurrent_requests"`
	// MaxQueued is the most requests waiting for a concurrency slot;
	// beyond it a request gets 429 (default 128).
	MaxQueued int `json:"max_queued_requests"`
	// Timeout is a request's deadline, from its headers to its vectors
	// (default 30s): 504 past it.
	Timeout time.Duration `json:"-"`
	// StrictLength makes `truncate` default to false, as in TEI: a text
	// longer than the model's maximum is a 422 unless the request sends
	// "truncate": true. Default (false): such texts are truncated, as
	// sentence-transformers and the Flink functions do. OpenAI's route
	// follows the same default.
	StrictLength bool `json:"strict_length"`
}

// Options configure a Server.
type Options struct {
	Models Models
	// Catalog lists every model the API serves; requests name one of them
	// ("" and no name: Models.Default()).
	Catalog []ModelInfo
	// Budget, optional, reserves each request's memory (507 when it cannot).
	Budget *memory.Budget
	// Metrics, optional, counts requests and times them.
	Metrics *observe.HTTPMetrics
	// Logger receives one JSON access log line per request (nil: none).
	Logger *slog.Logger
	// Ready, optional, says why the models cannot serve yet (503).
	Ready func() error
	// APIKey, when set, is the bearer token every route but /health needs.
	APIKey string
	Limits Limits
	// Version is reported by /info and /health.
	Version string
	// Now, optional, is the clock (tests).
	Now func() time.Time
}

// Server answers the embedding API. Create it with New; it is safe for
// concurrent use.
type Server struct {
	o       Options
	models  map[string]ModelInfo
	started time.Time
	keyHash [32]byte

	slots    chan struct{} // a token per request in a batcher
	waiting  atomic.Int64  // requests waiting for a slot
	draining atomic.Bool
	seq      atomic.Uint64
}

// Defaults of Limits.
const (
	DefaultMaxInputs     = 32
	DefaultMaxBodyBytes  = 2 << 20
	DefaultMaxConcurrent = 16
	DefaultMaxQueued     = 128
	DefaultTimeout       = 30 * time.Second
)

// New checks o and returns a Server.
func New(o Options) (*Server, error) {
	if o.Models == nil {
		return nil, errors.New("httpapi: Options.Models is required")
	}
	if len(o.Catalog) == 0 {
		return nil, errors.New("httpapi: Options.Catalog is empty: describe at least the default model")
	}
	l := &o.Limits
	var errs []error
	for _, c := range []struct {
		name string
		v    int64
	}{{"MaxInputs", int64(l.MaxInputs)}, {"MaxBodyBytes", l.MaxBodyBytes}, {"MaxConcurrent", int64(l.MaxConcurrent)},
		{"MaxQueued", int64(l.MaxQueued)}, {"Timeout", int64(l.Timeout)}} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("httpapi: Limits.%s is negative (%d)", c.name, c.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if l.MaxInputs == 0 {
		l.MaxInputs = DefaultMaxInputs
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = DefaultMaxConcurrent
	}
	if l.MaxQueued == 0 {
		l.MaxQueued = DefaultMaxQueued
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, models: map[string]ModelInfo{}, started: o.Now(), slots: make(chan struct{}, l.MaxConcurrent)}
	for _, m := range o.Catalog {
		if m.Name == "" || m.Dims <= 0 {
			return nil, fmt.Errorf("httpapi: catalog entry %+v needs a name and its dims", m)
		}
		s.models[m.Name] = m
	}
	if _, ok := s.models[o.Models.Default()]; !ok {
		return nil, fmt.Errorf("httpapi: the default model %q is not in the catalog", o.Models.Default())
	}
	if o.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(o.APIKey))
	}
	return s, nil
}

// Mount adds the API's routes to mux: POST /embed, POST /v1/embeddings,
// GET /info, GET /health (and GET /v1/models).
func (s *Server) Mount(mux *http.ServeMux) {
	mux.Handle("POST /embed", s.route("/embed", true, s.embedTEI))
	mux.Handle("POST /v1/embeddings", s.route("/v1/embeddings", true, s.embedOpenAI))
	mux.Handle("GET /info", s.route("/info", true, s.info))
	mux.Handle("GET /v1/models", s.route("/v1/models", true, s.listModels))
	mux.Handle("GET /health", s.route("/health", false, s.health))
}

// Handler is a mux with the API's routes only.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Mount(mux)
	return mux
}

// Drain makes every later embedding request a 503 (the process is
// stopping); requests already admitted finish.
func (s *Server) Drain() { s.draining.Store(true) }

// reqInfo is what a handler tells the access log.
type reqInfo struct {
	model  string
	inputs int
	tokens []int // per text, when the model counts them
	err    error
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, ri *reqInfo) *apiError

// route wraps a handler with the bearer check, the access log and the
// metrics: the one skeleton every route shares.
func (s *Server) route(name string, auth bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.o.Now()
		id := s.seq.Add(1)
		rec := &recorder{ResponseWriter: w}
		ri := &reqInfo{}
		var ae *apiError
		if auth && !s.authorized(r) {
			ae = unauthorized(r)
		} else {
			ae = h(rec, r, ri)
		}
		if ae != nil {
			if ae.status != statusClientClosed {
				writeError(rec, ae, strings.HasPrefix(name, "/v1/"))
			}
			ri.err = ae
		}
		took := s.o.Now().Sub(start)
		status := rec.status
		if ae != nil && ae.status == statusClientClosed {
			status = statusClientClosed
		}
		if s.o.Metrics != nil {
			s.o.Metrics.Request(name, status, took)
		}
		attrs := []slog.Attr{
			slog.Uint64("request_id", id), slog.String("method", r.Method), slog.String("route", name),
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.Int64("bytes_in", max(r.ContentLength, 0)), slog.Int64("bytes_out", rec.bytes), slog.String("remote", r.RemoteAddr),
		}
		if ri.model != "" {
			attrs = append(attrs, slog.String("model", ri.model), slog.Int("inputs", ri.inputs))
		}
		level := slog.LevelInfo
		if ae != nil {
			attrs = append(attrs, slog.String("error", ae.kind), slog.String("message", ae.message))
			if ae.err != nil {
				attrs = append(attrs, slog.String("cause", ae.err.Error()))
			}
			if status >= 500 && status != statusClientClosed {
				level = slog.LevelWarn
			}
		}
		s.o.Logger.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// unauthorized says what is wrong with the request's credentials: none
// sent, not a bearer token, or a key that is not the server's.
func unauthorized(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return errf(http.StatusUnauthorized, KindUnauthorized, "this server needs its API key: send the header \"Authorization: Bearer <key>\"")
	case !strings.HasPrefix(h, "Bearer "):
		return errf(http.StatusUnauthorized, KindUnauthorized, "the Authorization header is not a bearer token: send \"Authorization: Bearer <key>\"")
	default:
		return errf(http.StatusUnauthorized, KindUnauthorized,
			"the bearer token is not this server's API key: send \"Authorization: Bearer <key>\" with the key it was started with (--api-key or FLINKFN_API_KEY)")
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.o.APIKey == "" {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(h[:], s.keyHash[:]) == 1
}

// recorder remembers the status and counts the bytes written.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// job is one validated embedding request.
type job struct {
	model    ModelInfo
	texts    []string
	truncate bool
	body     int // request body bytes (held while the request runs)
	tokens   []int
}

// embed runs a validated job through the one admission the Flink sessions
// use too: readiness, the model (its own tokenizer counts the tokens and
// refuses over-long texts: 422), a concurrency slot (or 429), the memory
// budget (or 507), the model's shared batcher under the request's deadline
// (or 504).
func (s *Server) embed(ctx context.Context, j *job, ri *reqInfo) ([][]float32, *apiError) {
	ri.model, ri.inputs = j.model.Name, len(j.texts)
	if ae := s.readyErr(); ae != nil {
		return nil, ae
	}
	// The model's admission gate shares it between this class and the
	// Flink sessions' (package admission).
	ctx, cancel := context.WithTimeout(admission.WithClass(ctx, Class), s.o.Limits.Timeout)
	defer cancel()
	h, err := s.o.Models.Acquire(ctx, j.model.Name)
	if err != nil {
		return nil, classify(err, j.model.Name, s.o.Limits.Timeout.String())
	}
	defer h.Release()
	total := 0
	j.tokens = make([]int, len(j.texts))
	for i, t := range j.texts {
		n, truncated, err := h.CountTokens(t)
		if err != nil {
			return nil, errf(http.StatusBadRequest, KindInvalidInput, "text %d cannot be tokenized: %v", i, err)
		}
		if truncated && !j.truncate {
			return nil, errf(http.StatusUnprocessableEntity, KindTooLong,
				"text %d is longer than model %s's maximum of %d tokens, and truncate is false: shorten it, or send \"truncate\": true to embed its first %d tokens",
				i, j.model.Name, j.model.MaxTokens, j.model.MaxTokens)
		}
		j.tokens[i] = n
		total += n
	}
	ri.tokens = j.tokens

	queued := s.o.Now()
	release, ae := s.admit(ctx, j.model.Name)
	if ae != nil {
		return nil, ae
	}
	defer release()
	wait := s.o.Now().Sub(queued)

	if s.o.Budget != nil {
		res, err := s.o.Budget.Reserve(KindRequest, fmt.Sprintf("request to %s", j.model.Name), requestBytes(j, total))
		if err != nil {
			return nil, classify(err, j.model.Name, s.o.Limits.Timeout.String())
		}
		defer res.Release()
	}
	started := s.o.Now()
	vecs, _, err := h.EmbedCounted(ctx, j.texts)
	if err != nil {
		if errors.Is(err, batcher.ErrClosed) {
			return nil, &apiError{status: http.StatusServiceUnavailable, kind: KindDraining, retryAfter: 1, err: err,
				message: "the server is stopping: retry on another instance"}
		}
		return nil, classify(err, j.model.Name, s.o.Limits.Timeout.String())
	}
	if s.o.Metrics != nil {
		s.o.Metrics.Embedded(j.model.Name, len(j.texts), wait, s.o.Now().Sub(started))
	}
	if len(vecs) != len(j.texts) {
		return nil, classify(fmt.Errorf("%d vectors for %d texts", len(vecs), len(j.texts)), j.model.Name, "")
	}
	return vecs, nil
}

// admit takes a concurrency slot, waiting in a bounded queue: 429 when the
// queue is full, 504 when the deadline passes first.
func (s *Server) admit(ctx context.Context, model string) (func(), *apiError) {
	release := func() {
		<-s.slots
		if s.o.Metrics != nil {
			s.o.Metrics.InFlight(-1)
		}
	}
	took := func() func() {
		if s.o.Metrics != nil {
			s.o.Metrics.InFlight(1)
		}
		return release
	}
	select {
	case s.slots <- struct{}{}:
		return took(), nil
	default:
	}
	if s.waiting.Add(1) > int64(s.o.Limits.MaxQueued) {
		s.waiting.Add(-1)
		return nil, &apiError{status: http.StatusTooManyRequests, kind: KindQueueFull, retryAfter: 1,
			message: fmt.Sprintf("the server's queue is full (%d requests running, %d waiting): retry after the Retry-After seconds, or send fewer concurrent requests",
				s.o.Limits.MaxConcurrent, s.o.Limits.MaxQueued)}
	}
	defer s.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return took(), nil
	case <-ctx.Done():
		return nil, classify(ctx.Err(), model, s.o.Limits.Timeout.String())
	}
}

// requestBytes estimates the memory a request holds while it runs: its
// body, its token ids (ours and the batcher's copy), its vectors and its
// encoded response (at most 16 bytes a float as JSON text).
func requestBytes(j *job, tokens int) int64 {
	if tokens == 0 {
		tokens = len(j.texts) * j.model.MaxTokens
	}
	rows, dims := int64(len(j.texts)), int64(j.model.Dims)
	return int64(j.body) + int64(tokens)*16 + rows*dims*4 + rows*dims*16 + 4096
}

func (s *Server) readyErr() *apiError {
	if s.draining.Load() {
		return &apiError{status: http.StatusServiceUnavailable, kind: KindDraining, retryAfter: 1,
			message: "the server is stopping: retry on another instance"}
	}
	if s.o.Ready != nil {
		if err := s.o.Ready(); err != nil {
			return &apiError{status: http.StatusServiceUnavailable, kind: KindNotReady, retryAfter: 1, err: err,
				message: fmt.Sprintf("not ready: %v. Retry when GET /health answers 200", err)}
		}
	}
	return nil
}

// model resolves a requested model name ("" is the default).
func (s *Server) model(name string) (ModelInfo, *apiError) {
	if name == "" {
		name = s.o.Models.Default()
	}
	if m, ok := s.models[name]; ok {
		return m, nil
	}
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	slices.Sort(names)
	return ModelInfo{}, errf(http.StatusBadRequest, KindUnknownModel, "no model named %q here; this server has %s (GET /info lists them)", name, strings.Join(names, ", "))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"could not encode the response"}`)
	}
	writeBytes(w, code, append(b, '\n'))
}

func writeBytes(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// CheckBind refuses a non-loopback listen address without an API key, as
// TEI does: the embedding API would be open to the network.
func CheckBind(addr, apiKey string) error {
	if apiKey != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not a loopback address: the embedding API would be open to the network without a key. Pass --api-key KEY (clients send \"Authorization: Bearer KEY\"), or listen on 127.0.0.1", addr)
}
