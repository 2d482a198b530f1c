package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

// startHTTP runs `flinkfn ARGS...` in-process until the test ends and
// waits until http://addr/readyz answers 200.
func startHTTP(t *testing.T, addr string, args ...string) {
	t.Helper()
	env := testfix.HomeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, envFunc(env), io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s after SIGTERM: %v", args[0], err)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("%s exited: %v", args[0], err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 2 minutes", args[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func cosine32(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// goldenTexts are up to n texts of the golden file (no NULLs) with
// sentence-transformers' vectors.
func goldenTexts(t *testing.T, n int) ([]string, [][]float32) {
	var texts []string
	var vecs [][]float32
	for _, g := range testfix.LoadGolden(t) {
		if g.Text == nil || *g.Text == "" || len(texts) == n {
			continue
		}
		texts = append(texts, *g.Text)
		vecs = append(vecs, g.Vector)
	}
	return texts, vecs
}

// checkRoutes embeds the golden texts through /embed and /v1/embeddings
// (float and base64) at base and compares with sentence-transformers.
func checkRoutes(t *testing.T, base string, texts []string, want [][]float32) {
	t.Helper()
	worst := 1.0
	check := func(route string, i int, got []float32) {
		if len(got) != len(want[i]) {
			t.Fatalf("%s text %d: %d dims, want %d", route, i, len(got), len(want[i]))
		}
		c := cosine32(got, want[i])
		worst = min(worst, c)
		if c < 0.99999 {
			t.Errorf("%s text %d %q: cosine %.7f to sentence-transformers, want >= 0.99999", route, i, texts[i], c)
		}
	}
	for start := 0; start < len(texts); start += 32 {
		chunk := texts[start:min(start+32, len(texts))]
		code, body := postJSON(t, base+"/embed", map[string]any{"inputs": chunk})
		if code != 200 {
			t.Fatalf("/embed: %d %s", code, body)
		}
		var tei [][]float32
		if err := json.Unmarshal(body, &tei); err != nil || len(tei) != len(chunk) {
			t.Fatalf("/embed: %d vectors for %d texts (%v)", len(tei), len(chunk), err)
		}
		for i, v := range tei {
			check("/embed", start+i, v)
		}
		for _, format := range []string{"float", "base64"} {
			code, body := postJSON(t, base+"/v1/embeddings", map[string]any{"model": "all-MiniLM-L6-v2", "input": chunk, "encoding_format": format})
			if code != 200 {
				t.Fatalf("/v1/embeddings %s: %d %s", format, code, body)
			}
			var oa struct {
				Data []struct {
					Index     int             `json:"index"`
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
				Usage struct {
					PromptTokens int `json:"prompt_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(body, &oa); err != nil || len(oa.Data) != len(chunk) {
				t.Fatalf("/v1/embeddings %s: %v %.200s", format, err, body)
			}
			if oa.Usage.PromptTokens < 3*len(chunk) {
				t.Errorf("/v1/embeddings usage: %d prompt tokens for %d texts", oa.Usage.PromptTokens, len(chunk))
			}
			for _, d := range oa.Data {
				var v []float32
				if format == "base64" {
					var s string
					_ = json.Unmarshal(d.Embedding, &s)
					raw, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						t.Fatal(err)
					}
					for j := 0; j+4 <= len(raw); j += 4 {
						v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
					}
				} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
					t.Fatal(err)
				}
				check("/v1/embeddings "+format, start+d.Index, v)
			}
		}
	}
	t.Logf("%d texts through /embed and /v1/embeddings (float, base64): worst cosine to sentence-transformers %.8f", len(texts), worst)
}

// `flinkfn serve` gives sentence-transformers' vectors on both APIs, and
// says what it serves on /info and /health.
func TestServeMatchesSentenceTransformers(t *testing.T) {
	addr := freeAddr(t)
	startHTTP(t, addr, "serve", "--http", addr, "--memory-limit", "0")
	texts, want := goldenTexts(t, 64)
	checkRoutes(t, "http://"+addr, texts, want)

	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"model":"all-MiniLM-L6-v2"`) || !strings.Contains(string(b), `"uptime_seconds"`) {
		t.Errorf("/health %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get("http://" + addr + "/info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"model_id":"all-MiniLM-L6-v2"`, `"max_input_length":256`, `"dims":384`, `"max_client_batch_size":32`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/info lacks %s: %s", want, b)
		}
	}
	// A text over 256 tokens with truncate=false is refused before it runs.
	code, body := postJSON(t, "http://"+addr+"/embed", map[string]any{"inputs": strings.Repeat("tokens ", 300), "truncate": false})
	if code != 422 || !strings.Contains(string(body), "maximum of 256 tokens") {
		t.Errorf("long text, truncate false: %d %s", code, body)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`flinkfn_http_requests_total{code="200",route="/embed"} 2`, `flinkfn_http_requests_total{code="422",route="/embed"} 1`,
		`flinkfn_http_inference_seconds_count{model="all-MiniLM-L6-v2"} 6`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The pool serves the same API on its HTTP listener, next to its probes.
func TestPoolServesEmbeddingAPI(t *testing.T) {
	addr := freeAddr(t)
	startHTTP(t, addr, "pool", "--listen", freeAddr(t), "--http", addr, "--memory-limit", "0")
	texts, want := goldenTexts(t, 40)
	checkRoutes(t, "http://"+addr, texts, want)
}

func TestServeRefusesOpenBindWithoutKey(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--http", "0.0.0.0:0"}, noEnv, io.Discard, &stderr)
	if err == nil || !strings.Contains(fmt.Sprint(err), "--api-key") {
		t.Fatalf("serve on 0.0.0.0 without a key: %v", err)
	}
	err = run(context.Background(), []string{"pool", "--http", "0.0.0.0:0", "--api", "on"}, noEnv, io.Discard, &stderr)
	if err == nil || !strings.Contains(fmt.Sprint(err), "--api-key") {
		t.Fatalf("pool --api on, on 0.0.0.0 without a key: %v", err)
	}
}

func TestMountAPI(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, c := range []struct {
		mode, addr, key string
		on, err         bool
	}{
		{"auto", "127.0.0.1:9464", "", true, false},
		{"auto", "0.0.0.0:9464", "", false, false}, // probes and metrics only, with a warning
		{"auto", "0.0.0.0:9464", "k", true, false},
		{"on", "0.0.0.0:9464", "", false, true},
		{"on", "[::1]:9464", "", true, false},
		{"off", "127.0.0.1:9464", "k", false, false},
		{"maybe", "127.0.0.1:9464", "", false, true},
	} {
		on, err := mountAPI(c.mode, c.addr, c.key, log)
		if on != c.on || (err != nil) != c.err {
			t.Errorf("mountAPI(%q, %q, key %q) = %v, %v", c.mode, c.addr, c.key, on, err)
		}
	}
	if !strings.Contains(logs.String(), "the embedding API is off on this listener") {
		t.Errorf("no warning for auto on 0.0.0.0 without a key: %s", logs.String())
	}
}
