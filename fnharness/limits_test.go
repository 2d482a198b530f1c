package fnharness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
	"github.com/flinkfn/flinkfn/memory"
)

// Tests of the session's limits and reporting: backpressure through the
// input and output limiters, user metrics, the Observer and the drain.

const limitsModule = "flinkfn.limits"

// gate blocks the functions of limitsRegistry until opened; entered is
// closed when a function first waits on it.
type gate struct {
	open        chan struct{}
	entered     chan struct{}
	enteredOnce sync.Once
	openOnce    sync.Once
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{})} }

func (g *gate) wait(ctx context.Context) error {
	g.enteredOnce.Do(func() { close(g.entered) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) release() { g.openOnce.Do(func() { close(g.open) }) }

// limitsRegistry is testRegistry plus
//
//   - tag(n BIGINT, s VARCHAR) → "<n>#<s>", waiting on g before every batch
//     (failing on s = "fail");
//   - count(s VARCHAR) → s, counting myfn.texts_embedded (rows), myfn.batches
//     (1 per batch), myfn.net_zero (+5 −5: nets to 0) and other.rows.
func limitsRegistry(t *testing.T, g *gate) *fn.Registry {
	t.Helper()
	reg := testRegistry(t)
	err := reg.Register(
		fn.Function{
			Module: limitsModule, Name: "tag", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "n", Accepts: fn.OneOf(fn.BIGINT)}, {Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			EvalBatch: func(ctx context.Context, rows [][]fn.Value, out []fn.Value) error {
				if err := g.wait(ctx); err != nil {
					return err
				}
				for i, a := range rows {
					if a[1].AsString() == "fail" {
						return &fn.RowError{Row: i, Err: errors.New("failing as asked")}
					}
					out[i] = fn.Str(strconv.FormatInt(a[0].AsInt(), 10) + "#" + a[1].AsString())
				}
				return nil
			},
		},
		fn.Function{
			Module: limitsModule, Name: "count", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			EvalBatch: func(ctx context.Context, rows [][]fn.Value, out []fn.Value) error {
				fn.AddCounter(ctx, "myfn", "texts_embedded", int64(len(rows)))
				fn.AddCounter(ctx, "myfn", "batches", 1)
				fn.AddCounter(ctx, "myfn", "net_zero", 5)
				fn.AddCounter(ctx, "myfn", "net_zero", -5)
				fn.AddCounter(ctx, "other", "rows", int64(len(rows)))
				for i, a := range rows {
					out[i] = a[0]
				}
				return nil
			},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// runningWorker is one Run in the background.
type runningWorker struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned, valid after done
}

// startWorkerOpts runs a worker against r with opts (WorkerID, provision
// endpoint, logger and connect timeout filled in) and waits until it
// opened the control stream. The worker is cancelled, and waited for, at
// the end of the test.
func startWorkerOpts(t *testing.T, r *fakeRunner, opts Options) *runningWorker {
	t.Helper()
	opts.WorkerID = testWorkerID
	opts.ProvisionEndpoint = r.Addr
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &runningWorker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = Run(ctx, opts)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Error("worker did not exit after cancel")
		}
	})
	select {
	case <-r.Connected:
	case <-w.done:
		t.Fatalf("worker exited before connecting: %v", w.err)
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not open the control stream")
	}
	return w
}

// wait waits (10 s at most) for Run to return and returns its error.
func (w *runningWorker) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-w.done:
		return w.err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

var tagInTypes = []fn.Type{fn.Simple(fn.BIGINT), fn.String()}

// tagDescriptor: (n BIGINT, s STRING) → (f0 STRING) = flinkfn.limits.tag(n, s).
func tagDescriptor(t *testing.T, r *fakeRunner, id string) {
	t.Helper()
	r.descriptor(t, id, urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(limitsModule, "tag", false, col(0), col(1))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint), protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
}

// oneColumnDescriptor: (s STRING) → (f0 STRING) = module.name(s).
func oneColumnDescriptor(t *testing.T, r *fakeRunner, id, module, name string) {
	t.Helper()
	r.descriptor(t, id, urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(module, name, false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
}

// tagRows encodes rows first..first+n-1 of the backpressure input: (i, pad).
func tagRows(t *testing.T, first, n int, pad string) []byte {
	t.Helper()
	rows := make([][]fn.Value, n)
	for i := range rows {
		rows[i] = []fn.Value{fn.Int(int64(first + i)), fn.Str(pad)}
	}
	return encodeRows(t, tagInTypes, rows...)
}

// checkTagOutput asserts that out holds "<i>#pad" for i = 0..n-1, each once
// and in order.
func checkTagOutput(t *testing.T, out []byte, n int, pad string) {
	t.Helper()
	got := fakeflink.DecodeStrings(t, out)
	if len(got) != n {
		t.Fatalf("%d output rows, want %d", len(got), n)
	}
	for i, s := range got {
		if want := strconv.Itoa(i) + "#" + pad; s != want {
			t.Fatalf("output row %d = %.40q…, want %.40q…", i, s, want)
		}
	}
}

// eventually polls cond (every 5 ms, 10 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// While the bundle's function is gated, the worker holds at most the input
// limiter's capacity and stops reading: Flink's sends block. Once released,
// every row comes back exactly once and in order.
func TestBackpressureBoundsInFlightInput(t *testing.T) {
	const capacity = 64 << 10
	in, out := memory.NewLimiter(capacity), memory.NewLimiter(capacity)
	g := newGate()
	r := newFakeRunner(t)
	tagDescriptor(t, r, "d")
	startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, g), InputLimiter: in, OutputLimiter: out})

	// 200 messages of 8 rows of ~4 KB (~32 KB each, two fit in the
	// limiter): ~6.4 MB, far more than gRPC's flow-control windows absorb
	// while the worker does not read (grpc-go's BDP estimator grows them
	// only while data flows: the sends stall after a few hundred KB).
	const msgs, perMsg = 200, 8
	pad := strings.Repeat("x", 4000)
	data := make([][]byte, msgs)
	for i := range data {
		data[i] = tagRows(t, i*perMsg, perMsg, pad)
	}

	r.Requests <- bundleRequest("b", "d")
	<-r.DataReady
	var sent atomic.Int64
	sendDone := make(chan error, 1)
	go func() {
		for i, d := range data {
			if err := r.TrySendData(inputData("b", d, i == len(data)-1)); err != nil {
				sendDone <- err
				return
			}
			sent.Add(1)
		}
		sendDone <- nil
	}()

	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the function never ran")
	}
	// Flink's sends must stall while the function is gated: wait until no
	// send completed for 300 ms.
	var stalledAt int64 = -1
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	last, quietSince := sent.Load(), time.Now()
	for stalledAt < 0 {
		select {
		case err := <-sendDone:
			t.Fatalf("all %d input messages were sent while the function was gated (err %v): the worker did not push back", msgs, err)
		case <-deadline:
			t.Fatalf("sends never stalled (%d of %d sent)", sent.Load(), msgs)
		case <-tick.C:
			if n := sent.Load(); n != last {
				last, quietSince = n, time.Now()
			} else if time.Since(quietSince) >= 300*time.Millisecond {
				stalledAt = n
			}
		}
	}
	t.Logf("sends stalled after %d of %d messages (%d KB)", stalledAt, msgs, stalledAt*int64(len(data[0]))>>10)
	if got := in.InUse(); got > capacity {
		t.Fatalf("input in use %d > capacity %d while gated", got, capacity)
	}
	// What stalled the sends is the limiter: it is full (the next message
	// does not fit) and the worker is not reading on.
	eventually(t, "the input limiter is full", func() bool { return in.InUse() > capacity-int64(len(data[0])) })
	if got := in.InUse(); got > capacity {
		t.Fatalf("input in use %d > capacity %d while gated", got, capacity)
	}
	if n := sent.Load(); n != stalledAt || n >= msgs {
		t.Fatalf("sends went on (%d → %d of %d) while the function was gated", stalledAt, n, msgs)
	}

	g.release()
	if err := <-sendDone; err != nil {
		t.Fatalf("send input: %v", err)
	}
	if resp := r.AwaitResponse(t); resp.GetError() != "" || resp.GetProcessBundle() == nil {
		t.Fatalf("response %v", resp)
	}
	got, ok := r.Output("b")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	checkTagOutput(t, got, msgs*perMsg, pad)
	if p := in.Peak(); p > capacity {
		t.Errorf("input peak %d > capacity %d", p, capacity)
	}
	if p := out.Peak(); p > capacity || p == 0 {
		t.Errorf("output peak %d, want 1..%d", p, capacity)
	}
	eventually(t, "the limiters are empty after the bundle", func() bool { return in.InUse() == 0 && out.InUse() == 0 })
}

// A Data message larger than the limiter's whole capacity is clamped to it
// (it waits until nothing else is in flight) instead of deadlocking; its
// output, larger than the output capacity, goes out the same way.
func TestMessageLargerThanCapacityIsClamped(t *testing.T) {
	const capacity = 64 << 10
	in, out := memory.NewLimiter(capacity), memory.NewLimiter(capacity)
	g := newGate()
	g.release()
	r := newFakeRunner(t)
	tagDescriptor(t, r, "d")
	startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, g), InputLimiter: in, OutputLimiter: out})

	pad := strings.Repeat("y", 1000)
	const rows = 200 // ~200 KB in one message: three times the capacity
	data := tagRows(t, 0, rows, pad)
	if len(data) <= 3*capacity {
		t.Fatalf("input is only %d bytes", len(data))
	}
	r.Requests <- bundleRequest("big", "d")
	<-r.DataReady
	r.SendData(inputData("big", data, true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" || resp.GetProcessBundle() == nil {
		t.Fatalf("response %v", resp)
	}
	got, ok := r.Output("big")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	if len(got) <= capacity {
		t.Fatalf("output is only %d bytes", len(got))
	}
	checkTagOutput(t, got, rows, pad)
	if p := in.Peak(); p != capacity {
		t.Errorf("input peak %d, want the capacity %d (the message clamped to it)", p, capacity)
	}
	if p := out.Peak(); p != capacity {
		t.Errorf("output peak %d, want the capacity %d (the message clamped to it)", p, capacity)
	}
	eventually(t, "the limiters are empty after the bundle", func() bool { return in.InUse() == 0 && out.InUse() == 0 })
}

// User counters reach Flink as Beam user metrics on the bundle's response:
// sum_int64 per (function, name), the bundle's own total, under the UDF
// transform, in Flink's generic metric groups flinkfn.<function>.
func TestUserCountersBecomeMonitoringInfos(t *testing.T) {
	r := newFakeRunner(t)
	oneColumnDescriptor(t, r, "count", limitsModule, "count")
	oneColumnDescriptor(t, r, "plain", testModule, "twice")
	startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, newGate())})

	type metric struct {
		urn, typ, ptransform, namespace, name string
		value                                 uint64
	}
	infos := func(resp *fnpb.InstructionResponse) []metric {
		t.Helper()
		if resp.GetError() != "" || resp.GetProcessBundle() == nil {
			t.Fatalf("response %v", resp)
		}
		var ms []metric
		for _, mi := range resp.GetProcessBundle().GetMonitoringInfos() {
			if len(mi.GetPayload()) == 0 {
				t.Errorf("monitoring info %v has an empty payload (Beam's update loop stops there)", mi)
			}
			v, n := binary.Uvarint(mi.GetPayload())
			if n != len(mi.GetPayload()) {
				t.Errorf("payload %x of %v is not one varint", mi.GetPayload(), mi)
			}
			if len(mi.GetLabels()) != 3 {
				t.Errorf("labels %v, want PTRANSFORM, NAMESPACE and NAME", mi.GetLabels())
			}
			ms = append(ms, metric{mi.GetUrn(), mi.GetType(), mi.GetLabels()["PTRANSFORM"], mi.GetLabels()["NAMESPACE"], mi.GetLabels()["NAME"], v})
		}
		return ms
	}
	const (
		urn  = "beam:metric:user:sum_int64:v1"
		typ  = "beam:metrics:sum_int64:v1"
		myfn = `["flinkfn","myfn","MetricGroupType.generic","MetricGroupType.generic"]`
		oth  = `["flinkfn","other","MetricGroupType.generic","MetricGroupType.generic"]`
	)

	// Three messages, so three batches: 2 + 3 + 5 rows.
	r.Requests <- bundleRequest("m1", "count")
	<-r.DataReady
	r.SendData(inputData("m1", fakeflink.EncodeStrings(t, "a", "b"), false))
	r.SendData(inputData("m1", fakeflink.EncodeStrings(t, "c", "d", "e"), false))
	r.SendData(inputData("m1", fakeflink.EncodeStrings(t, "f", "g", "h", "i", "j"), true))
	got := infos(r.AwaitResponse(t))
	want := []metric{
		{urn, typ, fakeflink.UDFTransform, myfn, "batches", 3},
		{urn, typ, fakeflink.UDFTransform, myfn, "texts_embedded", 10},
		{urn, typ, fakeflink.UDFTransform, oth, "rows", 10},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("monitoring infos\n got %+v\nwant %+v (net_zero, which nets to 0, must be left out)", got, want)
	}
	if out, _ := r.Output("m1"); !slices.Equal(fakeflink.DecodeStrings(t, out), strings.Split("abcdefghij", "")) {
		t.Fatalf("output %q", fakeflink.DecodeStrings(t, out))
	}

	// The next bundle reports its own delta, not a running total.
	r.Requests <- bundleRequest("m2", "count")
	r.SendData(inputData("m2", fakeflink.EncodeStrings(t, "k"), true))
	got = infos(r.AwaitResponse(t))
	want = []metric{
		{urn, typ, fakeflink.UDFTransform, myfn, "batches", 1},
		{urn, typ, fakeflink.UDFTransform, myfn, "texts_embedded", 1},
		{urn, typ, fakeflink.UDFTransform, oth, "rows", 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("monitoring infos of the second bundle\n got %+v\nwant %+v", got, want)
	}

	// No rows, no calls, no counters: no monitoring infos.
	r.Requests <- bundleRequest("m3", "count")
	r.SendData(inputData("m3", nil, true))
	if got := infos(r.AwaitResponse(t)); len(got) != 0 {
		t.Fatalf("an empty bundle reported %+v", got)
	}
	// A function without counters: no monitoring infos.
	r.Requests <- bundleRequest("p1", "plain")
	r.SendData(inputData("p1", fakeflink.EncodeStrings(t, "x", "y"), true))
	if got := infos(r.AwaitResponse(t)); len(got) != 0 {
		t.Fatalf("a bundle without counters reported %+v", got)
	}
}

type bundleEvent struct {
	functions []string
	rows      int64
	took      time.Duration
	kind      string
}

// recordingObserver records BundleDone.
// The tests run one bundle at a time.
type recordingObserver struct {
	mu     sync.Mutex
	events []bundleEvent
}

func (o *recordingObserver) BundleDone(functions []string, rows int64, took time.Duration, kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, bundleEvent{functions: functions, rows: rows, took: took, kind: kind})
}

// next returns the only event recorded since the previous call.
func (o *recordingObserver) next(t *testing.T, seen *int) bundleEvent {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.events) != *seen+1 {
		t.Fatalf("%d observer events, want %d", len(o.events), *seen+1)
	}
	*seen++
	return o.events[*seen-1]
}

// The Observer hears about every bundle — its functions, rows, failure
// kind — before Flink gets the response.
func TestObserverSeesEveryBundle(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	oneColumnDescriptor(t, r, "count", limitsModule, "count")
	r.descriptor(t, "bad", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf("no.such", "fn", false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	obs := &recordingObserver{}
	startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, newGate()), Observer: obs})
	seen := 0
	chained := []string{"flinkfn.test.label", "flinkfn.test.twice"}
	check := func(name string, wantFns []string, wantRows int64, wantKind string) {
		t.Helper()
		ev := obs.next(t, &seen)
		if !slices.Equal(ev.functions, wantFns) || ev.rows != wantRows || ev.kind != wantKind {
			t.Errorf("%s: BundleDone(%q, %d rows, kind %q), want (%q, %d, %q)",
				name, ev.functions, ev.rows, ev.kind, wantFns, wantRows, wantKind)
		}
		if ev.took <= 0 {
			t.Errorf("%s: duration %v", name, ev.took)
		}
	}

	r.Requests <- bundleRequest("ok", "d1")
	<-r.DataReady
	r.SendData(inputData("ok", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("a")}, []fn.Value{fn.Int(2), fn.Str("b")}, []fn.Value{fn.Int(3), fn.Str("c")}), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	check("success", chained, 3, "")

	r.Requests <- bundleRequest("counted", "count")
	r.SendData(inputData("counted", fakeflink.EncodeStrings(t, "a", "b", "c", "d"), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	check("counters", []string{"flinkfn.limits.count"}, 4, "")

	r.Requests <- bundleRequest("boom", "d1")
	r.SendData(inputData("boom", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("a")}, []fn.Value{fn.Int(2), fn.Str("boom")}), true))
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "boom requested") {
		t.Fatalf("response %v", resp)
	}
	check("function failure", chained, 2, ErrFunction)

	r.Requests <- bundleRequest("setup", "bad")
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "unknown function no.such.fn") {
		t.Fatalf("response %v", resp)
	}
	check("setup failure", nil, 0, ErrSetup)

	r.Requests <- bundleRequest("decode", "d1")
	r.SendData(inputData("decode", []byte{0x05, 0x01}, true)) // says 5 bytes, has 1
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "malformed input element") {
		t.Fatalf("response %v", resp)
	}
	check("decode failure", chained, 0, ErrDecode)

	// Last: the data stream breaks under a bundle waiting for input.
	r.Requests <- bundleRequest("data", "d1")
	r.BreakData()
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "receive input") {
		t.Fatalf("response %v", resp)
	}
	ev := obs.next(t, &seen)
	if ev.kind != ErrData || !slices.Equal(ev.functions, chained) {
		t.Errorf("broken data stream: BundleDone(%q, kind %q), want (%q, %q)", ev.functions, ev.kind, chained, ErrData)
	}
}

// Closing Options.Drain refuses new bundles while one is in flight; Run
// keeps serving that bundle and returns nil once it is done.
func TestDrainRefusesNewBundles(t *testing.T) {
	g := newGate()
	logs := fakeflink.NewLogWatch()
	drain := make(chan struct{})
	r := newFakeRunner(t)
	tagDescriptor(t, r, "d")
	scalarDescriptor(t, r, "d1")
	obs := &recordingObserver{}
	w := startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, g), Drain: drain, Logger: slog.New(logs), Observer: obs})

	// In flight: the function waits on the gate; when released it fails,
	// so that the bundle sends no output (see TestDrainFinishesInFlightBundle
	// for what goes wrong with output).
	r.Requests <- bundleRequest("inflight", "d")
	<-r.DataReady
	r.SendData(inputData("inflight", tagRows(t, 0, 1, "fail"), true))
	fakeflink.AwaitClosed(t, g.entered, "the in-flight bundle's function")

	close(drain)
	awaitRefusal(t, r, logs)
	r.Requests <- bundleRequest("late", "d")
	if resp := r.AwaitResponse(t); resp.GetInstructionId() != "late" || !strings.Contains(resp.GetError(), "shutting down") || resp.GetProcessBundle() != nil {
		t.Fatalf("a bundle sent after the drain got %v, want a refusal saying the worker is shutting down", resp)
	}
	// Other instructions are still answered while draining.
	r.Requests <- &fnpb.InstructionRequest{InstructionId: "progress", Request: &fnpb.InstructionRequest_ProcessBundleProgress{
		ProcessBundleProgress: &fnpb.ProcessBundleProgressRequest{InstructionId: "inflight"}}}
	if resp := r.AwaitResponse(t); resp.GetInstructionId() != "progress" || resp.GetError() != "" {
		t.Fatalf("progress request while draining got %v", resp)
	}
	select {
	case <-w.done:
		t.Fatalf("Run returned (%v) with a bundle in flight", w.err)
	default:
	}
	obs.mu.Lock()
	for _, ev := range obs.events {
		if ev.rows != 1 || ev.kind != ErrFunction { // only probes admitted before the drain took hold (see awaitRefusal)
			t.Errorf("a refused or unfinished bundle reached the observer: %+v", ev)
		}
	}
	probes := len(obs.events)
	obs.mu.Unlock()

	g.release()
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after the drain", err)
	}
	// Run returned after the in-flight bundle ran to its end.
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.events) != probes+1 || !slices.Equal(obs.events[probes].functions, []string{"flinkfn.limits.tag"}) || obs.events[probes].kind != ErrFunction {
		t.Fatalf("observer events %+v: want the in-flight bundle's end last", obs.events)
	}
	fakeflink.AwaitClosed(t, r.ControlClosed, "the worker to close the control stream")
}

// awaitRefusal waits until the draining session refuses bundles. The
// session logs "draining: refusing new bundles" just before it stops
// admitting them, so it probes with bundles of descriptor d1 whose input
// (sent first) fails on its only row: a probe admitted in between fails
// with "boom requested" (and sends no output); the first refusal ends the
// wait.
func awaitRefusal(t *testing.T, r *fakeRunner, logs *fakeflink.LogWatch) {
	t.Helper()
	fakeflink.AwaitClosed(t, logs.Logged("draining: refusing new bundles"), "the drain to start")
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("probe%d", i)
		r.SendData(inputData(id, encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("boom")}), true))
		r.Requests <- bundleRequest(id, "d1")
		resp := r.AwaitResponse(t)
		if resp.GetInstructionId() != id {
			t.Fatalf("probe %s got the response of %s: %v", id, resp.GetInstructionId(), resp)
		}
		switch {
		case strings.Contains(resp.GetError(), "shutting down"):
			return
		case strings.Contains(resp.GetError(), "boom requested"):
			continue // admitted just before the drain took hold
		default:
			t.Fatalf("probe %s got %v", id, resp)
		}
	}
	t.Fatal("the draining session never refused a bundle")
}

// Draining a session with nothing in flight ends it: Run returns nil and
// the worker closes its control stream.
func TestDrainEndsIdleSession(t *testing.T) {
	g := newGate()
	g.release()
	drain := make(chan struct{})
	r := newFakeRunner(t)
	tagDescriptor(t, r, "d")
	w := startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, g), Drain: drain})

	r.Requests <- bundleRequest("done", "d")
	<-r.DataReady
	r.SendData(inputData("done", tagRows(t, 0, 2, "q"), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	out, ok := r.Output("done")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	checkTagOutput(t, out, 2, "q")

	close(drain)
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after the drain", err)
	}
	fakeflink.AwaitClosed(t, r.ControlClosed, "the worker to close the control stream")
}

// Closing Options.Drain while a bundle is in flight lets it finish: Flink
// gets its successful response and its whole output, and then Run returns
// nil.
func TestDrainFinishesInFlightBundle(t *testing.T) {
	g := newGate()
	logs := fakeflink.NewLogWatch()
	drain := make(chan struct{})
	r := newFakeRunner(t)
	tagDescriptor(t, r, "d")
	scalarDescriptor(t, r, "d1")
	w := startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, g), Drain: drain, Logger: slog.New(logs)})

	pad := "p"
	r.Requests <- bundleRequest("inflight", "d")
	<-r.DataReady
	r.SendData(inputData("inflight", tagRows(t, 0, 3, pad), true))
	fakeflink.AwaitClosed(t, g.entered, "the in-flight bundle's function")

	close(drain)
	awaitRefusal(t, r, logs)
	r.Requests <- bundleRequest("late", "d")
	resp := r.AwaitResponse(t)
	if resp.GetInstructionId() != "late" || !strings.Contains(resp.GetError(), "shutting down") {
		t.Fatalf("a bundle sent after the drain got %v, want a refusal saying the worker is shutting down", resp)
	}
	select {
	case <-w.done:
		t.Fatalf("Run returned (%v) with a bundle in flight", w.err)
	default:
	}

	g.release()
	resp = r.AwaitResponse(t)
	if resp.GetInstructionId() != "inflight" || resp.GetError() != "" || resp.GetProcessBundle() == nil {
		t.Fatalf("the in-flight bundle got %v, want a successful response", resp)
	}
	out, ok := r.Output("inflight")
	if !ok {
		t.Fatalf("no is_last on the in-flight bundle's output (data messages received: %d)", len(r.DataMessages("inflight")))
	}
	checkTagOutput(t, out, 3, pad)
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after the drain", err)
	}
	fakeflink.AwaitClosed(t, r.ControlClosed, "the worker to close the control stream")
}

// Flink sends a bundle's input along with its request, so a bundle the
// draining session refuses still gets data. That data must be dropped: kept,
// it fills its queue (or the input limiter), the shared reader blocks, and
// the bundle still in flight never gets the rest of its input — the drain
// never finishes.
func TestDrainDropsRefusedBundlesInput(t *testing.T) {
	logs := fakeflink.NewLogWatch()
	drain := make(chan struct{})
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	obs := &recordingObserver{}
	w := startWorkerOpts(t, r, Options{Registry: limitsRegistry(t, newGate()), Drain: drain, Logger: slog.New(logs), Observer: obs,
		InputLimiter: memory.NewLimiter(1 << 20)})

	// In flight: three rows in, waiting for the rest of its input.
	r.Requests <- bundleRequest("inflight", "d1")
	<-r.DataReady
	r.SendData(inputData("inflight", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("a")}, []fn.Value{fn.Int(2), fn.Str("b")}, []fn.Value{fn.Int(3), fn.Str("c")}), false))

	close(drain)
	awaitRefusal(t, r, logs)
	r.Requests <- bundleRequest("refused", "d1")
	if resp := r.AwaitResponse(t); resp.GetInstructionId() != "refused" || !strings.Contains(resp.GetError(), "shutting down") {
		t.Fatalf("got %v, want a refusal", resp)
	}
	// Flink's input for the refused bundle: more messages than a queue holds.
	for i := 0; i < 2*inboxCap; i++ {
		r.SendData(inputData("refused", encodeRows(t, inTypes, []fn.Value{fn.Int(int64(i)), fn.Str("r")}), false))
	}
	// The rest of the in-flight bundle's input; its last row fails, so that
	// it sends no output (see TestDrainFinishesInFlightBundle for why).
	r.SendData(inputData("inflight", encodeRows(t, inTypes, []fn.Value{fn.Int(4), fn.Str("boom")}), true))

	deadline := time.Now().Add(10 * time.Second)
	for {
		obs.mu.Lock()
		var done *bundleEvent
		for i, ev := range obs.events {
			if ev.rows == 4 {
				done = &obs.events[i]
			}
		}
		obs.mu.Unlock()
		if done != nil {
			if done.kind != ErrFunction {
				t.Fatalf("the in-flight bundle ended with %+v, want the failure of its last row", *done)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the in-flight bundle never got the rest of its input: the refused bundle's data blocks the data stream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after the drain", err)
	}
}
