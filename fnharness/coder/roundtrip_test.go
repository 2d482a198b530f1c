package coder

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// allTypes is a schema with every supported type.
const allTypes = "ROW<b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, " +
	"dec DECIMAL(38, 18), dec2 DECIMAL(5, 2), s STRING, c CHAR(3), bin BINARY(2), vb BYTES, dt DATE, " +
	"t TIME(3), ts3 TIMESTAMP(3), ts9 TIMESTAMP(9), ltz0 TIMESTAMP_LTZ(0), ltz6 TIMESTAMP_LTZ(6), " +
	"a ARRAY<INT>, m MAP<STRING, DOUBLE>, r ROW<x BIGINT, y ARRAY<ROW<z STRING>>>>"

func TestRoundTripAllTypes(t *testing.T) {
	c := coderFor(t, allTypes)
	null := fn.Null()
	nulls := make([]fn.Value, c.NumFields())
	maxDec := "99999999999999999999.999999999999999999"
	rows := []struct {
		name string
		kind fn.RowKind
		vals []fn.Value
	}{
		{"ordinary", fn.Insert, []fn.Value{
			fn.Bool(true), fn.Int(1), fn.Int(2), fn.Int(3), fn.Int(4), fn.Float32(1.5), fn.Float64(2.25),
			dec(t, "3.140000000000000000"), dec(t, "1.50"), fn.Str("héllo"), fn.Str("abc"), fn.Bin([]byte{1, 2}),
			fn.Bin([]byte("bytes")), fn.Date(19_000), fn.TimeOfDay(45_296_789), fn.Timestamp(1_600_000_000_123, 0),
			fn.Timestamp(1_600_000_000_123, 456_789), fn.Timestamp(1_600_000_000_000, 0),
			fn.Timestamp(1_600_000_000_123, 456_000),
			fn.Array([]fn.Value{fn.Int(1), fn.Int(-1)}),
			fn.Map([]fn.Value{fn.Str("k")}, []fn.Value{fn.Float64(0.5)}),
			fn.Row(fn.Insert, []fn.Value{fn.Int(7), fn.Array([]fn.Value{fn.Row(fn.Insert, []fn.Value{fn.Str("z")})})}),
		}},
		{"minimum", fn.UpdateBefore, []fn.Value{
			fn.Bool(false), fn.Int(math.MinInt8), fn.Int(math.MinInt16), fn.Int(math.MinInt32), fn.Int(math.MinInt64),
			fn.Float32(-math.MaxFloat32), fn.Float64(-math.MaxFloat64), dec(t, "-"+maxDec), dec(t, "-999.99"),
			fn.Str(""), fn.Str(""), fn.Bin([]byte{}), fn.Bin(nil), fn.Date(math.MinInt32), fn.TimeOfDay(0),
			fn.Timestamp(math.MinInt64, 0), fn.Timestamp(math.MinInt64, 0), fn.Timestamp(math.MinInt64, 0),
			fn.Timestamp(math.MinInt64, 0), fn.Array(nil), fn.Map(nil, nil),
			fn.Row(fn.Insert, []fn.Value{fn.Int(math.MinInt64), fn.Array(nil)}),
		}},
		{"maximum", fn.UpdateAfter, []fn.Value{
			fn.Bool(true), fn.Int(math.MaxInt8), fn.Int(math.MaxInt16), fn.Int(math.MaxInt32), fn.Int(math.MaxInt64),
			fn.Float32(math.MaxFloat32), fn.Float64(math.MaxFloat64), dec(t, maxDec), dec(t, "999.99"),
			fn.Str("😀𝄞\U0010FFFF"), fn.Str("\x00\x00\x00"), fn.Bin([]byte{0xff, 0xff}), fn.Bin(bytes.Repeat([]byte{0xab}, 70_000)),
			fn.Date(math.MaxInt32), fn.TimeOfDay(86_399_999), fn.Timestamp(math.MaxInt64, 0),
			fn.Timestamp(math.MaxInt64, 999_999), fn.Timestamp(math.MaxInt64, 0), fn.Timestamp(math.MaxInt64, 999_000),
			fn.Array([]fn.Value{fn.Int(math.MaxInt32), fn.Int(math.MinInt32)}),
			fn.Map([]fn.Value{fn.Str(strings.Repeat("k", 300)), fn.Str("")}, []fn.Value{fn.Float64(math.Inf(1)), fn.Float64(math.Inf(-1))}),
			fn.Row(fn.Delete, []fn.Value{fn.Int(math.MaxInt64), fn.Array([]fn.Value{null, fn.Row(fn.UpdateAfter, []fn.Value{null})})}),
		}},
		{"specials", fn.Delete, []fn.Value{
			null, null, fn.Int(0), fn.Int(0), fn.Int(0),
			fn.Float32Bits(0x7f800001), fn.Float64Bits(0x7ff0000000000001), // NaN payloads, bit-exact
			dec(t, "0.000000000000000001"), dec(t, "0"), fn.Str(""), null, null, fn.Bin([]byte{}), fn.Date(-1),
			null, fn.Timestamp(-1, 0), fn.Timestamp(-1, 999_999), fn.Timestamp(-1000, 0),
			fn.Timestamp(-62_135_596_800_000, 1000), // 0001-01-01T00:00:00.000001
			fn.Array([]fn.Value{null, null, fn.Int(0)}),
			fn.Map([]fn.Value{fn.Str("a"), fn.Str("b")}, []fn.Value{null, fn.Float64Bits(0xfff8000000000123)}),
			fn.Row(fn.Insert, []fn.Value{null, null}),
		}},
		{"negative zero and infinities", fn.Insert, []fn.Value{
			fn.Bool(false), fn.Int(-1), fn.Int(-1), fn.Int(-1), fn.Int(-1),
			fn.Float32(float32(math.Copysign(0, -1))), fn.Float64(math.Copysign(0, -1)),
			dec(t, "-0.000000000000000001"), dec(t, "-0.01"), fn.Str(" "), fn.Str("   "), fn.Bin([]byte{0, 0}), null,
			fn.Date(0), fn.TimeOfDay(1), fn.Timestamp(0, 0), fn.Timestamp(0, 1), fn.Timestamp(0, 0), fn.Timestamp(0, 0),
			null, null, null,
		}},
		{"all NULL", fn.Insert, nulls},
	}
	for _, r := range rows {
		b, err := c.Encode(nil, r.kind, r.vals)
		if err != nil {
			t.Errorf("%s: encode: %v", r.name, err)
			continue
		}
		kind, got := decodeAll(t, c, b)
		if kind != r.kind {
			t.Errorf("%s: kind %v, want %v", r.name, kind, r.kind)
		}
		for i := range got {
			if !sameValue(got[i], r.vals[i]) {
				t.Errorf("%s: field %d decoded as %v (%v), want %v (%v)", r.name, i, got[i], got[i].Kind(), r.vals[i], r.vals[i].Kind())
			}
		}
		again, err := c.Encode(nil, kind, got)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-encode differs (%v)", r.name, err)
		}
	}
}

func TestEmptyStringIsNotNull(t *testing.T) {
	c := mustCoder(t, fn.String(), fn.Bytes())
	empty := encodeHex(t, c, fn.Insert, fn.Str(""), fn.Bin(nil))
	if empty != "00"+"00000000"+"00000000" {
		t.Fatalf("empty string/bytes = %s", empty)
	}
	nulls := encodeHex(t, c, fn.Insert, fn.Null(), fn.Null())
	if nulls != "30" {
		t.Fatalf("NULL string/bytes = %s", nulls)
	}
	_, v := decodeAll(t, c, unhex(t, empty))
	if v[0].IsNull() || v[0].AsString() != "" || v[1].IsNull() || len(v[1].AsBytes()) != 0 {
		t.Fatalf("decoded %v", v)
	}
}

func TestFloatBitsExact(t *testing.T) {
	c := mustCoder(t, fn.Simple(fn.FLOAT), fn.Simple(fn.DOUBLE))
	for _, bits := range []struct {
		f uint32
		d uint64
	}{
		{0x7f800001, 0x7ff0000000000001}, // signalling NaNs with payload
		{0xffc00123, 0xfff8000000000abc}, // negative quiet NaNs with payload
		{0x80000000, 0x8000000000000000}, // -0.0
		{0x7f800000, 0x7ff0000000000000}, // +Inf
		{0xff800000, 0xfff0000000000000}, // -Inf
		{0x00000001, 0x0000000000000001}, // smallest subnormals
	} {
		b, err := c.Encode(nil, fn.Insert, []fn.Value{fn.Float32Bits(bits.f), fn.Float64Bits(bits.d)})
		if err != nil {
			t.Fatal(err)
		}
		want := "00" + hex.EncodeToString([]byte{byte(bits.f >> 24), byte(bits.f >> 16), byte(bits.f >> 8), byte(bits.f)})
		if got := hex.EncodeToString(b); !strings.HasPrefix(got, want) {
			t.Errorf("FLOAT bits %08x encoded as %s", bits.f, got)
		}
		_, v := decodeAll(t, c, b)
		if uint32(v[0].RawBits()) != bits.f || v[1].RawBits() != bits.d {
			t.Errorf("bits %08x/%016x decoded as %08x/%016x", bits.f, bits.d, v[0].RawBits(), v[1].RawBits())
		}
	}
}

func TestTimestampLayouts(t *testing.T) {
	cases := []struct {
		typ  string
		v    fn.Value
		want string
	}{
		{"TIMESTAMP(3)", fn.Timestamp(-1, 0), "ffffffffffffffff"},
		{"TIMESTAMP(0)", fn.Timestamp(1500, 0), "00000000000005dc"}, // no truncation to the precision
		{"TIMESTAMP(3)", fn.Timestamp(5, 123), "0000000000000005"},  // sub-ms digits are dropped
		{"TIMESTAMP(4)", fn.Timestamp(5, 123), "0000000000000005" + "0000007b"},
		{"TIMESTAMP(9)", fn.Timestamp(-1, 999_999), "ffffffffffffffff" + "000f423f"},
		{"TIMESTAMP_LTZ(9)", fn.Timestamp(1, 2), "0000000000000001" + "00000002"},
		{"TIMESTAMP_LTZ(3)", fn.Timestamp(1, 0), "0000000000000001"},
		{"TIME(0)", fn.TimeOfDay(1), "00000001"},
		{"DATE", fn.Date(-719_162), "fff506c6"},
	}
	for _, cs := range cases {
		c := mustCoder(t, mustParse(t, cs.typ))
		if got := encodeHex(t, c, fn.Insert, cs.v); got != "00"+cs.want {
			t.Errorf("%s %v = %s, want 00%s", cs.typ, cs.v, got, cs.want)
		}
	}
}

func TestRowKindsAndMasks(t *testing.T) {
	for n := 0; n <= 20; n++ {
		types := make([]fn.Type, n)
		for i := range types {
			types[i] = fn.Simple(fn.TINYINT)
		}
		c := mustCoder(t, types...)
		for _, kind := range []fn.RowKind{fn.Insert, fn.UpdateBefore, fn.UpdateAfter, fn.Delete} {
			for pattern := 0; pattern < 4; pattern++ {
				vals := make([]fn.Value, n)
				for i := range vals {
					if (pattern == 1 && i%2 == 0) || pattern == 2 || (pattern == 3 && i == n-1) {
						continue // NULL
					}
					vals[i] = fn.Int(int64(i))
				}
				b, err := c.Encode(nil, kind, vals)
				if err != nil {
					t.Fatal(err)
				}
				if ml := (n + 9) / 8; len(b) < ml || b[0]>>6 != byte(kind&1)<<1|byte(kind>>1) {
					t.Fatalf("n=%d kind=%v: mask %x", n, kind, b)
				}
				gotKind, got := decodeAll(t, c, b)
				if gotKind != kind || !valuesEqual(got, vals) {
					t.Fatalf("n=%d kind=%v pattern=%d: decoded %v %v, want %v", n, kind, pattern, gotKind, got, vals)
				}
			}
		}
	}
}

func TestDecodeDoesNotCopy(t *testing.T) {
	c := mustCoder(t, fn.String(), fn.Bytes())
	b, err := c.Encode(nil, fn.Insert, []fn.Value{fn.Str("abc"), fn.Bin([]byte("xyz"))})
	if err != nil {
		t.Fatal(err)
	}
	_, v := decodeAll(t, c, b)
	bs := v[1].AsBytes()
	if &bs[0] != &b[len(b)-3] {
		t.Fatal("bytes were copied")
	}
	if cap(bs) != 3 {
		t.Fatalf("bytes capacity %d reaches past the value", cap(bs))
	}
	b[5] = 'A' // the string shares the buffer
	if v[0].AsString() != "Abc" {
		t.Fatalf("string was copied: %q", v[0].AsString())
	}
}

func TestDecodeIgnoresTrailingBytes(t *testing.T) {
	c := mustCoder(t, fn.Simple(fn.INT))
	_, n, err := c.Decode(unhex(t, "00 00000001 ffff"), make([]fn.Value, 1))
	if err != nil || n != 5 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestDecodeLenientLikeFlink(t *testing.T) {
	// Non-canonical bytes Flink's readers accept: BOOLEAN 0x02, array
	// presence flag 0x02, map NULL flag 0x05, padding bits set in the mask,
	// DECIMAL text in a non-canonical form.
	c := coderFor(t, "ROW<b BOOLEAN, a ARRAY<INT>, m MAP<INT, INT>, d DECIMAL(5, 2)>")
	in := unhex(t, "03 02 00000001 02 00000007 00000001 00000009 05 00000003 312e35")
	dst := make([]fn.Value, 4)
	_, n, canonical, err := c.decodeCanonical(in, dst)
	if err != nil || n != len(in) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if canonical {
		t.Fatal("non-canonical input judged canonical")
	}
	want := []fn.Value{fn.Bool(true), fn.Array([]fn.Value{fn.Int(7)}),
		fn.Map([]fn.Value{fn.Int(9)}, []fn.Value{fn.Null()}), fn.DecimalTextUnchecked("1.50")}
	if !valuesEqual(dst, want) {
		t.Fatalf("decoded %v, want %v", dst, want)
	}
	out, err := c.Encode(nil, fn.Insert, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(out); got != "00"+"01"+"00000001"+"01"+"00000007"+"00000001"+"00000009"+"01"+"00000004"+"312e3530" {
		t.Fatalf("canonical re-encoding %s", got)
	}
}

func TestNullInNotNullDecodesButDoesNotEncode(t *testing.T) {
	c := coderFor(t, "ROW<a INT NOT NULL>")
	_, v := decodeAll(t, c, unhex(t, "20"))
	if !v[0].IsNull() {
		t.Fatalf("decoded %v", v[0])
	}
	if _, err := c.Encode(nil, fn.Insert, v); err == nil || !strings.Contains(err.Error(), "NOT NULL") {
		t.Fatalf("encode NULL into NOT NULL: %v", err)
	}
}

func TestAppendElementLongRows(t *testing.T) {
	c := mustCoder(t, fn.String())
	for _, n := range []int{0, 1, 122, 123, 124, 200, 16_379, 16_380, 16_381, 100_000, 3_000_000} {
		s := strings.Repeat("x", n)
		prefix := []byte("keep")
		got, err := c.AppendElement(prefix, fn.Insert, []fn.Value{fn.Str(s)})
		if err != nil {
			t.Fatal(err)
		}
		row, err := c.Encode(nil, fn.Insert, []fn.Value{fn.Str(s)})
		if err != nil {
			t.Fatal(err)
		}
		want := AppendElement([]byte("keep"), row)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: AppendElement differs from AppendElement(Encode)", n)
		}
	}
}
