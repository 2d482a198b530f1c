package fnharness

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// TestOpenBeforeFirstRowRetriedAndClosed: a function with an Open hook is
// opened when a bundle first plans its operator (not for operators that
// never call it), a failed open fails that bundle only, the next bundle
// opens again, and the session's end closes what was opened, once.
func TestOpenBeforeFirstRowRetriedAndClosed(t *testing.T) {
	var opens, closes atomic.Int32
	reg := testRegistry(t)
	err := reg.Register(fn.Function{
		Module: testModule, Name: "bang", Kind: fn.Scalar,
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
		Open: func(ctx context.Context) (fn.Opened, error) {
			if opens.Add(1) == 1 {
				return fn.Opened{}, errors.New("model not there yet")
			}
			return fn.Opened{
				EvalBatch: func(_ context.Context, rows [][]fn.Value, out []fn.Value) error {
					for i, r := range rows {
						out[i] = fn.Str(r[0].AsString() + "!")
					}
					return nil
				},
				Close: func() { closes.Add(1) },
			}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := newFakeRunner(t)
	scalarDescriptor(t, r, "plain") // label and twice: no Open
	r.descriptor(t, "d", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "bang", false, col(0))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	w := startWorkerWith(t, r, reg)

	r.Requests <- bundleRequest("p", "plain")
	<-r.DataReady
	r.SendData(inputData("p", encodeRows(t, inTypes, []fn.Value{fn.Int(1), fn.Str("a")}), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	if n := opens.Load(); n != 0 {
		t.Fatalf("Open called %d times for an operator that does not call the function", n)
	}

	in := []fn.Type{fn.String()}
	r.Requests <- bundleRequest("b1", "d")
	r.SendData(inputData("b1", encodeRows(t, in, []fn.Value{fn.Str("x")}), true))
	if resp := r.AwaitResponse(t); !strings.Contains(resp.GetError(), "flinkfn.test.bang: model not there yet") {
		t.Fatalf("first bundle: error %q, want the open error", resp.GetError())
	}
	r.Requests <- bundleRequest("b2", "d")
	r.SendData(inputData("b2", encodeRows(t, in, []fn.Value{fn.Str("x")}, []fn.Value{fn.Str("y")}), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatalf("second bundle: %s", resp.GetError())
	}
	out, _ := r.Output("b2")
	assertRows(t, decodeRows(t, in, out), [][]fn.Value{{fn.Str("x!")}, {fn.Str("y!")}})
	r.Requests <- bundleRequest("b3", "d")
	r.SendData(inputData("b3", encodeRows(t, in, []fn.Value{fn.Str("z")}), true))
	if resp := r.AwaitResponse(t); resp.GetError() != "" {
		t.Fatalf("third bundle: %s", resp.GetError())
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("Open called %d times, want 2 (a failure, then once for the operator)", n)
	}
	if n := closes.Load(); n != 0 {
		t.Fatalf("closed %d times before the session ended", n)
	}
	close(r.Requests)
	if err := w.wait(t); err != nil {
		t.Fatal(err)
	}
	if n := closes.Load(); n != 1 {
		t.Fatalf("closed %d times at the session's end, want 1", n)
	}
}
