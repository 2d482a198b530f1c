package pool

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flinkfn/flinkfn/internal/fakeflink"
	"github.com/flinkfn/flinkfn/memory"
)

// runShim runs Shim in the background; the result arrives when it returns.
func runShim(ctx context.Context, cfg ShimConfig) <-chan error {
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	ch := make(chan error, 1)
	go func() { ch <- Shim(ctx, cfg) }()
	return ch
}

func awaitShim(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Shim did not return")
		return nil
	}
}

// The shim asks the pool for the worker, stays while the session serves
// Flink, and returns nil when Flink closes the session.
func TestShimServesUntilSessionEnds(t *testing.T) {
	p := startPool(t, Config{})
	r := newRunner(t, "w-1")
	shim := runShim(context.Background(), ShimConfig{Address: p.addr, WorkerID: "w-1", ProvisionEndpoint: r.Addr,
		Params: map[string]string{"_PYTHON_WORKER_MEMORY_LIMIT": "1"}})
	fakeflink.AwaitClosed(t, r.Connected, "the session to connect")
	if got := bundle(t, r, "b", "upper", "via pool"); !slices.Equal(got, []string{"VIA POOL"}) {
		t.Fatalf("output %q", got)
	}
	p.waits.await(t, "w-1") // the shim waits on its session
	select {
	case err := <-shim:
		t.Fatalf("Shim returned %v while the session runs", err)
	default:
	}
	close(r.Requests)
	if err := awaitShim(t, shim); err != nil {
		t.Fatalf("Shim = %v after Flink closed the session", err)
	}
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

// A refusal reaches Flink as the pool's own words.
func TestShimReturnsPoolRefusal(t *testing.T) {
	budget := memory.NewBudget(1<<20, "test limit")
	p := startPool(t, Config{Budget: budget, BufferBytes: 2 << 20})
	r := newRunner(t, "w-1")
	want := p.refusal(t, startRequest("w-1", r.Addr))
	err := awaitShim(t, runShim(context.Background(), ShimConfig{Address: p.addr, WorkerID: "w-1", ProvisionEndpoint: r.Addr}))
	if err == nil {
		t.Fatal("Shim = nil for a refused worker")
	}
	if err.Error() != want {
		t.Fatalf("Shim error\n %q\nwant the pool's refusal\n %q", err, want)
	}
	contains(t, "Shim error", err.Error(), "cannot reserve 2.0 MiB", "python.fn-execution.buffer.memory.size")
	if errors.Is(err, ErrUnreachable) {
		t.Fatal("a refusal is not ErrUnreachable (it must not fall back to a local worker)")
	}
}

// An unreachable pool is ErrUnreachable, and the error names the address.
func TestShimUnreachablePool(t *testing.T) {
	for name, addr := range map[string]string{
		"unix": "unix://" + filepath.Join(t.TempDir(), "no-pool.sock"),
		"tcp":  "127.0.0.1:1",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := awaitShim(t, runShim(context.Background(), ShimConfig{Address: addr, WorkerID: "w-1", ProvisionEndpoint: "127.0.0.1:2",
				StartTimeout: 5 * time.Second}))
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Shim = %v, want ErrUnreachable", err)
			}
			contains(t, "Shim error", err.Error(), addr, "w-1")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v, beyond StartTimeout", took)
			}
		})
	}
	for _, addr := range []string{"", "no-port"} {
		err := awaitShim(t, runShim(context.Background(), ShimConfig{Address: addr, WorkerID: "w-1", ProvisionEndpoint: "127.0.0.1:2"}))
		if err == nil || errors.Is(err, ErrUnreachable) {
			t.Errorf("Shim(%q) = %v, want an address error", addr, err)
		}
	}
}

// The pool dying under a running session fails the shim (Flink then
// restarts the worker) with an error saying so.
func TestShimFailsWhenPoolGoesAway(t *testing.T) {
	p := startPool(t, Config{})
	r := newRunner(t, "w-1")
	shim := runShim(context.Background(), ShimConfig{Address: p.addr, WorkerID: "w-1", ProvisionEndpoint: r.Addr})
	fakeflink.AwaitClosed(t, r.Connected, "the session to connect")
	p.waits.await(t, "w-1")
	p.g.Stop() // the pool process is killed
	err := awaitShim(t, shim)
	if err == nil {
		t.Fatal("Shim = nil after the pool went away")
	}
	contains(t, "Shim error", err.Error(), "went away", p.addr, "w-1")
}

// SIGTERM (ctx cancelled) makes the shim stop its session and return nil.
func TestShimStopsSessionWhenCancelled(t *testing.T) {
	h := newHooks()
	p := startPool(t, Config{Hooks: h})
	r := newRunner(t, "w-1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shim := runShim(ctx, ShimConfig{Address: p.addr, WorkerID: "w-1", ProvisionEndpoint: r.Addr})
	fakeflink.AwaitClosed(t, r.Connected, "the session to connect")
	p.waits.await(t, "w-1")
	cancel()
	if err := awaitShim(t, shim); err != nil {
		t.Fatalf("Shim = %v after SIGTERM, want nil", err)
	}
	// StopWorker waited for the session to end.
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions after the shim stopped its worker", n)
	}
	h.awaitEnded(t, 1)
	fakeflink.AwaitClosed(t, r.ControlClosed, "the session to close its control stream")
	// The pool serves the next worker.
	r2 := newRunner(t, "w-2")
	p.start(t, "w-2", r2)
}

func TestDialTarget(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"unix:///tmp/pool.sock", "unix:///tmp/pool.sock"},
		{"unix:pool.sock", "unix:pool.sock"},
		{"127.0.0.1:50051", "passthrough:///127.0.0.1:50051"},
		{"localhost:50051", "passthrough:///localhost:50051"},
		{"[::1]:50051", "passthrough:///[::1]:50051"},
	} {
		got, err := DialTarget(c.addr)
		if err != nil || got != c.want {
			t.Errorf("DialTarget(%q) = %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
	for _, addr := range []string{"", "pool.sock", "127.0.0.1"} {
		if got, err := DialTarget(addr); err == nil {
			t.Errorf("DialTarget(%q) = %q, want an error", addr, got)
		} else if addr != "" && !strings.Contains(err.Error(), addr) {
			t.Errorf("DialTarget(%q) error %q does not name the address", addr, err)
		}
	}
}

// The shim never hands a worker to a pool that does not answer flinkfn's
// handshake: PyFlink's own loopback pool gets no StartWorker.
func TestShimRefusesForeignPool(t *testing.T) {
	f := fakeflink.NewLoopbackPool(t)
	addr := f.Addr
	err := awaitShim(t, runShim(context.Background(), ShimConfig{Address: addr, WorkerID: "w-1", ProvisionEndpoint: "localhost:1"}))
	if !errors.Is(err, ErrNotFlinkfnPool) {
		t.Fatalf("Shim = %v, want ErrNotFlinkfnPool", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Fatal("a foreign pool is reachable; the error must not say unreachable")
	}
	contains(t, "Shim error", err.Error(), addr, "PyFlink's own loopback pool")
	f.AssertNoWorker(t)
}

// A flinkfn pool answers the handshake.
func TestHelloAnswersOnFlinkfnPool(t *testing.T) {
	p := startPool(t, Config{})
	target, err := DialTarget(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := callHello(ctx, cc); err != nil {
		t.Fatalf("Hello on a flinkfn pool: %v", err)
	}
}
