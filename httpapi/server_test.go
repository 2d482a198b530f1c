package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
)

// lockedBuffer collects the access log across handler goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type testServer struct {
	url     string
	api     *Server
	metrics *observe.Metrics
	log     *lockedBuffer
}

// newTestServer serves the fake models; edit changes the options first.
func newTestServer(t *testing.T, eng *engine, edit func(*Options)) *testServer {
	t.Helper()
	m := observe.New()
	hm, err := observe.NewHTTPMetrics(m)
	if err != nil {
		t.Fatal(err)
	}
	buf := &lockedBuffer{}
	o := Options{
		Models: newFakeSet(t, eng), Catalog: fakeCatalog(), Metrics: hm,
		Logger: observe.NewLogger(buf, slog.LevelInfo), Version: "test",
	}
	if edit != nil {
		edit(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &testServer{url: ts.URL, api: s, metrics: m, log: buf}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) errBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		// The OpenAI routes: {"error": {"message", "type", "code"}, "message"}.
		var o openAIErrorBody
		if err := json.Unmarshal(r.body, &o); err != nil {
			t.Fatalf("error body %q is neither {error, message} nor OpenAI's: %v", r.body, err)
		}
		if o.Error.Message != o.Message || o.Error.Code != o.Error.Type {
			t.Fatalf("OpenAI error body %q: message or code differ", r.body)
		}
		e = errorBody{Error: o.Error.Type, Message: o.Message}
	}
	if e.Error == "" || e.Message == "" {
		t.Fatalf("error body %q lacks error or message", r.body)
	}
	return e
}

func do(t *testing.T, method, url, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameVector(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d dims, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: dim %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestEmbedTEI(t *testing.T) {
	ts := newTestServer(t, &engine{}, nil)
	in := texts(5, "tei")
	r := do(t, "POST", ts.url+"/embed", jsonBody(t, map[string]any{"inputs": in}))
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var got [][]float32
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d vectors for %d inputs", len(got), len(in))
	}
	for i := range in {
		sameVector(t, in[i], got[i], wantVector(in[i]))
	}
	// One string gives a list of one vector; ?model= picks the model.
	r = do(t, "POST", ts.url+"/embed?model=other", `{"inputs": "a single text", "normalize": true, "truncate": true}`)
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	got = nil
	if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 1 {
		t.Fatalf("%s: %v", r.body, err)
	}
	sameVector(t, "single", got[0], wantVector("a single text"))
	// A text over the maximum is truncated by default, as Flink's functions do.
	long := strings.Repeat("word ", 40)
	r = do(t, "POST", ts.url+"/embed", jsonBody(t, map[string]any{"inputs": []string{long}}))
	if r.code != 200 {
		t.Fatalf("long text: status %d: %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestEmbedOpenAI(t *testing.T) {
	ts := newTestServer(t, &engine{}, nil)
	in := texts(3, "openai")
	type item struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	}
	type resp struct {
		Object string `json:"object"`
		Data   []item `json:"data"`
		Model  string `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	wantTokens := 0
	for _, s := range in {
		n, _, _ := fakeCount(s)
		wantTokens += n
	}
	for _, format := range []string{"", "float", "base64"} {
		req := map[string]any{"model": "fake", "input": in, "user": "someone"}
		if format != "" {
			req["encoding_format"] = format
		}
		r := do(t, "POST", ts.url+"/v1/embeddings", jsonBody(t, req))
		if r.code != 200 {
			t.Fatalf("%q: status %d: %s", format, r.code, r.body)
		}
		var got resp
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Object != "list" || got.Model != "fake" || len(got.Data) != len(in) {
			t.Fatalf("%q: response %s", format, r.body)
		}
		if got.Usage.PromptTokens != wantTokens || got.Usage.TotalTokens != wantTokens {
			t.Errorf("%q: usage %+v, want %d tokens", format, got.Usage, wantTokens)
		}
		for i, d := range got.Data {
			if d.Index != i || d.Object != "embedding" {
				t.Fatalf("item %d: %+v", i, d)
			}
			var v []float32
			if format == "base64" {
				var s string
				if err := json.Unmarshal(d.Embedding, &s); err != nil {
					t.Fatalf("base64 embedding is not a string: %s", d.Embedding)
				}
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil || len(raw) != 4*fakeDims {
					t.Fatalf("base64 %q: %v (%d bytes)", s, err, len(raw))
				}
				for j := 0; j < len(raw); j += 4 {
					v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
				}
			} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
				t.Fatal(err)
			}
			sameVector(t, fmt.Sprintf("%q item %d", format, i), v, wantVector(in[i]))
		}
	}
	// No model: the default; a single string.
	r := do(t, "POST", ts.url+"/v1/embeddings", `{"input": "just one"}`)
	if r.code != 200 || !strings.Contains(string(r.body), `"model":"fake"`) {
		t.Fatalf("default model: %d %s", r.code, r.body)
	}
}

func TestInfoHealthModels(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	ts := newTestServer(t, &engine{}, func(o *Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		o.Limits.MaxInputs = 16
	})
	mu.Lock()
	now = now.Add(90 * time.Second)
	mu.Unlock()
	r := do(t, "GET", ts.url+"/health", "")
	var h healthBody
	if err := json.Unmarshal(r.body, &h); err != nil || r.code != 200 {
		t.Fatalf("/health %d %s: %v", r.code, r.body, err)
	}
	if h.Status != "ok" || h.Model != "fake" || h.UptimeSeconds != 90 || len(h.Models) != 2 || h.Version != "test" {
		t.Errorf("/health %+v", h)
	}
	r = do(t, "GET", ts.url+"/info", "")
	var info struct {
		ModelID            string `json:"model_id"`
		MaxInputLength     int    `json:"max_input_length"`
		MaxClientBatchSize int    `json:"max_client_batch_size"`
		Limits             struct {
			MaxClientBatchSize int     `json:"max_client_batch_size"`
			MaxBodyBytes       int64   `json:"max_body_bytes"`
			TimeoutSeconds     float64 `json:"timeout_seconds"`
			AutoTruncate       bool    `json:"auto_truncate"`
		} `json:"limits"`
		Models []ModelInfo `json:"models"`
	}
	if err := json.Unmarshal(r.body, &info); err != nil || r.code != 200 {
		t.Fatalf("/info %d %s: %v", r.code, r.body, err)
	}
	if info.ModelID != "fake" || info.MaxInputLength != fakeMaxTokens || info.MaxClientBatchSize != 16 ||
		info.Limits.MaxBodyBytes != DefaultMaxBodyBytes || info.Limits.TimeoutSeconds != 30 || !info.Limits.AutoTruncate ||
		len(info.Models) != 2 || info.Models[0].Dims != fakeDims || info.Models[1].Pooling != "cls" {
		t.Errorf("/info %s", r.body)
	}
	r = do(t, "GET", ts.url+"/v1/models", "")
	if r.code != 200 || !strings.Contains(string(r.body), `"id":"other"`) {
		t.Errorf("/v1/models %d %s", r.code, r.body)
	}
}

// Every bad input gets its status, its error kind and a message that says
// what is wrong; the server serves on afterwards and holds nothing.
func TestBadInputs(t *testing.T) {
	budget := memory.NewBudget(1<<30, "test")
	ts := newTestServer(t, &engine{}, func(o *Options) {
		o.Limits.MaxBodyBytes = 4096
		o.Budget = budget
	})
	long := strings.Repeat("word ", 20)
	cases := []struct {
		name, path, body string
		status           int
		kind, message    string
	}{
		{"empty body", "/embed", "", 400, KindInvalidJSON, "body is empty"},
		{"blank body", "/embed", "  \n ", 400, KindInvalidJSON, "body is empty"},
		{"not JSON", "/embed", "inputs=hello", 400, KindInvalidJSON, "JSON object"},
		{"broken JSON", "/embed", `{"inputs": ["a",`, 400, KindInvalidJSON, "not valid JSON"},
		{"JSON syntax", "/embed", `{"inputs": ["a" "b"]}`, 400, KindInvalidJSON, "not valid JSON"},
		{"top-level list", "/embed", `["a", "b"]`, 400, KindInvalidJSON, "JSON object"},
		{"trailing data", "/embed", `{"inputs": "a"} {"inputs": "b"}`, 400, KindInvalidJSON, "after its JSON object"},
		{"inputs missing", "/embed", `{}`, 400, KindEmptyInput, `"inputs" is missing`},
		{"inputs null", "/embed", `{"inputs": null}`, 400, KindEmptyInput, `"inputs" is missing`},
		{"inputs number", "/embed", `{"inputs": 42}`, 400, KindInvalidInput, "not a number"},
		{"inputs object", "/embed", `{"inputs": {"text": "a"}}`, 400, KindInvalidInput, "not an object"},
		{"inputs boolean", "/embed", `{"inputs": true}`, 400, KindInvalidInput, "not a boolean"},
		{"inputs empty list", "/embed", `{"inputs": []}`, 400, KindEmptyInput, "empty list"},
		{"inputs empty string", "/embed", `{"inputs": ""}`, 400, KindEmptyInput, "empty string"},
		{"an empty text", "/embed", `{"inputs": ["a", ""]}`, 400, KindEmptyInput, "item 1 is the empty string"},
		{"a number among texts", "/embed", `{"inputs": ["a", {"b": 1}]}`, 400, KindInvalidInput, "item 1 must be a string, not an object"},
		{"a null among texts", "/embed", `{"inputs": ["a", null]}`, 400, KindInvalidInput, "item 1 must be a string, not null"},
		{"too many inputs", "/embed", jsonBody(t, map[string]any{"inputs": texts(33, "x")}), 400, KindTooManyInputs, "at most 32"},
		{"normalize not boolean", "/embed", `{"inputs": "a", "normalize": "yes"}`, 400, KindInvalidInput, `"normalize" must be a JSON boolean`},
		{"normalize false", "/embed", `{"inputs": "a", "normalize": false}`, 400, KindUnsupported, "normalises its vectors"},
		{"truncate not boolean", "/embed", `{"inputs": "a", "truncate": 0}`, 400, KindInvalidInput, `"truncate" must be a JSON boolean`},
		{"truncation left", "/embed", `{"inputs": "a", "truncation_direction": "left"}`, 400, KindUnsupported, "truncated at the right"},
		{"unknown field", "/embed", `{"inputs": "a", "pooling": "cls"}`, 400, KindInvalidInput, `unknown field "pooling"`},
		{"unknown model (query)", "/embed?model=gpt-5", `{"inputs": "a"}`, 400, KindUnknownModel, `no model named "gpt-5"`},
		{"models disagree", "/embed?model=fake", `{"inputs": "a", "model": "other"}`, 400, KindInvalidInput, "disagree"},
		{"body too large", "/embed", jsonBody(t, map[string]any{"inputs": []string{strings.Repeat("x", 5000)}}), 413, KindTooLarge, "larger than 4096 bytes"},
		{"too long, truncate false", "/embed", jsonBody(t, map[string]any{"inputs": []string{"ok", long}, "truncate": false}), 422, KindTooLong, "text 1 is longer than model fake's maximum of 8 tokens"},
		{"openai: input missing", "/v1/embeddings", `{"model": "fake"}`, 400, KindEmptyInput, `"input" is missing`},
		{"openai: input empty list", "/v1/embeddings", `{"input": []}`, 400, KindEmptyInput, "empty list"},
		{"openai: token ids", "/v1/embeddings", `{"input": [101, 2023, 102]}`, 400, KindUnsupported, "token arrays are not served"},
		{"openai: lists of token ids", "/v1/embeddings", `{"input": [[101, 102]]}`, 400, KindUnsupported, "token arrays are not served"},
		{"openai: unknown model", "/v1/embeddings", `{"model": "text-embedding-3-small", "input": "a"}`, 400, KindUnknownModel, "this server has fake, other"},
		{"openai: empty model", "/v1/embeddings", `{"model": "", "input": "a"}`, 400, KindUnknownModel, "empty string"},
		{"openai: model not a string", "/v1/embeddings", `{"model": 3, "input": "a"}`, 400, KindInvalidInput, `"model" must be a JSON string`},
		{"openai: encoding_format", "/v1/embeddings", `{"input": "a", "encoding_format": "int8"}`, 400, KindInvalidInput, `"float" or "base64"`},
		{"openai: dimensions", "/v1/embeddings", `{"input": "a", "dimensions": 256}`, 400, KindUnsupported, "gives 4 dimensions"},
		{"openai: dimensions not a number", "/v1/embeddings", `{"input": "a", "dimensions": "4"}`, 400, KindInvalidInput, `"dimensions" must be a JSON integer`},
		{"openai: too many inputs", "/v1/embeddings", jsonBody(t, map[string]any{"input": texts(40, "y")}), 400, KindTooManyInputs, "has 40 texts"},
		{"openai: body too large", "/v1/embeddings", jsonBody(t, map[string]any{"input": texts(200, "a rather long text")}), 413, KindTooLarge, "--max-body"},
	}
	if len(cases) < 25 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", ts.url+c.path, c.body)
			if r.code != c.status {
				t.Fatalf("status %d, want %d: %s", r.code, c.status, r.body)
			}
			e := r.errBody(t)
			if e.Error != c.kind {
				t.Errorf("error %q, want %q (%s)", e.Error, c.kind, e.Message)
			}
			if !strings.Contains(e.Message, c.message) {
				t.Errorf("message %q lacks %q", e.Message, c.message)
			}
		})
	}
	// Wrong methods and routes are the mux's.
	if r := do(t, "GET", ts.url+"/embed", ""); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET /embed: %d", r.code)
	}
	// Nothing was held, and the server still serves.
	if s := budget.Snapshot(); s.Total != 0 {
		t.Errorf("budget holds %d bytes after the bad requests", s.Total)
	}
	if r := do(t, "POST", ts.url+"/embed", `{"inputs": "still fine"}`); r.code != 200 {
		t.Fatalf("after the bad requests: %d %s", r.code, r.body)
	}
	got := mustCounter(t, ts.metrics, "/embed", "400").value(t)
	if got < 20 {
		t.Errorf("flinkfn_http_requests_total{route=/embed,code=400} = %v", got)
	}
}

func mustCounter(t *testing.T, m *observe.Metrics, route, code string) *countMetric {
	t.Helper()
	return &countMetric{m: m, route: route, code: code}
}

// countMetric reads flinkfn_http_requests_total{route,code} from a scrape.
type countMetric struct {
	m           *observe.Metrics
	route, code string
}

func (c *countMetric) value(t *testing.T) float64 {
	mfs, err := c.m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "flinkfn_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == c.route && labels["code"] == c.code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestQueueFull429AndDeadline504(t *testing.T) {
	eng := &engine{gate: make(chan struct{})}
	ts := newTestServer(t, eng, func(o *Options) {
		o.Limits.MaxConcurrent, o.Limits.MaxQueued = 1, 1
		o.Limits.Timeout = 300 * time.Millisecond
	})
	// One request runs (blocked in the model), one waits for the slot;
	// the third finds the queue full.
	results := make(chan response, 2)
	for i := 0; i < 2; i++ {
		go func() { results <- do(t, "POST", ts.url+"/embed", `{"inputs": "blocked"}`) }()
		waitFor(t, func() bool { return int(ts.api.waiting.Load())+len(ts.api.slots) == i+1 })
	}
	r := do(t, "POST", ts.url+"/embed", `{"inputs": "third"}`)
	if r.code != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third request: %d (Retry-After %q) %s", r.code, r.header.Get("Retry-After"), r.body)
	}
	if e := r.errBody(t); e.Error != KindQueueFull || !strings.Contains(e.Message, "queue is full") {
		t.Errorf("429 body %+v", e)
	}
	// The model never answers in time: both time out (the one in the
	// model, and the one waiting for the slot).
	for i := 0; i < 2; i++ {
		r := <-results
		if r.code != 504 {
			t.Fatalf("blocked request: %d %s", r.code, r.body)
		}
		if e := r.errBody(t); e.Error != KindTimeout || !strings.Contains(e.Message, "request deadline (300ms)") {
			t.Errorf("504 body %+v", e)
		}
	}
	close(eng.gate) // the model answers again
	if r := do(t, "POST", ts.url+"/embed", `{"inputs": "after"}`); r.code != 200 {
		t.Fatalf("after the timeouts: %d %s", r.code, r.body)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMemoryBudget507(t *testing.T) {
	budget := memory.NewBudget(64<<10, "test limit")
	ts := newTestServer(t, &engine{}, func(o *Options) { o.Budget = budget })
	// A small request fits.
	if r := do(t, "POST", ts.url+"/embed", `{"inputs": ["a", "b"]}`); r.code != 200 {
		t.Fatalf("small request: %d %s", r.code, r.body)
	}
	// Fill the budget as a model would; the next request cannot fit.
	held, err := budget.Reserve(memory.KindModel, "big", 60<<10)
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", ts.url+"/embed", jsonBody(t, map[string]any{"inputs": texts(32, "x")}))
	if r.code != 507 {
		t.Fatalf("status %d, want 507: %s", r.code, r.body)
	}
	if e := r.errBody(t); e.Error != KindOutOfMemory || !strings.Contains(e.Message, "cannot reserve") || !strings.Contains(e.Message, "--memory-limit") {
		t.Errorf("507 body %+v", e)
	}
	held.Release()
	if s := budget.Snapshot(); s.Total != 0 {
		t.Errorf("budget holds %d bytes after the requests", s.Total)
	}
}

func TestNotReadyAndDraining503(t *testing.T) {
	var mu sync.Mutex
	readyErr := errors.New("model fake is loading (for 2s)")
	ts := newTestServer(t, &engine{}, func(o *Options) {
		o.Ready = func() error { mu.Lock(); defer mu.Unlock(); return readyErr }
	})
	r := do(t, "POST", ts.url+"/embed", `{"inputs": "a"}`)
	if r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("loading: %d %s", r.code, r.body)
	}
	if e := r.errBody(t); e.Error != KindNotReady || !strings.Contains(e.Message, "model fake is loading") {
		t.Errorf("503 body %+v", e)
	}
	if r := do(t, "GET", ts.url+"/health", ""); r.code != 503 || !strings.Contains(string(r.body), `"status":"not_ready"`) {
		t.Errorf("/health while loading: %d %s", r.code, r.body)
	}
	mu.Lock()
	readyErr = nil
	mu.Unlock()
	if r := do(t, "POST", ts.url+"/v1/embeddings", `{"input": "a"}`); r.code != 200 {
		t.Fatalf("ready: %d %s", r.code, r.body)
	}
	ts.api.Drain()
	r = do(t, "POST", ts.url+"/v1/embeddings", `{"input": "a"}`)
	if r.code != 503 || r.errBody(t).Error != KindDraining {
		t.Fatalf("draining: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", ts.url+"/health", ""); r.code != 503 || !strings.Contains(string(r.body), `"status":"draining"`) {
		t.Errorf("/health while draining: %d %s", r.code, r.body)
	}
}

func TestAPIKey(t *testing.T) {
	ts := newTestServer(t, &engine{}, func(o *Options) { o.APIKey = "s3cret" })
	for _, c := range []struct {
		name, header string
		want         int
		says         string
	}{
		{"no header", "", 401, "needs its API key"},
		{"wrong key", "Bearer nope", 401, "not this server's API key"},
		{"prefix of the key", "Bearer s3c", 401, "not this server's API key"},
		{"not bearer", "Basic czNjcmV0", 401, "not a bearer token"},
		{"right key", "Bearer s3cret", 200, ""},
	} {
		var hdr []string
		if c.header != "" {
			hdr = []string{"Authorization", c.header}
		}
		r := do(t, "POST", ts.url+"/embed", `{"inputs": "a"}`, hdr...)
		if r.code != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, r.code, c.want, r.body)
		}
		if c.want == 401 {
			if e := r.errBody(t); e.Error != KindUnauthorized || r.header.Get("WWW-Authenticate") == "" || !strings.Contains(e.Message, c.says) {
				t.Errorf("%s: %+v", c.name, e)
			}
		}
	}
	if r := do(t, "GET", ts.url+"/info", ""); r.code != 401 {
		t.Errorf("/info without key: %d", r.code)
	}
	if r := do(t, "GET", ts.url+"/health", ""); r.code != 200 {
		t.Errorf("/health without key: %d (probes stay open)", r.code)
	}
}

func TestCheckBind(t *testing.T) {
	for _, c := range []struct {
		addr, key string
		ok        bool
	}{
		{"127.0.0.1:8080", "", true},
		{"127.0.0.2:0", "", true},
		{"[::1]:8080", "", true},
		{"localhost:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"[::]:8080", "", false},
		{"192.0.2.7:8080", "", false},
		{"0.0.0.0:8080", "k", true},
		{"nonsense", "", false},
	} {
		err := CheckBind(c.addr, c.key)
		if (err == nil) != c.ok {
			t.Errorf("CheckBind(%q, %q) = %v", c.addr, c.key, err)
		}
		if err != nil && c.addr != "nonsense" && !strings.Contains(err.Error(), "--api-key") {
			t.Errorf("CheckBind(%q): %v does not say to pass --api-key", c.addr, err)
		}
	}
}

// A client that goes away mid-request costs nothing: its texts leave the
// batcher's queue, its memory and its slot come back, and the server logs
// the request as 499.
func TestClientDisconnect(t *testing.T) {
	eng := &engine{gate: make(chan struct{})}
	budget := memory.NewBudget(1<<30, "test")
	ts := newTestServer(t, eng, func(o *Options) {
		o.Limits.MaxConcurrent = 1
		o.Budget = budget
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+"/embed", strings.NewReader(`{"inputs": ["a", "b"]}`))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return len(ts.api.slots) == 1 && budget.Snapshot().Total > 0 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	waitFor(t, func() bool { return len(ts.api.slots) == 0 && budget.Snapshot().Total == 0 })
	close(eng.gate)
	if r := do(t, "POST", ts.url+"/embed", `{"inputs": "next"}`); r.code != 200 {
		t.Fatalf("after the disconnect: %d %s", r.code, r.body)
	}
	waitFor(t, func() bool {
		for _, l := range ts.log.lines(t) {
			if l["status"] == float64(499) {
				return true
			}
		}
		return false
	})
}

func TestAccessLogAndMetrics(t *testing.T) {
	ts := newTestServer(t, &engine{}, nil)
	do(t, "POST", ts.url+"/embed", `{"inputs": ["a", "b", "c"]}`)
	do(t, "POST", ts.url+"/v1/embeddings", `{"input": []}`)
	lines := ts.log.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2: %v", len(lines), lines)
	}
	ok, bad := lines[0], lines[1]
	for k, want := range map[string]any{"msg": "http request", "route": "/embed", "status": float64(200), "model": "fake", "inputs": float64(3), "method": "POST"} {
		if ok[k] != want {
			t.Errorf("access log %q = %v, want %v (%v)", k, ok[k], want, ok)
		}
	}
	if _, has := ok["duration_ms"]; !has {
		t.Errorf("no duration_ms: %v", ok)
	}
	if bad["status"] != float64(400) || bad["error"] != KindEmptyInput || bad["message"] == nil {
		t.Errorf("error line %v", bad)
	}
	if v := mustCounter(t, ts.metrics, "/embed", "200").value(t); v != 1 {
		t.Errorf("requests_total{/embed,200} = %v", v)
	}
	if v := mustCounter(t, ts.metrics, "/v1/embeddings", "400").value(t); v != 1 {
		t.Errorf("requests_total{/v1/embeddings,400} = %v", v)
	}
	n, err := testutil.GatherAndCount(ts.metrics.Registry(), "flinkfn_http_request_seconds", "flinkfn_http_queue_wait_seconds",
		"flinkfn_http_inference_seconds", "flinkfn_http_request_inputs")
	if err != nil || n != 5 { // request_seconds for two routes, the others for one model
		t.Errorf("histogram series: %d, %v", n, err)
	}
}
