package fnharness

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// verifySchemaMessage checks the flatbuffer of the schema message that
// starts an Arrow IPC stream before arrow-go decodes it: every table,
// vector and string it will read lies inside the message, nesting is
// bounded, and every field type is one that a Flink Arrow batch can hold
// (no dictionaries). arrow-go sizes slices by these vector lengths without
// checking them, so a corrupt length would exhaust memory.
func verifySchemaMessage(elem []byte) error {
	if len(elem) < 8 || binary.LittleEndian.Uint32(elem) != 0xFFFFFFFF {
		return errors.New("the element does not start with an Arrow IPC message (continuation marker 0xFFFFFFFF)")
	}
	n := int64(int32(binary.LittleEndian.Uint32(elem[4:])))
	if n < 8 || n > int64(len(elem)-8) {
		return fmt.Errorf("Arrow schema message of %d bytes in a %d-byte element", n, len(elem))
	}
	v := fbVerifier{buf: elem[8 : 8+n]}
	if err := v.message(); err != nil {
		return fmt.Errorf("corrupt Arrow schema message: %w", err)
	}
	return nil
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

func (v *fbVerifier) keyValues(at uint64) error {
	p, n, err := v.vector(at, 4)
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		t, err := v.deref(p + 4*i)
		if err != nil {
			return err
		}
		f, err := v.table(t, 2)
		if err != nil {
			return err
		}
		if err := v.str(f[0]); err != nil {
			return err
		}
		if err := v.str(f[1]); err != nil {
			return err
		}
	}
	return nil
}

func (v *fbVerifier) message() error {
	root, err := v.deref(0)
	if err != nil {
		return err
	}
	m, err := v.table(root, 5) // version, header_type, header, bodyLength, custom_metadata
	if err != nil {
		return err
	}
	if m[1] == 0 || v.buf[m[1]] != 1 { // MessageHeader.Schema
		return errors.New("the first message is not a schema")
	}
	if m[2] == 0 {
		return errors.New("schema message without a schema")
	}
	if err := v.keyValues(m[4]); err != nil {
		return err
	}
	sp, err := v.deref(m[2])
	if err != nil {
		return err
	}
	s, err := v.table(sp, 4) // endianness, fields, custom_metadata, features
	if err != nil {
		return err
	}
	if _, _, err := v.vector(s[3], 8); err != nil {
		return err
	}
	if err := v.keyValues(s[2]); err != nil {
		return err
	}
	return v.fields(s[1], 0)
}

// Arrow's flatbuffer Type union members a Flink batch can hold.
var fbTypesAllowed = map[byte]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true, 12: true, 15: true}

func (v *fbVerifier) fields(at uint64, depth int) error {
	if depth > maxTypeDepth {
		return errors.New("types nest too deeply")
	}
	p, n, err := v.vector(at, 4)
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		t, err := v.deref(p + 4*i)
		if err != nil {
			return err
		}
		// name, nullable, type_type, type, dictionary, children, custom_metadata
		f, err := v.table(t, 7)
		if err != nil {
			return err
		}
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
		if err := v.fields(f[5], depth+1); err != nil {
			return err
		}
	}
	return nil
}
