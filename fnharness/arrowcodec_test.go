package fnharness

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/internal/fakeflink"
)

func ptype(name flinkpb.Schema_TypeName, nullable bool) *flinkpb.Schema_FieldType {
	return &flinkpb.Schema_FieldType{TypeName: name, Nullable: nullable}
}

// arrowFields are the Arrow path's types as Flink's descriptor declares them.
func arrowFields() []*flinkpb.Schema_Field {
	dec := ptype(flinkpb.Schema_DECIMAL, true)
	dec.TypeInfo = &flinkpb.Schema_FieldType_DecimalInfo{DecimalInfo: &flinkpb.Schema_DecimalInfo{Precision: 38, Scale: 4}}
	tm := func(p int32) *flinkpb.Schema_FieldType {
		t := ptype(flinkpb.Schema_TIME, true)
		t.TypeInfo = &flinkpb.Schema_FieldType_TimeInfo{TimeInfo: &flinkpb.Schema_TimeInfo{Precision: p}}
		return t
	}
	ts := func(p int32) *flinkpb.Schema_FieldType {
		t := ptype(flinkpb.Schema_TIMESTAMP, true)
		t.TypeInfo = &flinkpb.Schema_FieldType_TimestampInfo{TimestampInfo: &flinkpb.Schema_TimestampInfo{Precision: p}}
		return t
	}
	vb := ptype(flinkpb.Schema_VARBINARY, true)
	vb.TypeInfo = &flinkpb.Schema_FieldType_VarBinaryInfo{VarBinaryInfo: &flinkpb.Schema_VarBinaryInfo{Length: fn.MaxLength}}
	bin := ptype(flinkpb.Schema_BINARY, true)
	bin.TypeInfo = &flinkpb.Schema_FieldType_BinaryInfo{BinaryInfo: &flinkpb.Schema_BinaryInfo{Length: 3}}
	arr := ptype(flinkpb.Schema_BASIC_ARRAY, true)
	arr.TypeInfo = &flinkpb.Schema_FieldType_CollectionElementType{CollectionElementType: ptype(flinkpb.Schema_FLOAT, true)}
	arr2 := ptype(flinkpb.Schema_BASIC_ARRAY, true)
	arr2.TypeInfo = &flinkpb.Schema_FieldType_CollectionElementType{CollectionElementType: arr}
	return []*flinkpb.Schema_Field{
		protoField("b", ptype(flinkpb.Schema_BOOLEAN, true)),
		protoField("i8", ptype(flinkpb.Schema_TINYINT, true)),
		protoField("i16", ptype(flinkpb.Schema_SMALLINT, true)),
		protoField("i32", ptype(flinkpb.Schema_INT, true)),
		protoField("i64", ptype(flinkpb.Schema_BIGINT, false)),
		protoField("f32", ptype(flinkpb.Schema_FLOAT, true)),
		protoField("f64", ptype(flinkpb.Schema_DOUBLE, true)),
		protoField("s", pbString),
		protoField("vb", vb),
		protoField("bin", bin),
		protoField("dec", dec),
		protoField("d", ptype(flinkpb.Schema_DATE, true)),
		protoField("t0", tm(0)),
		protoField("t3", tm(3)),
		protoField("t6", tm(6)),
		protoField("ts0", ts(0)),
		protoField("ts3", ts(3)),
		protoField("ts6", ts(6)),
		protoField("ts9", ts(9)),
		protoField("af", arr),
		protoField("aaf", arr2),
	}
}

func mustDecimal(t testing.TB, s string) fn.Value {
	v, err := fn.DecimalText(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// arrowRows: extremes, NULLs (except the NOT NULL BIGINT) and empty values.
func arrowRows(t testing.TB) [][]fn.Value {
	return [][]fn.Value{
		{fn.Bool(true), fn.Int(math.MinInt8), fn.Int(math.MinInt16), fn.Int(math.MinInt32), fn.Int(math.MinInt64),
			fn.Float32(-math.MaxFloat32), fn.Float64(math.Inf(-1)), fn.Str("😀é\x00"), fn.Bin([]byte{0, 1, 2}), fn.Bin([]byte{9, 8, 7}),
			mustDecimal(t, "-9999999999999999999999999999999999.9999"), fn.Date(-719162), fn.TimeOfDay(0), fn.TimeOfDay(1),
			fn.TimeOfDay(86_399_999), fn.Timestamp(-62135596800000, 0), fn.Timestamp(-1, 0), fn.Timestamp(-1, 999_000), fn.Timestamp(-1, 999_999),
			fn.Array([]fn.Value{fn.Float32(1.5), fn.Null(), fn.Float32(float32(math.NaN()))}),
			fn.Array([]fn.Value{fn.Array([]fn.Value{fn.Float32(2)}), fn.Null(), fn.Array(nil)})},
		{fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Int(0), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(),
			fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null(), fn.Null()},
		{fn.Bool(false), fn.Int(math.MaxInt8), fn.Int(math.MaxInt16), fn.Int(math.MaxInt32), fn.Int(math.MaxInt64),
			fn.Float32(math.SmallestNonzeroFloat32), fn.Float64(math.MaxFloat64), fn.Str(""), fn.Bin([]byte{}), fn.Bin([]byte{0, 0, 0}),
			mustDecimal(t, "0.0001"), fn.Date(2932896), fn.TimeOfDay(86_399_000), fn.TimeOfDay(86_399_999),
			fn.TimeOfDay(12_345_678), fn.Timestamp(253402300799000, 0), fn.Timestamp(1_700_000_000_123, 0),
			fn.Timestamp(1_700_000_000_123, 456_000), fn.Timestamp(1_700_000_000_123, 456_789),
			fn.Array(nil), fn.Array([]fn.Value{})},
	}
}

func arrowSchemaFields(t testing.TB) []fn.Field {
	t.Helper()
	fs, err := fieldsFromProto(&flinkpb.Schema{Fields: arrowFields()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func columns(rows [][]fn.Value) [][]fn.Value {
	if len(rows) == 0 {
		return nil
	}
	cols := make([][]fn.Value, len(rows[0]))
	for j := range cols {
		for _, r := range rows {
			cols[j] = append(cols[j], r[j])
		}
	}
	return cols
}

// firstElement is the payload of data's first element.
func firstElement(f *testing.F, data []byte) []byte {
	elems := coder.NewElements(data)
	if !elems.Next() {
		f.Fatalf("no element: %v", elems.Err())
	}
	return elems.Row()
}

// splitElements splits varint-framed elements.
func splitElements(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	elems := coder.NewElements(data)
	for elems.Next() {
		out = append(out, elems.Row())
	}
	if err := elems.Err(); err != nil {
		t.Fatalf("malformed element at %d: %v", elems.Offset(), err)
	}
	return out
}

func TestArrowCodecRoundTrip(t *testing.T) {
	fields := arrowSchemaFields(t)
	c, err := newArrowCodec(fields)
	if err != nil {
		t.Fatal(err)
	}
	rows := arrowRows(t)
	data, err := c.encode(nil, columns(rows), len(rows))
	if err != nil {
		t.Fatal(err)
	}
	elems := splitElements(t, data)
	if len(elems) != 1 {
		t.Fatalf("%d elements, want 1", len(elems))
	}
	elem := elems[0]
	// Schema message, one batch, no end-of-stream marker: as pyarrow's
	// RecordBatchStreamWriter writes it before close().
	if bytes.HasSuffix(elem, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
		t.Error("the element ends with an end-of-stream marker")
	}
	if !bytes.HasPrefix(elem, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Error("the element does not start with the continuation marker")
	}
	// arrow-go reads it as one stream of one batch.
	rd, err := ipc.NewReader(bytes.NewReader(elem))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rd.Next() {
		n++
		if got := rd.RecordBatch().NumRows(); got != int64(len(rows)) {
			t.Errorf("batch of %d rows, want %d", got, len(rows))
		}
		if got := rd.Schema().Field(10).Type.String(); got != "decimal(38, 4)" {
			t.Errorf("DECIMAL(38, 4) as %s", got)
		}
	}
	if rd.Err() != nil || n != 1 {
		t.Errorf("%d batches, err %v", n, rd.Err())
	}
	rd.Release()

	slab, nr, err := c.decode(elem, nil)
	if err != nil {
		t.Fatal(err)
	}
	if nr != len(rows) {
		t.Fatalf("decoded %d rows, want %d", nr, len(rows))
	}
	var got [][]fn.Value
	for r := 0; r < nr; r++ {
		got = append(got, slab[r*len(fields):(r+1)*len(fields)])
	}
	assertRows(t, got, rows)

	// The same batch closed with an end-of-stream marker (as a Java
	// ArrowStreamWriter.end() would add) decodes too.
	withEOS := append(append([]byte{}, elem...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
	if _, nr, err := c.decode(withEOS, nil); err != nil || nr != len(rows) {
		t.Errorf("with EOS: %d rows, %v", nr, err)
	}
	// Two batches in one element are refused.
	two := append(append([]byte{}, elem...), elem[bytes.Index(elem[8:], []byte{0xff, 0xff, 0xff, 0xff})+8:]...)
	if _, _, err := c.decode(two, nil); err == nil || !strings.Contains(err.Error(), "more than one record batch") {
		t.Errorf("two batches: %v", err)
	}
}

// A batch written by arrow-go's own writer, as pyarrow writes one (names
// differ from Flink's; types decide), decodes; a mismatched type is named.
func TestArrowDecodeForeignBatch(t *testing.T) {
	mem := memory.NewGoAllocator()
	sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, sch)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "", "c"}, []bool{true, true, false})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, []bool{true, false, true})
	rec := b.NewRecordBatch()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sch))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	c, err := newArrowCodec([]fn.Field{{Name: "s", Type: fn.String()}, {Name: "n", Type: fn.Simple(fn.BIGINT)}})
	if err != nil {
		t.Fatal(err)
	}
	slab, n, err := c.decode(buf.Bytes(), nil)
	if err != nil || n != 3 {
		t.Fatalf("%d rows, %v", n, err)
	}
	assertRows(t, [][]fn.Value{slab[0:2], slab[2:4], slab[4:6]}, [][]fn.Value{
		{fn.Str("a"), fn.Int(1)}, {fn.Str(""), fn.Null()}, {fn.Null(), fn.Int(3)}})

	c2, _ := newArrowCodec([]fn.Field{{Name: "s", Type: fn.String()}, {Name: "n", Type: fn.Simple(fn.INT)}})
	if _, _, err := c2.decode(buf.Bytes(), nil); err == nil || !strings.Contains(err.Error(), "column n: Arrow type int64, expected int32") {
		t.Errorf("mismatch: %v", err)
	}
}

func TestArrowEncodeErrors(t *testing.T) {
	c, _ := newArrowCodec([]fn.Field{{Name: "n", Type: fn.Type{Name: fn.TINYINT}}, {Name: "d", Type: fn.Decimal(3, 1)}})
	for _, tc := range []struct {
		row  []fn.Value
		want string
	}{
		{[]fn.Value{fn.Int(128), fn.Null()}, "128 out of the range of TINYINT"},
		{[]fn.Value{fn.Null(), fn.Null()}, "NULL for NOT NULL TINYINT"},
		{[]fn.Value{fn.Str("x"), fn.Null()}, "a STRING value for TINYINT"},
		{[]fn.Value{fn.Int(1), mustDecimal(t, "99.96")}, "overflows DECIMAL(3, 1)"},
	} {
		_, err := c.encode(nil, columns([][]fn.Value{tc.row}), 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.row, err, tc.want)
		}
	}
	// HALF_UP rounding to the declared scale.
	data, err := c.encode(nil, columns([][]fn.Value{{fn.Int(1), mustDecimal(t, "-1.25")}, {fn.Int(1), mustDecimal(t, "1.24")}}), 2)
	if err != nil {
		t.Fatal(err)
	}
	slab, _, err := c.decode(splitElements(t, data)[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if slab[1].DecimalString() != "-1.3" || slab[3].DecimalString() != "1.2" {
		t.Errorf("rounded to %s, %s", slab[1], slab[3])
	}
}

func arrowCoderDesc(mode flinkpb.CoderInfoDescriptor_Mode, fields ...*flinkpb.Schema_Field) *flinkpb.CoderInfoDescriptor {
	return &flinkpb.CoderInfoDescriptor{
		DataType: &flinkpb.CoderInfoDescriptor_ArrowType_{ArrowType: &flinkpb.CoderInfoDescriptor_ArrowType{
			Schema: &flinkpb.Schema{Fields: fields}}},
		Mode: mode,
	}
}

func pandasUDF(module, name string, inputs ...*flinkpb.Input) *flinkpb.UserDefinedFunction {
	u := udf(module, name, false, inputs...)
	u.IsPandasUdf = true
	return u
}

// batchRegistry adds flinkfn.test.batch_upper, a batch function that
// records the batch sizes it is given, to the test registry.
func batchRegistry(t *testing.T, sizes *[]int, mu *sync.Mutex) *fn.Registry {
	reg := testRegistry(t)
	err := reg.Register(fn.Function{
		Module: testModule, Name: "batch_len", Kind: fn.Scalar,
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.VARCHAR)}},
		Result: fn.Returns(fn.OneOf(fn.ARRAY), &fn.Type{Name: fn.ARRAY, Nullable: true, Elem: &fn.Type{Name: fn.FLOAT, Nullable: true}}),
		EvalBatch: func(_ context.Context, args [][]fn.Value, out []fn.Value) error {
			mu.Lock()
			*sizes = append(*sizes, len(args))
			mu.Unlock()
			for i, a := range args {
				if a[0].IsNull() {
					out[i] = fn.Null()
					continue
				}
				out[i] = fn.Array([]fn.Value{fn.Float32(float32(len(a[0].AsString()))), fn.Float32(float32(len(args)))})
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestPandasBundleEndToEnd(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	r := newFakeRunner(t)
	arrF := ptype(flinkpb.Schema_BASIC_ARRAY, true)
	arrF.TypeInfo = &flinkpb.Schema_FieldType_CollectionElementType{CollectionElementType: ptype(flinkpb.Schema_FLOAT, true)}
	r.descriptor(t, "p1", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{
			pandasUDF(testModule, "label", col(0), col(1)),
			pandasUDF(testModule, "twice", &flinkpb.Input{Input: &flinkpb.Input_Udf{Udf: pandasUDF(testModule, "label", col(0), col(1))}}),
			pandasUDF(testModule, "batch_len", col(1)),
		}},
		arrowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, protoField("n", pbBigint), protoField("s", pbString)),
		arrowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, protoField("f0", pbString), protoField("f1", pbString), protoField("f2", arrF)),
	)
	startWorkerOpts(t, r, Options{Registry: batchRegistry(t, &sizes, &mu)})

	in, err := newArrowCodec([]fn.Field{{Name: "n", Type: fn.Simple(fn.BIGINT)}, {Name: "s", Type: fn.String()}})
	if err != nil {
		t.Fatal(err)
	}
	batch1 := [][]fn.Value{{fn.Int(7), fn.Str("ab")}, {fn.Null(), fn.Str("x")}, {fn.Int(-1), fn.Str("😀é")}}
	batch2 := [][]fn.Value{{fn.Int(1), fn.Null()}}
	batch3 := [][]fn.Value{{fn.Int(2), fn.Str("abc")}, {fn.Int(3), fn.Str("d")}}
	var chunk1 []byte
	for _, b := range [][][]fn.Value{batch1, batch2} {
		if chunk1, err = in.encode(chunk1, columns(b), len(b)); err != nil {
			t.Fatal(err)
		}
	}
	chunk2, err := in.encode(nil, columns(batch3), len(batch3))
	if err != nil {
		t.Fatal(err)
	}
	r.Requests <- bundleRequest("b1", "p1")
	<-r.DataReady
	r.SendData(inputData("b1", chunk1, false)) // two batches in one Data message
	r.SendData(inputData("b1", chunk2, false), inputData("b1", nil, true))
	resp := r.AwaitResponse(t)
	if resp.GetError() != "" {
		t.Fatalf("response = %v", resp)
	}
	out, ok := r.Output("b1")
	if !ok {
		t.Fatal("no is_last on the output")
	}
	outC, err := newArrowCodec([]fn.Field{{Name: "f0", Type: fn.String()}, {Name: "f1", Type: fn.String()},
		{Name: "f2", Type: fn.ArrayOf(fn.Simple(fn.FLOAT))}})
	if err != nil {
		t.Fatal(err)
	}
	arr := func(a, b float32) fn.Value { return fn.Array([]fn.Value{fn.Float32(a), fn.Float32(b)}) }
	want := [][][]fn.Value{
		{{fn.Str("ab#7"), fn.Str("ab#7ab#7"), arr(2, 3)}, {fn.Null(), fn.Null(), arr(1, 3)}, {fn.Str("😀é#-1"), fn.Str("😀é#-1😀é#-1"), arr(6, 3)}},
		{{fn.Null(), fn.Null(), fn.Null()}},
		{{fn.Str("abc#2"), fn.Str("abc#2abc#2"), arr(3, 2)}, {fn.Str("d#3"), fn.Str("d#3d#3"), arr(1, 2)}},
	}
	elems := splitElements(t, out)
	if len(elems) != len(want) {
		t.Fatalf("%d output elements, want one per input batch (%d)", len(elems), len(want))
	}
	for i, e := range elems {
		slab, n, err := outC.decode(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]fn.Value
		for r := 0; r < n; r++ {
			got = append(got, slab[r*3:(r+1)*3])
		}
		assertRows(t, got, want[i])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 3 || sizes[0] != 3 || sizes[1] != 1 || sizes[2] != 2 {
		t.Errorf("batch function saw batches %v, want [3 1 2] (whole Arrow batches)", sizes)
	}
}

func TestPandasUnsupportedTypeNamesFunctionAndColumn(t *testing.T) {
	m := ptype(flinkpb.Schema_MAP, true)
	m.TypeInfo = &flinkpb.Schema_FieldType_MapInfo{MapInfo: &flinkpb.Schema_MapInfo{KeyType: pbString, ValueType: pbString}}
	d := fakeflink.BuildDescriptor("localhost:1", "d", urnScalarFunction,
		mustMarshal(t, &flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{pandasUDF(testModule, "twice", col(1))}}),
		mustMarshal(t, arrowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, protoField("m", m), protoField("s", pbString))),
		mustMarshal(t, arrowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, protoField("f0", pbString))))
	msg := planErrorOf(t, d)
	wantPhrases(t, msg, "pandas function flinkfn.test.twice", "input column m (MAP<", "needs MAP keys NOT NULL", "Map key type should be non-nullable", `without func_type="pandas"`)
}

// A corrupt Arrow batch fails the bundle with a decode error, not a panic.
func TestPandasCorruptBatchFailsBundle(t *testing.T) {
	r := newFakeRunner(t)
	r.descriptor(t, "p1", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{pandasUDF(testModule, "twice", col(0))}},
		arrowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, protoField("s", pbString)),
		arrowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, protoField("f0", pbString)))
	startWorkerOpts(t, r, Options{Registry: testRegistry(t)})
	r.Requests <- bundleRequest("b1", "p1")
	<-r.DataReady
	r.SendData(inputData("b1", []byte{4, 0xff, 0xff, 0xff, 0xff}, false), inputData("b1", nil, true))
	resp := r.AwaitResponse(t)
	if !strings.Contains(resp.GetError(), "decode the Arrow batch") || !strings.Contains(resp.GetError(), "flinkfn.test.twice") {
		t.Errorf("error = %q", resp.GetError())
	}
}

// FuzzArrowDecode: decoding never panics and what decodes re-encodes.
//
// The progress line often shows "(0/sec)" for tens of seconds right after
// "new interesting": that is the fuzzing engine minimising the new input
// (up to -fuzzminimizetime, 60 s by default; the seeds are ~3 KB, so it
// tries thousands of shorter candidates, which the execs count leaves out),
// not a slow decode: every corpus input decodes in well under a
// millisecond. -fuzzminimizetime=5s shortens the pauses. (One real cause of
// stalls was found and fixed: arrow-go sized a record batch's custom
// metadata by an unchecked length; see verifyArrowElement.)
func FuzzArrowDecode(f *testing.F) {
	c, err := newArrowCodec(arrowSchemaFields(f))
	if err != nil {
		f.Fatal(err)
	}
	rows := arrowRows(f)
	data, err := c.encode(nil, columns(rows), len(rows))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(firstElement(f, data))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{})
	small, _ := newArrowCodec([]fn.Field{{Name: "s", Type: fn.String()}})
	sdata, _ := small.encode(nil, [][]fn.Value{{fn.Str("a"), fn.Null()}}, 2)
	f.Add(firstElement(f, sdata))
	f.Fuzz(func(t *testing.T, elem []byte) {
		for _, codec := range []*arrowCodec{c, small} {
			slab, rows, err := codec.decode(elem, nil)
			if err != nil {
				continue
			}
			if len(slab) != rows*len(codec.fields) {
				t.Fatalf("%d values for %d rows", len(slab), rows)
			}
			// What decodes re-encodes (NOT NULL and ranges hold).
			if _, err := codec.encode(nil, columnsOf(slab, rows, len(codec.fields)), rows); err != nil {
				t.Fatalf("decoded batch does not re-encode: %v", err)
			}
		}
	})
}

func columnsOf(slab []fn.Value, rows, nc int) [][]fn.Value {
	cols := make([][]fn.Value, nc)
	for j := range cols {
		cols[j] = make([]fn.Value, rows)
		for r := 0; r < rows; r++ {
			cols[j][r] = slab[r*nc+j]
		}
	}
	return cols
}
