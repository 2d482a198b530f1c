package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// PyFlink's default local run sets PYTHON_LOOPBACK_SERVER_ADDRESS to its
// own Python worker pool. flinkfn must not hand the session to it: the
// worker serves Flink in this process, and the pool never sees a worker.
func TestDefaultLocalRunServedByFlinkfn(t *testing.T) {
	loop := fakeflink.NewLoopbackPool(t)
	addr := loop.Addr
	r := fakeflink.New(t, "3-1")
	r.StringDescriptor(t, "upper", "udfs.builtin", "upper")
	env := map[string]string{
		"PYTHON_LOOPBACK_SERVER_ADDRESS": addr,
		"_PYTHON_WORKER_MEMORY_LIMIT":    "134217728",
		"BOOT_LOG_DIR":                   t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runWorkerTimeout(ctx, []string{"--id=3-1", "--provision_endpoint=" + r.Addr}, func(k string) string { return env[k] }, &stderr, 10*time.Second)
	}()
	fakeflink.AwaitClosed(t, r.Connected, "the in-process worker to connect to Flink")
	r.Requests <- fakeflink.BundleRequest("b1", "upper")
	fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
	r.SendData(fakeflink.Input("b1", fakeflink.EncodeStrings(t, "served by flinkfn"), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatalf("bundle failed: %s", resp.GetError())
	}
	out, _ := r.Output("b1")
	if got := fakeflink.DecodeStrings(t, out); !slices.Equal(got, []string{"SERVED BY FLINKFN"}) {
		t.Fatalf("output %q", got)
	}
	close(r.Requests)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop after Flink closed the session")
	}
	loop.AssertNoWorker(t)
	if !strings.Contains(stderr.String(), "PyFlink's own loopback worker pool") {
		t.Errorf("the log does not say why the loopback address was not used:\n%s", stderr.String())
	}
}

// An explicit FLINKFN_POOL that is not a flinkfn pool is a configuration
// error, stated with the fix.
func TestFlinkfnPoolNotAFlinkfnPoolFails(t *testing.T) {
	loop := fakeflink.NewLoopbackPool(t)
	addr := loop.Addr
	env := map[string]string{"FLINKFN_POOL": addr, "BOOT_LOG_DIR": t.TempDir()}
	var stderr bytes.Buffer
	err := runWorkerTimeout(context.Background(), []string{"--id=4-1", "--provision_endpoint=127.0.0.1:1"}, func(k string) string { return env[k] }, &stderr, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "not a flinkfn pool") || !strings.Contains(err.Error(), "FLINKFN_POOL must be the --listen address") {
		t.Fatalf("got %v", err)
	}
	loop.AssertNoWorker(t)
}
