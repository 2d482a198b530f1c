package fnharness

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

func notNull(t fn.Type) fn.Type {
	t.Nullable = false
	return t
}

// nestedFields: a ROW column (with an ARRAY, a MAP and a NOT NULL field),
// MAP columns (NOT NULL keys, as Flink's Arrow path wants them) and an
// ARRAY of MAPs.
func nestedFields() []fn.Field {
	strInt := fn.MapOf(notNull(fn.String()), fn.Simple(fn.INT))
	return []fn.Field{
		{Name: "r", Type: fn.RowOf(
			fn.Field{Name: "a", Type: fn.Simple(fn.BIGINT)},
			fn.Field{Name: "b", Type: fn.String()},
			fn.Field{Name: "arr", Type: fn.ArrayOf(fn.Simple(fn.INT))},
			fn.Field{Name: "m", Type: strInt},
			fn.Field{Name: "n", Type: notNull(fn.Simple(fn.DOUBLE))},
		)},
		{Name: "m", Type: strInt},
		{Name: "mn", Type: fn.MapOf(notNull(fn.Simple(fn.INT)), fn.ArrayOf(fn.String()))},
		{Name: "am", Type: fn.ArrayOf(strInt)},
	}
}

func TestArrowNestedRoundTrip(t *testing.T) {
	fields := nestedFields()
	c, err := newArrowCodec(fields)
	if err != nil {
		t.Fatal(err)
	}
	// The schema Flink's readers take: a struct of the ROW's fields by
	// name and nullability, maps of NOT NULL "key" and "value".
	want := []string{
		"r: type=struct<a: int64 nullable, b: utf8 nullable, arr: list<item: int32, nullable> nullable, m: map<utf8, int32, items_nullable> nullable, n: float64>, nullable",
		"m: type=map<utf8, int32, items_nullable>, nullable",
		"mn: type=map<int32, list<item: utf8, nullable>, items_nullable>, nullable",
		"am: type=list<item: map<utf8, int32, items_nullable>, nullable>, nullable",
	}
	for i, f := range c.schema.Fields() {
		if got := f.String(); got != want[i] {
			t.Errorf("field %d: %s\nwant     %s", i, got, want[i])
		}
	}
	st := c.schema.Field(0).Type.(*arrow.StructType)
	if f := st.Field(4); f.Nullable || !st.Field(0).Nullable {
		t.Errorf("struct field nullability: %v", st.Fields())
	}
	mt := c.schema.Field(1).Type.(*arrow.MapType)
	if mt.KeyField().Name != "key" || mt.KeyField().Nullable || mt.ItemField().Name != "value" || !mt.ItemField().Nullable {
		t.Errorf("map fields: %v %v", mt.KeyField(), mt.ItemField())
	}

	i32 := func(v int64) fn.Value { return fn.Int(v) }
	m := func(kv ...any) fn.Value {
		var ks, vs []fn.Value
		for i := 0; i < len(kv); i += 2 {
			ks = append(ks, fn.Str(kv[i].(string)))
			vs = append(vs, kv[i+1].(fn.Value))
		}
		return fn.Map(ks, vs)
	}
	row := func(fs ...fn.Value) fn.Value { return fn.Row(fn.Insert, fs) }
	rows := [][]fn.Value{
		{row(fn.Int(-1), fn.Str("é"), fn.Array([]fn.Value{i32(1), fn.Null()}), m("k", i32(1), "", fn.Null()), fn.Float64(0.5)),
			m("a", i32(1), "b", fn.Null(), "a", i32(3)),
			fn.Map([]fn.Value{fn.Int(7)}, []fn.Value{fn.Array([]fn.Value{fn.Str("x"), fn.Null()})}),
			fn.Array([]fn.Value{m("z", i32(0)), fn.Null(), m()})},
		// NULLs in every nested field.
		{row(fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Float64(-0.0)), m(), fn.Map([]fn.Value{fn.Int(0)}, []fn.Value{fn.Null()}), fn.Array(nil)},
		// A whole NULL row and NULL maps.
		{fn.Null(), fn.Null(), fn.Null(), fn.Null()},
		{row(fn.Int(1<<62), fn.Str(""), fn.Array(nil), m(), fn.Float64(1)), fn.Null(), fn.Map(nil, nil), fn.Array([]fn.Value{fn.Null()})},
	}
	data, err := c.encode(nil, columns(rows), len(rows))
	if err != nil {
		t.Fatal(err)
	}
	elem := splitElements(t, data)[0]
	slab, n, err := c.decode(elem, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(rows) {
		t.Fatalf("%d rows, want %d", n, len(rows))
	}
	var got [][]fn.Value
	for r := 0; r < n; r++ {
		got = append(got, slab[r*len(fields):(r+1)*len(fields)])
	}
	// The row type has a NOT NULL field: a NULL row stays NULL.
	assertRows(t, got, rows)
	if _, err := c.encode(nil, columnsOf(slab, n, len(fields)), n); err != nil {
		t.Fatalf("decoded values do not re-encode: %v", err)
	}
}

// A NULL ROW column (of nullable fields) reaches the function as a row of
// NULL fields, as PyFlink's pandas conversion hands it to a pandas function
// (a DataFrame row of NULLs), and goes back as such a row, as the stock
// worker writes its DataFrame back: Flink gets ROW(NULL, NULL), not NULL.
func TestArrowNullRowColumnIsRowOfNulls(t *testing.T) {
	rt := fn.RowOf(fn.Field{Name: "a", Type: fn.Simple(fn.BIGINT)}, fn.Field{Name: "b", Type: fn.String()})
	c, err := newArrowCodec([]fn.Field{{Name: "r", Type: rt}, {Name: "k", Type: fn.Simple(fn.INT)}})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]fn.Value{
		{fn.Null(), fn.Int(1)},
		{fn.Row(fn.Insert, []fn.Value{fn.Int(5), fn.Null()}), fn.Null()},
	}
	data, err := c.encode(nil, columns(rows), len(rows))
	if err != nil {
		t.Fatal(err)
	}
	slab, n, err := c.decode(splitElements(t, data)[0], nil)
	if err != nil || n != 2 {
		t.Fatalf("%d rows, %v", n, err)
	}
	nullFields := fn.Row(fn.Insert, []fn.Value{fn.Null(), fn.Null()})
	assertRows(t, [][]fn.Value{slab[0:2], slab[2:4]}, [][]fn.Value{{nullFields, fn.Int(1)}, rows[1]})
	back, err := c.encode(nil, columnsOf(slab, n, 2), n)
	if err != nil {
		t.Fatal(err)
	}
	rec := readOneBatch(t, splitElements(t, back)[0])
	st := rec.Column(0)
	if st.IsNull(0) || !st.(*array.Struct).Field(0).IsNull(0) || !st.(*array.Struct).Field(1).IsNull(0) {
		t.Errorf("row 0 written back as %v, want a non-NULL struct of NULL fields", st)
	}
}

// A NULL ROW result (a Go function's NULL) is a NULL struct: Flink's
// ArrowRowColumnVector reads it as a NULL row.
func TestArrowNullRowResultIsNullStruct(t *testing.T) {
	c, err := newArrowCodec(nestedFields()[:1])
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.encode(nil, [][]fn.Value{{fn.Null()}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := readOneBatch(t, splitElements(t, data)[0])
	if !rec.Column(0).IsNull(0) {
		t.Error("a NULL ROW result was not written as a NULL struct")
	}
}

func TestArrowNestedEncodeErrors(t *testing.T) {
	c, err := newArrowCodec(nestedFields())
	if err != nil {
		t.Fatal(err)
	}
	okRow := fn.Row(fn.Insert, []fn.Value{fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Float64(1)})
	for _, tc := range []struct {
		row  []fn.Value
		want string
	}{
		{[]fn.Value{fn.Row(fn.Insert, []fn.Value{fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null()}), fn.Null(), fn.Null(), fn.Null()},
			"field n: NULL for NOT NULL DOUBLE"},
		{[]fn.Value{fn.Row(fn.Insert, []fn.Value{fn.Null()}), fn.Null(), fn.Null(), fn.Null()}, "a ROW value for ROW<"},
		{[]fn.Value{okRow, fn.Map([]fn.Value{fn.Null()}, []fn.Value{fn.Int(1)}), fn.Null(), fn.Null()}, "key 0: NULL for NOT NULL"},
		{[]fn.Value{okRow, fn.Map([]fn.Value{fn.Str("k")}, []fn.Value{fn.Str("v")}), fn.Null(), fn.Null()}, "value 0: a STRING value for INT"},
		{[]fn.Value{okRow, fn.Str("x"), fn.Null(), fn.Null()}, "a STRING value for MAP<"},
	} {
		_, err := c.encode(nil, columns([][]fn.Value{tc.row}), 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.row, err, tc.want)
		}
	}
}

// What PyFlink's own pandas worker cannot carry is refused naming why, and
// MAP keys must be NOT NULL as Flink's ArrowUtils wants them.
func TestArrowNestedRefusals(t *testing.T) {
	r := fn.RowOf(fn.Field{Name: "a", Type: fn.Simple(fn.BIGINT)})
	for _, tc := range []struct {
		t    fn.Type
		want error
	}{
		{fn.ArrayOf(r), errArrowNested},
		{fn.RowOf(fn.Field{Name: "inner", Type: r}), errArrowNested},
		{fn.RowOf(fn.Field{Name: "ts", Type: fn.Type{Name: fn.LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 3}}), errArrowNested},
		{fn.ArrayOf(fn.ArrayOf(r)), errArrowNested},
		{fn.MapOf(fn.String(), fn.Simple(fn.INT)), errArrowMapKey},
		{fn.MapOf(notNull(fn.String()), fn.MapOf(fn.Simple(fn.INT), fn.Simple(fn.INT))), errArrowMapKey},
	} {
		_, err := newArrowCodec([]fn.Field{{Name: "c", Type: tc.t}})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.t, err, tc.want)
		}
	}
	// A ROW as a MAP value is what to_arrow_type allows.
	if _, err := newArrowCodec([]fn.Field{{Name: "c", Type: fn.MapOf(notNull(fn.String()), r)}}); err != nil {
		t.Errorf("MAP<STRING NOT NULL, ROW>: %v", err)
	}
}

func TestPandasArrayOfRowRefusedAtDescriptor(t *testing.T) {
	row := ptype(flinkpb.Schema_ROW, true)
	row.TypeInfo = &flinkpb.Schema_FieldType_RowSchema{RowSchema: &flinkpb.Schema{Fields: []*flinkpb.Schema_Field{protoField("a", pbBigint)}}}
	arr := ptype(flinkpb.Schema_BASIC_ARRAY, true)
	arr.TypeInfo = &flinkpb.Schema_FieldType_CollectionElementType{CollectionElementType: row}
	d := fakeflink.BuildDescriptor("localhost:1", "d", urnScalarFunction,
		mustMarshal(t, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{pandasUDF(testModule, "twice", col(1))}}),
		mustMarshal(t, arrowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, protoField("ar", arr), protoField("s", pbString))),
		mustMarshal(t, arrowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, protoField("f0", pbString))))
	msg := planErrorOf(t, d)
	wantPhrases(t, msg, "pandas function flinkfn.test.twice", "input column ar (ARRAY<ROW<", "array element ROW<",
		"to_arrow_type refuses a ROW as an ARRAY element", `without func_type="pandas"`)
}

// readOneBatch reads an element's record batch with arrow-go alone.
func readOneBatch(t *testing.T, elem []byte) arrow.RecordBatch {
	t.Helper()
	rd, err := ipc.NewReader(bytes.NewReader(elem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Release)
	if !rd.Next() {
		t.Fatalf("no record batch: %v", rd.Err())
	}
	return rd.RecordBatch()
}

// A MAP argument is refused (Flink's MapWriter loses the entries of every
// Arrow batch after the first); a MAP result, which Flink's reader takes,
// is not.
func TestPandasMapArgumentRefusedMapResultTaken(t *testing.T) {
	m := ptype(flinkpb.Schema_MAP, true)
	m.TypeInfo = &flinkpb.Schema_FieldType_MapInfo{MapInfo: &flinkpb.Schema_MapInfo{
		KeyType: &flinkpb.Schema_FieldType{TypeName: flinkpb.Schema_VARCHAR, Nullable: false,
			TypeInfo: &flinkpb.Schema_FieldType_VarCharInfo{VarCharInfo: &flinkpb.Schema_VarCharInfo{Length: fn.MaxLength}}},
		ValueType: pbBigint}}
	row := ptype(flinkpb.Schema_ROW, true)
	row.TypeInfo = &flinkpb.Schema_FieldType_RowSchema{RowSchema: &flinkpb.Schema{Fields: []*flinkpb.Schema_Field{protoField("m", m)}}}
	for _, f := range []*flinkpb.Schema_Field{protoField("c", m), protoField("c", row)} {
		_, _, err := newArrowSide(arrowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, f), "input", []string{"udfs.builtin.id_map"})
		if !errors.Is(err, errArrowMapInput) {
			t.Errorf("input %s: %v, want the MapWriter refusal", f.GetType().GetTypeName(), err)
			continue
		}
		wantPhrases(t, err.Error(), "pandas function udfs.builtin.id_map: input column c (", "MapWriter",
			"Map array child array should have no nulls", `without func_type="pandas"`)
		if _, _, err := newArrowSide(arrowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, f), "output", nil); err != nil {
			t.Errorf("output %s: %v", f.GetType().GetTypeName(), err)
		}
	}
}
