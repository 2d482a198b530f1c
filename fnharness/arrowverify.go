package fnharness

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// verifyArrowElement checks the framing and the flatbuffers of an element
// before arrow-go decodes it: a schema message, one record batch message
// whose body lies inside the element, and nothing after it but an optional
// end-of-stream marker (Flink writes none). arrow-go sizes slices by the
// flatbuffers' vector lengths without checking them (a record batch
// message's custom_metadata length alone made it allocate tens of
// gigabytes, which fuzzing saw as long stalls at 0 execs/s), so every
// table, vector and string it reads must lie inside its message first.
// Compressed bodies are refused: Flink's Arrow writers never compress, and
// a decompressor would size its output by a length inside the body.
func verifyArrowElement(elem []byte) error {
	end, err := verifyMessage(elem, 0, "schema")
	if err != nil {
		return err
	}
	end, err = verifyMessage(elem, end, "record batch")
	if err != nil {
		return err
	}
	rest := elem[end:]
	switch {
	case len(rest) == 0:
	case len(rest) == 8 && binary.LittleEndian.Uint32(rest) == 0xFFFFFFFF && binary.LittleEndian.Uint32(rest[4:]) == 0:
	case len(rest) == 4 && binary.LittleEndian.Uint32(rest) == 0:
	case len(rest) >= 8 && binary.LittleEndian.Uint32(rest) == 0xFFFFFFFF:
		return fmt.Errorf("the Arrow stream holds more than one record batch (%d bytes of messages after the first; Flink sends one per element)", len(rest))
	default:
		return fmt.Errorf("%d bytes after the Arrow record batch (an element holds one schema and one record batch)", len(rest))
	}
	return nil
}

// verifyMessage checks the IPC message at elem[at:] (continuation marker,
// metadata length, flatbuffer, body inside the element) and returns where
// the next message starts.
func verifyMessage(elem []byte, at int, kind string) (int, error) {
	if len(elem)-at < 8 || binary.LittleEndian.Uint32(elem[at:]) != 0xFFFFFFFF {
		return 0, fmt.Errorf("no Arrow IPC %s message (continuation marker 0xFFFFFFFF) at byte %d of the element", kind, at)
	}
	n := int64(int32(binary.LittleEndian.Uint32(elem[at+4:])))
	if n < 8 || n > int64(len(elem)-at-8) {
		return 0, fmt.Errorf("Arrow %s message of %d bytes at byte %d of a %d-byte element", kind, n, at, len(elem))
	}
	v := fbVerifier{buf: elem[at+8 : at+8+int(n)]}
	var body int64
	var err error
	if kind == "schema" {
		body, err = v.message()
	} else {
		body, err = v.recordBatchMessage()
	}
	if err != nil {
		return 0, fmt.Errorf("corrupt Arrow %s message: %w", kind, err)
	}
	end := int64(at) + 8 + n
	if body < 0 || body > int64(len(elem))-end {
		return 0, fmt.Errorf("Arrow %s message with a body of %d bytes, %d left in the element", kind, body, int64(len(elem))-end)
	}
	return int(end + body), nil
}

type fbVerifier struct {
	buf []byte
}

var errFlatbuffer = errors.New("offset outside the message")

func (v *fbVerifier) u32(at uint64) (uint32, error) {
	if at+4 > uint64(len(v.buf)) {
		return 0, errFlatbuffer
	}
	return binary.LittleEndian.Uint32(v.buf[at:]), nil
}

func (v *fbVerifier) u16(at uint64) (uint16, error) {
	if at+2 > uint64(len(v.buf)) {
		return 0, errFlatbuffer
	}
	return binary.LittleEndian.Uint16(v.buf[at:]), nil
}

// table checks the table at pos and returns the position of each field
// slot present (0 when absent), up to slots fields.
func (v *fbVerifier) table(pos uint64, slots int) ([]uint64, error) {
	so, err := v.u32(pos)
	if err != nil {
		return nil, err
	}
	vt := int64(pos) - int64(int32(so))
	if vt < 0 {
		return nil, errFlatbuffer
	}
	vtSize, err := v.u16(uint64(vt))
	if err != nil {
		return nil, err
	}
	tblSize, err := v.u16(uint64(vt) + 2)
	if err != nil {
		return nil, err
	}
	if vtSize < 4 || vtSize%2 != 0 || uint64(vt)+uint64(vtSize) > uint64(len(v.buf)) || pos+uint64(tblSize) > uint64(len(v.buf)) {
		return nil, errFlatbuffer
	}
	out := make([]uint64, slots)
	for i := 0; i < slots && 4+2*i < int(vtSize); i++ {
		off, _ := v.u16(uint64(vt) + 4 + 2*uint64(i))
		if off == 0 {
			continue
		}
		if off < 4 || off >= tblSize || pos+uint64(off) >= uint64(len(v.buf)) {
			return nil, errFlatbuffer
		}
		out[i] = pos + uint64(off)
	}
	return out, nil
}

// deref follows the uoffset stored at at.
func (v *fbVerifier) deref(at uint64) (uint64, error) {
	o, err := v.u32(at)
	if err != nil {
		return 0, err
	}
	t := at + uint64(o)
	if t >= uint64(len(v.buf)) {
		return 0, errFlatbuffer
	}
	return t, nil
}

// vector checks the vector referenced at field position at (elements of
// size elem) and returns its first element's position and its length.
func (v *fbVerifier) vector(at uint64, elem uint64) (uint64, uint64, error) {
	if at == 0 {
		return 0, 0, nil
	}
	p, err := v.deref(at)
	if err != nil {
		return 0, 0, err
	}
	n, err := v.u32(p)
	if err != nil {
		return 0, 0, err
	}
	if p+4+uint64(n)*elem > uint64(len(v.buf)) {
		return 0, 0, fmt.Errorf("vector of %d elements overruns the message", n)
	}
	return p + 4, uint64(n), nil
}

func (v *fbVerifier) str(at uint64) error {
	_, _, err := v.vector(at, 1)
	return err
}

// tables checks a vector of tables of the given slots at at, then each
// table's slot offsets with check.
func (v *fbVerifier) tables(at uint64, slots int, check func(f []uint64) error) error {
	p, n, err := v.vector(at, 4)
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		t, err := v.deref(p + 4*i)
		if err != nil {
			return err
		}
		f, err := v.table(t, slots)
		if err != nil {
			return err
		}
		if err := check(f); err != nil {
			return err
		}
	}
	return nil
}

func (v *fbVerifier) keyValues(at uint64) error {
	return v.tables(at, 2, func(f []uint64) error {
		if err := v.str(f[0]); err != nil {
			return err
		}
		return v.str(f[1])
	})
}

// header checks the Message table (version, header_type, header,
// bodyLength, custom_metadata) and returns the header's position, which must
// be of header type ht, and the body length.
func (v *fbVerifier) header(ht byte, what string) (uint64, int64, error) {
	root, err := v.deref(0)
	if err != nil {
		return 0, 0, err
	}
	m, err := v.table(root, 5)
	if err != nil {
		return 0, 0, err
	}
	if m[1] == 0 || v.buf[m[1]] != ht {
		return 0, 0, fmt.Errorf("the message is not a %s", what)
	}
	if m[2] == 0 {
		return 0, 0, fmt.Errorf("%s message without its header", what)
	}
	if err := v.keyValues(m[4]); err != nil {
		return 0, 0, err
	}
	var body int64
	if m[3] != 0 {
		if m[3]+8 > uint64(len(v.buf)) {
			return 0, 0, errFlatbuffer
		}
		body = int64(binary.LittleEndian.Uint64(v.buf[m[3]:]))
	}
	hp, err := v.deref(m[2])
	return hp, body, err
}

func (v *fbVerifier) message() (int64, error) {
	sp, body, err := v.header(1, "schema") // MessageHeader.Schema
	if err != nil {
		return 0, err
	}
	s, err := v.table(sp, 4) // endianness, fields, custom_metadata, features
	if err != nil {
		return 0, err
	}
	if _, _, err := v.vector(s[3], 8); err != nil {
		return 0, err
	}
	if err := v.keyValues(s[2]); err != nil {
		return 0, err
	}
	return body, v.fields(s[1], 0)
}

// recordBatchMessage checks a RecordBatch message: its nodes (FieldNode, 16
// bytes), buffers (Buffer, 16 bytes) and variadic counts (8 bytes) lie
// inside it, and its body is not compressed.
func (v *fbVerifier) recordBatchMessage() (int64, error) {
	rp, body, err := v.header(3, "record batch") // MessageHeader.RecordBatch
	if err != nil {
		return 0, err
	}
	r, err := v.table(rp, 5) // length, nodes, buffers, compression, variadicBufferCounts
	if err != nil {
		return 0, err
	}
	if r[0] != 0 && r[0]+8 > uint64(len(v.buf)) {
		return 0, errFlatbuffer
	}
	for _, vec := range []struct {
		slot uint64
		size uint64
	}{{r[1], 16}, {r[2], 16}, {r[4], 8}} {
		if _, _, err := v.vector(vec.slot, vec.size); err != nil {
			return 0, err
		}
	}
	if r[3] != 0 {
		return 0, errors.New("compressed record batch body (Flink's Arrow batches are not compressed)")
	}
	return body, nil
}

// Arrow's flatbuffer Type union members a Flink batch can hold
// (Int … Timestamp, List, Struct_, FixedSizeBinary, Map).
var fbTypesAllowed = map[byte]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true, 12: true, 13: true, 15: true, 17: true}

func (v *fbVerifier) fields(at uint64, depth int) error {
	if depth > maxTypeDepth {
		return errors.New("types nest too deeply")
	}
	// name, nullable, type_type, type, dictionary, children, custom_metadata
	return v.tables(at, 7, func(f []uint64) error {
		if err := v.str(f[0]); err != nil {
			return err
		}
		if f[2] == 0 || f[3] == 0 || !fbTypesAllowed[v.buf[f[2]]] {
			return errors.New("a field of a type no Flink Arrow batch holds")
		}
		if f[4] != 0 {
			return errors.New("dictionary-encoded field")
		}
		tp, err := v.deref(f[3])
		if err != nil {
			return err
		}
		tt, err := v.table(tp, 2)
		if err != nil {
			return err
		}
		if v.buf[f[2]] == 10 { // Timestamp: unit, timezone
			if err := v.str(tt[1]); err != nil {
				return err
			}
		}
		if err := v.keyValues(f[6]); err != nil {
			return err
		}
		return v.fields(f[5], depth+1)
	})
}
