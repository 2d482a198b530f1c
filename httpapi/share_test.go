package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One admission for Flink and HTTP: under a saturating load of one side,
// the other still gets at least a third of the engine. The Flink side is
// what a pool session's embedding function does (acquire the model, embed
// a bundle's texts in one call); the HTTP side is clients of the API.
func TestNeitherSideStarves(t *testing.T) {
	for _, c := range []struct {
		name                string
		sessions, bundle    int // Flink: concurrent sessions, texts per call
		clients, perRequest int // HTTP: concurrent clients, texts per request
	}{
		{"saturating HTTP, one Flink session", 1, 500, 64, 32},
		{"saturating Flink, HTTP clients", 4, 1000, 16, 32},
	} {
		t.Run(c.name, func(t *testing.T) {
			eng := &engine{perRow: 100 * time.Microsecond}
			ts := newTestServer(t, eng, func(o *Options) { o.Limits.MaxQueued = 256 })
			set := ts.api.o.Models
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			var flinkRows, httpRows, httpErrors atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < c.sessions; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h, err := set.Acquire(ctx, "")
					if err != nil {
						t.Error(err)
						return
					}
					defer h.Release()
					in := texts(c.bundle, "flink")
					for ctx.Err() == nil {
						if v, _, err := h.EmbedCounted(ctx, in); err == nil {
							flinkRows.Add(int64(len(v)))
						}
					}
				}()
			}
			body := jsonBody(t, map[string]any{"inputs": texts(c.perRequest, "http")})
			for i := 0; i < c.clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+"/embed", strings.NewReader(body))
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							continue // the test's end
						}
						resp.Body.Close()
						if resp.StatusCode == 200 {
							httpRows.Add(int64(c.perRequest))
						} else if ctx.Err() == nil {
							httpErrors.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			f, h := flinkRows.Load(), httpRows.Load()
			t.Logf("rows in 1.5s: Flink %d (%.0f%%), HTTP %d (%.0f%%); HTTP errors %d", f, 100*float64(f)/float64(f+h), h, 100*float64(h)/float64(f+h), httpErrors.Load())
			if f*3 < f+h || h*3 < f+h {
				t.Errorf("a side got less than a third of the engine: Flink %d rows, HTTP %d", f, h)
			}
			if httpErrors.Load() > 0 {
				t.Errorf("%d HTTP requests failed under load", httpErrors.Load())
			}
		})
	}
}
