package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/admission"
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
			eng := &engine{perRow: 250 * time.Microsecond}
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
			// The engine's rows by side: what the model's gate let in (a
			// Flink bundle of 1,000 rows may not finish within the test,
			// its rows ran all the same).
			hd, err := set.Acquire(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			adm := hd.Model.(*admission.Gate).Admitted()
			hd.Release()
			f, h := adm[""], adm[Class]
			t.Logf("rows into the engine in 1.5s: Flink %d (%.0f%%), HTTP %d (%.0f%%); answered: Flink %d, HTTP %d; HTTP errors %d",
				f, 100*float64(f)/float64(f+h), h, 100*float64(h)/float64(f+h), flinkRows.Load(), httpRows.Load(), httpErrors.Load())
			if f*3 < f+h || h*3 < f+h {
				t.Errorf("a side got less than a third of the engine: Flink %d rows, HTTP %d", f, h)
			}
			if httpRows.Load() == 0 || (c.bundle <= 500 && flinkRows.Load() == 0) {
				t.Errorf("a side got no answer: Flink %d rows, HTTP %d", flinkRows.Load(), httpRows.Load())
			}
			if httpErrors.Load() > 0 {
				t.Errorf("%d HTTP requests failed under load", httpErrors.Load())
			}
		})
	}
}
