package coder

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustCoder(t testing.TB, types ...fn.Type) *RowCoder {
	t.Helper()
	c, err := NewRowCoder(types)
	if err != nil {
		t.Fatalf("NewRowCoder(%v): %v", types, err)
	}
	return c
}

func mustParse(t testing.TB, s string) fn.Type {
	t.Helper()
	typ, err := fn.ParseType(s)
	if err != nil {
		t.Fatalf("ParseType(%q): %v", s, err)
	}
	return typ
}

// coderFor builds a coder from a "ROW<...>" type string.
func coderFor(t testing.TB, row string) *RowCoder {
	t.Helper()
	c, err := NewRowCoderFromRow(mustParse(t, row))
	if err != nil {
		t.Fatalf("NewRowCoderFromRow(%q): %v", row, err)
	}
	return c
}

func encodeHex(t testing.TB, c *RowCoder, kind fn.RowKind, vals ...fn.Value) string {
	t.Helper()
	b, err := c.Encode(nil, kind, vals)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return hex.EncodeToString(b)
}

func decodeAll(t testing.TB, c *RowCoder, b []byte) (fn.RowKind, []fn.Value) {
	t.Helper()
	dst := make([]fn.Value, c.NumFields())
	kind, n, err := c.Decode(b, dst)
	if err != nil {
		t.Fatalf("Decode(%x): %v", b, err)
	}
	if n != len(b) {
		t.Fatalf("Decode(%x) consumed %d of %d bytes", b, n, len(b))
	}
	return kind, dst
}

// Spec §5.4, worked example 1: (BIGINT 7, VARCHAR 'ab', NULL).
func TestWorkedExample1(t *testing.T) {
	c := mustCoder(t, fn.Simple(fn.BIGINT), fn.String(), fn.Simple(fn.INT))
	row := []fn.Value{fn.Int(7), fn.Str("ab"), fn.Null()}
	const want = "08 00 00 00 00 00 00 00 07 00 00 00 02 61 62"
	if got := encodeHex(t, c, fn.Insert, row...); got != strings.ReplaceAll(want, " ", "") {
		t.Fatalf("row bytes = %s, want %s", got, want)
	}
	kind, got := decodeAll(t, c, unhex(t, want))
	if kind != fn.Insert || !valuesEqual(got, row) {
		t.Fatalf("decoded %v %v, want +I %v", kind, got, row)
	}

	// As one element, then two rows in one chunk.
	el, err := c.AppendElement(nil, fn.Insert, row)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "0f 08 00 00 00 00 00 00 00 07 00 00 00 02 61 62"); !bytes.Equal(el, want) {
		t.Fatalf("element = %x, want %x", el, want)
	}
	chunk, err := c.AppendElement(el, fn.Insert, []fn.Value{fn.Int(8), fn.Str("c"), fn.Int(5)})
	if err != nil {
		t.Fatal(err)
	}
	wantChunk := unhex(t, "0f 08 00 00 00 00 00 00 00 07 00 00 00 02 61 62 12 00 00 00 00 00 00 00 00 08 00 00 00 01 63 00 00 00 05")
	if !bytes.Equal(chunk, wantChunk) {
		t.Fatalf("chunk = %x, want %x", chunk, wantChunk)
	}
	var rows [][]fn.Value
	it := NewElements(wantChunk)
	for it.Next() {
		_, vals := decodeAll(t, c, it.Row())
		rows = append(rows, vals)
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if len(rows) != 2 || !valuesEqual(rows[0], row) ||
		!valuesEqual(rows[1], []fn.Value{fn.Int(8), fn.Str("c"), fn.Int(5)}) {
		t.Fatalf("chunk rows = %v", rows)
	}

	// A scalar UDF returning BIGINT 9.
	out := mustCoder(t, fn.Simple(fn.BIGINT))
	el, err = out.AppendElement(nil, fn.Insert, []fn.Value{fn.Int(9)})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "09 00 00 00 00 00 00 00 00 09"); !bytes.Equal(el, want) {
		t.Fatalf("result element = %x, want %x", el, want)
	}
}

// Spec §5.5, worked example 2 and the mask examples.
func TestWorkedExample2(t *testing.T) {
	c := mustCoder(t, fn.ArrayOf(fn.Simple(fn.FLOAT)))
	arr := fn.Array([]fn.Value{fn.Float32(1), fn.Float32(2)})
	el, err := c.AppendElement(nil, fn.Insert, []fn.Value{arr})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "0f 00 00 00 00 02 01 3f 80 00 00 01 40 00 00 00"); !bytes.Equal(el, want) {
		t.Fatalf("element = %x, want %x", el, want)
	}
	_, got := decodeAll(t, c, el[1:])
	if !got[0].Equal(arr) {
		t.Fatalf("decoded %v, want %v", got[0], arr)
	}

	d := mustCoder(t, fn.ArrayOf(fn.Simple(fn.DOUBLE)))
	if got, want := encodeHex(t, d, fn.Insert, fn.Array([]fn.Value{fn.Float64(1), fn.Null()})),
		"00"+"00000002"+"013ff0000000000000"+"00"; got != want {
		t.Fatalf("ARRAY<DOUBLE> [1.0, NULL] = %s, want %s", got, want)
	}

	three := mustCoder(t, fn.Simple(fn.INT), fn.Simple(fn.INT), fn.Simple(fn.INT))
	for kind, want := range map[fn.RowKind]string{fn.Insert: "00", fn.UpdateBefore: "80", fn.UpdateAfter: "40", fn.Delete: "c0"} {
		got := encodeHex(t, three, kind, fn.Int(1), fn.Int(2), fn.Int(3))
		if got[:2] != want {
			t.Errorf("mask for %v = %s, want %s", kind, got[:2], want)
		}
		k, _ := decodeAll(t, three, unhex(t, got))
		if k != kind {
			t.Errorf("decoded kind %v, want %v", k, kind)
		}
	}

	seven := make([]fn.Type, 7)
	nulls := make([]fn.Value, 7)
	for i := range seven {
		seven[i] = fn.Simple(fn.INT)
	}
	if got := encodeHex(t, mustCoder(t, seven...), fn.Insert, nulls...); got != "3f80" {
		t.Errorf("7 NULL fields: mask %s, want 3f80", got)
	}
	six := mustCoder(t, seven[:6]...)
	vals := []fn.Value{fn.Int(0), fn.Int(0), fn.Int(0), fn.Int(0), fn.Int(0), fn.Null()}
	if got := encodeHex(t, six, fn.Insert, vals...); got[:2] != "01" {
		t.Errorf("6 fields, last NULL: mask %s, want 01", got[:2])
	}

	// Zero fields: one mask byte carrying only the kind.
	zero := mustCoder(t)
	if got := encodeHex(t, zero, fn.Delete); got != "c0" {
		t.Errorf("zero-field DELETE row = %s, want c0", got)
	}
}

// valuesEqual compares field lists with fn.Value.Equal semantics (floats
// by bits), by wrapping both in rows of the same kind.
func valuesEqual(a, b []fn.Value) bool {
	return fn.Row(fn.Insert, a).Equal(fn.Row(fn.Insert, b))
}
