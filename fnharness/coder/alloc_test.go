package coder

import (
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

const hotTypes = "ROW<b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, " +
	"c CHAR(5), s STRING, bin BINARY(3), vb BYTES, dt DATE, t TIME(3), ts3 TIMESTAMP(3), " +
	"ts9 TIMESTAMP(9), ltz TIMESTAMP_LTZ(6), n INT>"

func hotRow() []fn.Value {
	return []fn.Value{fn.Bool(true), fn.Int(-5), fn.Int(300), fn.Int(70_000), fn.Int(1 << 40),
		fn.Float32(1.25), fn.Float64(-2.5), fn.Str("chars"), fn.Str("a longer string value"),
		fn.Bin([]byte{1, 2, 3}), fn.Bin([]byte("bytes")), fn.Date(19_000), fn.TimeOfDay(1234),
		fn.Timestamp(1_700_000_000_000, 0), fn.Timestamp(-1, 999_999), fn.Timestamp(5, 1000), fn.Null()}
}

func TestDecodeHotTypesDoesNotAllocate(t *testing.T) {
	c := coderFor(t, hotTypes)
	b, err := c.Encode(nil, fn.UpdateAfter, hotRow())
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]fn.Value, c.NumFields())
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := c.Decode(b, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %.1f times per row", allocs)
	}
	if !valuesEqual(dst, hotRow()) {
		t.Fatalf("decoded %v", dst)
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	c := coderFor(t, hotTypes+"")
	row := hotRow()
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(200, func() {
		var err error
		if buf, err = c.Encode(buf[:0], fn.Insert, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Encode allocates %.1f times per row", allocs)
	}
	allocs = testing.AllocsPerRun(200, func() {
		var err error
		if buf, err = c.AppendElement(buf[:0], fn.Insert, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendElement allocates %.1f times per row", allocs)
	}

	// Nested values and decimals do not allocate on encode either.
	nc := coderFor(t, "ROW<d DECIMAL(38, 18), e DECIMAL(5, 2), a ARRAY<STRING>, m MAP<INT, DOUBLE>, r ROW<x INT>>")
	nrow := []fn.Value{dec(t, "-12345.678901234567890123"), dec(t, "1.5E+2"),
		fn.Array([]fn.Value{fn.Str("x"), fn.Null()}), fn.Map([]fn.Value{fn.Int(1)}, []fn.Value{fn.Float64(2)}),
		fn.Row(fn.Insert, []fn.Value{fn.Int(3)})}
	allocs = testing.AllocsPerRun(200, func() {
		var err error
		if buf, err = nc.Encode(buf[:0], fn.Insert, nrow); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Encode of nested values and decimals allocates %.1f times per row", allocs)
	}
}

func TestAppendElementLongRowDoesNotAllocate(t *testing.T) {
	c := mustCoder(t, fn.String())
	row := []fn.Value{fn.Str(string(make([]byte, 20_000)))}
	buf := make([]byte, 0, 32_000)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = c.AppendElement(buf[:0], fn.Insert, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendElement of a long row allocates %.1f times", allocs)
	}
}

func TestDecodeCanonicalDecimalDoesNotAllocate(t *testing.T) {
	c := mustCoder(t, fn.Decimal(38, 18), fn.Decimal(10, 2))
	b, err := c.Encode(nil, fn.Insert, []fn.Value{dec(t, "0.000000001"), dec(t, "-12.5")})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]fn.Value, 2)
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := c.Decode(b, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode of canonical decimals allocates %.1f times", allocs)
	}
}

func TestElementsDoNotAllocate(t *testing.T) {
	c := mustCoder(t, fn.Simple(fn.BIGINT), fn.String())
	var chunk []byte
	for i := 0; i < 100; i++ {
		var err error
		if chunk, err = c.AppendElement(chunk, fn.Insert, []fn.Value{fn.Int(int64(i)), fn.Str("row")}); err != nil {
			t.Fatal(err)
		}
	}
	dst := make([]fn.Value, 2)
	var sum int64
	allocs := testing.AllocsPerRun(50, func() {
		it := NewElements(chunk)
		for it.Next() {
			if _, _, err := c.Decode(it.Row(), dst); err != nil {
				t.Fatal(err)
			}
			sum += dst[0].AsInt()
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("iterating and decoding a chunk allocates %.1f times", allocs)
	}
	if sum != 51*4950 {
		t.Fatalf("sum %d", sum)
	}
}

func BenchmarkDecodeHot(b *testing.B) {
	c := coderFor(b, hotTypes)
	row, err := c.Encode(nil, fn.Insert, hotRow())
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]fn.Value, c.NumFields())
	b.SetBytes(int64(len(row)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(row, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeHot(b *testing.B) {
	c := coderFor(b, hotTypes)
	row := hotRow()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.Encode(buf[:0], fn.Insert, row); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeDecimal(b *testing.B) {
	c := mustCoder(b, fn.Decimal(38, 18))
	row := []fn.Value{dec(b, "-12345.678901234567890123")}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.Encode(buf[:0], fn.Insert, row); err != nil {
			b.Fatal(err)
		}
	}
}
