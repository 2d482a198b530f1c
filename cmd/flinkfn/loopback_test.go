package main

import (
	"bytes"
	"context"
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
	r, stderr, done := startWorker(t, "3-1", map[string]string{
		"PYTHON_LOOPBACK_SERVER_ADDRESS": loop.Addr,
		"_PYTHON_WORKER_MEMORY_LIMIT":    "134217728",
	})
	fakeflink.AwaitClosed(t, r.Connected, "the in-process worker to connect to Flink")
	if got := upperBundle(t, r, "b1", "served by flinkfn"); got != "SERVED BY FLINKFN" {
		t.Fatalf("output %q", got)
	}
	close(r.Requests)
	if err := awaitWorker(t, done); err != nil {
		t.Fatalf("worker: %v", err)
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
	err := runWorkerTimeout(context.Background(), []string{"--id=4-1", "--provision_endpoint=127.0.0.1:1"}, mapEnv(env), &stderr, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "not a flinkfn pool") || !strings.Contains(err.Error(), "FLINKFN_POOL must be the --listen address") {
		t.Fatalf("got %v", err)
	}
	loop.AssertNoWorker(t)
}
