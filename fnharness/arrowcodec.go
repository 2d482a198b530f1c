package fnharness

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// Pandas (vectorized) scalar functions. Flink's ArrowPythonScalarFunctionOperator
// sends each batch of rows as one Beam element: varint length ‖ one Arrow IPC
// stream holding the schema message and exactly one record batch (no
// end-of-stream marker); the input coder's mode is MULTIPLE, so a Data chunk
// may hold several such elements. The worker answers each with one element
// of the same shape (output mode SINGLE: varint length ‖ schema ‖ one batch
// of the same row count), as PyFlink's ArrowCoderImpl and ValueCoderImpl do
// (pyflink/fn_execution/coder_impl_slow.py).
//
// Types map as Flink's ArrowUtils and PyFlink's to_arrow_type map them.

// arrowCodec is the Arrow schema of one side of a pandas operator.
type arrowCodec struct {
	fields []fn.Field
	schema *arrow.Schema
}

func newArrowCodec(fields []fn.Field) (*arrowCodec, error) {
	afs := make([]arrow.Field, len(fields))
	for i, f := range fields {
		t, err := arrowType(f.Type, inColumn)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %w", columnName(f, i), f.Type, err)
		}
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("f%d", i)
		}
		afs[i] = arrow.Field{Name: name, Type: t, Nullable: f.Type.Nullable}
	}
	return &arrowCodec{fields: fields, schema: arrow.NewSchema(afs, nil)}, nil
}

func columnName(f fn.Field, i int) string {
	if f.Name == "" {
		return fmt.Sprintf("%d", i)
	}
	return f.Name
}

// errArrowType says which types the Arrow path carries.
var errArrowType = errors.New("not supported by flinkfn's pandas (Arrow) functions, which carry BOOLEAN, TINYINT…BIGINT, FLOAT, DOUBLE, CHAR/VARCHAR, BINARY/VARBINARY, DECIMAL, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ, ARRAYs of them, ROWs of these and MAP results; declare the function row-at-a-time (without func_type=\"pandas\") for this type")

// errArrowNested says which nestings PyFlink's own pandas worker refuses
// (pyflink/table/types.py to_arrow_type: a ROW "is not supported to be used
// as the element type of ArrayType", a ROW or TIMESTAMP_LTZ "as the field
// type of RowType";
// the stock worker fails to start and Flink waits for it until "No client
// connected within timeout").
var errArrowNested = errors.New("PyFlink's pandas (Arrow) functions cannot carry it (pyflink.table.types.to_arrow_type refuses a ROW as an ARRAY element and a ROW or TIMESTAMP_LTZ as a ROW field, and the stock Python worker fails to start on it); declare the function row-at-a-time (without func_type=\"pandas\"), or pass the ROW's fields as separate arguments")

// errArrowMapKey: Flink's ArrowUtils.toArrowField checks "Map key type
// should be non-nullable" (flink-python 1.20 and 2.x) and fails the job.
var errArrowMapKey = errors.New("Flink's Arrow path needs MAP keys NOT NULL (ArrowUtils: \"Map key type should be non-nullable\"); declare the key NOT NULL, e.g. MAP<STRING NOT NULL, INT>, or the function row-at-a-time (without func_type=\"pandas\")")

// Where a type sits in a batch: PyFlink's to_arrow_type refuses a ROW as an
// ARRAY element and a ROW or TIMESTAMP_LTZ as a ROW field.
type arrowPlace int

const (
	inColumn arrowPlace = iota
	inArray
	inRow
	inMap
)

// arrowType is Flink's Arrow type for a SQL type at place p (flink-python's
// ArrowUtils.toArrowField and PyFlink's to_arrow_type, which agree on
// every type both carry).
func arrowType(t fn.Type, p arrowPlace) (arrow.DataType, error) {
	switch t.Name {
	case fn.BOOLEAN:
		return arrow.FixedWidthTypes.Boolean, nil
	case fn.TINYINT:
		return arrow.PrimitiveTypes.Int8, nil
	case fn.SMALLINT:
		return arrow.PrimitiveTypes.Int16, nil
	case fn.INT:
		return arrow.PrimitiveTypes.Int32, nil
	case fn.BIGINT:
		return arrow.PrimitiveTypes.Int64, nil
	case fn.FLOAT:
		return arrow.PrimitiveTypes.Float32, nil
	case fn.DOUBLE:
		return arrow.PrimitiveTypes.Float64, nil
	case fn.CHAR, fn.VARCHAR:
		return arrow.BinaryTypes.String, nil
	case fn.BINARY:
		if t.Length <= 0 {
			return nil, fmt.Errorf("BINARY(%d) has no Arrow type", t.Length)
		}
		return &arrow.FixedSizeBinaryType{ByteWidth: t.Length}, nil
	case fn.VARBINARY:
		return arrow.BinaryTypes.Binary, nil
	case fn.DECIMAL:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return nil, fmt.Errorf("DECIMAL(%d, %d) has no Arrow type", t.Precision, t.Scale)
		}
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}, nil
	case fn.DATE:
		return arrow.FixedWidthTypes.Date32, nil
	case fn.TIME:
		switch {
		case t.Precision == 0:
			return arrow.FixedWidthTypes.Time32s, nil
		case t.Precision <= 3:
			return arrow.FixedWidthTypes.Time32ms, nil
		case t.Precision <= 6:
			return arrow.FixedWidthTypes.Time64us, nil
		default:
			return arrow.FixedWidthTypes.Time64ns, nil
		}
	case fn.TIMESTAMP, fn.LOCAL_ZONED_TIMESTAMP:
		unit := arrow.Nanosecond
		switch {
		case t.Precision == 0:
			unit = arrow.Second
		case t.Precision <= 3:
			unit = arrow.Millisecond
		case t.Precision <= 6:
			unit = arrow.Microsecond
		}
		return &arrow.TimestampType{Unit: unit}, nil
	case fn.ARRAY:
		if t.Elem == nil {
			return nil, fmt.Errorf("ARRAY without an element type")
		}
		e, err := arrowType(*t.Elem, inArray)
		if err != nil {
			return nil, fmt.Errorf("array element %s: %w", t.Elem, err)
		}
		return arrow.ListOfField(arrow.Field{Name: "item", Type: e, Nullable: t.Elem.Nullable}), nil
	case fn.MAP:
		// Flink: Map(keysSorted=false) of a NOT NULL struct "items" of
		// "key" and "value"; pyarrow's map_ names the struct "entries"
		// (arrow-go too). Flink's readers take the entries by position and
		// key and value by name (ArrowUtils.createColumnVector).
		if t.Key == nil || t.Value == nil {
			return nil, fmt.Errorf("MAP without key or value type")
		}
		if t.Key.Nullable {
			return nil, errArrowMapKey
		}
		k, err := arrowType(*t.Key, inMap)
		if err != nil {
			return nil, fmt.Errorf("map key %s: %w", t.Key, err)
		}
		v, err := arrowType(*t.Value, inMap)
		if err != nil {
			return nil, fmt.Errorf("map value %s: %w", t.Value, err)
		}
		m := arrow.MapOf(k, v)
		m.SetItemNullable(t.Value.Nullable)
		return m, nil
	case fn.ROW:
		if p == inArray || p == inRow {
			return nil, errArrowNested
		}
		fs := make([]arrow.Field, len(t.Fields))
		for i, f := range t.Fields {
			if f.Type.Name == fn.ROW || f.Type.Name == fn.LOCAL_ZONED_TIMESTAMP {
				return nil, fmt.Errorf("row field %s %s: %w", columnName(f, i), f.Type, errArrowNested)
			}
			ft, err := arrowType(f.Type, inRow)
			if err != nil {
				return nil, fmt.Errorf("row field %s %s: %w", columnName(f, i), f.Type, err)
			}
			name := f.Name
			if name == "" {
				name = fmt.Sprintf("f%d", i)
			}
			fs[i] = arrow.Field{Name: name, Type: ft, Nullable: f.Type.Nullable}
		}
		return arrow.StructOf(fs...), nil
	}
	return nil, errArrowType
}

// limitedAllocator refuses allocations larger than the element could need,
// so that a corrupt length cannot make the decoder allocate gigabytes.
type limitedAllocator struct {
	mem   memory.Allocator
	limit int
}

type errAllocation struct{ size, limit int }

func (a *limitedAllocator) Allocate(size int) []byte {
	if size < 0 || size > a.limit {
		panic(errAllocation{size, a.limit})
	}
	return a.mem.Allocate(size)
}

func (a *limitedAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 || size > a.limit {
		panic(errAllocation{size, a.limit})
	}
	return a.mem.Reallocate(size, b)
}

func (a *limitedAllocator) Free(b []byte) { a.mem.Free(b) }

// maxArrowRowsNoColumns bounds the row count of a batch without columns,
// where no buffer bounds it (Flink's batches are python.fn-execution.arrow.batch.size rows).
const maxArrowRowsNoColumns = 1 << 20

// decode reads one element (an Arrow IPC stream: schema and one record
// batch) and appends its rows, column values in schema order, to slab
// (rows × len(c.fields)). It returns the grown slab and the row count.
// It never panics: Arrow's readers panic on some corrupt input, which
// becomes an error here.
func (c *arrowCodec) decode(elem []byte, slab []fn.Value) (out []fn.Value, rows int, err error) {
	out = slab
	defer func() {
		if r := recover(); r != nil {
			out, rows, err = slab, 0, fmt.Errorf("corrupt Arrow batch: %v", r)
		}
	}()
	lim := int64(len(elem))
	mem := &limitedAllocator{mem: memory.NewGoAllocator(), limit: len(elem) + 64}
	// Arrow's decoder trusts the flatbuffers' vector lengths (a corrupt one
	// makes it allocate without bound): verify both messages first.
	if err := verifyArrowElement(elem); err != nil {
		return slab, 0, err
	}
	rd, err := ipc.NewReader(bytes.NewReader(elem), ipc.WithAllocator(mem),
		ipc.WithMetadataSizeLimit(lim), ipc.WithBodySizeLimit(lim))
	if err != nil {
		return slab, 0, fmt.Errorf("read Arrow stream: %w", err)
	}
	defer rd.Release()
	sch := rd.Schema()
	if sch.NumFields() != len(c.fields) {
		return slab, 0, fmt.Errorf("the Arrow batch has %d columns, the input row has %d", sch.NumFields(), len(c.fields))
	}
	for i, f := range sch.Fields() {
		want := c.schema.Field(i).Type
		if !arrow.TypeEqual(f.Type, want) {
			return slab, 0, fmt.Errorf("column %s: Arrow type %s, expected %s for %s", columnName(c.fields[i], i), f.Type, want, c.fields[i].Type)
		}
	}
	if !rd.Next() {
		if err := rd.Err(); err != nil {
			return slab, 0, fmt.Errorf("read Arrow record batch: %w", err)
		}
		return slab, 0, errors.New("the Arrow stream has no record batch")
	}
	rec := rd.RecordBatch()
	n64 := rec.NumRows()
	nc := len(c.fields)
	if n64 < 0 || (nc == 0 && n64 > maxArrowRowsNoColumns) || (nc > 0 && n64 > 8*lim+64) {
		return slab, 0, fmt.Errorf("the Arrow batch claims %d rows in %d bytes", n64, len(elem))
	}
	// Every value costs a legitimate batch at least 2 bits (a BOOLEAN's
	// validity and value bit); buffers may overlap in a corrupt one, so
	// the values decoded (array elements included) are budgeted.
	budget := 4*len(elem) + 1024
	if nc > 0 && n64*int64(nc) > int64(budget) {
		return slab, 0, fmt.Errorf("the Arrow batch claims %d rows of %d columns in %d bytes", n64, nc, len(elem))
	}
	n := int(n64)
	for j := 0; j < nc; j++ {
		if l := rec.Column(j).Len(); l != n {
			return slab, 0, fmt.Errorf("column %s has %d values, the batch %d rows", columnName(c.fields[j], j), l, n)
		}
	}
	start := len(slab)
	out = append(slab, make([]fn.Value, n*nc)...)
	for j := 0; j < nc; j++ {
		col := rec.Column(j)
		for r := 0; r < n; r++ {
			v, err := arrowValue(col, r, c.fields[j].Type, 0, &budget)
			if err != nil {
				return slab, 0, fmt.Errorf("column %s, row %d: %w", columnName(c.fields[j], j), r, err)
			}
			if v.IsNull() && c.fields[j].Type.Name == fn.ROW {
				v = nullRowFields(c.fields[j].Type)
			}
			out[start+r*nc+j] = v
		}
	}
	if rd.Next() {
		return slab, 0, errors.New("the Arrow stream holds more than one record batch")
	}
	if err := rd.Err(); err != nil {
		return slab, 0, fmt.Errorf("read Arrow stream after its record batch: %w", err)
	}
	return out, n, nil
}

// arrowValue converts value i of an Arrow array of t's Arrow type.
func arrowValue(a arrow.Array, i int, t fn.Type, depth int, budget *int) (fn.Value, error) {
	if *budget--; *budget < 0 {
		return fn.Value{}, errors.New("more values than the batch's bytes can hold")
	}
	if a.IsNull(i) {
		if !t.Nullable {
			return fn.Value{}, fmt.Errorf("NULL for NOT NULL %s", t)
		}
		return fn.Null(), nil
	}
	switch a := a.(type) {
	case *array.Boolean:
		return fn.Bool(a.Value(i)), nil
	case *array.Int8:
		return fn.Int(int64(a.Value(i))), nil
	case *array.Int16:
		return fn.Int(int64(a.Value(i))), nil
	case *array.Int32:
		return fn.Int(int64(a.Value(i))), nil
	case *array.Int64:
		return fn.Int(a.Value(i)), nil
	case *array.Float32:
		return fn.Float32(a.Value(i)), nil
	case *array.Float64:
		return fn.Float64(a.Value(i)), nil
	case *array.String:
		return fn.Str(a.Value(i)), nil
	case *array.Binary:
		return fn.Bin(a.Value(i)), nil
	case *array.FixedSizeBinary:
		return fn.Bin(a.Value(i)), nil
	case *array.Decimal128:
		u := a.Value(i).BigInt()
		if u.Sign() != 0 && len(new(big.Int).Abs(u).String()) > t.Precision {
			return fn.Value{}, fmt.Errorf("DECIMAL value with unscaled %s does not fit DECIMAL(%d, %d)", u, t.Precision, t.Scale)
		}
		return fn.DecimalOf(u, t.Scale), nil
	case *array.Date32:
		return fn.Date(int32(a.Value(i))), nil
	case *array.Time32:
		v := int64(a.Value(i))
		if a.DataType().(*arrow.Time32Type).Unit == arrow.Second {
			v *= 1000
		}
		return timeOfDay(v)
	case *array.Time64:
		v := int64(a.Value(i))
		if a.DataType().(*arrow.Time64Type).Unit == arrow.Nanosecond {
			v /= 1_000_000
		} else {
			v /= 1000
		}
		return timeOfDay(v)
	case *array.Timestamp:
		return timestampValue(int64(a.Value(i)), a.DataType().(*arrow.TimestampType).Unit)
	case *array.Struct:
		if depth > maxTypeDepth || a.NumField() != len(t.Fields) {
			return fn.Value{}, errors.New("row nests too deeply or has the wrong field count")
		}
		fields := make([]fn.Value, len(t.Fields))
		for k, f := range t.Fields {
			child := a.Field(k)
			if i >= child.Len() {
				return fn.Value{}, fmt.Errorf("row field %s has %d values, the row is %d", columnName(f, k), child.Len(), i)
			}
			v, err := arrowValue(child, i, f.Type, depth+1, budget)
			if err != nil {
				return fn.Value{}, fmt.Errorf("field %s: %w", columnName(f, k), err)
			}
			fields[k] = v
		}
		return fn.Row(fn.Insert, fields), nil
	case *array.Map:
		if depth > maxTypeDepth || t.Key == nil || t.Value == nil {
			return fn.Value{}, errors.New("map nests too deeply")
		}
		from, to := a.ValueOffsets(i)
		ks, vs := a.Keys(), a.Items()
		if from < 0 || to < from || to > int64(ks.Len()) || to > int64(vs.Len()) {
			return fn.Value{}, fmt.Errorf("map offsets %d..%d outside %d entries", from, to, min(ks.Len(), vs.Len()))
		}
		if 2*(to-from) > int64(*budget) {
			return fn.Value{}, errors.New("more values than the batch's bytes can hold")
		}
		keys, vals := make([]fn.Value, to-from), make([]fn.Value, to-from)
		for k := range keys {
			kv, err := arrowValue(ks, int(from)+k, *t.Key, depth+1, budget)
			if err != nil {
				return fn.Value{}, fmt.Errorf("key %d: %w", k, err)
			}
			vv, err := arrowValue(vs, int(from)+k, *t.Value, depth+1, budget)
			if err != nil {
				return fn.Value{}, fmt.Errorf("value %d: %w", k, err)
			}
			keys[k], vals[k] = kv, vv
		}
		return fn.Map(keys, vals), nil
	case *array.List:
		if depth > maxTypeDepth || t.Elem == nil {
			return fn.Value{}, errors.New("array nests too deeply")
		}
		from, to := a.ValueOffsets(i)
		vals := a.ListValues()
		if from < 0 || to < from || to > int64(vals.Len()) {
			return fn.Value{}, fmt.Errorf("array offsets %d..%d outside %d values", from, to, vals.Len())
		}
		if to-from > int64(*budget) {
			return fn.Value{}, errors.New("more values than the batch's bytes can hold")
		}
		elems := make([]fn.Value, to-from)
		for k := range elems {
			v, err := arrowValue(vals, int(from)+k, *t.Elem, depth+1, budget)
			if err != nil {
				return fn.Value{}, fmt.Errorf("[%d]: %w", k, err)
			}
			elems[k] = v
		}
		return fn.Array(elems), nil
	}
	return fn.Value{}, fmt.Errorf("Arrow type %s: %w", a.DataType(), errArrowType)
}

// nullRowFields is what a pandas function gets for a NULL ROW column: PyFlink
// hands it a DataFrame of the row's fields (pyflink/table/utils.py
// arrow_to_pandas: arrow_column.flatten(), which carries the row's NULL
// into every field), where a NULL row is a row of NULL fields, and the
// stock worker's result is a row of NULL fields again (pandas_to_arrow
// builds the struct from the DataFrame's columns, with no NULL rows). A row
// type with a NOT NULL field stays NULL: a NULL in that field could not be
// written back (the stock worker would hand Flink a NULL there).
func nullRowFields(t fn.Type) fn.Value {
	fields := make([]fn.Value, len(t.Fields))
	for k, f := range t.Fields {
		if !f.Type.Nullable {
			return fn.Null()
		}
		fields[k] = fn.Null()
	}
	return fn.Row(fn.Insert, fields)
}

func timeOfDay(ms int64) (fn.Value, error) {
	if ms < 0 || ms >= 86_400_000 {
		return fn.Value{}, fmt.Errorf("TIME of %d ms outside the day", ms)
	}
	return fn.TimeOfDay(int32(ms)), nil
}

func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// timestampValue converts an Arrow timestamp to epoch milliseconds and
// nanoseconds of the millisecond.
func timestampValue(v int64, unit arrow.TimeUnit) (fn.Value, error) {
	switch unit {
	case arrow.Second:
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return fn.Value{}, fmt.Errorf("timestamp %d s out of range", v)
		}
		return fn.Timestamp(v*1000, 0), nil
	case arrow.Millisecond:
		return fn.Timestamp(v, 0), nil
	case arrow.Microsecond:
		ms, us := floorDiv(v, 1000)
		return fn.Timestamp(ms, int32(us*1000)), nil
	default:
		ms, ns := floorDiv(v, 1_000_000)
		return fn.Timestamp(ms, int32(ns)), nil
	}
}

// encode appends one element (varint length ‖ Arrow IPC stream of schema
// and one record batch, no end-of-stream marker) holding the columns cols
// (cols[j][r] is column j of row r) to dst.
func (c *arrowCodec) encode(dst []byte, cols [][]fn.Value, rows int) ([]byte, error) {
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, c.schema)
	defer b.Release()
	for j, f := range c.fields {
		fb := b.Field(j)
		fb.Reserve(rows)
		for r := 0; r < rows; r++ {
			if err := appendArrow(fb, cols[j][r], f.Type); err != nil {
				return dst, &arrowEncodeError{col: j, row: r, err: err}
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(c.schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		return dst, fmt.Errorf("write Arrow batch: %w", err)
	}
	// No w.Close(): it would add the end-of-stream marker, which PyFlink's
	// worker does not write.
	dst = appendUvarint(dst, uint64(buf.Len()))
	return append(dst, buf.Bytes()...), nil
}

type arrowEncodeError struct {
	col, row int
	err      error
}

func (e *arrowEncodeError) Error() string { return e.err.Error() }
func (e *arrowEncodeError) Unwrap() error { return e.err }

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func arrowKindError(v fn.Value, t fn.Type) error {
	return fmt.Errorf("a %s value for %s", v.Kind(), t)
}

// appendArrow appends v, a value of SQL type t, to an Arrow builder of
// t's Arrow type.
func appendArrow(b array.Builder, v fn.Value, t fn.Type) error {
	if v.IsNull() {
		if !t.Nullable {
			return fmt.Errorf("NULL for NOT NULL %s", t)
		}
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.BooleanBuilder:
		if v.Kind() != fn.KindBool {
			return arrowKindError(v, t)
		}
		b.Append(v.AsBool())
	case *array.Int8Builder:
		n, err := intIn(v, t, math.MinInt8, math.MaxInt8)
		if err != nil {
			return err
		}
		b.Append(int8(n))
	case *array.Int16Builder:
		n, err := intIn(v, t, math.MinInt16, math.MaxInt16)
		if err != nil {
			return err
		}
		b.Append(int16(n))
	case *array.Int32Builder:
		n, err := intIn(v, t, math.MinInt32, math.MaxInt32)
		if err != nil {
			return err
		}
		b.Append(int32(n))
	case *array.Int64Builder:
		n, err := intIn(v, t, math.MinInt64, math.MaxInt64)
		if err != nil {
			return err
		}
		b.Append(n)
	case *array.Float32Builder:
		if v.Kind() != fn.KindFloat32 {
			return arrowKindError(v, t)
		}
		b.Append(v.AsFloat32())
	case *array.Float64Builder:
		if v.Kind() != fn.KindFloat64 {
			return arrowKindError(v, t)
		}
		b.Append(v.AsFloat64())
	case *array.StringBuilder:
		if v.Kind() != fn.KindString {
			return arrowKindError(v, t)
		}
		b.Append(v.AsString())
	case *array.FixedSizeBinaryBuilder:
		if v.Kind() != fn.KindBytes {
			return arrowKindError(v, t)
		}
		if len(v.AsBytes()) != t.Length {
			return fmt.Errorf("%d bytes for %s", len(v.AsBytes()), t)
		}
		b.Append(v.AsBytes())
	case *array.BinaryBuilder:
		if v.Kind() != fn.KindBytes {
			return arrowKindError(v, t)
		}
		b.Append(v.AsBytes())
	case *array.Decimal128Builder:
		if v.Kind() != fn.KindDecimal {
			return arrowKindError(v, t)
		}
		u, err := rescaleDecimal(v, t.Precision, t.Scale)
		if err != nil {
			return err
		}
		b.Append(decimal128.FromBigInt(u))
	case *array.Date32Builder:
		if v.Kind() != fn.KindDate {
			return arrowKindError(v, t)
		}
		b.Append(arrow.Date32(v.AsDate()))
	case *array.Time32Builder:
		if v.Kind() != fn.KindTime {
			return arrowKindError(v, t)
		}
		ms := v.AsTime()
		if t.Precision == 0 {
			ms /= 1000
		}
		b.Append(arrow.Time32(ms))
	case *array.Time64Builder:
		if v.Kind() != fn.KindTime {
			return arrowKindError(v, t)
		}
		f := int64(1000)
		if t.Precision > 6 {
			f = 1_000_000
		}
		b.Append(arrow.Time64(int64(v.AsTime()) * f))
	case *array.TimestampBuilder:
		if v.Kind() != fn.KindTimestamp {
			return arrowKindError(v, t)
		}
		ms, nanos := v.AsTimestamp()
		var x int64
		var ok bool
		switch b.Type().(*arrow.TimestampType).Unit {
		case arrow.Second:
			x, _ = floorDiv(ms, 1000)
			ok = true
		case arrow.Millisecond:
			x, ok = ms, true
		case arrow.Microsecond:
			x, ok = mulAdd(ms, 1000, int64(nanos)/1000)
		default:
			x, ok = mulAdd(ms, 1_000_000, int64(nanos))
		}
		if !ok {
			return fmt.Errorf("%s out of the range of %s", v, t)
		}
		b.Append(arrow.Timestamp(x))
	case *array.StructBuilder:
		if v.Kind() != fn.KindRow || len(v.Fields()) != len(t.Fields) || b.NumField() != len(t.Fields) {
			return arrowKindError(v, t)
		}
		b.Append(true)
		for k, f := range v.Fields() {
			if err := appendArrow(b.FieldBuilder(k), f, t.Fields[k].Type); err != nil {
				return fmt.Errorf("field %s: %w", columnName(t.Fields[k], k), err)
			}
		}
	case *array.MapBuilder:
		if v.Kind() != fn.KindMap || t.Key == nil || t.Value == nil {
			return arrowKindError(v, t)
		}
		b.Append(true)
		keys, vals := v.MapEntries()
		kb, vb := b.KeyBuilder(), b.ItemBuilder()
		for k := range keys {
			if err := appendArrow(kb, keys[k], *t.Key); err != nil {
				return fmt.Errorf("key %d: %w", k, err)
			}
			if err := appendArrow(vb, vals[k], *t.Value); err != nil {
				return fmt.Errorf("value %d: %w", k, err)
			}
		}
	case *array.ListBuilder:
		if v.Kind() != fn.KindArray || t.Elem == nil {
			return arrowKindError(v, t)
		}
		b.Append(true)
		vb := b.ValueBuilder()
		for k, e := range v.Elems() {
			if err := appendArrow(vb, e, *t.Elem); err != nil {
				return fmt.Errorf("[%d]: %w", k, err)
			}
		}
	default:
		return fmt.Errorf("%s: %w", t, errArrowType)
	}
	return nil
}

func intIn(v fn.Value, t fn.Type, lo, hi int64) (int64, error) {
	if v.Kind() != fn.KindInt {
		return 0, arrowKindError(v, t)
	}
	n := v.AsInt()
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of the range of %s", n, t)
	}
	return n, nil
}

// mulAdd is a×m + c for m > 0 and 0 ≤ c < m, or false on overflow.
func mulAdd(a, m, c int64) (int64, bool) {
	if a > (math.MaxInt64-c)/m || a < math.MinInt64/m {
		return 0, false
	}
	return a*m + c, true
}

var bigTen = big.NewInt(10)

// rescaleDecimal rounds a DECIMAL value HALF_UP to scale digits (as Java's
// DecimalData.fromBigDecimal does) and returns its unscaled value; more
// than precision digits is an error.
func rescaleDecimal(v fn.Value, precision, scale int) (*big.Int, error) {
	u, s, err := v.AsDecimal()
	if err != nil {
		return nil, err
	}
	if d := scale - s; d > 0 {
		if d > 2*38+precision {
			if u.Sign() != 0 {
				return nil, fmt.Errorf("DECIMAL %s overflows DECIMAL(%d, %d)", v.DecimalString(), precision, scale)
			}
		} else {
			u = new(big.Int).Mul(u, new(big.Int).Exp(bigTen, big.NewInt(int64(d)), nil))
		}
	} else if d < 0 {
		if -d > 1000 {
			u = new(big.Int)
		} else {
			div := new(big.Int).Exp(bigTen, big.NewInt(int64(-d)), nil)
			q, r := new(big.Int).QuoRem(u, div, new(big.Int))
			if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(div) >= 0 {
				if u.Sign() < 0 {
					q.Sub(q, big.NewInt(1))
				} else {
					q.Add(q, big.NewInt(1))
				}
			}
			u = q
		}
	}
	if len(new(big.Int).Abs(u).String()) > precision && u.Sign() != 0 {
		return nil, fmt.Errorf("DECIMAL %s overflows DECIMAL(%d, %d)", v.DecimalString(), precision, scale)
	}
	return u, nil
}

// isArrowBatch reports whether a coder is the Arrow batch coder of a pandas
// scalar function operator (not the over-window one of a pandas aggregate).
func isArrowBatch(cd *flinkpb.CoderInfoDescriptor) bool {
	_, ok := cd.GetDataType().(*flinkpb.CoderInfoDescriptor_ArrowType_)
	return ok
}

// newArrowSide reads one side of a pandas operator: its fields and Arrow
// schema. Errors name the pandas functions and the column.
func newArrowSide(cd *flinkpb.CoderInfoDescriptor, what string, names []string) (*rowCodec, *arrowCodec, error) {
	fields, err := fieldsFromProto(cd.GetArrowType().GetSchema(), 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s coder: %w", what, err)
	}
	ac, err := newArrowCodec(fields)
	if err == nil && what == "input" {
		err = refuseMapInput(fields)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pandas function %s: %s %w", namesOr(names, "of this operator"), what, err)
	}
	return &rowCodec{fields: fields, framing: framingOf(cd)}, ac, nil
}

// errArrowMapInput: Flink's MapWriter (flink-python 1.20.3 and 2.3.0) does
// not override finish() and reset() as ArrayWriter and RowWriter do, so its
// key and value writers keep counting across Arrow batches: from a task's
// second batch on, a MAP column's entries are written past the offsets that
// point at them and cut off. The stock worker then fails with pyarrow's
// "Map array child array should have no nulls". A MAP result is read by
// Flink's ArrowMapColumnVector, which has no such fault.
var errArrowMapInput = errors.New("Flink's Arrow writer cannot send a MAP argument to a pandas function: its MapWriter does not reset its key and value writers between Arrow batches, so from the second batch on the entries are lost (the stock Python worker fails with \"Map array child array should have no nulls\"); declare the function row-at-a-time (without func_type=\"pandas\"), or pass the map's keys and values as two ARRAY arguments (MAP_KEYS(m), MAP_VALUES(m))")

// refuseMapInput refuses a MAP anywhere in the input columns.
func refuseMapInput(fields []fn.Field) error {
	for i, f := range fields {
		if hasMap(f.Type, 0) {
			return fmt.Errorf("column %s (%s): %w", columnName(f, i), f.Type, errArrowMapInput)
		}
	}
	return nil
}

func hasMap(t fn.Type, depth int) bool {
	if depth > maxTypeDepth {
		return false
	}
	if t.Name == fn.MAP {
		return true
	}
	if t.Elem != nil && hasMap(*t.Elem, depth+1) {
		return true
	}
	for _, f := range t.Fields {
		if hasMap(f.Type, depth+1) {
			return true
		}
	}
	return false
}
