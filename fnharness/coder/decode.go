package coder

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Decode decodes one row from b (row bytes without their length prefix)
// into dst[:NumFields()] and returns the row kind and the number of bytes
// consumed. Bytes after the row are not looked at; a caller that holds
// exactly one element's bytes should check n == len(b).
//
// Decoding is zero-copy: CHAR/VARCHAR values are strings and
// BINARY/VARBINARY values are sub-slices that share memory with b (and so
// may DECIMAL texts), so b must not be modified while the values are in
// use. Scalar fields do not allocate; ARRAY, MAP and ROW fields allocate
// their element slices.
//
// Malformed input yields a *DecodeError; Decode never panics. On error the
// contents of dst are unspecified.
func (c *RowCoder) Decode(b []byte, dst []fn.Value) (kind fn.RowKind, n int, err error) {
	d := decoder{b: b, canonical: true}
	return d.decode(c, dst)
}

// decodeCanonical is Decode that also reports whether Encode would
// reproduce the input bytes exactly (used by the fuzz tests).
func (c *RowCoder) decodeCanonical(b []byte, dst []fn.Value) (kind fn.RowKind, n int, canonical bool, err error) {
	d := decoder{b: b, canonical: true}
	kind, n, err = d.decode(c, dst)
	return kind, n, d.canonical, err
}

type decoder struct {
	b []byte
	// canonical is cleared when the input holds something that Encode
	// writes differently: a BOOLEAN byte or presence flag other than 0/1,
	// non-zero padding bits in a mask, DECIMAL text not in canonical form.
	canonical bool
}

func (d *decoder) decode(c *RowCoder, dst []fn.Value) (fn.RowKind, int, error) {
	nf := len(c.row.fields)
	if len(dst) < nf {
		return 0, 0, fmt.Errorf("decode: dst has room for %d fields, the row has %d", len(dst), nf)
	}
	kind, off, err := d.row(&c.row, 0, dst[:nf], true)
	if err != nil {
		return 0, 0, err
	}
	return kind, off, nil
}

// row decodes a row's mask and fields at off into dst.
func (d *decoder) row(nd *node, off int, dst []fn.Value, top bool) (fn.RowKind, int, error) {
	b := d.b
	ml := nd.maskLen
	if len(b)-off < ml {
		return 0, off, decodeErr(nd, off, "row mask needs %d bytes, %d left", ml, len(b)-off)
	}
	mask := b[off : off+ml]
	kind := fn.RowKind(mask[0]>>7 | (mask[0]>>5)&2)
	if pad := (len(nd.fields) + 2) % 8; pad != 0 && mask[ml-1]&(0xFF>>pad) != 0 {
		d.canonical = false
	}
	off += ml
	for i := range nd.fields {
		bit := i + 2
		if mask[bit>>3]&(0x80>>(bit&7)) != 0 {
			dst[i] = fn.Null()
			continue
		}
		next, err := d.value(&nd.fields[i], off, &dst[i])
		if err != nil {
			if top {
				return 0, off, prefixPath(err, strconv.Itoa(i))
			}
			return 0, off, prefixPath(err, "."+strconv.Itoa(i))
		}
		off = next
	}
	return kind, off, nil
}

func (d *decoder) need(nd *node, off, n int) error {
	if len(d.b)-off < n {
		return decodeErr(nd, off, "needs %d bytes, %d left", n, len(d.b)-off)
	}
	return nil
}

// length reads an int32 length or count at off and checks that at least
// length×unit bytes follow it.
func (d *decoder) length(nd *node, off, unit int, what string) (int, int, error) {
	if err := d.need(nd, off, 4); err != nil {
		return 0, off, err
	}
	n := int(int32(binary.BigEndian.Uint32(d.b[off:])))
	if n < 0 {
		return 0, off, decodeErr(nd, off, "negative %s %d", what, n)
	}
	left := len(d.b) - off - 4
	if n > left/unit {
		return 0, off, decodeErr(nd, off, "%s %d needs at least %d bytes, %d left", what, n, n*unit, left)
	}
	return n, off + 4, nil
}

func (d *decoder) value(nd *node, off int, out *fn.Value) (int, error) {
	b := d.b
	switch nd.name {
	case fn.BOOLEAN:
		if err := d.need(nd, off, 1); err != nil {
			return off, err
		}
		if b[off] > 1 {
			d.canonical = false
		}
		*out = fn.Bool(b[off] != 0)
		return off + 1, nil
	case fn.TINYINT:
		if err := d.need(nd, off, 1); err != nil {
			return off, err
		}
		*out = fn.Int(int64(int8(b[off])))
		return off + 1, nil
	case fn.SMALLINT:
		if err := d.need(nd, off, 2); err != nil {
			return off, err
		}
		*out = fn.Int(int64(int16(binary.BigEndian.Uint16(b[off:]))))
		return off + 2, nil
	case fn.INT:
		if err := d.need(nd, off, 4); err != nil {
			return off, err
		}
		*out = fn.Int(int64(int32(binary.BigEndian.Uint32(b[off:]))))
		return off + 4, nil
	case fn.BIGINT:
		if err := d.need(nd, off, 8); err != nil {
			return off, err
		}
		*out = fn.Int(int64(binary.BigEndian.Uint64(b[off:])))
		return off + 8, nil
	case fn.FLOAT:
		if err := d.need(nd, off, 4); err != nil {
			return off, err
		}
		*out = fn.Float32Bits(binary.BigEndian.Uint32(b[off:]))
		return off + 4, nil
	case fn.DOUBLE:
		if err := d.need(nd, off, 8); err != nil {
			return off, err
		}
		*out = fn.Float64Bits(binary.BigEndian.Uint64(b[off:]))
		return off + 8, nil
	case fn.DATE:
		if err := d.need(nd, off, 4); err != nil {
			return off, err
		}
		*out = fn.Date(int32(binary.BigEndian.Uint32(b[off:])))
		return off + 4, nil
	case fn.TIME:
		if err := d.need(nd, off, 4); err != nil {
			return off, err
		}
		ms := int32(binary.BigEndian.Uint32(b[off:]))
		if ms < 0 || ms >= millisPerDay {
			return off, decodeErr(nd, off, "time of day %d ms outside [0, %d)", ms, millisPerDay)
		}
		*out = fn.TimeOfDay(ms)
		return off + 4, nil
	case fn.TIMESTAMP, fn.LOCAL_ZONED_TIMESTAMP:
		if nd.precision <= 3 {
			if err := d.need(nd, off, 8); err != nil {
				return off, err
			}
			*out = fn.Timestamp(int64(binary.BigEndian.Uint64(b[off:])), 0)
			return off + 8, nil
		}
		if err := d.need(nd, off, 12); err != nil {
			return off, err
		}
		ms := int64(binary.BigEndian.Uint64(b[off:]))
		ns := int32(binary.BigEndian.Uint32(b[off+8:]))
		if ns < 0 || ns > maxNanoOfMilli {
			return off, decodeErr(nd, off+8, "nano-of-millisecond %d outside [0, %d]", ns, maxNanoOfMilli)
		}
		*out = fn.Timestamp(ms, ns)
		return off + 12, nil
	case fn.CHAR, fn.VARCHAR:
		n, p, err := d.length(nd, off, 1, "length")
		if err != nil {
			return off, err
		}
		if n == 0 {
			*out = fn.Str("")
			return p, nil
		}
		*out = fn.Str(unsafe.String(&b[p], n))
		return p + n, nil
	case fn.BINARY, fn.VARBINARY:
		n, p, err := d.length(nd, off, 1, "length")
		if err != nil {
			return off, err
		}
		*out = fn.Bin(b[p : p+n : p+n])
		return p + n, nil
	case fn.DECIMAL:
		return d.decimal(nd, off, out)
	case fn.ARRAY:
		return d.array(nd, off, out)
	case fn.MAP:
		return d.mapValue(nd, off, out)
	case fn.ROW:
		fields := make([]fn.Value, len(nd.fields))
		kind, next, err := d.row(nd, off, fields, false)
		if err != nil {
			return off, err
		}
		*out = fn.Row(kind, fields)
		return next, nil
	}
	return off, decodeErr(nd, off, "unsupported type")
}

func (d *decoder) decimal(nd *node, off int, out *fn.Value) (int, error) {
	n, p, err := d.length(nd, off, 1, "length")
	if err != nil {
		return off, err
	}
	if n == 0 {
		return off, decodeErr(nd, off, "empty decimal text")
	}
	s := unsafe.String(&d.b[p], n)
	var buf [64]byte
	canon, err := canonicalDecimal(buf[:0], s, nd.precision, nd.scale)
	if err != nil {
		return off, decodeErr(nd, p, "decimal text %q: %v", s, err)
	}
	if string(canon) == s {
		*out = fn.DecimalTextUnchecked(s)
		return p + n, nil
	}
	d.canonical = false
	*out = fn.DecimalTextUnchecked(string(canon))
	return p + n, nil
}

func (d *decoder) array(nd *node, off int, out *fn.Value) (int, error) {
	// Every element takes at least its presence flag.
	n, p, err := d.length(nd, off, 1, "element count")
	if err != nil {
		return off, err
	}
	elems := make([]fn.Value, n)
	for i := range elems {
		if err := d.need(nd, p, 1); err != nil {
			return off, prefixPath(err, "["+strconv.Itoa(i)+"]")
		}
		flag := d.b[p]
		p++
		switch flag {
		case 0:
			continue
		case 1:
		default:
			// Java reads the flag with readBoolean (non-zero = present),
			// Python with "if read_byte()": same rule.
			d.canonical = false
		}
		next, err := d.value(nd.elem, p, &elems[i])
		if err != nil {
			return off, prefixPath(err, "["+strconv.Itoa(i)+"]")
		}
		p = next
	}
	*out = fn.Array(elems)
	return p, nil
}

func (d *decoder) mapValue(nd *node, off int, out *fn.Value) (int, error) {
	n, p, err := d.length(nd, off, nd.key.minSize+1, "entry count")
	if err != nil {
		return off, err
	}
	kv := make([]fn.Value, 2*n)
	keys, vals := kv[:n:n], kv[n:]
	for i := 0; i < n; i++ {
		next, err := d.value(nd.key, p, &keys[i])
		if err != nil {
			return off, prefixPath(err, "{key "+strconv.Itoa(i)+"}")
		}
		p = next
		if err := d.need(nd, p, 1); err != nil {
			return off, prefixPath(err, "{value "+strconv.Itoa(i)+"}")
		}
		flag := d.b[p]
		p++
		if flag != 0 {
			// Flag is "value is NULL" (inverted w.r.t. arrays).
			if flag != 1 {
				d.canonical = false
			}
			continue
		}
		next, err = d.value(nd.val, p, &vals[i])
		if err != nil {
			return off, prefixPath(err, "{value "+strconv.Itoa(i)+"}")
		}
		p = next
	}
	*out = fn.Map(keys, vals)
	return p, nil
}

const (
	millisPerDay   = 86_400_000
	maxNanoOfMilli = 999_999
)
