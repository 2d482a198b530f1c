package fnharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

const testModule = "flinkfn.test"

var testString = fn.String()

func testRegistry(t *testing.T) *fn.Registry {
	t.Helper()
	reg := fn.NewRegistry()
	err := reg.Register(
		fn.Function{
			Module: testModule, Name: "label", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "n", Accepts: fn.OneOf(fn.BIGINT)}, {Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
				if a[0].IsNull() || a[1].IsNull() {
					return fn.Null(), nil
				}
				if a[1].AsString() == "boom" {
					return fn.Value{}, errors.New("boom requested")
				}
				return fn.Str(fmt.Sprintf("%s#%d", a[1].AsString(), a[0].AsInt())), nil
			},
		},
		fn.Function{
			Module: testModule, Name: "twice", Kind: fn.Scalar,
			Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
			Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
				if a[0].IsNull() {
					return fn.Null(), nil
				}
				return fn.Str(a[0].AsString() + a[0].AsString()), nil
			},
		},
		fn.Function{
			Module: testModule, Name: "chars", Kind: fn.Table,
			Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
			Result: fn.Returns(fn.OneOf(fn.ROW), nil),
			EvalTable: func(_ context.Context, a []fn.Value, emit func([]fn.Value) error) error {
				if a[0].IsNull() {
					return nil
				}
				for _, r := range a[0].AsString() {
					if err := emit([]fn.Value{fn.Str(string(r))}); err != nil {
						return err
					}
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

type worker struct {
	cancel context.CancelFunc
	done   chan error
}

func startWorker(t *testing.T, r *fakeRunner) *worker {
	t.Helper()
	return startWorkerWith(t, r, testRegistry(t))
}

func startWorkerWith(t *testing.T, r *fakeRunner, reg *fn.Registry) *worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- Run(ctx, Options{
			WorkerID: testWorkerID, ProvisionEndpoint: r.Addr, Registry: reg,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ConnectTimeout: 10 * time.Second,
		})
	}()
	t.Cleanup(cancel)
	select {
	case <-r.Connected:
	case err := <-w.done:
		t.Fatalf("worker exited before connecting: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not open the control stream")
	}
	return w
}

func (w *worker) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not exit")
		return nil
	}
}

var (
	inTypes  = []fn.Type{fn.Simple(fn.BIGINT), fn.String()}
	outTypes = []fn.Type{fn.String(), fn.String()}
)

func scalarDescriptor(t *testing.T, r *fakeRunner, id string) {
	r.descriptor(t, id, urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{
			udf(testModule, "label", false, col(0), col(1)),
			// chained: twice(label(n, s))
			udf(testModule, "twice", false, &flinkpb.Input{Input: &flinkpb.Input_Udf{Udf: udf(testModule, "label", false, col(0), col(1))}}),
		}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint), protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString), protoField("f1", pbString)),
	)
}

func bundleRequest(id, desc string) *fnpb.InstructionRequest {
	return &fnpb.InstructionRequest{InstructionId: id, Request: &fnpb.InstructionRequest_ProcessBundle{
		ProcessBundle: &fnpb.ProcessBundleRequest{ProcessBundleDescriptorId: desc}}}
}

func inputData(instr string, data []byte, last bool) *fnpb.Elements_Data {
	return &fnpb.Elements_Data{InstructionId: instr, TransformId: "fn/read/input:0", Data: data, IsLast: last}
}

func TestScalarBundleEndToEnd(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	w := startWorker(t, r)

	r.Requests <- bundleRequest("b1", "d1")
	<-r.DataReady
	rows := [][]fn.Value{{fn.Int(7), fn.Str("ab")}, {fn.Null(), fn.Str("x")}, {fn.Int(-1), fn.Str("😀é")}}
	// Rows split across two Data messages, then an empty is_last.
	r.SendData(inputData("b1", encodeRows(t, inTypes, rows[:2]...), false))
	r.SendData(inputData("b1", encodeRows(t, inTypes, rows[2:]...), false), inputData("b1", nil, true))

	resp := r.AwaitResponse(t)
	if resp.GetError() != "" || resp.GetInstructionId() != "b1" || resp.GetProcessBundle() == nil {
		t.Fatalf("response = %v", resp)
	}
	out, ok := r.Output("b1")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	got := decodeRows(t, outTypes, out)
	want := [][]fn.Value{
		{fn.Str("ab#7"), fn.Str("ab#7ab#7")},
		{fn.Null(), fn.Null()},
		{fn.Str("😀é#-1"), fn.Str("😀é#-1😀é#-1")},
	}
	assertRows(t, got, want)

	close(r.Requests) // Flink ends the control stream: the worker exits cleanly.
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after the control stream ended", err)
	}
	if ids := r.WorkerIDMismatches(); len(ids) != 0 {
		t.Errorf("calls without worker_id metadata: %v", ids)
	}
	if n := r.Fetches("d1"); n != 1 {
		t.Errorf("descriptor fetched %d times, want 1", n)
	}
}

func TestDataBeforeRequestAndConcurrentBundles(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	r.descriptor(t, "d2", urnTableFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "chars", true, col(1))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, protoField("n", pbBigint), protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, protoField("c", pbString)),
	)
	startWorker(t, r)

	// A first bundle opens the data stream.
	r.Requests <- bundleRequest("warm", "d1")
	<-r.DataReady
	r.SendData(inputData("warm", nil, true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}

	// Data for b2 and b3 arrives before their requests, interleaved.
	r.SendData(inputData("b3", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("xy")}, []fn.Value{fn.Int(2), fn.Str("")}), false))
	r.SendData(inputData("b2", encodeRows(t, inTypes, []fn.Value{fn.Int(5), fn.Str("q")}), false))
	r.SendData(inputData("b3", encodeRows(t, inTypes, []fn.Value{fn.Int(3), fn.Null()}, []fn.Value{fn.Int(4), fn.Str("z")}), true))
	r.Requests <- bundleRequest("b2", "d1")
	r.Requests <- bundleRequest("b3", "d2")
	r.SendData(inputData("b2", nil, true))

	seen := map[string]*fnpb.InstructionResponse{}
	for len(seen) < 2 {
		resp := r.AwaitResponse(t)
		seen[resp.GetInstructionId()] = resp
	}
	for id, resp := range seen {
		if resp.GetError() != "" {
			t.Fatalf("%s: %s", id, resp.GetError())
		}
	}
	out2, _ := r.Output("b2")
	assertRows(t, decodeRows(t, outTypes, out2), [][]fn.Value{{fn.Str("q#5"), fn.Str("q#5q#5")}})

	out3, _ := r.Output("b3")
	// chars: x, y, end | end | end | z, end
	got := decodeRows(t, []fn.Type{fn.String()}, out3)
	want := [][]fn.Value{{fn.Str("x")}, {fn.Str("y")}, nil, nil, nil, {fn.Str("z")}, nil}
	assertRows(t, got, want)
}

func TestFailingBundleKeepsWorker(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	r.descriptor(t, "bad", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf("no.such", "fn", false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	r.descriptor(t, "mismatch", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "twice", false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	w := startWorker(t, r)

	r.Requests <- bundleRequest("b1", "d1")
	<-r.DataReady
	r.SendData(inputData("b1", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("ok")}, []fn.Value{fn.Int(2), fn.Str("boom")}), true))
	resp := r.AwaitResponse(t)
	for _, want := range []string{"flinkfn.test.label", "input row 1", "boom requested", "s = column s: boom"} {
		if !strings.Contains(resp.GetError(), want) {
			t.Errorf("error %q does not contain %q", resp.GetError(), want)
		}
	}

	r.Requests <- bundleRequest("b2", "bad")
	resp = r.AwaitResponse(t)
	for _, want := range []string{"unknown function no.such.fn", "Registered: flinkfn.test: chars, label, twice"} {
		if !strings.Contains(resp.GetError(), want) {
			t.Errorf("error %q does not contain %q", resp.GetError(), want)
		}
	}

	r.Requests <- bundleRequest("b3", "mismatch")
	resp = r.AwaitResponse(t)
	for _, want := range []string{"flinkfn.test.twice", "argument 0 (s)", "expected VARCHAR", "got BIGINT"} {
		if !strings.Contains(resp.GetError(), want) {
			t.Errorf("error %q does not contain %q", resp.GetError(), want)
		}
	}

	// The worker still serves.
	r.Requests <- bundleRequest("b4", "d1")
	r.SendData(inputData("b4", encodeRows(t, inTypes, []fn.Value{fn.Int(3), fn.Str("fine")}), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatalf("bundle after failures: %s", resp.GetError())
	}
	out, _ := r.Output("b4")
	assertRows(t, decodeRows(t, outTypes, out), [][]fn.Value{{fn.Str("fine#3"), fn.Str("fine#3fine#3")}})

	w.cancel() // SIGTERM path: cancel the context
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}

func TestManyRowsNeverSplitElements(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	startWorker(t, r)
	r.Requests <- bundleRequest("big", "d1")
	<-r.DataReady
	long := strings.Repeat("x", 5000)
	var wg sync.WaitGroup
	const n = 800 // ~8 MB of output: several Data messages
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i += 100 {
			var rows [][]fn.Value
			for j := i; j < i+100; j++ {
				rows = append(rows, []fn.Value{fn.Int(int64(j)), fn.Str(long)})
			}
			r.SendData(inputData("big", encodeRows(t, inTypes, rows...), false))
		}
		r.SendData(inputData("big", nil, true))
	}()
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	wg.Wait()
	out, _ := r.Output("big")
	got := decodeRows(t, outTypes, out)
	if len(got) != n {
		t.Fatalf("%d output rows, want %d", len(got), n)
	}
	for i, row := range got {
		if want := fmt.Sprintf("%s#%d", long, i); row[0].AsString() != want {
			t.Fatalf("row %d out of order", i)
		}
	}
	msgs := r.DataMessages("big")
	if len(msgs) < 2 {
		t.Fatalf("expected output in several Data messages, got %d", len(msgs))
	}
	total := 0
	for _, m := range msgs {
		total += len(decodeRows(t, outTypes, m)) // each message decodes on its own
	}
	if total != n {
		t.Fatalf("per-message decode found %d rows, want %d", total, n)
	}
}

func assertRows(t *testing.T, got, want [][]fn.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
		}
		for j := range want[i] {
			if !got[i][j].Equal(want[i][j]) {
				t.Fatalf("row %d field %d: got %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestControlEndCancelsOutstandingBundles(t *testing.T) {
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "d1")
	w := startWorker(t, r)
	r.Requests <- bundleRequest("stuck", "d1")
	<-r.DataReady
	r.SendData(inputData("stuck", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("a")}), false)) // never is_last
	time.Sleep(50 * time.Millisecond)
	close(r.Requests)
	if err := w.wait(t); err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

// Flink waits for a data client before it looks at the response of a
// bundle, so a bundle whose setup fails must still connect the data plane.
func TestSetupFailureStillConnectsData(t *testing.T) {
	r := newFakeRunner(t)
	r.descriptor(t, "bad", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf("no.such", "fn", false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	startWorker(t, r)
	r.Requests <- bundleRequest("b1", "bad")
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "unknown function no.such.fn") {
		t.Fatalf("response %v", resp)
	}
	select {
	case <-r.DataReady:
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not connect the data stream for a failed bundle")
	}
}

// A control stream that breaks (not ended by Flink) fails the session:
// Run returns the error, so the worker exits non-zero and a pool records
// the session as failed.
func TestBrokenControlStreamIsAnError(t *testing.T) {
	r := newFakeRunner(t)
	w := startWorker(t, r)
	r.BreakControl()
	err := w.wait(t)
	if err == nil || !strings.Contains(err.Error(), "control stream broke") || !strings.Contains(err.Error(), "broken on purpose") {
		t.Fatalf("Run returned %v, want the control stream's error", err)
	}
}
