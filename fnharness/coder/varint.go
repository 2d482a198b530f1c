package coder

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// AppendVarint appends v as a Beam VarInt: unsigned LEB128 of the 64-bit
// value, 7 bits per byte, least significant group first, high bit set on
// every byte but the last. A negative int64 passed as uint64(v) takes 10
// bytes, as in Beam.
func AppendVarint(dst []byte, v uint64) []byte {
	return binary.AppendUvarint(dst, v)
}

// varintLen returns the number of bytes AppendVarint writes for v.
func varintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// ReadVarint reads a Beam VarInt from the start of b and returns its value
// and length. Like Beam's decoders it accepts non-minimal encodings and
// rejects more than 64 bits of value.
func ReadVarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n > 0:
		return v, n, nil
	case n == 0:
		return 0, 0, &DecodeError{Offset: len(b), Reason: "varint not terminated"}
	default:
		return 0, 0, &DecodeError{Offset: -n - 1, Reason: "varint longer than 64 bits"}
	}
}

// AppendElement appends one data-plane element: varint(len(row)) ‖ row.
func AppendElement(dst, row []byte) []byte {
	dst = AppendVarint(dst, uint64(len(row)))
	return append(dst, row...)
}

// AppendEndMarker appends the element 0x01 0x00 that a table function
// writes after all results of one input row (Python's IterableCoderImpl
// with separated_with_end_message). Note that a row of a zero-field schema
// with kind INSERT encodes as that same single 0x00 byte.
func AppendEndMarker(dst []byte) []byte {
	return append(dst, 0x01, 0x00)
}

// IsEndMarker reports whether an element's payload (as returned by
// Elements.Row) is the table-function end marker.
func IsEndMarker(row []byte) bool {
	return len(row) == 1 && row[0] == 0x00
}

// Elements iterates over the elements of a Data chunk: repeated
// varint(len) ‖ payload, with nothing else between or after them.
//
//	it := coder.NewElements(data)
//	for it.Next() {
//		row := it.Row()
//		…
//	}
//	if err := it.Err(); err != nil { … }
//
// The payloads share memory with data. Iteration allocates nothing.
type Elements struct {
	data  []byte
	off   int
	start int
	row   []byte
	err   error
}

// NewElements returns an iterator over the elements in data.
func NewElements(data []byte) Elements {
	return Elements{data: data}
}

// Next advances to the next element and reports whether there is one. It
// returns false at the end of the chunk or on malformed framing (see Err).
func (e *Elements) Next() bool {
	e.row = nil
	if e.err != nil || e.off >= len(e.data) {
		return false
	}
	v, n := binary.Uvarint(e.data[e.off:])
	if n <= 0 {
		reason := "element length: varint not terminated"
		if n < 0 {
			reason = "element length: varint longer than 64 bits"
		}
		e.err = &DecodeError{Offset: e.off, Reason: reason}
		return false
	}
	left := len(e.data) - e.off - n
	if v > uint64(left) || v > math.MaxInt32 {
		e.err = decodeErr(nil, e.off, "element length %d exceeds the %d bytes left", v, left)
		return false
	}
	e.start = e.off
	p := e.off + n
	e.row = e.data[p : p+int(v) : p+int(v)]
	e.off = p + int(v)
	return true
}

// Row returns the current element's payload (the row bytes).
func (e *Elements) Row() []byte { return e.row }

// Offset returns the offset in the chunk of the current element's length
// prefix.
func (e *Elements) Offset() int { return e.start }

// Err returns the framing error that stopped the iteration, or nil.
func (e *Elements) Err() error { return e.err }
