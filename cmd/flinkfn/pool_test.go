package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// While the pool loads its models, /readyz answers at once (503, naming
// the model that loads), then 200 once the pool serves.
func TestPoolReadyzAnswersWhileModelsLoad(t *testing.T) {
	env := testfix.HomeEnv(t)
	httpAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"pool", "--listen", freeAddr(t), "--http", httpAddr, "--memory-limit", "0",
			"--model", "all-MiniLM-L6-v2", "--model", "bge-small-en-v1.5"}, envFunc(env), io.Discard, io.Discard)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	get := func() (int, string, time.Duration, error) {
		start := time.Now()
		resp, err := client.Get("http://" + httpAddr + "/readyz")
		took := time.Since(start)
		if err != nil {
			return 0, "", took, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), took, nil
	}
	var slowest time.Duration
	var tooks []time.Duration
	var reasons []string
	began := time.Now()
	deadline := began.Add(2 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("pool exited: %v", err)
		default:
		}
		code, body, took, err := get()
		if err == nil {
			slowest = max(slowest, took)
			tooks = append(tooks, took)
			if code == http.StatusOK {
				break
			}
			if code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz %d %q", code, body)
			}
			if strings.Contains(body, "is loading") {
				r, _, _ := strings.Cut(firstLine(body), " (for ")
				if len(reasons) == 0 || reasons[len(reasons)-1] != r {
					reasons = append(reasons, r)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 2 minutes (last: %v)", reasons)
		}
		time.Sleep(20 * time.Millisecond)
	}
	loads := time.Since(began)
	slices.Sort(tooks)
	median := tooks[len(tooks)/2]
	t.Logf("/readyz during the loads (%s): %d answers, median %s, slowest %s; reasons seen %q", loads, len(tooks), median, slowest, reasons)
	if len(reasons) == 0 {
		t.Fatal("/readyz never said a model was loading")
	}
	if !strings.Contains(strings.Join(reasons, " "), "model all-MiniLM-L6-v2 is loading") {
		t.Errorf("reasons %q do not name the default model", reasons)
	}
	// Each answer comes at once (the models load in the set's goroutine);
	// on a loaded machine (the loads use every core) an answer may wait
	// for the CPU, so the bound is on the median, and the slowest must
	// still be far below the loads (a /readyz that waited for a load would
	// take as long as it): at most 500ms, or a quarter of the loads' time
	// on a machine slow enough to stretch them.
	if limit := max(500*time.Millisecond, loads/4); median > 100*time.Millisecond || slowest > limit {
		t.Errorf("/readyz answered in %s (median), %s (slowest) during %s of loads; want at most 100ms and %s", median, slowest, loads, limit)
	}
	resp, err := client.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"all-MiniLM-L6-v2", "bge-small-en-v1.5"} {
		if want := fmt.Sprintf(`flinkfn_model_loads_total{model=%q,variant="fp32"} 1`, m); !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pool after SIGTERM: %v", err)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
