package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
	"github.com/flinkfn/flinkfn/internal/testfix"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/pool"
)

// The pool's RSS stays within its budget under the worst input: every
// text at the model's 256-token limit, every session busy at once; then
// texts of every length, whose batches of other shapes must not grow
// ONNX Runtime's arena past what the worst batch left in it. The
// budget is what Flink would plan for it: the model's reservation goal
// (200 MiB for all-MiniLM-L6-v2 fp32) + framework 64 MiB + 6 sessions ×
// 15 MiB buffer. A pool whose measured footprint is larger refuses the
// sessions, which fails the test too.
//
// It runs the real binary (FLINKFN_BIN, built without the race detector,
// whose shadow memory would swamp the measure): `make test-memory`.
func TestPoolRSSWithinBudgetUnderWorstInput(t *testing.T) {
	bin := os.Getenv("FLINKFN_BIN")
	if bin == "" {
		t.Skip("FLINKFN_BIN is not set: run `make test-memory`")
	}
	const (
		sessions    = 6
		bundles     = 6 // the first half 256-token texts, then 1 to 256 tokens
		rowsABundle = 8
		modelGoal   = 200 << 20
		framework   = 64 << 20
		buffer      = 15 << 20
	)
	budget := int64(modelGoal + framework + sessions*buffer)
	sock := filepath.Join(t.TempDir(), "pool.sock")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "pool", "--listen", "unix://"+sock, "--http", "off", "--memory-limit", fmt.Sprint(budget))
	cmd.Env = append(os.Environ(), "FLINKFN_HOME="+testfix.CacheDir(t))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the pool did not start listening:\n%s", stderr.String())
		}
	}

	long := strings.Repeat("account holder transaction merchant payment reference ", 60) // > 256 tokens
	outTypes := []fn.Type{fn.ArrayOf(fn.Type{Name: fn.FLOAT, Nullable: true})}
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for s := range sessions {
		id := fmt.Sprintf("rss-%d", s)
		r := fakeflink.New(t, id)
		r.Descriptor("embed", fakeflink.ScalarFunctionURN, fakeflink.StringUDFs(t, "udfs.embed_udf", "embed"),
			fakeflink.StringCoder(t, "s", true), fakeflink.FlinkPayload(t, "CoderInfoDescriptor",
				`{"flattenRowType":{"schema":{"fields":[{"name":"f0","type":{"typeName":"BASIC_ARRAY","nullable":true,"collectionElementType":{"typeName":"FLOAT","nullable":true}}}]}},"mode":"SINGLE"}`))
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		shim := make(chan error, 1)
		go func() {
			shim <- pool.Shim(ctx, pool.ShimConfig{Address: "unix://" + sock, WorkerID: id, ProvisionEndpoint: r.Addr, Params: map[string]string{}, Logger: slog.New(slog.DiscardHandler)})
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-r.Connected:
			case err := <-shim:
				errs <- fmt.Errorf("session %s: %v", id, err)
				return
			case <-time.After(30 * time.Second):
				errs <- fmt.Errorf("session %s did not connect", id)
				return
			}
			for b := range bundles {
				bid := fmt.Sprintf("%s-b%d", id, b)
				r.Requests <- fakeflink.BundleRequest(bid, "embed")
				select {
				case <-r.DataReady: // opened for the first bundle
				case <-time.After(30 * time.Second):
					errs <- fmt.Errorf("session %s: no data stream", id)
					return
				}
				texts := make([]string, rowsABundle)
				for i := range texts {
					texts[i] = fmt.Sprintf("%s %d %s", bid, i, long)
					if b >= bundles/2 {
						texts[i] = texts[i][:(i*7919+b*104729+s*31)%len(texts[i])]
					}
				}
				r.SendData(fakeflink.Input(bid, fakeflink.EncodeStrings(t, texts...), true))
				select {
				case resp := <-r.Responses:
					if resp.GetError() != "" {
						errs <- fmt.Errorf("bundle %s: %s", bid, resp.GetError())
						return
					}
				case <-time.After(120 * time.Second):
					errs <- fmt.Errorf("bundle %s: no response", bid)
					return
				}
				out, ok := r.Output(bid)
				if !ok {
					errs <- fmt.Errorf("bundle %s: no output", bid)
					return
				}
				if rows := fakeflink.DecodeRows(t, outTypes, out); len(rows) != rowsABundle {
					errs <- fmt.Errorf("bundle %s: %d rows out of %d", bid, len(rows), rowsABundle)
					return
				}
			}
			close(r.Requests)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak, err := memory.ProcessPeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pool peak RSS %s of its %s budget (%d sessions × %d bundles × %d texts, 256 tokens then mixed)",
		memory.MiB(peak), memory.MiB(budget), sessions, bundles, rowsABundle)
	if peak > budget {
		t.Fatalf("the pool's peak RSS %s exceeds its budget %s\n%s", memory.MiB(peak), memory.MiB(budget), stderr.String())
	}
	if !strings.Contains(stderr.String(), `"footprint"`) {
		t.Fatalf("the pool did not log its model footprint:\n%s", stderr.String())
	}
}
