package fnharness

import (
	"testing"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// FuzzBuildPlan feeds arbitrary Flink payloads — the user transform's
// UserDefinedFunctions and the input and output CoderInfoDescriptors — into
// a Flink-shaped descriptor, and arbitrary bytes as a whole descriptor, to
// the plan builder: it must return a plan or an error, never panic, and a
// plan it returns must be complete.
func FuzzBuildPlan(f *testing.F) {
	t := &testing.T{}
	r := &fakeRunner{fakeflink.Detached("127.0.0.1:1")}
	scalarDescriptor(t, r, "scalar")
	r.descriptor(t, "table", urnTableFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "chars", true, col(1))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, protoField("n", pbBigint), protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, true, protoField("c", pbString)),
	)
	descriptors := r.Descriptors()
	template := descriptors["scalar"]
	for _, d := range descriptors {
		whole, err := proto.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d.GetTransforms()["transform"].GetSpec().GetPayload(),
			d.GetCoders()["input_coder"].GetSpec().GetPayload(),
			d.GetCoders()["output_coder"].GetSpec().GetPayload(), false, whole)
	}
	reg := testRegistry(t)
	f.Fuzz(func(t *testing.T, udfs, in, out []byte, table bool, whole []byte) {
		d := proto.Clone(template).(*fnpb.ProcessBundleDescriptor)
		d.GetTransforms()["transform"].GetSpec().Payload = udfs
		if table {
			d.GetTransforms()["transform"].GetSpec().Urn = urnTableFunction
		}
		d.GetCoders()["input_coder"].GetSpec().Payload = in
		d.GetCoders()["output_coder"].GetSpec().Payload = out
		check(t, d, reg)
		var w fnpb.ProcessBundleDescriptor
		if proto.Unmarshal(whole, &w) == nil {
			check(t, &w, reg)
		}
	})
}

func check(t *testing.T, d *fnpb.ProcessBundleDescriptor, reg *fn.Registry) {
	_ = dataURLs(d)
	p, err := buildPlan(d, reg)
	if err != nil {
		return
	}
	if p.in == nil || p.out == nil || len(p.calls) == 0 || p.source.url == "" || p.sink.url == "" {
		t.Fatalf("incomplete plan %+v", p)
	}
}
