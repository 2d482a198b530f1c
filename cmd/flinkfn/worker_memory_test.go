package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// startWorker runs a PROCESS-mode worker against a fake Flink operator
// with a descriptor "upper"; the result arrives when the worker returns.
func startWorker(t *testing.T, id string, env map[string]string) (*fakeflink.Runner, *bytes.Buffer, <-chan error) {
	t.Helper()
	r := fakeflink.New(t, id)
	r.StringDescriptor(t, "upper", "udfs.builtin", "upper")
	env["BOOT_LOG_DIR"] = t.TempDir()
	stderr := &bytes.Buffer{}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		done <- runWorkerTimeout(ctx, []string{"--id=" + id, "--provision_endpoint=" + r.Addr}, mapEnv(env), stderr, 10*time.Second)
	}()
	return r, stderr, done
}

// FLIP-88: a slot whose Python share of managed memory is short gets a
// warning in the TaskManager's log (Flink's logging stream) with the
// numbers and the setting that fits, and the job runs.
func TestShortManagedMemoryWarnsAndRuns(t *testing.T) {
	r, _, done := startWorker(t, "5-1", map[string]string{"_PYTHON_WORKER_MEMORY_LIMIT": "33554432"}) // 32 MiB < framework 64 MiB
	fakeflink.AwaitClosed(t, r.Connected, "the worker to connect")
	if got := upperBundle(t, r, "b1", "still runs"); got != "STILL RUNS" {
		t.Fatalf("output %q", got)
	}
	var warns []string
	for _, e := range r.Logs() {
		if strings.Contains(e.GetMessage(), "FLIP-88") {
			warns = append(warns, e.GetMessage())
		}
	}
	if len(warns) != 2 {
		t.Fatalf("%d warnings in Flink's log, want framework and buffer: %q", len(warns), warns)
	}
	for i, wants := range [][]string{{
		"framework memory for worker 5-1 (python.fn-execution.framework.memory.size) (64.0 MiB) does not fit in the 32.0 MiB budget (_PYTHON_WORKER_MEMORY_LIMIT",
		"taskmanager.memory.managed.size: 256m", // a local run's 128m × 64/32
		"FLINKFN_MEMORY_POLICY=strict",
	}, {
		"buffer memory for session 5-1 (python.fn-execution.buffer.memory.size) (15.0 MiB)", "reserved now 79.0 MiB, 47.0 MiB over",
		"taskmanager.memory.managed.size: 316m", // 128m × 79/32
	}} {
		for _, want := range wants {
			if !strings.Contains(warns[i], want) {
				t.Errorf("warning %d in Flink's log lacks %q:\n%s", i, want, warns[i])
			}
		}
	}
	close(r.Requests)
	if err := awaitWorker(t, done); err != nil {
		t.Fatalf("worker: %v", err)
	}
}

// FLINKFN_MEMORY_POLICY=strict refuses, saying what fits.
func TestShortManagedMemoryStrictRefuses(t *testing.T) {
	_, _, done := startWorker(t, "6-1", map[string]string{"_PYTHON_WORKER_MEMORY_LIMIT": "33554432", "FLINKFN_MEMORY_POLICY": "strict"})
	err := awaitWorker(t, done)
	for _, want := range []string{"cannot reserve 64.0 MiB", "taskmanager.memory.managed.size: 256m", "FLINKFN_MEMORY_POLICY=strict refuses"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// upperBundle runs one bundle of the descriptor "upper" on one text.
func upperBundle(t *testing.T, r *fakeflink.Runner, id, text string) string {
	t.Helper()
	r.Requests <- fakeflink.BundleRequest(id, "upper")
	fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
	r.SendData(fakeflink.Input(id, fakeflink.EncodeStrings(t, text), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatalf("bundle %s failed: %s", id, resp.GetError())
	}
	out, _ := r.Output(id)
	got := fakeflink.DecodeStrings(t, out)
	if len(got) != 1 {
		t.Fatalf("bundle %s: %d rows out of 1", id, len(got))
	}
	return got[0]
}

// awaitWorker returns the worker's result (20 s at most).
func awaitWorker(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not return")
		return nil
	}
}
