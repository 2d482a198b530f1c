package fnharness

import (
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// This file holds what each coder's CoderInfoDescriptor flags mean and which
// combinations Flink's Python operators send.
//
// What Flink sends (flink-python, the same code and line numbers in 1.20.3
// and 2.3.0, read from the released jars' bytecode; paths under
// flink-python/src/main/java/org/apache/flink/table/runtime/operators/python/):
//
//	operator (URN)                  input coder                          output coder
//	scalar/PythonScalarFunction-    flatten_row_type, or row_type when   flatten_row_type
//	Operator.java                   a function takes_row_as_input;       SINGLE, end message false
//	(scalar_function:v1)            MULTIPLE, end message false (:78-84) (:90)
//	table/PythonTableFunction-      flatten_row_type, or row_type when   flatten_row_type
//	Operator.java                   the function takes_row_as_input;     MULTIPLE, end message true
//	(table_function:v1)             MULTIPLE, end message true (:141-146) (:153)
//	scalar/arrow/ArrowPythonScalar- arrow_type                           arrow_type
//	FunctionOperator.java (pandas;  MULTIPLE, end message false (:79)    SINGLE, end message false (:86)
//	scalar_function:v1)
//
// The MiniCluster tests (TableFunctionTest, SelectFeaturesTest, PandasTest)
// receive exactly these on Flink 1.20.3 and 2.3.0, row_type input being the
// Table.map case (takes_row_as_input).
//
// (Not run by flinkfn: the stream aggregate operators send row_type MULTIPLE
// false both ways, the Arrow aggregate operators arrow_type MULTIPLE false
// in and SINGLE false out, the batch over-window one over_window_arrow_type.)
//
// How Flink reads the output: the scalar operators take exactly one element
// per input row (or input Arrow batch) and give the result the input row's
// row kind (PythonScalarFunctionOperator.emitResult, :104-111); the table
// function operator joins elements to the input row, again with the input's
// row kind (:191-214), until an element of length 1 holding 0x00
// (isFinishResult, :218).
//
// What each flag means, as PyFlink's worker reads it (pyflink/fn_execution,
// identical in 1.20 and 2.3; line numbers of the 2.3.0 wheel). On the wire
// every element is varint(len) ‖ bytes (beam/beam_stream_fast.pyx:60-72).
//
//   - mode SINGLE is ValueCoder (coders.py:70-71): on output, one element
//     per input element (a scalar result row, or one Arrow batch;
//     coder_impl_fast.pyx:295-297). On input it would hand the operation a
//     single decoded row, whose fields FunctionOperation.process then
//     iterates as if they were input rows (beam/beam_operations_fast.pyx:
//     182-185).
//   - mode MULTIPLE is IterableCoder (coders.py:72-73): on input, every
//     element of the Data chunk is one row (or one Arrow batch); on output,
//     zero or more elements per input element, each a result row
//     (coder_impl_fast.pyx:270-274).
//   - separated_with_end_message (MULTIPLE only): on output, after each input
//     element's results the end message, written as the element 0x01 0x00
//     (varint length 1, then the byte 0x00; coder_impl_fast.pyx:276-278).
//     On input it has no effect: the decoder ignores it (:280-281) and Flink
//     writes no end messages into the input.
//   - flatten_row_type is FlattenRowCoder: the row header's row-kind bits
//     are written as 0 (INSERT, coder_impl_fast.pyx:333) and skipped on read
//     (:349-352).
//   - row_type is RowCoder: the header's row kind belongs to the row (a
//     function that takes the row as input sees it, coder_impl_fast.pyx:
//     419-422); on output it would be the result's own row kind, which
//     flinkfn's functions do not produce.
//   - arrow_type is ArrowCoder: each element is one Arrow IPC stream with one
//     record batch.
//
// flinkfn acts on every flag as above and refuses, naming it, any
// combination Flink does not send for the operator, instead of guessing: for
// example a scalar output in MULTIPLE mode, which PyFlink would encode by
// iterating the result row's columns as if they were rows.

// operatorKind is the Flink operator a descriptor comes from.
type operatorKind int

const (
	opScalar operatorKind = iota
	opTable
	opPandas
)

func (k operatorKind) String() string {
	switch k {
	case opTable:
		return "table function operator (PythonTableFunctionOperator)"
	case opPandas:
		return "pandas scalar function operator (ArrowPythonScalarFunctionOperator)"
	default:
		return "scalar function operator (PythonScalarFunctionOperator)"
	}
}

// coderType is a CoderInfoDescriptor's data_type.
type coderType int

const (
	coderNone coderType = iota
	coderFlattenRow
	coderRow
	coderArrow
	coderOverWindowArrow
)

func (t coderType) String() string {
	switch t {
	case coderFlattenRow:
		return "flatten_row_type"
	case coderRow:
		return "row_type"
	case coderArrow:
		return "arrow_type"
	case coderOverWindowArrow:
		return "over_window_arrow_type"
	default:
		return "no data type"
	}
}

// framing is what one CoderInfoDescriptor says about the elements.
type framing struct {
	typ        coderType
	multiple   bool // mode MULTIPLE (IterableCoder), else SINGLE (ValueCoder)
	endMessage bool // separated_with_end_message
}

func framingOf(cd *flinkpb.CoderInfoDescriptor) framing {
	f := framing{
		multiple:   cd.GetMode() == flinkpb.CoderInfoDescriptor_MULTIPLE,
		endMessage: cd.GetSeparatedWithEndMessage(),
	}
	switch cd.GetDataType().(type) {
	case *flinkpb.CoderInfoDescriptor_FlattenRowType_:
		f.typ = coderFlattenRow
	case *flinkpb.CoderInfoDescriptor_RowType_:
		f.typ = coderRow
	case *flinkpb.CoderInfoDescriptor_ArrowType_:
		f.typ = coderArrow
	case *flinkpb.CoderInfoDescriptor_OverWindowArrowType_:
		f.typ = coderOverWindowArrow
	}
	return f
}

func (f framing) String() string {
	mode := "SINGLE"
	if f.multiple {
		mode = "MULTIPLE"
	}
	return fmt.Sprintf("%s, mode %s, separated_with_end_message %v", f.typ, mode, f.endMessage)
}

// rowKind reports whether a row's header carries its row kind (row_type);
// with flatten_row_type it is skipped on read and written as INSERT.
func (f framing) rowKind() bool { return f.typ == coderRow }

// endOfInput reports whether each input element's results end with the
// end message (IterableCoderImpl with separated_with_end_message).
func (f framing) endOfInput() bool { return f.multiple && f.endMessage }

// flinkFraming returns the input coder flags (data types allowed) and the
// output coder flags Flink's operator of kind k sends; see the table above.
func flinkFraming(k operatorKind) (inTypes []coderType, in, out framing) {
	switch k {
	case opTable:
		return []coderType{coderFlattenRow, coderRow},
			framing{multiple: true, endMessage: true},
			framing{typ: coderFlattenRow, multiple: true, endMessage: true}
	case opPandas:
		return []coderType{coderArrow},
			framing{multiple: true},
			framing{typ: coderArrow}
	default:
		return []coderType{coderFlattenRow, coderRow},
			framing{multiple: true},
			framing{typ: coderFlattenRow}
	}
}

// checkFraming refuses input and output coders whose flags are not the ones
// Flink's operator of kind k sends: flinkfn would have to guess what the
// combination means to Flink's side.
func checkFraming(k operatorKind, in, out framing) error {
	inTypes, wantIn, wantOut := flinkFraming(k)
	typeOK := false
	for _, t := range inTypes {
		typeOK = typeOK || in.typ == t
	}
	if !typeOK || in.multiple != wantIn.multiple || in.endMessage != wantIn.endMessage {
		wantIn.typ = inTypes[0]
		alt := ""
		if len(inTypes) > 1 {
			alt = fmt.Sprintf(" (or %s)", inTypes[1])
		}
		return fmt.Errorf("input coder is %s, but Flink's %s sends %s%s; flinkfn runs only the framings Flink 1.20 and 2.3 send (is the job on another Flink version?)",
			in, k, wantIn, alt)
	}
	if out != wantOut {
		return fmt.Errorf("output coder is %s, but Flink's %s sends %s; flinkfn runs only the framings Flink 1.20 and 2.3 send (is the job on another Flink version?)",
			out, k, wantOut)
	}
	return nil
}
