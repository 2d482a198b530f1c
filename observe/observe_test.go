package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape fetches m's /metrics through httptest and parses it.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	got, err := ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func want(t *testing.T, got map[string]float64, key string, v float64) {
	t.Helper()
	g, ok := got[key]
	if !ok {
		t.Errorf("%s: missing", key)
		return
	}
	if g != v {
		t.Errorf("%s = %v, want %v", key, g, v)
	}
}

func wantAbsent(t *testing.T, got map[string]float64, key string) {
	t.Helper()
	if v, ok := got[key]; ok {
		t.Errorf("%s = %v, want absent", key, v)
	}
}

const (
	fnA = "udfs.ah_embed_udf.ah_embed"
	fnB = "udfs.other.f"
)

func TestMetrics(t *testing.T) {
	m := New()

	// Bundles.
	m.BundleDone([]string{fnA}, 10, 20*time.Millisecond, "")
	m.BundleDone([]string{fnA, fnB}, 20, 2*time.Second, "")
	m.BundleDone([]string{fnB, fnB}, 5, time.Millisecond, "data") // duplicate counted once
	m.BundleDone(nil, 7, time.Millisecond, "")
	m.BundleDone([]string{fnA}, -3, time.Millisecond, "") // negative rows: no panic, no rows

	// Errors.
	m.Error("decode")
	m.Error("decode")
	m.Error("")

	// Inference.
	m.Batches("minilm").BatchDone(4, 64, 50, 1000, 5*time.Millisecond, nil)
	m.Batches("minilm").BatchDone(200, 40000, 30000, 0, 3*time.Second, nil)
	m.Batches("minilm").BatchDone(1, 16, 16, 7, time.Millisecond, errors.New("boom"))

	m.TextsEmbedded(fnA, "minilm", 30, 2)
	m.TextsEmbedded(fnA, "minilm", 5, 0)
	m.ModelLoaded("e5-small", "int8", 1500*time.Millisecond, 130<<20)
	m.ModelLoaded("e5-small", "int8", 500*time.Millisecond, 120<<20)

	m.SessionStarted()
	m.SessionStarted()
	m.SessionStarted()
	m.SessionEnded()
	m.SessionRefused("memory")
	m.SetReady(true)

	got := scrape(t, m)

	want(t, got, `flinkfn_bundles_total{function="`+fnA+`"}`, 3)
	want(t, got, `flinkfn_bundles_total{function="`+fnB+`"}`, 2)
	want(t, got, `flinkfn_rows_total{function="`+fnA+`"}`, 30)
	want(t, got, `flinkfn_rows_total{function="`+fnB+`"}`, 25)
	want(t, got, `flinkfn_bundle_seconds_count`, 5)
	want(t, got, `flinkfn_bundle_seconds_bucket{le="+Inf"}`, 5)
	if s := got["flinkfn_bundle_seconds_sum"]; s < 2.02 || s > 2.03 {
		t.Errorf("flinkfn_bundle_seconds_sum = %v, want ~2.024", s)
	}

	want(t, got, `flinkfn_errors_total{kind="data"}`, 1)
	want(t, got, `flinkfn_errors_total{kind="decode"}`, 2)
	want(t, got, `flinkfn_errors_total{kind="internal"}`, 1)
	want(t, got, `flinkfn_errors_total{kind="model"}`, 1)
	for _, k := range []string{"setup", "function", "refused"} {
		want(t, got, `flinkfn_errors_total{kind="`+k+`"}`, 0)
	}

	want(t, got, `flinkfn_batches_total{model="minilm"}`, 3)
	want(t, got, `flinkfn_inference_seconds_count{model="minilm"}`, 3)
	want(t, got, `flinkfn_inference_seconds_bucket{le="0.001",model="minilm"}`, 1)
	want(t, got, `flinkfn_batch_rows_count{model="minilm"}`, 3)
	want(t, got, `flinkfn_batch_rows_bucket{le="1",model="minilm"}`, 1)
	want(t, got, `flinkfn_batch_rows_bucket{le="4",model="minilm"}`, 2)
	want(t, got, `flinkfn_batch_rows_bucket{le="128",model="minilm"}`, 2)
	want(t, got, `flinkfn_batch_rows_bucket{le="256",model="minilm"}`, 3)
	want(t, got, `flinkfn_batch_rows_sum{model="minilm"}`, 205)
	want(t, got, `flinkfn_batch_tokens_count{model="minilm"}`, 3)
	want(t, got, `flinkfn_batch_tokens_bucket{le="16",model="minilm"}`, 1)
	want(t, got, `flinkfn_batch_tokens_bucket{le="32768",model="minilm"}`, 2)
	want(t, got, `flinkfn_batch_tokens_bucket{le="65536",model="minilm"}`, 3)
	want(t, got, `flinkfn_batch_padded_tokens_total{model="minilm"}`, 40080)
	want(t, got, `flinkfn_batch_real_tokens_total{model="minilm"}`, 30066)
	want(t, got, `flinkfn_queue_tokens{model="minilm"}`, 7)

	want(t, got, `flinkfn_texts_embedded_total{function="`+fnA+`",model="minilm"}`, 35)
	want(t, got, `flinkfn_texts_truncated_total{function="`+fnA+`",model="minilm"}`, 2)

	mv := `{model="e5-small",variant="int8"}`
	want(t, got, "flinkfn_model_loads_total"+mv, 2)
	want(t, got, "flinkfn_model_load_seconds"+mv, 0.5)
	want(t, got, "flinkfn_model_footprint_bytes"+mv, 120<<20)

	want(t, got, "flinkfn_sessions_active", 2)
	want(t, got, "flinkfn_sessions_started_total", 3)
	want(t, got, `flinkfn_sessions_refused_total{reason="memory"}`, 1)
	want(t, got, "flinkfn_ready", 1)

	// Go and process collectors are there.
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("go_goroutines missing")
	}
	// No memory function yet: no memory gauges.
	wantAbsent(t, got, "flinkfn_memory_limit_bytes")

	m.SetReady(false)
	want(t, scrape(t, m), "flinkfn_ready", 0)
}

func TestMetricsLint(t *testing.T) {
	m := New()
	m.BundleDone([]string{fnA}, 1, time.Millisecond, "function")
	m.Batches("minilm").BatchDone(1, 16, 16, 0, time.Millisecond, nil)
	m.TextsEmbedded(fnA, "minilm", 1, 0)
	m.ModelLoaded("m", "v", time.Second, 1)
	m.SessionRefused("r")
	m.WatchMemory(func() MemoryState { return MemoryState{Reserved: map[string]int64{"model": 1}} })
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "flinkfn_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	// Every flinkfn metric has a Help string.
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "flinkfn_") {
			n++
			if len(f.GetHelp()) < 10 {
				t.Errorf("%s: help %q", f.GetName(), f.GetHelp())
			}
		}
	}
	if n != 24 {
		t.Errorf("%d flinkfn metric families, want 24", n)
	}
}

func TestMemoryReadAtScrape(t *testing.T) {
	m := New()
	var mu sync.Mutex
	st := MemoryState{
		Limit:       8 << 30,
		Reserved:    map[string]int64{"model": 500 << 20, "buffers": 64 << 20},
		Used:        700 << 20,
		BufferInUse: 10 << 20,
	}
	var calls atomic.Int64
	m.WatchMemory(func() MemoryState {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		s := st
		s.Reserved = make(map[string]int64, len(st.Reserved))
		for k, v := range st.Reserved {
			s.Reserved[k] = v
		}
		return s
	})
	got := scrape(t, m)
	want(t, got, "flinkfn_memory_limit_bytes", 8<<30)
	want(t, got, `flinkfn_memory_reserved_bytes{kind="model"}`, 500<<20)
	want(t, got, `flinkfn_memory_reserved_bytes{kind="buffers"}`, 64<<20)
	want(t, got, "flinkfn_memory_used_bytes", 700<<20)
	want(t, got, "flinkfn_memory_buffer_in_use_bytes", 10<<20)
	if c := calls.Load(); c != 1 {
		t.Errorf("memory function called %d times in one scrape, want 1", c)
	}

	mu.Lock()
	st.Limit = 0
	st.Used = 900 << 20
	st.BufferInUse = 0
	st.Reserved = map[string]int64{"model": 1}
	mu.Unlock()

	got = scrape(t, m)
	want(t, got, "flinkfn_memory_limit_bytes", 0)
	want(t, got, `flinkfn_memory_reserved_bytes{kind="model"}`, 1)
	wantAbsent(t, got, `flinkfn_memory_reserved_bytes{kind="buffers"}`)
	want(t, got, "flinkfn_memory_used_bytes", 900<<20)
	want(t, got, "flinkfn_memory_buffer_in_use_bytes", 0)

	m.WatchMemory(nil)
	wantAbsent(t, scrape(t, m), "flinkfn_memory_used_bytes")
}

func TestConcurrentUse(t *testing.T) {
	m := New()
	m.WatchMemory(func() MemoryState { return MemoryState{Used: 1} })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				m.BundleDone([]string{fnA}, 1, time.Millisecond, "")
				m.Batches("minilm").BatchDone(1, 16, 10, i, time.Millisecond, nil)
				m.TextsEmbedded(fnA, "minilm", 1, 0)
				m.SessionStarted()
				m.SessionEnded()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	got := scrape(t, m)
	want(t, got, `flinkfn_rows_total{function="`+fnA+`"}`, 800)
	want(t, got, `flinkfn_batches_total{model="minilm"}`, 800)
	want(t, got, "flinkfn_sessions_active", 0)
}

func TestTwoInstances(t *testing.T) {
	a, b := New(), New()
	a.Error("setup")
	want(t, scrape(t, a), `flinkfn_errors_total{kind="setup"}`, 1)
	want(t, scrape(t, b), `flinkfn_errors_total{kind="setup"}`, 0)
}

func TestParseText(t *testing.T) {
	in := `# HELP x_total Things.
# TYPE x_total counter
x_total{b="2",a="1"} 3
x_total{a="q\"uote\\back\nnl"} 1
# TYPE g gauge
g 4.5
# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="+Inf"} 2
h_sum 3.5
h_count 2
# TYPE s summary
s{quantile="0.5"} 7
s_sum 10
s_count 3
u 9
`
	got, err := ParseText(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	exp := map[string]float64{
		`x_total{a="1",b="2"}`:           3,
		`x_total{a="q\"uote\\back\nnl"}`: 1,
		`g`:                              4.5,
		`h_bucket{le="1"}`:               1,
		`h_bucket{le="+Inf"}`:            2,
		`h_sum`:                          3.5,
		`h_count`:                        2,
		`s{quantile="0.5"}`:              7,
		`s_sum`:                          10,
		`s_count`:                        3,
		`u`:                              9,
	}
	if len(got) != len(exp) {
		t.Errorf("got %d samples, want %d: %v", len(got), len(exp), got)
	}
	for k, v := range exp {
		want(t, got, k, v)
	}

	if _, err := ParseText(strings.NewReader("bad{ 1\n")); err == nil {
		t.Error("ParseText accepted malformed input")
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	m := New()
	m.SessionStarted()
	var readyErr atomic.Pointer[error]
	notReady := errors.New("model not loaded")
	readyErr.Store(&notReady)
	ready := func() error { return *readyErr.Load() }

	var logBuf syncBuffer
	s, err := Serve(t.Context(), "127.0.0.1:0", m, ready, NewLogger(&logBuf, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	c := &http.Client{Timeout: 5 * time.Second}

	if code, body := get(t, c, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, c, base+"/readyz"); code != 503 || !strings.Contains(body, "model not loaded") {
		t.Errorf("/readyz not ready: %d %q", code, body)
	}
	var nilErr error
	readyErr.Store(&nilErr)
	if code, body := get(t, c, base+"/readyz"); code != 200 || body != "ready" {
		t.Errorf("/readyz ready: %d %q", code, body)
	}
	code, body := get(t, c, base+"/metrics")
	if code != 200 {
		t.Errorf("/metrics: %d", code)
	}
	got, err := ParseText(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want(t, got, "flinkfn_sessions_active", 1)
	if code, _ := get(t, c, base+"/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
	resp, err := c.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", resp.StatusCode)
	}

	c.CloseIdleConnections()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		conn.Close()
		t.Error("server still accepts connections after Close")
	}
	if !strings.Contains(logBuf.String(), `"msg":"observe server listening"`) {
		t.Errorf("log: %s", logBuf.String())
	}
}

func TestServeNilReady(t *testing.T) {
	s, err := Serve(t.Context(), "127.0.0.1:0", New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+s.Addr()+"/readyz"); code != 200 || body != "ready" {
		t.Errorf("/readyz: %d %q", code, body)
	}
}

func TestServeContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Serve(ctx, "127.0.0.1:0", New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if code, _ := get(t, c, "http://"+s.Addr()+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	c.CloseIdleConnections()
	cancel()

	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections 5s after ctx cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestServeErrors(t *testing.T) {
	// Address in use.
	s, err := Serve(t.Context(), "127.0.0.1:0", New(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Serve(t.Context(), s.Addr(), New(), nil, nil); err == nil {
		s2.Close()
		t.Error("second Serve on the same address succeeded")
	} else {
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Errorf("error %v does not wrap *net.OpError", err)
		}
	}
	// Cancelled context.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s3, err := Serve(ctx, "127.0.0.1:0", New(), nil, nil); err == nil {
		s3.Close()
		t.Error("Serve with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if _, err := Serve(t.Context(), "127.0.0.1:0", nil, nil, nil); err == nil {
		t.Error("Serve with nil Metrics succeeded")
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo, "worker_id", "w1", slog.Int("pid", 42))
	log.Debug("hidden")
	log.Info("hello", "n", 3)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "hello" || rec["worker_id"] != "w1" || rec["pid"] != float64(42) || rec["n"] != float64(3) || rec["level"] != "INFO" {
		t.Errorf("record: %v", rec)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
