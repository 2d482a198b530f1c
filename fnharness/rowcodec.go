package fnharness

import (
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// rowCodec is one side of a row operator: a Flink row coder and the
// framing its CoderInfoDescriptor asks for (framing.go).
type rowCodec struct {
	fields []fn.Field
	types  []fn.Type
	rc     *coder.RowCoder
	framing
}

const maxTypeDepth = 64

func newRowCodec(cd *flinkpb.CoderInfoDescriptor, what string) (*rowCodec, error) {
	var schema *flinkpb.Schema
	c := &rowCodec{framing: framingOf(cd)}
	switch dt := cd.GetDataType().(type) {
	case *flinkpb.CoderInfoDescriptor_FlattenRowType_:
		schema = dt.FlattenRowType.GetSchema()
	case *flinkpb.CoderInfoDescriptor_RowType_:
		schema = dt.RowType.GetSchema()
	case *flinkpb.CoderInfoDescriptor_ArrowType_:
		return nil, fmt.Errorf("%s coder is %s while the functions are row-at-a-time: Flink's pandas scalar function operator (ArrowPythonScalarFunctionOperator) sends arrow_type on both sides, and only for pandas functions; flinkfn runs only the framings Flink 1.20 and 2.3 send (is the job on another Flink version?)",
			what, c.framing)
	case *flinkpb.CoderInfoDescriptor_OverWindowArrowType_:
		return nil, fmt.Errorf("%s coder is %s, the pandas over-window aggregate's (BatchArrowPythonOverWindowAggregateFunctionOperator): flinkfn runs scalar, table and pandas scalar functions, not aggregates", what, c.framing)
	default:
		return nil, fmt.Errorf("%s coder has no row type (DataStream functions are not supported)", what)
	}
	fields, err := fieldsFromProto(schema, 0)
	if err != nil {
		return nil, fmt.Errorf("%s coder: %w", what, err)
	}
	c.fields = fields
	c.types = make([]fn.Type, len(fields))
	for i, f := range fields {
		c.types[i] = f.Type
	}
	c.rc, err = coder.NewRowCoder(c.types)
	if err != nil {
		return nil, fmt.Errorf("%s coder: %w", what, err)
	}
	return c, nil
}

func fieldsFromProto(s *flinkpb.Schema, depth int) ([]fn.Field, error) {
	out := make([]fn.Field, len(s.GetFields()))
	for i, f := range s.GetFields() {
		t, err := typeFromProto(f.GetType(), depth+1)
		if err != nil {
			return nil, fmt.Errorf("field %d (%s): %w", i, f.GetName(), err)
		}
		out[i] = fn.Field{Name: f.GetName(), Type: t}
	}
	return out, nil
}

// typeFromProto converts Flink's Schema.FieldType.
func typeFromProto(ft *flinkpb.Schema_FieldType, depth int) (fn.Type, error) {
	if ft == nil {
		return fn.Type{}, fmt.Errorf("missing type")
	}
	if depth > maxTypeDepth {
		return fn.Type{}, fmt.Errorf("type nests deeper than %d levels", maxTypeDepth)
	}
	t := fn.Type{Name: fn.TypeName(ft.GetTypeName()), Nullable: ft.GetNullable()}
	switch ft.GetTypeName() {
	case flinkpb.Schema_DECIMAL:
		t.Precision, t.Scale = int(ft.GetDecimalInfo().GetPrecision()), int(ft.GetDecimalInfo().GetScale())
	case flinkpb.Schema_TIME:
		t.Precision = int(ft.GetTimeInfo().GetPrecision())
	case flinkpb.Schema_TIMESTAMP:
		t.Precision = int(ft.GetTimestampInfo().GetPrecision())
	case flinkpb.Schema_LOCAL_ZONED_TIMESTAMP:
		t.Precision = int(ft.GetLocalZonedTimestampInfo().GetPrecision())
	case flinkpb.Schema_ZONED_TIMESTAMP:
		t.Precision = int(ft.GetZonedTimestampInfo().GetPrecision())
	case flinkpb.Schema_BINARY:
		t.Length = int(ft.GetBinaryInfo().GetLength())
	case flinkpb.Schema_VARBINARY:
		t.Length = int(ft.GetVarBinaryInfo().GetLength())
	case flinkpb.Schema_CHAR:
		t.Length = int(ft.GetCharInfo().GetLength())
	case flinkpb.Schema_VARCHAR:
		t.Length = int(ft.GetVarCharInfo().GetLength())
	case flinkpb.Schema_BASIC_ARRAY:
		e, err := typeFromProto(ft.GetCollectionElementType(), depth+1)
		if err != nil {
			return fn.Type{}, fmt.Errorf("array element: %w", err)
		}
		t.Elem = &e
	case flinkpb.Schema_MAP:
		k, err := typeFromProto(ft.GetMapInfo().GetKeyType(), depth+1)
		if err != nil {
			return fn.Type{}, fmt.Errorf("map key: %w", err)
		}
		v, err := typeFromProto(ft.GetMapInfo().GetValueType(), depth+1)
		if err != nil {
			return fn.Type{}, fmt.Errorf("map value: %w", err)
		}
		t.Key, t.Value = &k, &v
	case flinkpb.Schema_ROW:
		fs, err := fieldsFromProto(ft.GetRowSchema(), depth+1)
		if err != nil {
			return fn.Type{}, err
		}
		t.Fields = fs
	}
	return t, nil
}
