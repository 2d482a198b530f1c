package fnharness

import (
	"fmt"
	"strings"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/fnharness/internal/pickle"
)

// Refusals: the Python functions flinkfn does not run (pandas functions,
// aggregates, DataStream functions). Each message names the functions as the
// job declared them (Python module and name) and says what to do instead.
// Flink repeats a worker's message at every level of its cause chain, so
// each is one short paragraph.

// URNs of the Python transforms flinkfn refuses (Flink's Constants and
// operators, flink-python 2.3.0 and 1.20).
const (
	urnGroupAggregate         = "flink:transform:stream_group_aggregate:v1"
	urnGroupTableAggregate    = "flink:transform:stream_group_table_aggregate:v1"
	urnGroupWindowAggregate   = "flink:transform:stream_group_window_aggregate:v1"
	urnArrowAggregate         = "flink:transform:aggregate_function:arrow:v1"
	urnArrowOverWindowAggr    = "flink:transform:batch_over_window_aggregate_function:arrow:v1"
	urnDataStreamStateless    = "flink:transform:ds:stateless_function:v1"
	urnDataStreamStateful     = "flink:transform:ds:stateful_function:v1"
	stockWorkerFix            = "run this job with python.executable set to a Python interpreter with PyFlink"
	aggregateUnsupportedFixes = "keep this aggregate on the stock Python worker (" + stockWorkerFix + "), or write it as a SQL aggregate over a scalar function, e.g. SUM(my_udf(x))"
)

// payloadName names the Python function a cloudpickled payload holds:
// "module.qualname", or "" when the payload does not say.
func payloadName(payload []byte) string {
	ref, err := pickle.Identify(payload)
	if err != nil || ref.QualName == "" {
		return ""
	}
	return ref.Name()
}

// udfNames names the functions of a scalar/table payload, nested calls
// included, in order and without repeats.
func udfNames(us []*flinkpb.UserDefinedFunction) []string {
	var names []string
	seen := map[string]bool{}
	var walk func(u *flinkpb.UserDefinedFunction)
	walk = func(u *flinkpb.UserDefinedFunction) {
		if n := payloadName(u.GetPayload()); n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
		for _, in := range u.GetInputs() {
			if c := in.GetUdf(); c != nil {
				walk(c)
			}
		}
	}
	for _, u := range us {
		walk(u)
	}
	return names
}

// pandasFunctions reports whether a payload holds pandas (vectorized)
// functions, and names them. A pandas operator carries only pandas
// functions; when the input coder uses Arrow batches but no function is
// marked, every function is named.
func pandasFunctions(udfs *flinkpb.UserDefinedFunctions, arrowInput bool) ([]string, bool) {
	var marked []*flinkpb.UserDefinedFunction
	var walk func(u *flinkpb.UserDefinedFunction)
	walk = func(u *flinkpb.UserDefinedFunction) {
		if u.GetIsPandasUdf() {
			marked = append(marked, u)
		}
		for _, in := range u.GetInputs() {
			if c := in.GetUdf(); c != nil {
				walk(c)
			}
		}
	}
	for _, u := range udfs.GetUdfs() {
		walk(u)
	}
	if len(marked) == 0 {
		if !arrowInput {
			return nil, false
		}
		return udfNames(udfs.GetUdfs()), true
	}
	return udfNames(marked), true
}

// isArrow reports whether a coder sends Arrow batches (pandas functions).
func isArrow(cd *flinkpb.CoderInfoDescriptor) bool {
	switch cd.GetDataType().(type) {
	case *flinkpb.CoderInfoDescriptor_ArrowType_, *flinkpb.CoderInfoDescriptor_OverWindowArrowType_:
		return true
	}
	return false
}

// pandasError refuses pandas functions; when flinkfn also does not know
// them, the unknown-function message follows, so that the user sees every
// step at once.
func pandasError(names []string, reg *fn.Registry) error {
	var b strings.Builder
	switch len(names) {
	case 0:
		b.WriteString("this operator's function is a pandas (vectorized) function")
	case 1:
		fmt.Fprintf(&b, "%s is a pandas (vectorized) function", names[0])
	default:
		fmt.Fprintf(&b, "%s are pandas (vectorized) functions", strings.Join(names, ", "))
	}
	it := "it"
	if len(names) > 1 {
		it = "them"
	}
	fmt.Fprintf(&b, `, which flinkfn runs only as a scalar function whose operator sends Arrow batches, and this operator does not: declare %s row-at-a-time, @udf(result_type=...) without func_type="pandas"; flinkfn batches rows for the model anyway.`, it)
	var unknown []*fn.UnknownFunctionError
	for _, n := range names {
		i := strings.LastIndex(n, ".")
		if i <= 0 {
			continue
		}
		if _, err := reg.Lookup(n[:i], n[i+1:]); err != nil {
			if u, ok := err.(*fn.UnknownFunctionError); ok {
				unknown = append(unknown, u)
			}
		}
	}
	if len(unknown) > 0 {
		b.WriteString(" Then: ")
		b.WriteString(fn.UnknownFunctions(unknown))
	}
	return fmt.Errorf("%s", b.String())
}

// unsupportedTransforms explains why a descriptor has no scalar or table
// function transform: it names the functions of the aggregate or DataStream
// transforms it has and says what to do; other URNs are listed.
func unsupportedTransforms(d *fnpb.ProcessBundleDescriptor, ids []string) error {
	var msgs, other []string
	for _, id := range ids {
		t := d.GetTransforms()[id]
		urn := t.GetSpec().GetUrn()
		payload := t.GetSpec().GetPayload()
		switch urn {
		case urnGroupAggregate, urnGroupTableAggregate, urnGroupWindowAggregate:
			var a flinkpb.UserDefinedAggregateFunctions
			var names []string
			if proto.Unmarshal(payload, &a) == nil {
				for _, u := range a.GetUdfs() {
					names = append(names, payloadName(u.GetPayload()))
				}
			}
			what := "a Python aggregate function (UDAF)"
			switch urn {
			case urnGroupTableAggregate:
				what = "a Python table aggregate function (UDTAGG)"
			case urnGroupWindowAggregate:
				what = "a Python window aggregate function (UDAF)"
			}
			msgs = append(msgs, fmt.Sprintf("%s: %s, which flinkfn does not support: %s.",
				namesOr(names, "this operator"), what, aggregateUnsupportedFixes))
		case urnArrowAggregate, urnArrowOverWindowAggr:
			var u flinkpb.UserDefinedFunctions
			var names []string
			if proto.Unmarshal(payload, &u) == nil {
				names = udfNames(u.GetUdfs())
			}
			msgs = append(msgs, fmt.Sprintf("%s: a pandas aggregate function (UDAF), which flinkfn does not support: %s.",
				namesOr(names, "this operator"), aggregateUnsupportedFixes))
		case urnDataStreamStateless, urnDataStreamStateful:
			var f flinkpb.UserDefinedDataStreamFunction
			name := ""
			if proto.Unmarshal(payload, &f) == nil {
				name = payloadName(f.GetPayload())
			}
			if strings.HasPrefix(name, "pyflink.") {
				name = "" // PyFlink's own adapter around the user's function
			}
			msgs = append(msgs, fmt.Sprintf("%s: a DataStream API Python function (map, flat_map, process, …), which flinkfn does not support: it runs Table API/SQL scalar and table functions only; %s.",
				namesOr([]string{name}, "this operator"), stockWorkerFix))
		default:
			other = append(other, urn)
		}
	}
	if len(msgs) == 0 {
		return fmt.Errorf("descriptor %s has no transform flinkfn can run (found %s); flinkfn runs %s and %s",
			d.GetId(), strings.Join(other, ", "), urnScalarFunction, urnTableFunction)
	}
	return fmt.Errorf("%s", strings.Join(msgs, " "))
}

func namesOr(names []string, none string) string {
	var kept []string
	seen := map[string]bool{}
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		return none
	}
	return strings.Join(kept, ", ")
}
