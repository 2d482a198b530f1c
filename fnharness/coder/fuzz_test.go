package coder

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// The fuzz targets decode arbitrary bytes with a few fixed schemas. Every
// successful decode must re-encode; when the decoder judged the input
// canonical the re-encoding must be byte-identical, and in every case the
// re-encoding must decode to the same values and re-encode to itself.
//
//	go test ./fnharness/coder -run '^$' -fuzz FuzzDecodeFlat -fuzztime 5m

// fuzzFlatSchemas are flat rows of the hot types.
func fuzzFlatSchemas() []string {
	return []string{
		"ROW<f0 BIGINT, f1 VARCHAR(2147483647), f2 INT>", // spec §5.4
		"ROW<`b` BOOLEAN, `ti` TINYINT, `si` SMALLINT, `i` INT, `bi` BIGINT, `f` FLOAT, `d` DOUBLE, " +
			"`s` VARCHAR(2147483647), `c` CHAR(3), `vc` VARCHAR(10), `bin` BINARY(2), `vb` VARBINARY(2147483647), " +
			"`dt` DATE, `t0` TIME(0), `t3` TIME(3)>", // flink-vectors.jsonl line 1
		hotTypes,
		"ROW<`c0` INT, `c1` INT, `c2` INT, `c3` INT, `c4` INT, `c5` INT, `c6` INT, `c7` INT, `c8` INT, " +
			"`c9` INT, `c10` INT, `c11` INT, `c12` INT, `c13` INT, `c14` INT>", // line 4
		"ROW<>",
	}
}

// fuzzNestedSchemas nest ARRAY, MAP and ROW.
func fuzzNestedSchemas() []string {
	return []string{
		"ROW<a ARRAY<FLOAT>>", // spec §5.5
		"ROW<`a` ARRAY<INT>, `af` ARRAY<FLOAT>, `ast` ARRAY<VARCHAR(2147483647)>, `aa` ARRAY<ARRAY<BIGINT>>, " +
			"`m` MAP<VARCHAR(2147483647), INT>, `md` MAP<INT, DECIMAL(10, 2)>, " +
			"`r` ROW<`x` INT, `y` VARCHAR(2147483647), `z` ARRAY<TIMESTAMP(9)>>, " +
			"`ar` ARRAY<ROW<`p` DOUBLE, `q` MAP<BIGINT, BOOLEAN>>>, " +
			"`mr` MAP<VARCHAR(2147483647), ARRAY<ROW<`k` DATE>>>>", // line 3
		allTypes,
		"ROW<`a` INT NOT NULL, `b` VARCHAR(2147483647) NOT NULL, `c` ARRAY<INT NOT NULL> NOT NULL>", // line 5
		"ROW<m MAP<ROW<>, ARRAY<MAP<BOOLEAN, ROW<x TINYINT>>>>, e ARRAY<ROW<>>>",
	}
}

// fuzzDecimalTimeSchemas hold DECIMAL, TIME and TIMESTAMP fields.
func fuzzDecimalTimeSchemas() []string {
	return []string{
		"ROW<`d1` DECIMAL(10, 2), `d2` DECIMAL(38, 18), `d3` DECIMAL(38, 0), `d4` DECIMAL(5, 5), " +
			"`d5` DECIMAL(18, 0), `ts0` TIMESTAMP(0), `ts3` TIMESTAMP(3), `ts6` TIMESTAMP(6), `ts9` TIMESTAMP(9), " +
			"`ltz3` TIMESTAMP(3) WITH LOCAL TIME ZONE, `ltz9` TIMESTAMP(9) WITH LOCAL TIME ZONE>", // line 2
		"ROW<d DECIMAL(5, 2), t TIME(0), ts TIMESTAMP(6), e DECIMAL(1, 0), dt DATE>",
		"ROW<m MAP<DECIMAL(38, 10), ARRAY<TIMESTAMP_LTZ(9)>>, a ARRAY<DECIMAL(3, 3)>>",
	}
}

func fuzzCoders(f *testing.F, schemas []string) []*RowCoder {
	f.Helper()
	cs := make([]*RowCoder, len(schemas))
	for i, s := range schemas {
		cs[i] = coderFor(f, s)
	}
	return cs
}

// addVectorSeeds adds the golden vectors whose schema is one of schemas.
func addVectorSeeds(f *testing.F, schemas []string) {
	f.Helper()
	data, err := os.ReadFile(vectorsFile)
	if err != nil {
		f.Fatalf("read golden vectors: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l vectorLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			f.Fatal(err)
		}
		for i, s := range schemas {
			if s != l.Schema {
				continue
			}
			for _, h := range l.Rows {
				b, err := hex.DecodeString(h)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(uint8(i), b)
			}
		}
	}
}

func checkRoundTrip(t *testing.T, c *RowCoder, data []byte) {
	dst := make([]fn.Value, c.NumFields())
	kind, n, canonical, err := c.decodeCanonical(data, dst)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("decode error is not a *DecodeError: %v", err)
		}
		if de.Offset < 0 || de.Offset > len(data) || de.Reason == "" {
			t.Fatalf("bad DecodeError %+v for %d bytes", *de, len(data))
		}
		return
	}
	if n <= 0 || n > len(data) {
		t.Fatalf("consumed %d of %d bytes", n, len(data))
	}
	if kind > fn.Delete {
		t.Fatalf("row kind %d", kind)
	}
	out, err := c.Encode(nil, kind, dst)
	if err != nil {
		if strings.Contains(err.Error(), "NULL for a NOT NULL type") {
			return // accepted on decode, rejected on encode, by design
		}
		t.Fatalf("decoded %x as %v, which does not re-encode: %v", data[:n], dst, err)
	}
	if canonical && !bytes.Equal(out, data[:n]) {
		t.Fatalf("canonical input\n%x\nre-encodes as\n%x", data[:n], out)
	}
	dst2 := make([]fn.Value, c.NumFields())
	kind2, n2, canonical2, err := c.decodeCanonical(out, dst2)
	if err != nil || n2 != len(out) || !canonical2 || kind2 != kind {
		t.Fatalf("re-encoded row %x: kind %v, %d bytes, canonical %v, err %v", out, kind2, n2, canonical2, err)
	}
	if !valuesEqual(dst, dst2) {
		t.Fatalf("values changed across re-encoding: %v vs %v", dst, dst2)
	}
	out2, err := c.Encode(nil, kind2, dst2)
	if err != nil || !bytes.Equal(out2, out) {
		t.Fatalf("encoding is not a fixpoint: %x vs %x (%v)", out2, out, err)
	}
}

func fuzzRows(f *testing.F, schemas []string) {
	coders := fuzzCoders(f, schemas)
	addVectorSeeds(f, schemas)
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		checkRoundTrip(t, coders[int(sel)%len(coders)], data)
	})
}

func FuzzDecodeFlat(f *testing.F) {
	f.Add(uint8(0), unhex(f, "08 00 00 00 00 00 00 00 07 00 00 00 02 61 62"))
	f.Add(uint8(0), unhex(f, "00 00 00 00 00 00 00 00 08 00 00 00 01 63 00 00 00 05"))
	f.Add(uint8(0), unhex(f, "c0 00 00 00 00 00 00 00 08 00 00 00 01 63 00 00 00 05"))
	f.Add(uint8(4), []byte{0x40})
	if b, err := coderFor(f, hotTypes).Encode(nil, fn.UpdateAfter, hotRow()); err == nil {
		f.Add(uint8(2), b)
	}
	fuzzRows(f, fuzzFlatSchemas())
}

func FuzzDecodeNested(f *testing.F) {
	f.Add(uint8(0), unhex(f, "00 00 00 00 02 01 3f 80 00 00 01 40 00 00 00"))
	f.Add(uint8(0), unhex(f, "00 00 00 00 02 01 3f f0 00 00 00 01 00"))
	f.Add(uint8(4), unhex(f, "00 00000001 00 00 00000002 00 01 00000001 01 00 00 00000002 01 00 01"))
	fuzzRows(f, fuzzNestedSchemas())
}

func FuzzDecodeDecimalTime(f *testing.F) {
	f.Add(uint8(1), unhex(f, "00 00000004 312e3530 00000001 000000000000000000000001 00000001 30 00000000"))
	f.Add(uint8(1), unhex(f, "00 00000005 312e35452d 00000001"))
	f.Add(uint8(1), unhex(f, "00 00000006 2b2e35652b31 05265bff"))
	f.Add(uint8(2), unhex(f, "00 00000001 0000000b 302e30303030303030303000000000"))
	fuzzRows(f, fuzzDecimalTimeSchemas())
}

// FuzzElements checks the element framing: iteration never panics, the
// payloads tile the chunk, and re-framing them reproduces the chunk when its
// varints are minimal. Each payload is also decoded as a row of the spec's
// worked example schema.
func FuzzElements(f *testing.F) {
	f.Add(unhex(f, "0f 08 00 00 00 00 00 00 00 07 00 00 00 02 61 62 12 00 00 00 00 00 00 00 00 08 00 00 00 01 63 00 00 00 05"))
	f.Add(unhex(f, "09 00 00 00 00 00 00 00 00 09 01 00"))
	f.Add(unhex(f, "0f 00 00 00 00 02 01 3f 80 00 00 01 40 00 00 00"))
	f.Add(unhex(f, "80 01"))
	f.Add(unhex(f, "ffffffffffffffffff01"))
	c := coderFor(f, fuzzFlatSchemas()[0])
	dst := make([]fn.Value, c.NumFields())
	f.Fuzz(func(t *testing.T, data []byte) {
		it := NewElements(data)
		var rebuilt []byte
		minimal := true
		end := 0
		for it.Next() {
			row := it.Row()
			off := it.Offset()
			if off != end {
				t.Fatalf("element at %d, previous ended at %d", off, end)
			}
			v, n, err := ReadVarint(data[off:])
			if err != nil || v != uint64(len(row)) {
				t.Fatalf("element at %d: varint %d, %v; payload %d bytes", off, v, err, len(row))
			}
			if n != varintLen(v) {
				minimal = false
			}
			end = off + n + len(row)
			if !bytes.Equal(data[off+n:end], row) {
				t.Fatalf("payload at %d is not the element's bytes", off)
			}
			rebuilt = AppendElement(rebuilt, row)
			if _, _, err := c.Decode(row, dst); err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("decode error is not a *DecodeError: %v", err)
				}
			}
			_ = IsEndMarker(row)
		}
		if err := it.Err(); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset != end {
				t.Fatalf("framing error %v; last element ended at %d", err, end)
			}
		} else if end != len(data) {
			t.Fatalf("iteration stopped at %d of %d bytes without error", end, len(data))
		}
		if minimal && !bytes.Equal(rebuilt, data[:end]) {
			t.Fatalf("re-framed chunk differs:\n%x\n%x", rebuilt, data[:end])
		}
	})
}

// FuzzVarint checks ReadVarint against AppendVarint.
func FuzzVarint(f *testing.F) {
	for _, s := range []string{"00", "7f", "8001", "ac02", "ffffffffffffffffff01", "8000", "ffffffffffffffffff02", "80"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := ReadVarint(data)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with length %d", n)
			}
			return
		}
		if n < 1 || n > 10 || n > len(data) {
			t.Fatalf("length %d", n)
		}
		enc := AppendVarint(nil, v)
		minimal := n == 1 || data[n-1] != 0
		if minimal != bytes.Equal(enc, data[:n]) {
			t.Fatalf("%x read as %d; AppendVarint gives %x", data[:n], v, enc)
		}
		if len(enc) != varintLen(v) {
			t.Fatalf("varintLen(%d) = %d, encoding has %d bytes", v, varintLen(v), len(enc))
		}
	})
}
