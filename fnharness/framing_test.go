package fnharness

import (
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// outputElements splits an output into its elements, marking end messages.
func outputElements(t *testing.T, out []byte) []string {
	t.Helper()
	var got []string
	it := coder.NewElements(out)
	for it.Next() {
		if coder.IsEndMarker(it.Row()) {
			got = append(got, "END")
			continue
		}
		got = append(got, "row")
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Each framing flag of the descriptors changes what the worker does, as
// PyFlink's coders do (pyflink/fn_execution/coders.py).
func TestFramingFlags(t *testing.T) {
	in := []*flinkpb.Schema_Field{protoField("n", pbBigint), protoField("s", pbString)}
	scalarOut := []*flinkpb.Schema_Field{protoField("f0", pbString)}
	rows := [][]fn.Value{{fn.Int(1), fn.Str("a")}, {fn.Int(2), fn.Str("b")}}
	cases := []struct {
		name    string
		urn     string
		fnName  string
		in, out *flinkpb.CoderInfoDescriptor
		want    string // the output's elements, or the setup error
	}{
		{"scalar SINGLE output: one row per input", urnScalarFunction, "label",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, scalarOut...),
			"row row"},
		{"scalar MULTIPLE output without end message: the same bytes", urnScalarFunction, "label",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, scalarOut...),
			"row row"},
		{"scalar MULTIPLE output with end message: each input's result ends with it", urnScalarFunction, "label",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, scalarOut...),
			"row END row END"},
		{"SINGLE input: the same elements as MULTIPLE", urnScalarFunction, "label",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, scalarOut...),
			"row row"},
		{"table function: results then the end message per input", urnTableFunction, "chars",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, scalarOut...),
			"row END row END"},
		{"table function without end message: refused", urnTableFunction, "chars",
			rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, in...), rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, scalarOut...),
			"error: a table function's output coder must be MULTIPLE with separated_with_end_message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newFakeRunner(t)
			arg := col(0)
			if c.fnName != "label" {
				arg = col(1)
			}
			args := []*flinkpb.Input{arg}
			if c.fnName == "label" {
				args = []*flinkpb.Input{col(0), col(1)}
			}
			r.descriptor(t, "d", c.urn, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{
				udf(testModule, c.fnName, c.urn == urnTableFunction, args...)}}, c.in, c.out)
			startWorker(t, r)
			r.Requests <- bundleRequest("b", "d")
			<-r.DataReady
			r.SendData(inputData("b", encodeRows(t, inTypes, rows...), true))
			resp := r.AwaitResponse(t)
			if want, ok := strings.CutPrefix(c.want, "error: "); ok {
				if !strings.Contains(resp.GetError(), want) {
					t.Fatalf("error %q, want %q", resp.GetError(), want)
				}
				return
			}
			if resp.GetError() != "" {
				t.Fatal(resp.GetError())
			}
			out, _ := r.Output("b")
			if got := strings.Join(outputElements(t, out), " "); got != c.want {
				t.Fatalf("output elements %q, want %q", got, c.want)
			}
		})
	}
}
