package fnharness

import (
	"testing"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/fnharness/internal/pickle"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// fakeRunner is the in-process stand-in for Flink's side of the Fn API
// (internal/fakeflink), with the descriptor helper that marshals this
// package's flinkpb payloads.
type fakeRunner struct{ *fakeflink.Runner }

const testWorkerID = "1-1"

func newFakeRunner(t *testing.T) *fakeRunner {
	t.Helper()
	return &fakeRunner{fakeflink.New(t, testWorkerID)}
}

// descriptor adds a Flink-shaped descriptor: gRPC read → user transform
// → gRPC write, with Flink's coder wrapped as Flink's runner wraps it.
func (r *fakeRunner) descriptor(t *testing.T, id, urn string, udfs *flinkpb.UserDefinedFunctions, in, out *flinkpb.CoderInfoDescriptor) *fnpb.ProcessBundleDescriptor {
	t.Helper()
	return r.Descriptor(id, urn, mustMarshal(t, udfs), mustMarshal(t, in), mustMarshal(t, out))
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func protoField(name string, t *flinkpb.Schema_FieldType) *flinkpb.Schema_Field {
	return &flinkpb.Schema_Field{Name: name, Type: t}
}

var (
	pbBigint = &flinkpb.Schema_FieldType{TypeName: flinkpb.Schema_BIGINT, Nullable: true}
	pbString = &flinkpb.Schema_FieldType{TypeName: flinkpb.Schema_VARCHAR, Nullable: true,
		TypeInfo: &flinkpb.Schema_FieldType_VarCharInfo{VarCharInfo: &flinkpb.Schema_VarCharInfo{Length: fn.MaxLength}}}
)

func rowCoderDesc(mode flinkpb.CoderInfoDescriptor_Mode, sep bool, fields ...*flinkpb.Schema_Field) *flinkpb.CoderInfoDescriptor {
	return &flinkpb.CoderInfoDescriptor{
		DataType: &flinkpb.CoderInfoDescriptor_FlattenRowType_{FlattenRowType: &flinkpb.CoderInfoDescriptor_FlattenRowType{
			Schema: &flinkpb.Schema{Fields: fields}}},
		Mode:                    mode,
		SeparatedWithEndMessage: sep,
	}
}

func udf(module, name string, table bool, inputs ...*flinkpb.Input) *flinkpb.UserDefinedFunction {
	return &flinkpb.UserDefinedFunction{Payload: pickle.ByReference(module, name, table), Inputs: inputs}
}

func col(i int32) *flinkpb.Input {
	return &flinkpb.Input{Input: &flinkpb.Input_InputOffset{InputOffset: i}}
}

// encodeRows frames rows as Flink sends them: varint(len) ‖ row bytes.
func encodeRows(t *testing.T, types []fn.Type, rows ...[]fn.Value) []byte {
	t.Helper()
	return fakeflink.EncodeRows(t, types, rows...)
}

// decodeRows splits framed output and decodes each element.
func decodeRows(t *testing.T, types []fn.Type, data []byte) [][]fn.Value {
	t.Helper()
	return fakeflink.DecodeRows(t, types, data)
}

// The payloads fakeflink builds without flinkpb (for tests outside
// fnharness, e.g. the pool's) are the ones flinkpb and pickle build.
func TestFakeflinkPayloadsMatchFlinkpb(t *testing.T) {
	for _, table := range []bool{false, true} {
		for _, name := range []string{"f", string(make([]byte, 300))} {
			if got, want := fakeflink.PickledFunction("m.od", name, table), pickle.ByReference("m.od", name, table); string(got) != string(want) {
				t.Fatalf("PickledFunction(%q, table=%v) differs from pickle.ByReference", name, table)
			}
		}
	}
	var udfs flinkpb.UserDefinedFunctions
	if err := proto.Unmarshal(fakeflink.StringUDFs(t, "m", "f"), &udfs); err != nil {
		t.Fatal(err)
	}
	wantUDFs := &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf("m", "f", false, col(0))}}
	if !proto.Equal(&udfs, wantUDFs) {
		t.Fatalf("StringUDFs = %v, want %v", &udfs, wantUDFs)
	}
	for _, multiple := range []bool{false, true} {
		var cd flinkpb.CoderInfoDescriptor
		if err := proto.Unmarshal(fakeflink.StringCoder(t, "s", multiple), &cd); err != nil {
			t.Fatal(err)
		}
		mode := flinkpb.CoderInfoDescriptor_SINGLE
		if multiple {
			mode = flinkpb.CoderInfoDescriptor_MULTIPLE
		}
		if want := rowCoderDesc(mode, false, protoField("s", pbString)); !proto.Equal(&cd, want) {
			t.Fatalf("StringCoder(multiple=%v) = %v, want %v", multiple, &cd, want)
		}
	}
}
