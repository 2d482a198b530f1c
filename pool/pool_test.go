package pool

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
	"github.com/flinkfn/flinkfn/memory"
)

const testModule = "flinkfn.pooltest"

// gate blocks the "gated" function until opened; entered is closed when
// the function first waits on it.
type gate struct {
	open, entered         chan struct{}
	openOnce, enteredOnce sync.Once
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{})} }

func (g *gate) release() { g.openOnce.Do(func() { close(g.open) }) }

var testString = fn.String()

// testRegistry holds upper(s) (strings.ToUpper) and gated(s), which waits
// on g and then returns s, or fails when s is "fail".
func testRegistry(t *testing.T, g *gate) *fn.Registry {
	t.Helper()
	if g == nil {
		g = newGate()
		g.release()
	}
	reg := fn.NewRegistry()
	err := reg.Register(
		fn.Function{
			Module: testModule, Name: "upper", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
				return fn.Str(strings.ToUpper(a[0].AsString())), nil
			},
		},
		fn.Function{
			Module: testModule, Name: "gated", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			Eval: func(ctx context.Context, a []fn.Value) (fn.Value, error) {
				g.enteredOnce.Do(func() { close(g.entered) })
				select {
				case <-g.open:
				case <-ctx.Done():
					return fn.Value{}, ctx.Err()
				}
				if a[0].AsString() == "fail" {
					return fn.Value{}, errors.New("failing as asked")
				}
				return a[0], nil
			},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// hooks records the Hooks calls.
type hooks struct {
	mu             sync.Mutex
	started, ended int
	refused        []string
	endedCh        chan struct{} // one value per SessionEnded
}

func newHooks() *hooks { return &hooks{endedCh: make(chan struct{}, 64)} }

func (h *hooks) SessionStarted() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started++
}

func (h *hooks) SessionEnded() {
	h.mu.Lock()
	h.ended++
	h.mu.Unlock()
	h.endedCh <- struct{}{}
}

func (h *hooks) SessionRefused(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused = append(h.refused, reason)
}

func (h *hooks) counts() (started, ended int, refused []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started, h.ended, slices.Clone(h.refused)
}

// awaitEnded waits for n SessionEnded calls.
func (h *hooks) awaitEnded(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-h.endedCh:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d sessions reported their end", i, n)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitWatch is a gRPC stats handler reporting the worker id of every Wait
// request the pool received: once reported, the call is being served (the
// Wait handler looks the session up right after decoding the request).
type waitWatch struct{ ids chan string }

type methodKey struct{}

func (w *waitWatch) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, info.FullMethodName)
}

func (w *waitWatch) HandleRPC(ctx context.Context, s stats.RPCStats) {
	in, ok := s.(*stats.InPayload)
	if !ok || ctx.Value(methodKey{}) != waitMethod {
		return
	}
	if req, ok := in.Payload.(*fnpb.StopWorkerRequest); ok {
		w.ids <- req.GetWorkerId()
	}
}

func (w *waitWatch) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (w *waitWatch) HandleConn(context.Context, stats.ConnStats)                       {}

// await waits until the pool serves a Wait call for worker id.
func (w *waitWatch) await(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-w.ids:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("the pool never received Wait for worker %s", id)
		}
	}
}

// testPool is a Server behind a gRPC server on a unix socket.
type testPool struct {
	s      *Server
	g      *grpc.Server
	addr   string // unix:///…/pool.sock
	cc     *grpc.ClientConn
	client fnpb.BeamFnExternalWorkerPoolClient
	waits  *waitWatch
	served chan error
}

// startPool serves a Server for cfg (logger and registry defaulted). At the
// end of the test it stops whatever sessions still run.
func startPool(t *testing.T, cfg Config) *testPool {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Registry == nil {
		cfg.Registry = testRegistry(t, nil)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := "unix://" + filepath.Join(t.TempDir(), "pool.sock")
	lis, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPool{s: s, addr: addr, waits: &waitWatch{ids: make(chan string, 64)}, served: make(chan error, 1)}
	p.g = grpc.NewServer(grpc.StatsHandler(p.waits))
	s.Register(p.g)
	go func() { p.served <- p.g.Serve(lis) }()
	target, err := DialTarget(addr)
	if err != nil {
		t.Fatal(err)
	}
	p.cc, err = grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	p.client = fnpb.NewBeamFnExternalWorkerPoolClient(p.cc)
	t.Cleanup(func() {
		p.cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx) // cancels what a test left running
		p.g.Stop()
	})
	return p
}

func startRequest(id, endpoint string) *fnpb.StartWorkerRequest {
	return &fnpb.StartWorkerRequest{WorkerId: id, ProvisionEndpoint: &pipepb.ApiServiceDescriptor{Url: endpoint},
		Params: map[string]string{"_PYTHON_WORKER_MEMORY_LIMIT": "123456789"}}
}

// start asks the pool for a session and fails the test unless admitted.
func (p *testPool) start(t *testing.T, id string, r *fakeflink.Runner) {
	t.Helper()
	resp, err := p.client.StartWorker(context.Background(), startRequest(id, r.Addr))
	if err != nil {
		t.Fatalf("StartWorker %s: %v", id, err)
	}
	if resp.GetError() != "" {
		t.Fatalf("StartWorker %s refused: %s", id, resp.GetError())
	}
	fakeflink.AwaitClosed(t, r.Connected, "session "+id+" to open its control stream")
}

// refusal asks the pool for a session and returns its refusal.
func (p *testPool) refusal(t *testing.T, req *fnpb.StartWorkerRequest) string {
	t.Helper()
	resp, err := p.client.StartWorker(context.Background(), req)
	if err != nil {
		t.Fatalf("StartWorker %s: %v (refusals travel in the response)", req.GetWorkerId(), err)
	}
	if resp.GetError() == "" {
		t.Fatalf("StartWorker %s was admitted", req.GetWorkerId())
	}
	return resp.GetError()
}

type waitResult struct {
	resp *fnpb.StopWorkerResponse
	err  error
}

// wait calls Wait for id in the background; the result arrives once the
// session ended. It returns after the pool received the call.
func (p *testPool) wait(t *testing.T, id string) <-chan waitResult {
	t.Helper()
	ch := make(chan waitResult, 1)
	go func() {
		resp, err := callWait(context.Background(), p.cc, id)
		ch <- waitResult{resp, err}
	}()
	p.waits.await(t, id)
	return ch
}

func awaitWait(t *testing.T, ch <-chan waitResult) waitResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(15 * time.Second):
		t.Fatal("Wait did not return")
		return waitResult{}
	}
}

// bundle runs one bundle of rows through descriptor d of r and returns
// its output rows.
func bundle(t *testing.T, r *fakeflink.Runner, id, d string, rows ...string) []string {
	t.Helper()
	r.Requests <- fakeflink.BundleRequest(id, d)
	fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
	r.SendData(fakeflink.Input(id, fakeflink.EncodeStrings(t, rows...), true))
	resp := r.AwaitResponse(t)
	if resp.GetInstructionId() != id || resp.GetError() != "" || resp.GetProcessBundle() == nil {
		t.Fatalf("bundle %s: response %v", id, resp)
	}
	out, ok := r.Output(id)
	if !ok {
		t.Fatalf("bundle %s: no is_last on the output", id)
	}
	return fakeflink.DecodeStrings(t, out)
}

// newRunner is a fake Flink operator for worker id with descriptors
// "upper" and "gated".
func newRunner(t *testing.T, id string) *fakeflink.Runner {
	t.Helper()
	r := fakeflink.New(t, id)
	r.StringDescriptor(t, "upper", testModule, "upper")
	r.StringDescriptor(t, "gated", testModule, "gated")
	return r
}

func bufferSnapshot(b *memory.Budget) (int64, int) {
	s := b.Snapshot()
	return s.Reserved[memory.KindBuffer], s.Count[memory.KindBuffer]
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q does not contain %q", what, s, w)
		}
	}
}

// A StartWorker opens a session that provisions against Flink's endpoint
// and serves bundles; Wait returns when Flink closes the control stream,
// and the session's buffer reservation goes back to the budget.
func TestStartWorkerServesSessionUntilFlinkCloses(t *testing.T) {
	const buffer = 4 << 20
	budget := memory.NewBudget(64<<20, "test")
	h := newHooks()
	p := startPool(t, Config{Budget: budget, BufferBytes: buffer, Hooks: h})
	r := newRunner(t, "w-1")

	p.start(t, "w-1", r)
	if n, ids := p.s.Sessions(), p.s.SessionIDs(); n != 1 || !slices.Equal(ids, []string{"w-1"}) {
		t.Fatalf("sessions %d %v, want [w-1]", n, ids)
	}
	if size, n := bufferSnapshot(budget); size != buffer || n != 1 {
		t.Fatalf("buffer reservations %d bytes in %d, want %d in 1", size, n, buffer)
	}
	if started, _, _ := h.counts(); started != 1 {
		t.Fatalf("SessionStarted called %d times", started)
	}

	if got := bundle(t, r, "b1", "upper", "abc", "Zx", ""); !slices.Equal(got, []string{"ABC", "ZX", ""}) {
		t.Fatalf("output %q", got)
	}
	if got := bundle(t, r, "b2", "upper", "déjà vu"); !slices.Equal(got, []string{"DÉJÀ VU"}) {
		t.Fatalf("output %q", got)
	}
	if ids := r.WorkerIDMismatches(); len(ids) != 0 {
		t.Errorf("calls without worker_id w-1: %v", ids)
	}

	done := p.wait(t, "w-1")
	select {
	case res := <-done:
		t.Fatalf("Wait returned %v, %v while the session runs", res.resp, res.err)
	default:
	}
	close(r.Requests) // Flink closes the environment
	res := awaitWait(t, done)
	if res.err != nil || res.resp.GetError() != "" {
		t.Fatalf("Wait = %v, %v; want a clean end", res.resp, res.err)
	}
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions after the end", n)
	}
	if size, n := bufferSnapshot(budget); size != 0 || n != 0 || budget.Snapshot().Total != 0 {
		t.Fatalf("buffer reservations %d bytes in %d after the end, want none", size, n)
	}
	if got := p.s.BufferInUse(); got != 0 {
		t.Fatalf("BufferInUse %d after the end", got)
	}
	h.awaitEnded(t, 1)

	// Wait on a session that does not (or no longer) exist.
	res = awaitWait(t, p.wait(t, "nobody"))
	if res.err != nil || !strings.Contains(res.resp.GetError(), "no session for worker nobody") {
		t.Fatalf("Wait(nobody) = %v, %v", res.resp, res.err)
	}
}

// The control stream breaks mid-session (not a close Flink asked for):
// Wait reports the failure, so the shim exits non-zero.
func TestWaitReportsABrokenControlStream(t *testing.T) {
	h := newHooks()
	p := startPool(t, Config{Hooks: h})
	r := newRunner(t, "w-1")
	p.start(t, "w-1", r)
	if got := bundle(t, r, "b1", "upper", "abc"); !slices.Equal(got, []string{"ABC"}) {
		t.Fatalf("output %q", got)
	}
	done := p.wait(t, "w-1")
	r.BreakControl()
	res := awaitWait(t, done)
	if res.err != nil {
		t.Fatal(res.err)
	}
	contains(t, "Wait error", res.resp.GetError(), "control stream broke")
	h.awaitEnded(t, 1)
}

// A session fails to provision: Wait says why.
func TestWaitReportsWhySessionFailed(t *testing.T) {
	h := newHooks()
	p := startPool(t, Config{Hooks: h, ConnectTimeout: 500 * time.Millisecond})
	dead := "unix://" + filepath.Join(t.TempDir(), "no-flink.sock")
	resp, err := p.client.StartWorker(context.Background(), startRequest("w-1", dead))
	if err != nil || resp.GetError() != "" {
		t.Fatalf("StartWorker = %v, %v", resp, err)
	}
	res := awaitWait(t, p.wait(t, "w-1"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	contains(t, "Wait error", res.resp.GetError(), "get provision info", dead)
	h.awaitEnded(t, 1)
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

// Wait called after a session already ended still says why it ended (the
// shim calls Wait right after StartWorker; a session that fails at once
// must not turn into "no session for worker").
func TestWaitAfterSessionEndedReportsItsError(t *testing.T) {
	h := newHooks()
	p := startPool(t, Config{Hooks: h, ConnectTimeout: 100 * time.Millisecond})
	dead := "unix://" + filepath.Join(t.TempDir(), "no-flink.sock")
	if resp, err := p.client.StartWorker(context.Background(), startRequest("w-1", dead)); err != nil || resp.GetError() != "" {
		t.Fatalf("StartWorker = %v, %v", resp, err)
	}
	h.awaitEnded(t, 1)
	res := awaitWait(t, p.wait(t, "w-1"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	contains(t, "Wait error", res.resp.GetError(), "get provision info")
}

// Sessions that do not fit the budget are refused with every number; one
// fits again once a session ends.
func TestStartWorkerRefusedWhenBufferDoesNotFit(t *testing.T) {
	const buffer = 1 << 20
	budget := memory.NewBudget(buffer*5/2, "test limit") // 2.5 MiB: two buffers fit
	h := newHooks()
	p := startPool(t, Config{Budget: budget, BufferBytes: buffer, Hooks: h})
	r1, r2, r3 := newRunner(t, "w-1"), newRunner(t, "w-2"), newRunner(t, "w-3")
	p.start(t, "w-1", r1)
	p.start(t, "w-2", r2)

	msg := p.refusal(t, startRequest("w-3", r3.Addr))
	contains(t, "refusal", msg,
		"flinkfn pool: cannot start worker w-3",
		"cannot reserve 1.0 MiB buffer memory for session w-3",
		"python.fn-execution.buffer.memory.size",
		"0.5 MiB of the 2.5 MiB budget (test limit) is free",
		"buffer 2 sessions × 1.0 MiB = 2.0 MiB (names: w-1, w-2)")
	if _, _, refused := h.counts(); !slices.Equal(refused, []string{"memory"}) {
		t.Fatalf("SessionRefused reasons %q, want [memory]", refused)
	}
	if n := p.s.Sessions(); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	if size, n := bufferSnapshot(budget); size != 2*buffer || n != 2 {
		t.Fatalf("buffer reservations %d bytes in %d, want 2 MiB in 2", size, n)
	}
	select {
	case <-r3.Connected:
		t.Fatal("the refused worker connected to Flink")
	default:
	}

	// w-1 ends: w-3 fits now, and is served.
	done := p.wait(t, "w-1")
	close(r1.Requests)
	if res := awaitWait(t, done); res.err != nil || res.resp.GetError() != "" {
		t.Fatalf("Wait(w-1) = %v, %v", res.resp, res.err)
	}
	p.start(t, "w-3", r3)
	if got := bundle(t, r3, "b", "upper", "x"); !slices.Equal(got, []string{"X"}) {
		t.Fatalf("output %q", got)
	}
	if got := bundle(t, r2, "b", "upper", "y"); !slices.Equal(got, []string{"Y"}) {
		t.Fatalf("output %q", got)
	}
	if ids := p.s.SessionIDs(); !slices.Equal(ids, []string{"w-2", "w-3"}) {
		t.Fatalf("sessions %v", ids)
	}
}

// Requests without a worker id or provision endpoint, and a second
// session for a running worker id, are refused without touching the
// running session or the budget.
func TestStartWorkerRefusesBadRequests(t *testing.T) {
	budget := memory.NewBudget(0, "none")
	h := newHooks()
	p := startPool(t, Config{Budget: budget, BufferBytes: 1 << 20, Hooks: h})
	r := newRunner(t, "w-1")
	p.start(t, "w-1", r)

	other := newRunner(t, "w-1")
	contains(t, "duplicate refusal", p.refusal(t, startRequest("w-1", other.Addr)),
		"cannot start worker w-1", "a session for worker id w-1 is already running")
	contains(t, "empty id refusal", p.refusal(t, startRequest("", r.Addr)), "the request has no worker_id")
	contains(t, "empty endpoint refusal", p.refusal(t, startRequest("w-2", "")), "the request has no provision_endpoint")
	contains(t, "no endpoint refusal", p.refusal(t, &fnpb.StartWorkerRequest{WorkerId: "w-3"}), "the request has no provision_endpoint")

	if _, _, refused := h.counts(); !slices.Equal(refused, []string{"duplicate", "bad_request", "bad_request", "bad_request"}) {
		t.Fatalf("SessionRefused reasons %q", refused)
	}
	if started, _, _ := h.counts(); started != 1 {
		t.Fatalf("SessionStarted called %d times", started)
	}
	if ids := p.s.SessionIDs(); !slices.Equal(ids, []string{"w-1"}) {
		t.Fatalf("sessions %v", ids)
	}
	if _, n := bufferSnapshot(budget); n != 1 {
		t.Fatalf("%d buffer reservations, want 1", n)
	}
	select {
	case <-other.Connected:
		t.Fatal("the duplicate connected to Flink")
	default:
	}
	if got := bundle(t, r, "b", "upper", "still"); !slices.Equal(got, []string{"STILL"}) {
		t.Fatalf("output %q", got)
	}
}

// Shutdown refuses new workers, waits for the bundles in flight and
// returns nil once every session ended.
func TestShutdownWaitsForInFlightBundles(t *testing.T) {
	g := newGate()
	logs := fakeflink.NewLogWatch()
	budget := memory.NewBudget(0, "none")
	h := newHooks()
	p := startPool(t, Config{Registry: testRegistry(t, g), Logger: slog.New(logs), Budget: budget, BufferBytes: 1 << 20, Hooks: h})
	r := newRunner(t, "w-1")
	p.start(t, "w-1", r)

	// In flight: the function waits; when released it fails, so that the
	// bundle sends no output (see TestShutdownLetsInFlightBundleFinish).
	r.Requests <- fakeflink.BundleRequest("inflight", "gated")
	fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
	r.SendData(fakeflink.Input("inflight", fakeflink.EncodeStrings(t, "fail"), true))
	fakeflink.AwaitClosed(t, g.entered, "the in-flight bundle's function")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- p.s.Shutdown(ctx)
	}()
	fakeflink.AwaitClosed(t, logs.Logged("draining sessions"), "Shutdown to start draining")

	r2 := newRunner(t, "w-2")
	contains(t, "refusal while draining", p.refusal(t, startRequest("w-2", r2.Addr)), "cannot start worker w-2", "shutting down")
	if _, _, refused := h.counts(); !slices.Equal(refused, []string{"shutting_down"}) {
		t.Fatalf("SessionRefused reasons %q", refused)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a bundle in flight", err)
	default:
	}
	if n := p.s.Sessions(); n != 1 {
		t.Fatalf("%d sessions while draining, want 1", n)
	}

	g.release()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown did not return after the last bundle")
	}
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions after Shutdown", n)
	}
	if size, n := bufferSnapshot(budget); size != 0 || n != 0 {
		t.Fatalf("buffer reservations %d bytes in %d after Shutdown", size, n)
	}
	h.awaitEnded(t, 1)
	fakeflink.AwaitClosed(t, r.ControlClosed, "the session to close its control stream")
	// Refused for good.
	contains(t, "refusal after Shutdown", p.refusal(t, startRequest("w-2", r2.Addr)), "shutting down")
}

// Shutdown lets a bundle in flight finish: Flink gets its successful
// response and its output.
func TestShutdownLetsInFlightBundleFinish(t *testing.T) {
	g := newGate()
	p := startPool(t, Config{Registry: testRegistry(t, g)})
	r := newRunner(t, "w-1")
	p.start(t, "w-1", r)
	r.Requests <- fakeflink.BundleRequest("inflight", "gated")
	fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
	r.SendData(fakeflink.Input("inflight", fakeflink.EncodeStrings(t, "a", "b"), true))
	fakeflink.AwaitClosed(t, g.entered, "the in-flight bundle's function")

	shut := make(chan error, 1)
	go func() { shut <- p.s.Shutdown(context.Background()) }()
	g.release()
	resp := r.AwaitResponse(t)
	if resp.GetInstructionId() != "inflight" || resp.GetError() != "" || resp.GetProcessBundle() == nil {
		t.Fatalf("the in-flight bundle got %v", resp)
	}
	out, ok := r.Output("inflight")
	if !ok {
		t.Fatal("no is_last on the in-flight bundle's output")
	}
	if got := fakeflink.DecodeStrings(t, out); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("output %q", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

// At the drain deadline Shutdown cancels the sessions still running and
// says which.
func TestShutdownDeadlineCancelsSessions(t *testing.T) {
	g := newGate() // never released
	budget := memory.NewBudget(0, "none")
	h := newHooks()
	p := startPool(t, Config{Registry: testRegistry(t, g), Budget: budget, BufferBytes: 1 << 20, Hooks: h})
	runners := map[string]*fakeflink.Runner{}
	for _, id := range []string{"w-1", "w-2"} {
		r := newRunner(t, id)
		runners[id] = r
		p.start(t, id, r)
		r.Requests <- fakeflink.BundleRequest("stuck", "gated")
		fakeflink.AwaitClosed(t, r.DataReady, "the data stream")
		r.SendData(fakeflink.Input("stuck", fakeflink.EncodeStrings(t, "x"), true))
	}
	fakeflink.AwaitClosed(t, g.entered, "a gated function")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.s.Shutdown(ctx)
	if err == nil {
		t.Fatal("Shutdown = nil with bundles stuck past the deadline")
	}
	contains(t, "Shutdown error", err.Error(), "2 session(s)", "w-1", "w-2", "cancelled")
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("Shutdown gave up after %v, before its deadline", took)
	}
	if n := p.s.Sessions(); n != 0 {
		t.Fatalf("%d sessions after Shutdown", n)
	}
	if size, n := bufferSnapshot(budget); size != 0 || n != 0 {
		t.Fatalf("buffer reservations %d bytes in %d after Shutdown", size, n)
	}
	h.awaitEnded(t, 2)
	for id, r := range runners {
		fakeflink.AwaitClosed(t, r.ControlClosed, "session "+id+" to close its control stream")
	}
}

// One session's Flink operator failing — its data stream breaks, then its
// whole server goes away — leaves the other session serving.
func TestFailingSessionDoesNotDisturbOthers(t *testing.T) {
	h := newHooks()
	budget := memory.NewBudget(0, "none")
	p := startPool(t, Config{Hooks: h, Budget: budget, BufferBytes: 1 << 20})
	r1, r2 := newRunner(t, "w-1"), newRunner(t, "w-2")
	p.start(t, "w-1", r1)
	p.start(t, "w-2", r2)
	if got := bundle(t, r1, "a1", "upper", "one"); !slices.Equal(got, []string{"ONE"}) {
		t.Fatalf("output %q", got)
	}
	if got := bundle(t, r2, "a2", "upper", "two"); !slices.Equal(got, []string{"TWO"}) {
		t.Fatalf("output %q", got)
	}

	// w-1's data stream breaks under a bundle waiting for input.
	r1.Requests <- fakeflink.BundleRequest("broken", "upper")
	r1.SendData(fakeflink.Input("broken", fakeflink.EncodeStrings(t, "partial"), false))
	r1.BreakData()
	resp := r1.AwaitResponse(t)
	if resp.GetInstructionId() != "broken" || !strings.Contains(resp.GetError(), "data stream") {
		t.Fatalf("bundle on the broken stream got %v", resp)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if got := bundle(t, r2, id, "upper", id); !slices.Equal(got, []string{strings.ToUpper(id)}) {
			t.Fatalf("w-2 bundle %s after w-1's data stream broke: output %q", id, got)
		}
	}

	// w-1's Flink side goes away altogether: its session ends, w-2 serves on.
	done := p.wait(t, "w-1")
	r1.Stop()
	if res := awaitWait(t, done); res.err != nil {
		t.Fatalf("Wait(w-1): %v", res.err)
	}
	h.awaitEnded(t, 1)
	if ids := p.s.SessionIDs(); !slices.Equal(ids, []string{"w-2"}) {
		t.Fatalf("sessions %v, want [w-2]", ids)
	}
	if _, n := bufferSnapshot(budget); n != 1 {
		t.Fatalf("%d buffer reservations, want 1", n)
	}
	if got := bundle(t, r2, "d2", "upper", "after"); !slices.Equal(got, []string{"AFTER"}) {
		t.Fatalf("output %q", got)
	}
}

// Wait is served like the pool's other RPCs: through the gRPC server's
// unary interceptors (logging, metrics, auth a deployment may add).
func TestWaitGoesThroughServerInterceptors(t *testing.T) {
	s, err := New(Config{Registry: testRegistry(t, nil), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	g := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		mu.Lock()
		seen = append(seen, info.FullMethod)
		mu.Unlock()
		return h(ctx, req)
	}))
	s.Register(g)
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	defer g.Stop()
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := fnpb.NewBeamFnExternalWorkerPoolClient(cc).StopWorker(context.Background(), &fnpb.StopWorkerRequest{WorkerId: "nobody"}); err != nil {
		t.Fatal(err)
	}
	resp, err := callWait(context.Background(), cc, "nobody")
	if err != nil || !strings.Contains(resp.GetError(), "no session for worker nobody") {
		t.Fatalf("Wait = %v, %v", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"/org.apache.beam.model.fn_execution.v1.BeamFnExternalWorkerPool/StopWorker", waitMethod}; !slices.Equal(seen, want) {
		t.Fatalf("interceptor saw %q, want %q", seen, want)
	}
}
