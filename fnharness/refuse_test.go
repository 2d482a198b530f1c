package fnharness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// realPayload reads a payload PyFlink 2.3.0 pickled (cloudpickle 2.2.1),
// see internal/pickle/testdata/payloads.json.
func realPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "pickle", "testdata", "payloads", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func planError(t *testing.T, urn string, payload proto.Message, in *flinkpb.CoderInfoDescriptor) string {
	t.Helper()
	d := fakeflink.BuildDescriptor("localhost:1", "d", urn, mustMarshal(t, payload), mustMarshal(t, in),
		mustMarshal(t, rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString))))
	return planErrorOf(t, d)
}

func planErrorOf(t *testing.T, d *fnpb.ProcessBundleDescriptor) string {
	t.Helper()
	_, err := buildPlan(d, testRegistry(t))
	if err == nil {
		t.Fatal("buildPlan succeeded, want an error")
	}
	t.Log(err)
	return err.Error()
}

func wantPhrases(t *testing.T, msg string, phrases ...string) {
	t.Helper()
	for _, p := range phrases {
		if !strings.Contains(msg, p) {
			t.Errorf("message lacks %q:\n%s", p, msg)
		}
	}
}

var stringIn = rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("s", pbString))

func arrowIn() *flinkpb.CoderInfoDescriptor {
	return &flinkpb.CoderInfoDescriptor{DataType: &flinkpb.CoderInfoDescriptor_ArrowType_{ArrowType: &flinkpb.CoderInfoDescriptor_ArrowType{
		Schema: &flinkpb.Schema{Fields: []*flinkpb.Schema_Field{protoField("s", pbString)}}}}}
}

// A @udf defined in the job script (cloudpickled by value from __main__):
// the message explains __main__, gives the three ways out and lists the
// registered functions once, even for two unknown calls.
func TestPlanUnknownMainFunction(t *testing.T) {
	mainFunc := &flinkpb.UserDefinedFunction{Payload: realPayload(t, "cp2_main_func.pkl"), Inputs: []*flinkpb.Input{col(0)}}
	msg := planError(t, urnScalarFunction, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{
		mainFunc, udf("__main__", "shout", false, col(0)), mainFunc}}, stringIn)
	wantPhrases(t, msg,
		"unknown functions __main__.main_upper, __main__.shout:",
		"defined in the job script itself", "cannot recognise it by module",
		"FLINKFN_TEMPLATES", `"module"`, `"columns"`, `README "Embedding functions"`,
		`README "Adding a function"`, "stock Python worker", "python.executable",
		"Registered: flinkfn.test: chars, label, twice", "flinkfn functions")
	if n := strings.Count(msg, "Registered:"); n != 1 {
		t.Errorf("registered functions listed %d times:\n%s", n, msg)
	}
	if strings.Contains(msg, "udf 0") {
		t.Errorf("message carries the internal call path:\n%s", msg)
	}
}

func TestPlanUnknownNestedAndOtherErrors(t *testing.T) {
	// twice(shout(s)) plus label with a wrong argument type: both reported.
	nested := udf(testModule, "twice", false, &flinkpb.Input{Input: &flinkpb.Input_Udf{Udf: udf("__main__", "shout", false, col(0))}})
	msg := planError(t, urnScalarFunction, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{
		nested, udf(testModule, "label", false, col(0), col(0))}}, stringIn)
	wantPhrases(t, msg, "unknown function __main__.shout", "flinkfn.test.label: argument 0 (n): expected BIGINT")
}

func TestPlanPandasFunction(t *testing.T) {
	pandas := udf(testModule, "twice", false, col(0))
	pandas.IsPandasUdf = true
	msg := planError(t, urnScalarFunction, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{pandas}}, arrowIn())
	wantPhrases(t, msg, "flinkfn.test.twice is a pandas (vectorized) function", "Arrow batches",
		`@udf(result_type=...) without func_type="pandas"`, "batches rows")
	if strings.Contains(msg, "unknown function") || strings.Contains(msg, "transform") {
		t.Errorf("a known pandas function gets only the pandas message:\n%s", msg)
	}

	// Arrow input without the flag (what a pandas operator sends) still names the function.
	msg = planError(t, urnScalarFunction, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "twice", false, col(0))}}, arrowIn())
	wantPhrases(t, msg, "flinkfn.test.twice is a pandas")
}

func TestPlanPandasUnknownFunction(t *testing.T) {
	a := &flinkpb.UserDefinedFunction{Payload: realPayload(t, "cp2_main_func.pkl"), Inputs: []*flinkpb.Input{col(0)}, IsPandasUdf: true}
	b := udf(testModule, "twice", false, col(0))
	b.IsPandasUdf = true
	msg := planError(t, urnScalarFunction, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{a, b}}, arrowIn())
	wantPhrases(t, msg, "__main__.main_upper, flinkfn.test.twice are pandas (vectorized) functions",
		`func_type="pandas"`, "Then: unknown function __main__.main_upper", "job script itself")
	if strings.Contains(msg, "unknown function flinkfn.test.twice") {
		t.Errorf("a registered function is not unknown:\n%s", msg)
	}
}

func aggregatePayload(t *testing.T, pkls ...string) *flinkpb.UserDefinedAggregateFunctions {
	a := &flinkpb.UserDefinedAggregateFunctions{}
	for _, p := range pkls {
		a.Udfs = append(a.Udfs, &flinkpb.UserDefinedAggregateFunction{Payload: realPayload(t, p)})
	}
	return a
}

func TestPlanAggregateFunctions(t *testing.T) {
	for _, tc := range []struct {
		urn     string
		payload proto.Message
		want    []string
	}{
		{urnGroupAggregate, aggregatePayload(t, "cp2_class_main.pkl"),
			[]string{"__main__.MainScale: a Python aggregate function (UDAF), which flinkfn does not support"}},
		{urnGroupTableAggregate, aggregatePayload(t, "cp2_class_main.pkl"),
			[]string{"__main__.MainScale: a Python table aggregate function"}},
		{urnGroupWindowAggregate, aggregatePayload(t, "cp2_class_main.pkl", "cp2_class_main.pkl"),
			[]string{"__main__.MainScale: a Python window aggregate function"}},
		{urnArrowAggregate, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{{Payload: realPayload(t, "cp2_pandas_udaf_module_func.pkl"), IsPandasUdf: true}}},
			[]string{"pickle_fixture_mods.scalar_funcs.plain_mean: a pandas aggregate function (UDAF)"}},
		{urnGroupAggregate, &flinkpb.UserDefinedAggregateFunctions{Udfs: []*flinkpb.UserDefinedAggregateFunction{{Payload: []byte("junk")}}},
			[]string{"this operator: a Python aggregate function"}},
	} {
		msg := planError(t, tc.urn, tc.payload, stringIn)
		wantPhrases(t, msg, append(tc.want, "stock Python worker", "python.executable", "SQL aggregate over a scalar function")...)
	}
}

func TestPlanDataStreamFunction(t *testing.T) {
	payload := &flinkpb.UserDefinedDataStreamFunction{Payload: realPayload(t, "cp2_class_main.pkl")}
	msg := planError(t, urnDataStreamStateless, payload, stringIn)
	wantPhrases(t, msg, "__main__.MainScale: a DataStream API Python function", "Table API/SQL scalar and table functions only", "python.executable")
}

func TestPlanOtherTransform(t *testing.T) {
	msg := planError(t, "flink:transform:something_new:v1", &flinkpb.UserDefinedFunctions{}, stringIn)
	wantPhrases(t, msg, "has no transform flinkfn can run (found flink:transform:something_new:v1)")
}
