package fnharness

import (
	"bytes"
	"context"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

// The descriptor flags, one test each: what the worker does with every value
// Flink sends (framing.go) and the clear refusal of every value it does not.

const (
	single   = flinkpb.CoderInfoDescriptor_SINGLE
	multiple = flinkpb.CoderInfoDescriptor_MULTIPLE
)

// Flink's descriptors (PythonScalarFunctionOperator, PythonTableFunctionOperator,
// ArrowPythonScalarFunctionOperator in 1.20.3 and 2.3.0).
func scalarIn() *flinkpb.CoderInfoDescriptor {
	return rowCoderDesc(multiple, false, protoField("n", pbBigint), protoField("s", pbString))
}
func scalarOut() *flinkpb.CoderInfoDescriptor {
	return rowCoderDesc(single, false, protoField("f0", pbString))
}
func tableIn() *flinkpb.CoderInfoDescriptor {
	return rowCoderDesc(multiple, true, protoField("n", pbBigint), protoField("s", pbString))
}
func tableOut() *flinkpb.CoderInfoDescriptor {
	return rowCoderDesc(multiple, true, protoField("c", pbString))
}
func pandasIn() *flinkpb.CoderInfoDescriptor {
	return arrowCoderDesc(multiple, protoField("s", pbString))
}
func pandasOut() *flinkpb.CoderInfoDescriptor {
	return arrowCoderDesc(single, protoField("f0", pbString))
}

func withFlags(cd *flinkpb.CoderInfoDescriptor, mode flinkpb.CoderInfoDescriptor_Mode, sep bool) *flinkpb.CoderInfoDescriptor {
	cd.Mode, cd.SeparatedWithEndMessage = mode, sep
	return cd
}

// asRowType turns a flatten_row_type descriptor into a row_type one.
func asRowType(cd *flinkpb.CoderInfoDescriptor) *flinkpb.CoderInfoDescriptor {
	cd.DataType = &flinkpb.CoderInfoDescriptor_RowType_{RowType: &flinkpb.CoderInfoDescriptor_RowType{
		Schema: cd.GetFlattenRowType().GetSchema()}}
	return cd
}

var (
	scalarUDFs = &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "twice", false, col(1))}}
	tableUDFs  = &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "chars", true, col(1))}}
	pandasUDFs = &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{pandasUDF(testModule, "twice", col(0))}}
)

// framingError builds a plan from the descriptors and returns its error.
func framingError(t *testing.T, urn string, udfs *flinkpb.UserDefinedFunctions, in, out *flinkpb.CoderInfoDescriptor) string {
	t.Helper()
	return planErrorOf(t, fakeflink.BuildDescriptor("localhost:1", "d", urn, mustMarshal(t, udfs), mustMarshal(t, in), mustMarshal(t, out)))
}

func mustPlan(t *testing.T, urn string, udfs *flinkpb.UserDefinedFunctions, in, out *flinkpb.CoderInfoDescriptor) {
	t.Helper()
	d := fakeflink.BuildDescriptor("localhost:1", "d", urn, mustMarshal(t, udfs), mustMarshal(t, in), mustMarshal(t, out))
	if _, err := buildPlan(d, testRegistry(t)); err != nil {
		t.Fatalf("Flink's own descriptors refused: %v", err)
	}
}

// runOne runs one bundle of input elements through a descriptor and
// returns the output bytes.
func runOne(t *testing.T, reg *fn.Registry, urn string, udfs *flinkpb.UserDefinedFunctions, in, out *flinkpb.CoderInfoDescriptor, input []byte) []byte {
	t.Helper()
	r := newFakeRunner(t)
	r.descriptor(t, "d", urn, udfs, in, out)
	startWorkerWith(t, r, reg)
	r.Requests <- bundleRequest("b", "d")
	<-r.DataReady
	r.SendData(inputData("b", input, true))
	resp := r.AwaitResponse(t)
	if resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	data, ok := r.Output("b")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	return data
}

// elements frames rows of one STRING column as PyFlink's
// FlattenRowCoder + LengthPrefix stream writes them; "END" is the end
// message.
func elements(t *testing.T, kind fn.RowKind, rows ...string) []byte {
	t.Helper()
	rc, err := coder.NewRowCoder([]fn.Type{fn.String()})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, s := range rows {
		if s == "END" {
			b = coder.AppendEndMarker(b)
			continue
		}
		if b, err = rc.AppendElement(b, kind, []fn.Value{fn.Str(s)}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func twoColumnInput(t *testing.T, kind fn.RowKind, rows ...[]fn.Value) []byte {
	t.Helper()
	rc, err := coder.NewRowCoder(inTypes)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, r := range rows {
		if b, err = rc.AppendElement(b, kind, r); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// mode on the input coder: MULTIPLE is every element a row; SINGLE (which
// PyFlink would hand over as one row whose fields it then iterates as rows)
// is refused.
func TestFramingInputMode(t *testing.T) {
	in := twoColumnInput(t, fn.Insert, []fn.Value{fn.Int(1), fn.Str("ab")}, []fn.Value{fn.Int(2), fn.Str("c")})
	got := runOne(t, testRegistry(t), urnScalarFunction, scalarUDFs, scalarIn(), scalarOut(), in)
	if want := elements(t, fn.Insert, "abab", "cc"); !bytes.Equal(got, want) {
		t.Errorf("MULTIPLE input: output % x, want % x", got, want)
	}

	msg := framingError(t, urnScalarFunction, scalarUDFs, withFlags(scalarIn(), single, false), scalarOut())
	wantPhrases(t, msg, "input coder is flatten_row_type, mode SINGLE, separated_with_end_message false",
		"scalar function operator (PythonScalarFunctionOperator) sends flatten_row_type, mode MULTIPLE, separated_with_end_message false (or row_type)",
		"Flink 1.20 and 2.3")
	msg = framingError(t, urnTableFunction, tableUDFs, withFlags(tableIn(), single, true), tableOut())
	wantPhrases(t, msg, "input coder is flatten_row_type, mode SINGLE, separated_with_end_message true",
		"table function operator (PythonTableFunctionOperator) sends flatten_row_type, mode MULTIPLE, separated_with_end_message true")
	msg = framingError(t, urnScalarFunction, pandasUDFs, withFlags(pandasIn(), single, false), pandasOut())
	wantPhrases(t, msg, "input coder is arrow_type, mode SINGLE",
		"pandas scalar function operator (ArrowPythonScalarFunctionOperator) sends arrow_type, mode MULTIPLE, separated_with_end_message false")
}

// separated_with_end_message on the input coder: Flink sets it for a table
// function and not for a scalar one; it changes no input bytes (Flink
// writes no end messages into the input, PyFlink's decoder ignores the
// flag), and the other value is refused.
func TestFramingInputEndMessage(t *testing.T) {
	mustPlan(t, urnScalarFunction, scalarUDFs, scalarIn(), scalarOut())
	mustPlan(t, urnTableFunction, tableUDFs, tableIn(), tableOut())
	mustPlan(t, urnScalarFunction, pandasUDFs, pandasIn(), pandasOut())

	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, withFlags(scalarIn(), multiple, true), scalarOut()),
		"input coder is flatten_row_type, mode MULTIPLE, separated_with_end_message true", "sends flatten_row_type, mode MULTIPLE, separated_with_end_message false")
	wantPhrases(t, framingError(t, urnTableFunction, tableUDFs, withFlags(tableIn(), multiple, false), tableOut()),
		"input coder is flatten_row_type, mode MULTIPLE, separated_with_end_message false", "sends flatten_row_type, mode MULTIPLE, separated_with_end_message true")
	wantPhrases(t, framingError(t, urnScalarFunction, pandasUDFs, withFlags(pandasIn(), multiple, true), pandasOut()),
		"input coder is arrow_type, mode MULTIPLE, separated_with_end_message true")

	// The table function's input: rows only, read the same way.
	in := twoColumnInput(t, fn.Insert, []fn.Value{fn.Int(1), fn.Str("ab")}, []fn.Value{fn.Int(2), fn.Str("")})
	got := runOne(t, testRegistry(t), urnTableFunction, tableUDFs, tableIn(), tableOut(), in)
	if want := elements(t, fn.Insert, "a", "b", "END", "END"); !bytes.Equal(got, want) {
		t.Errorf("table function output % x, want % x", got, want)
	}
}

// mode on the output coder: SINGLE is one element per input row (a scalar
// function); MULTIPLE is zero or more per input row (a table function).
// A scalar function's output in MULTIPLE mode, or a table function's in
// SINGLE mode, is refused.
func TestFramingOutputMode(t *testing.T) {
	in := twoColumnInput(t, fn.Insert, []fn.Value{fn.Int(1), fn.Str("xy")}, []fn.Value{fn.Int(2), fn.Null()})
	got := runOne(t, testRegistry(t), urnScalarFunction, scalarUDFs, scalarIn(), scalarOut(), in)
	rc, _ := coder.NewRowCoder([]fn.Type{fn.String()})
	want, _ := rc.AppendElement(elements(t, fn.Insert, "xyxy"), fn.Insert, []fn.Value{fn.Null()})
	if !bytes.Equal(got, want) {
		t.Errorf("SINGLE output: % x, want % x (one element per input row, no end message)", got, want)
	}

	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, scalarIn(), withFlags(scalarOut(), multiple, true)),
		"output coder is flatten_row_type, mode MULTIPLE, separated_with_end_message true",
		"scalar function operator (PythonScalarFunctionOperator) sends flatten_row_type, mode SINGLE, separated_with_end_message false")
	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, scalarIn(), withFlags(scalarOut(), multiple, false)),
		"output coder is flatten_row_type, mode MULTIPLE, separated_with_end_message false")
	wantPhrases(t, framingError(t, urnTableFunction, tableUDFs, tableIn(), withFlags(tableOut(), single, false)),
		"output coder is flatten_row_type, mode SINGLE, separated_with_end_message false",
		"table function operator (PythonTableFunctionOperator) sends flatten_row_type, mode MULTIPLE, separated_with_end_message true")
	wantPhrases(t, framingError(t, urnScalarFunction, pandasUDFs, pandasIn(), withFlags(pandasOut(), multiple, false)),
		"output coder is arrow_type, mode MULTIPLE, separated_with_end_message false",
		"sends arrow_type, mode SINGLE, separated_with_end_message false")
}

// separated_with_end_message on the output coder: with MULTIPLE, each
// input row's results end with the element 0x01 0x00 (also when there are
// none); a table function without it (Flink could not tell where one
// input's results end), or a SINGLE output with it, is refused.
func TestFramingOutputEndMessage(t *testing.T) {
	in := twoColumnInput(t, fn.Insert, []fn.Value{fn.Int(1), fn.Null()}, []fn.Value{fn.Int(2), fn.Str("pq")}, []fn.Value{fn.Int(3), fn.Str("")})
	got := runOne(t, testRegistry(t), urnTableFunction, tableUDFs, tableIn(), tableOut(), in)
	want := elements(t, fn.Insert, "END", "p", "q", "END", "END")
	if !bytes.Equal(got, want) {
		t.Errorf("output % x, want % x", got, want)
	}
	if !bytes.HasPrefix(got, []byte{0x01, 0x00}) {
		t.Errorf("the end message is not the element 0x01 0x00: % x", got)
	}

	wantPhrases(t, framingError(t, urnTableFunction, tableUDFs, tableIn(), withFlags(tableOut(), multiple, false)),
		"output coder is flatten_row_type, mode MULTIPLE, separated_with_end_message false",
		"sends flatten_row_type, mode MULTIPLE, separated_with_end_message true")
	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, scalarIn(), withFlags(scalarOut(), single, true)),
		"output coder is flatten_row_type, mode SINGLE, separated_with_end_message true")
	wantPhrases(t, framingError(t, urnScalarFunction, pandasUDFs, pandasIn(), withFlags(pandasOut(), single, true)),
		"output coder is arrow_type, mode SINGLE, separated_with_end_message true")
}

// The data type's row kind: row_type input (Flink sends it when a function
// takes the row as input) gives the function the row's kind;
// flatten_row_type input skips it (PyFlink's FlattenRowCoder), so the same
// bytes reach the function as INSERT rows. Outputs are flatten_row_type
// with the kind written as INSERT whatever the input's (Flink's operators
// give the result the input row's kind); a row_type output is refused.
func TestFramingRowKind(t *testing.T) {
	reg := testRegistry(t)
	err := reg.Register(fn.Function{
		Module: testModule, Name: "kind_of", Kind: fn.Scalar,
		Params: []fn.Param{{Name: "row", Accepts: fn.OneOf(fn.ROW)}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR), &testString),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			return fn.Str(a[0].RowKind().String()), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	kindOf := udf(testModule, "kind_of", false)
	kindOf.TakesRowAsInput = true
	udfs := &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{kindOf}}
	in := twoColumnInput(t, fn.UpdateBefore, []fn.Value{fn.Int(1), fn.Str("a")})
	in = append(in, twoColumnInput(t, fn.Delete, []fn.Value{fn.Int(2), fn.Str("b")})...)

	got := runOne(t, reg, urnScalarFunction, udfs, asRowType(scalarIn()), scalarOut(), in)
	if want := elements(t, fn.Insert, fn.UpdateBefore.String(), fn.Delete.String()); !bytes.Equal(got, want) {
		t.Errorf("row_type input: output % x, want % x (the rows' kinds, each result written as INSERT)", got, want)
	}
	got = runOne(t, reg, urnScalarFunction, udfs, scalarIn(), scalarOut(), in)
	if want := elements(t, fn.Insert, fn.Insert.String(), fn.Insert.String()); !bytes.Equal(got, want) {
		t.Errorf("flatten_row_type input: output % x, want % x (kinds skipped)", got, want)
	}
	// A table function over row_type input: results written as INSERT.
	got = runOne(t, testRegistry(t), urnTableFunction, tableUDFs, asRowType(tableIn()), tableOut(), in)
	if want := elements(t, fn.Insert, "a", "END", "b", "END"); !bytes.Equal(got, want) {
		t.Errorf("table function over row_type input: output % x, want % x", got, want)
	}

	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, scalarIn(), asRowType(scalarOut())),
		"output coder is row_type, mode SINGLE, separated_with_end_message false", "sends flatten_row_type, mode SINGLE")
	wantPhrases(t, framingError(t, urnTableFunction, tableUDFs, tableIn(), asRowType(tableOut())),
		"output coder is row_type, mode MULTIPLE, separated_with_end_message true", "sends flatten_row_type, mode MULTIPLE")
}

// arrow_type on one side only, with row-at-a-time functions: refused,
// naming what Flink sends.
func TestFramingArrowOnOneSide(t *testing.T) {
	wantPhrases(t, framingError(t, urnScalarFunction, scalarUDFs, scalarIn(), pandasOut()),
		"output coder is arrow_type, mode SINGLE, separated_with_end_message false while the functions are row-at-a-time",
		"ArrowPythonScalarFunctionOperator) sends arrow_type on both sides")
}
