package coder

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Encode appends the row bytes of (kind, fields) to dst and returns the
// extended slice. It does not allocate when dst has enough capacity.
//
// Each value must fit its declared field type: the value kind must match
// (KindInt for TINYINT…BIGINT, KindFloat32 for FLOAT, KindFloat64 for
// DOUBLE, KindString for CHAR/VARCHAR, KindBytes for BINARY/VARBINARY,
// KindTimestamp for TIMESTAMP and TIMESTAMP_LTZ, …), integers must be in
// range, DECIMALs are rounded HALF_UP to the column scale and must then fit
// the precision, TIME must be within the day, a timestamp's
// nano-of-millisecond within [0, 999999], and NULL is only allowed for
// nullable types. A value that does not fit yields an *EncodeError and dst
// is returned with its original length.
func (c *RowCoder) Encode(dst []byte, kind fn.RowKind, fields []fn.Value) ([]byte, error) {
	start := len(dst)
	if len(fields) != len(c.row.fields) {
		return dst, fmt.Errorf("encode: got %d fields, the row has %d", len(fields), len(c.row.fields))
	}
	out, err := encodeRow(dst, &c.row, kind, fields, true)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// AppendElement appends one data-plane element, varint(len) ‖ row bytes,
// for the row (kind, fields). Like Encode, it does not allocate when dst
// has enough capacity; on error dst is returned with its original length.
func (c *RowCoder) AppendElement(dst []byte, kind fn.RowKind, fields []fn.Value) ([]byte, error) {
	start := len(dst)
	if len(fields) != len(c.row.fields) {
		return dst, fmt.Errorf("encode: got %d fields, the row has %d", len(fields), len(c.row.fields))
	}
	// Reserve one byte for the length, the common case for small rows.
	out, err := encodeRow(append(dst, 0), &c.row, kind, fields, true)
	if err != nil {
		return dst[:start], err
	}
	n := len(out) - start - 1
	if n > math.MaxInt32 {
		return dst[:start], fmt.Errorf("encode: row of %d bytes is too large", n)
	}
	if n < 0x80 {
		out[start] = byte(n)
		return out, nil
	}
	w := varintLen(uint64(n))
	out = append(out, make([]byte, w-1)...)
	copy(out[start+w:], out[start+1:start+1+n])
	binary.PutUvarint(out[start:start+w], uint64(n))
	return out, nil
}

func encodeRow(dst []byte, nd *node, kind fn.RowKind, fields []fn.Value, top bool) ([]byte, error) {
	if kind > fn.Delete {
		return dst, fmt.Errorf("encode: invalid row kind %d", kind)
	}
	m := len(dst)
	for i := 0; i < nd.maskLen; i++ {
		dst = append(dst, 0)
	}
	mask := dst[m : m+nd.maskLen]
	mask[0] = byte(kind&1)<<7 | byte(kind&2)<<5
	for i := range nd.fields {
		f := &nd.fields[i]
		v := &fields[i]
		var err error
		if v.IsNull() {
			if !f.nullable {
				err = encodeErr(f, *v, "NULL for a NOT NULL type")
			} else {
				bit := i + 2
				dst[m+(bit>>3)] |= 0x80 >> (bit & 7)
				continue
			}
		} else {
			dst, err = encodeValue(dst, f, v)
		}
		if err != nil {
			if top {
				if ee, ok := err.(*EncodeError); ok {
					ee.Field = i
				}
				return dst, err
			}
			return dst, prefixPath(err, "."+strconv.Itoa(i))
		}
	}
	return dst, nil
}

func kindMismatch(nd *node, v *fn.Value) error {
	return encodeErr(nd, *v, "value kind does not match the type")
}

func encodeValue(dst []byte, nd *node, v *fn.Value) ([]byte, error) {
	k := v.Kind()
	switch nd.name {
	case fn.BOOLEAN:
		if k != fn.KindBool {
			return dst, kindMismatch(nd, v)
		}
		if v.AsBool() {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case fn.TINYINT:
		if k != fn.KindInt {
			return dst, kindMismatch(nd, v)
		}
		x := v.AsInt()
		if x < math.MinInt8 || x > math.MaxInt8 {
			return dst, encodeErr(nd, *v, "%d out of range [%d, %d]", x, math.MinInt8, math.MaxInt8)
		}
		return append(dst, byte(x)), nil
	case fn.SMALLINT:
		if k != fn.KindInt {
			return dst, kindMismatch(nd, v)
		}
		x := v.AsInt()
		if x < math.MinInt16 || x > math.MaxInt16 {
			return dst, encodeErr(nd, *v, "%d out of range [%d, %d]", x, math.MinInt16, math.MaxInt16)
		}
		return binary.BigEndian.AppendUint16(dst, uint16(x)), nil
	case fn.INT:
		if k != fn.KindInt {
			return dst, kindMismatch(nd, v)
		}
		x := v.AsInt()
		if x < math.MinInt32 || x > math.MaxInt32 {
			return dst, encodeErr(nd, *v, "%d out of range [%d, %d]", x, math.MinInt32, math.MaxInt32)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(x)), nil
	case fn.BIGINT:
		if k != fn.KindInt {
			return dst, kindMismatch(nd, v)
		}
		return binary.BigEndian.AppendUint64(dst, uint64(v.AsInt())), nil
	case fn.FLOAT:
		if k != fn.KindFloat32 {
			return dst, kindMismatch(nd, v)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(v.RawBits())), nil
	case fn.DOUBLE:
		if k != fn.KindFloat64 {
			return dst, kindMismatch(nd, v)
		}
		return binary.BigEndian.AppendUint64(dst, v.RawBits()), nil
	case fn.DATE:
		if k != fn.KindDate {
			return dst, kindMismatch(nd, v)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(v.AsDate())), nil
	case fn.TIME:
		if k != fn.KindTime {
			return dst, kindMismatch(nd, v)
		}
		ms := v.AsTime()
		if ms < 0 || ms >= millisPerDay {
			return dst, encodeErr(nd, *v, "time of day %d ms outside [0, %d)", ms, millisPerDay)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(ms)), nil
	case fn.TIMESTAMP, fn.LOCAL_ZONED_TIMESTAMP:
		if k != fn.KindTimestamp {
			return dst, kindMismatch(nd, v)
		}
		ms, ns := v.AsTimestamp()
		if ns < 0 || ns > maxNanoOfMilli {
			return dst, encodeErr(nd, *v, "nano-of-millisecond %d outside [0, %d]", ns, maxNanoOfMilli)
		}
		if nd.precision <= 3 {
			// Like Flink's TimestampDataSerializer: the compact form has no
			// room for sub-millisecond digits.
			return binary.BigEndian.AppendUint64(dst, uint64(ms)), nil
		}
		dst = binary.BigEndian.AppendUint64(dst, uint64(ms))
		return binary.BigEndian.AppendUint32(dst, uint32(ns)), nil
	case fn.CHAR, fn.VARCHAR:
		if k != fn.KindString {
			return dst, kindMismatch(nd, v)
		}
		s := v.AsString()
		if len(s) > math.MaxInt32 {
			return dst, encodeErr(nd, *v, "string of %d bytes is too long", len(s))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		return append(dst, s...), nil
	case fn.BINARY, fn.VARBINARY:
		if k != fn.KindBytes {
			return dst, kindMismatch(nd, v)
		}
		b := v.AsBytes()
		if len(b) > math.MaxInt32 {
			return dst, encodeErr(nd, *v, "%d bytes are too long", len(b))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
		return append(dst, b...), nil
	case fn.DECIMAL:
		if k != fn.KindDecimal {
			return dst, kindMismatch(nd, v)
		}
		m := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		out, err := canonicalDecimal(dst, v.DecimalString(), nd.precision, nd.scale)
		if err != nil {
			return dst[:m], encodeErr(nd, *v, "%s: %v", quoteShort(v.DecimalString()), err)
		}
		binary.BigEndian.PutUint32(out[m:], uint32(len(out)-m-4))
		return out, nil
	case fn.ARRAY:
		if k != fn.KindArray {
			return dst, kindMismatch(nd, v)
		}
		elems := v.Elems()
		if len(elems) > math.MaxInt32 {
			return dst, encodeErr(nd, *v, "%d elements are too many", len(elems))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(elems)))
		for i := range elems {
			e := &elems[i]
			if e.IsNull() {
				if !nd.elem.nullable {
					return dst, prefixPath(encodeErr(nd.elem, *e, "NULL for a NOT NULL type"), "["+strconv.Itoa(i)+"]")
				}
				dst = append(dst, 0)
				continue
			}
			var err error
			dst, err = encodeValue(append(dst, 1), nd.elem, e)
			if err != nil {
				return dst, prefixPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return dst, nil
	case fn.MAP:
		if k != fn.KindMap {
			return dst, kindMismatch(nd, v)
		}
		keys, vals := v.MapEntries()
		if len(keys) > math.MaxInt32 {
			return dst, encodeErr(nd, *v, "%d entries are too many", len(keys))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
		for i := range keys {
			if keys[i].IsNull() {
				return dst, prefixPath(encodeErr(nd.key, keys[i], "NULL map key"), "{key "+strconv.Itoa(i)+"}")
			}
			var err error
			dst, err = encodeValue(dst, nd.key, &keys[i])
			if err != nil {
				return dst, prefixPath(err, "{key "+strconv.Itoa(i)+"}")
			}
			if vals[i].IsNull() {
				if !nd.val.nullable {
					return dst, prefixPath(encodeErr(nd.val, vals[i], "NULL for a NOT NULL type"), "{value "+strconv.Itoa(i)+"}")
				}
				dst = append(dst, 1)
				continue
			}
			dst, err = encodeValue(append(dst, 0), nd.val, &vals[i])
			if err != nil {
				return dst, prefixPath(err, "{value "+strconv.Itoa(i)+"}")
			}
		}
		return dst, nil
	case fn.ROW:
		if k != fn.KindRow {
			return dst, kindMismatch(nd, v)
		}
		fields := v.Fields()
		if len(fields) != len(nd.fields) {
			return dst, encodeErr(nd, *v, "row has %d fields, the type has %d", len(fields), len(nd.fields))
		}
		rk := v.RowKind()
		if rk > fn.Delete {
			return dst, encodeErr(nd, *v, "invalid row kind %d", rk)
		}
		return encodeRow(dst, nd, rk, fields, false)
	}
	return dst, encodeErr(nd, *v, "unsupported type")
}

// quoteShort quotes s for an error message, shortened to a sane length.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
