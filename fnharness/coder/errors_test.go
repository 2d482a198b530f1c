package coder

import (
	"strconv"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

func TestNewRowCoderRejects(t *testing.T) {
	deep := fn.Simple(fn.INT)
	for i := 0; i < MaxTypeDepth+1; i++ {
		deep = fn.ArrayOf(deep)
	}
	okDeep := fn.Simple(fn.INT)
	for i := 0; i < MaxTypeDepth-1; i++ {
		okDeep = fn.ArrayOf(okDeep)
	}
	if _, err := NewRowCoder([]fn.Type{okDeep}); err != nil {
		t.Fatalf("depth %d rejected: %v", MaxTypeDepth, err)
	}
	cases := []struct {
		typ  fn.Type
		want string
	}{
		{fn.Type{Name: fn.MULTISET, Nullable: true, Elem: &fn.Type{Name: fn.INT}}, "MULTISET is not supported"},
		{fn.Simple(fn.NULL), "NULL is not supported"},
		{fn.Type{Name: fn.ZONED_TIMESTAMP, Precision: 3}, "TIMESTAMP_TZ is not supported"},
		{fn.Type{Name: fn.TypeName(99)}, "unknown type"},
		{fn.Decimal(39, 0), "precision must be between 1 and 38"},
		{fn.Decimal(0, 0), "precision must be between 1 and 38"},
		{fn.Decimal(5, 6), "scale must be between 0 and the precision"},
		{fn.Type{Name: fn.TIMESTAMP, Precision: 10}, "precision must be between 0 and 9"},
		{fn.Type{Name: fn.TIME, Precision: -1}, "precision must be between 0 and 9"},
		{fn.Type{Name: fn.ARRAY}, "ARRAY without element type"},
		{fn.Type{Name: fn.MAP, Key: &fn.Type{Name: fn.INT}}, "MAP without key or value type"},
		{fn.MapOf(fn.Simple(fn.INT), fn.Type{Name: fn.MULTISET, Elem: &fn.Type{Name: fn.INT}}), "map value: type MULTISET"},
		{fn.RowOf(fn.Field{Name: "x", Type: fn.Simple(fn.NULL)}), "row field 0 (x)"},
		{deep, "nested deeper than 64"},
	}
	for _, c := range cases {
		_, err := NewRowCoder([]fn.Type{fn.Simple(fn.INT), c.typ})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewRowCoder(%v): %v, want error containing %q", c.typ, err, c.want)
		}
	}
	if _, err := NewRowCoderFromRow(fn.Simple(fn.INT)); err == nil || !strings.Contains(err.Error(), "not a ROW type") {
		t.Errorf("NewRowCoderFromRow(INT): %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	c := coderFor(t, "ROW<ti TINYINT, si SMALLINT, i INT NOT NULL, f FLOAT, d DECIMAL(5, 2), t TIME(3), "+
		"ts TIMESTAMP(9), a ARRAY<INT NOT NULL>, m MAP<STRING, INT NOT NULL>, r ROW<x BIGINT, y ARRAY<DATE>>>")
	ok := []fn.Value{fn.Int(1), fn.Int(1), fn.Int(1), fn.Float32(1), dec(t, "1"), fn.TimeOfDay(1),
		fn.Timestamp(1, 1), fn.Array(nil), fn.Map(nil, nil), fn.Row(fn.Insert, []fn.Value{fn.Int(1), fn.Array(nil)})}
	if _, err := c.Encode(nil, fn.Insert, ok); err != nil {
		t.Fatalf("valid row: %v", err)
	}
	cases := []struct {
		field int
		v     fn.Value
		path  string
		kind  fn.Kind
		typ   string
		want  string
	}{
		{0, fn.Int(128), "", fn.KindInt, "TINYINT", "128 out of range [-128, 127]"},
		{0, fn.Int(-129), "", fn.KindInt, "TINYINT", "out of range"},
		{0, fn.Str("1"), "", fn.KindString, "TINYINT", "value kind does not match"},
		{1, fn.Int(40_000), "", fn.KindInt, "SMALLINT", "out of range"},
		{2, fn.Int(1 << 31), "", fn.KindInt, "INT NOT NULL", "out of range"},
		{2, fn.Null(), "", fn.KindNull, "INT NOT NULL", "NULL for a NOT NULL type"},
		{3, fn.Float64(1), "", fn.KindFloat64, "FLOAT", "value kind does not match"},
		{4, dec(t, "1000"), "", fn.KindDecimal, "DECIMAL(5, 2)", "overflow precision 5"},
		{4, fn.Int(1), "", fn.KindInt, "DECIMAL(5, 2)", "value kind does not match"},
		{5, fn.TimeOfDay(86_400_000), "", fn.KindTime, "TIME(3)", "outside [0, 86400000)"},
		{5, fn.TimeOfDay(-1), "", fn.KindTime, "TIME(3)", "outside"},
		{6, fn.Timestamp(0, 1_000_000), "", fn.KindTimestamp, "TIMESTAMP(9)", "nano-of-millisecond 1000000"},
		{6, fn.Timestamp(0, -1), "", fn.KindTimestamp, "TIMESTAMP(9)", "nano-of-millisecond -1"},
		{6, fn.Date(1), "", fn.KindDate, "TIMESTAMP(9)", "value kind does not match"},
		{7, fn.Array([]fn.Value{fn.Int(1), fn.Null()}), "[1]", fn.KindNull, "INT NOT NULL", "NULL for a NOT NULL type"},
		{7, fn.Array([]fn.Value{fn.Str("x")}), "[0]", fn.KindString, "INT NOT NULL", "value kind does not match"},
		{8, fn.Map([]fn.Value{fn.Null()}, []fn.Value{fn.Int(1)}), "{key 0}", fn.KindNull, "STRING", "NULL map key"},
		{8, fn.Map([]fn.Value{fn.Str("a"), fn.Str("b")}, []fn.Value{fn.Int(1), fn.Null()}), "{value 1}", fn.KindNull, "INT NOT NULL", "NULL for a NOT NULL type"},
		{9, fn.Row(fn.Insert, []fn.Value{fn.Int(1)}), "", fn.KindRow, "ROW<`x` BIGINT, `y` ARRAY<DATE>>", "row has 1 fields, the type has 2"},
		{9, fn.Row(fn.Insert, []fn.Value{fn.Int(1), fn.Array([]fn.Value{fn.TimeOfDay(1)})}), ".1[0]", fn.KindTime, "DATE", "value kind does not match"},
		{9, fn.Row(fn.RowKind(7), []fn.Value{fn.Int(1), fn.Array(nil)}), "", fn.KindRow, "ROW<`x` BIGINT, `y` ARRAY<DATE>>", "invalid row kind 7"},
	}
	for _, cs := range cases {
		row := append([]fn.Value(nil), ok...)
		row[cs.field] = cs.v
		prefix := []byte("prefix")
		out, err := c.Encode(prefix, fn.Insert, row)
		var ee *EncodeError
		if !errorsAs(err, &ee) {
			t.Errorf("field %d = %v: error %v is not an *EncodeError", cs.field, cs.v, err)
			continue
		}
		if ee.Field != cs.field || ee.Path != cs.path || ee.Actual != cs.kind || ee.Expected.String() != cs.typ ||
			!strings.Contains(ee.Reason, cs.want) {
			t.Errorf("field %d = %v: got %+v (%v)", cs.field, cs.v, *ee, err)
		}
		msg := err.Error()
		for _, part := range []string{"field " + itoa(cs.field) + cs.path, cs.typ, cs.kind.String(), cs.want} {
			if !strings.Contains(msg, part) {
				t.Errorf("message %q lacks %q", msg, part)
			}
		}
		if string(out) != "prefix" {
			t.Errorf("field %d: dst not restored: %q", cs.field, out)
		}
	}

	if _, err := c.Encode(nil, fn.Insert, ok[:3]); err == nil || !strings.Contains(err.Error(), "got 3 fields, the row has 10") {
		t.Errorf("short row: %v", err)
	}
	if _, err := c.Encode(nil, fn.RowKind(4), ok); err == nil || !strings.Contains(err.Error(), "invalid row kind 4") {
		t.Errorf("bad kind: %v", err)
	}
	if _, err := c.AppendElement([]byte("x"), fn.Insert, ok[:1]); err == nil {
		t.Error("AppendElement accepted a short row")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		schema string
		in     string
		path   string
		off    int
		want   string
	}{
		{"ROW<a INT>", "", "", 0, "row mask needs 1 bytes, 0 left"},
		{"ROW<c0 INT, c1 INT, c2 INT, c3 INT, c4 INT, c5 INT, c6 INT>", "00", "", 0, "row mask needs 2 bytes"},
		{"ROW<a INT>", "00 0000", "0", 1, "needs 4 bytes, 2 left"},
		{"ROW<a BIGINT>", "00 00000000000000", "0", 1, "needs 8 bytes, 7 left"},
		{"ROW<a BOOLEAN>", "00", "0", 1, "needs 1 bytes, 0 left"},
		{"ROW<a STRING>", "00 ffffffff", "0", 1, "negative length -1"},
		{"ROW<a STRING>", "00 7fffffff 61", "0", 1, "length 2147483647 needs at least 2147483647 bytes, 1 left"},
		{"ROW<a BYTES>", "00 00000002 61", "0", 1, "length 2 needs at least 2 bytes, 1 left"},
		{"ROW<a ARRAY<INT>>", "00 7fffffff 00", "0", 1, "element count 2147483647 needs at least"},
		{"ROW<a ARRAY<INT>>", "00 80000000", "0", 1, "negative element count"},
		{"ROW<a ARRAY<INT>>", "00 00000002 01 00000001 01 0000", "0[1]", 11, "needs 4 bytes, 2 left"},
		{"ROW<a ARRAY<INT>>", "00 00000002 00", "0", 1, "element count 2 needs at least 2 bytes, 1 left"},
		{"ROW<a ARRAY<INT>>", "00 00000002 01 00000001", "0[1]", 10, "needs 1 bytes, 0 left"},
		{"ROW<a MAP<BIGINT, INT>>", "00 00000002 0000000000000001 01", "0", 1, "entry count 2 needs at least 18 bytes"},
		{"ROW<a MAP<INT, INT>>", "00 00000001 00000001", "0", 1, "entry count 1 needs at least 5 bytes, 4 left"},
		{"ROW<a MAP<STRING, INT>>", "00 00000001 00000001 61", "0{value 0}", 10, "needs 1 bytes, 0 left"},
		{"ROW<a MAP<INT, INT>>", "00 00000001 00000001 00 0001", "0{value 0}", 10, "needs 4 bytes"},
		{"ROW<a MAP<STRING, INT>>", "00 00000001 ffffff00 0000000000", "0{key 0}", 5, "negative length"},
		{"ROW<a ROW<b INT, c STRING>>", "00 00 00000001 00000005 61", "0.1", 6, "length 5 needs at least 5 bytes"},
		{"ROW<a ROW<b INT>>", "00", "0", 1, "row mask needs 1 bytes, 0 left"},
		{"ROW<a DECIMAL(5, 2)>", "00 00000003 312e", "0", 1, "length 3 needs"},
		{"ROW<a DECIMAL(5, 2)>", "00 00000003 31 2c 35", "0", 5, `decimal text "1,5": not a decimal number`},
		{"ROW<a DECIMAL(5, 2)>", "00 00000004 31303030", "0", 5, `"1000": 6 significant digits overflow precision 5`},
		{"ROW<a DECIMAL(5, 2)>", "00 00000000", "0", 1, "empty decimal text"},
		{"ROW<a TIME(3)>", "00 05265c00", "0", 1, "time of day 86400000 ms outside [0, 86400000)"},
		{"ROW<a TIME(0)>", "00 ffffffff", "0", 1, "time of day -1 ms"},
		{"ROW<a TIMESTAMP(6)>", "00 0000000000000000 000f4240", "0", 9, "nano-of-millisecond 1000000 outside [0, 999999]"},
		{"ROW<a TIMESTAMP_LTZ(9)>", "00 0000000000000000 ffffffff", "0", 9, "nano-of-millisecond -1"},
		{"ROW<a TIMESTAMP(9)>", "00 0000000000000000 0000", "0", 1, "needs 12 bytes, 10 left"},
		{"ROW<a INT, b ARRAY<ROW<c ARRAY<STRING>>>>", "00 00000001 00000001 01 00 00000001 01 00000009 61",
			"1[0].0[0]", 16, "length 9 needs at least 9 bytes, 1 left"},
	}
	for _, cs := range cases {
		c := coderFor(t, cs.schema)
		in := unhex(t, cs.in)
		_, _, err := c.Decode(in, make([]fn.Value, c.NumFields()))
		var de *DecodeError
		if !errorsAs(err, &de) {
			t.Errorf("%s %s: error %v is not a *DecodeError", cs.schema, cs.in, err)
			continue
		}
		if de.Path != cs.path || de.Offset != cs.off || !strings.Contains(de.Reason, cs.want) {
			t.Errorf("%s %s: got path %q offset %d reason %q; want %q, %d, %q", cs.schema, cs.in, de.Path, de.Offset, de.Reason, cs.path, cs.off, cs.want)
		}
		if cs.path != "" && !strings.Contains(err.Error(), "field "+cs.path+" (") {
			t.Errorf("message %q lacks the path", err)
		}
	}

	c := mustCoder(t, fn.Simple(fn.INT), fn.Simple(fn.INT))
	if _, _, err := c.Decode(unhex(t, "00 00000001 00000002"), make([]fn.Value, 1)); err == nil || !strings.Contains(err.Error(), "dst has room for 1 fields") {
		t.Errorf("short dst: %v", err)
	}
}

// TestDecodeEveryPrefix checks that every truncation of a valid row is an
// error and never a panic.
func TestDecodeEveryPrefix(t *testing.T) {
	c := coderFor(t, allTypes)
	b, err := c.Encode(nil, fn.Insert, []fn.Value{
		fn.Bool(true), fn.Int(1), fn.Int(2), fn.Int(3), fn.Int(4), fn.Float32(1.5), fn.Float64(2.25),
		dec(t, "3.14"), dec(t, "1.5"), fn.Str("héllo"), fn.Str("abc"), fn.Bin([]byte{1, 2}),
		fn.Bin([]byte("bytes")), fn.Date(19_000), fn.TimeOfDay(1), fn.Timestamp(1, 0),
		fn.Timestamp(1, 2), fn.Timestamp(3, 0), fn.Timestamp(4, 5000),
		fn.Array([]fn.Value{fn.Int(1), fn.Null()}),
		fn.Map([]fn.Value{fn.Str("k")}, []fn.Value{fn.Float64(0.5)}),
		fn.Row(fn.Insert, []fn.Value{fn.Int(7), fn.Array([]fn.Value{fn.Row(fn.Insert, []fn.Value{fn.Str("z")})})}),
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]fn.Value, c.NumFields())
	for n := 0; n < len(b); n++ {
		if _, _, err := c.Decode(b[:n], dst); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded without error", n, len(b))
		}
	}
	if _, m, err := c.Decode(b, dst); err != nil || m != len(b) {
		t.Fatalf("full row: %d, %v", m, err)
	}
}

func TestVarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 300, 16383, 16384, 1<<31 - 1, 1 << 32, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		b := AppendVarint([]byte{0xaa}, v)
		if len(b)-1 != varintLen(v) {
			t.Errorf("%d: %d bytes, varintLen says %d", v, len(b)-1, varintLen(v))
		}
		got, n, err := ReadVarint(b[1:])
		if err != nil || got != v || n != len(b)-1 {
			t.Errorf("%d: read %d, %d, %v", v, got, n, err)
		}
	}
	// Beam VarInt of int64(-1) is ten bytes.
	if b := AppendVarint(nil, uint64(0xffffffffffffffff)); len(b) != 10 || b[9] != 0x01 {
		t.Errorf("varint(-1) = %x", b)
	}
	if got := AppendVarint(nil, 300); string(got) != "\xac\x02" {
		t.Errorf("varint(300) = %x", got)
	}
	// Non-minimal encodings are accepted, like Beam does.
	if v, n, err := ReadVarint([]byte{0x80, 0x00}); v != 0 || n != 2 || err != nil {
		t.Errorf("non-minimal zero: %d %d %v", v, n, err)
	}
	for _, bad := range []struct {
		in   string
		want string
	}{
		{"", "varint not terminated"},
		{"80", "varint not terminated"},
		{"ffffffffffffffffff", "varint not terminated"},
		{"ffffffffffffffffff02", "longer than 64 bits"},
		{"ffffffffffffffffff8001", "longer than 64 bits"},
	} {
		_, _, err := ReadVarint(unhex(t, bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ReadVarint(%s): %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestElements(t *testing.T) {
	chunk := AppendElement(nil, []byte("abc"))
	chunk = AppendEndMarker(chunk)
	chunk = AppendElement(chunk, nil)
	chunk = AppendElement(chunk, make([]byte, 200))
	if !strings.HasPrefix(string(chunk), "\x03abc\x01\x00\x00\xc8\x01") {
		t.Fatalf("chunk %x", chunk)
	}
	it := NewElements(chunk)
	var rows [][]byte
	var offs []int
	for it.Next() {
		rows = append(rows, it.Row())
		offs = append(offs, it.Offset())
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if len(rows) != 4 || string(rows[0]) != "abc" || !IsEndMarker(rows[1]) || len(rows[2]) != 0 || len(rows[3]) != 200 {
		t.Fatalf("rows %q", rows)
	}
	if offs[0] != 0 || offs[1] != 4 || offs[2] != 6 || offs[3] != 7 {
		t.Fatalf("offsets %v", offs)
	}
	if IsEndMarker(rows[0]) || IsEndMarker(rows[2]) || IsEndMarker([]byte{0, 0}) {
		t.Fatal("IsEndMarker false positive")
	}
	if cap(rows[0]) != 3 {
		t.Fatalf("payload capacity %d reaches past the element", cap(rows[0]))
	}

	for _, bad := range []struct {
		in   string
		n    int
		off  int
		want string
	}{
		{"03 616263 05 6162", 1, 4, "element length 5 exceeds the 2 bytes left"},
		{"03 616263 80", 1, 4, "varint not terminated"},
		{"ffffffffffffffffffff01", 0, 0, "longer than 64 bits"},
		{"ffffffff0f 00", 0, 0, "element length 4294967295 exceeds"},
	} {
		it := NewElements(unhex(t, bad.in))
		n := 0
		for it.Next() {
			n++
		}
		var de *DecodeError
		if n != bad.n || !errorsAs(it.Err(), &de) || de.Offset != bad.off || !strings.Contains(de.Reason, bad.want) {
			t.Errorf("%s: %d elements, err %v; want %d, offset %d, %q", bad.in, n, it.Err(), bad.n, bad.off, bad.want)
		}
		if it.Next() {
			t.Errorf("%s: Next after error", bad.in)
		}
	}
	empty := NewElements(nil)
	if empty.Next() || empty.Err() != nil {
		t.Fatal("empty chunk")
	}
}
