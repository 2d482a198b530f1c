package fn

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/internal/text"
)

// Kind says which Go representation a Value holds.
type Kind uint8

// Value kinds. One kind can serve several SQL types: KindInt holds TINYINT,
// SMALLINT, INT and BIGINT; KindString holds CHAR and VARCHAR; KindBytes
// holds BINARY and VARBINARY; KindTimestamp holds TIMESTAMP and
// TIMESTAMP_LTZ.
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat32
	KindFloat64
	KindDecimal
	KindString
	KindBytes
	KindDate
	KindTime
	KindTimestamp
	KindArray
	KindMap
	KindRow
)

var kindNames = [...]string{"NULL", "BOOL", "INT", "FLOAT32", "FLOAT64", "DECIMAL", "STRING", "BYTES", "DATE", "TIME", "TIMESTAMP", "ARRAY", "MAP", "ROW"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// RowKind is Flink's changelog kind of a row.
type RowKind uint8

// Row kinds, with Flink's byte values.
const (
	Insert       RowKind = 0 // +I
	UpdateBefore RowKind = 1 // -U
	UpdateAfter  RowKind = 2 // +U
	Delete       RowKind = 3 // -D
)

func (k RowKind) String() string {
	switch k {
	case Insert:
		return "+I"
	case UpdateBefore:
		return "-U"
	case UpdateAfter:
		return "+U"
	case Delete:
		return "-D"
	}
	return fmt.Sprintf("RowKind(%d)", int(k))
}

// Value is one SQL value. The zero Value is NULL.
//
// Scalar values are held inline, so building and reading them does not
// allocate. A Value decoded from the wire may share memory with the bundle's
// input: Bytes() must be copied by a function that keeps it past its call.
type Value struct {
	kind    Kind
	rowKind RowKind
	nanos   int32  // KindTimestamp: nano-of-millisecond
	n       uint64 // bool, int, float bits, date days, time millis, timestamp millis
	s       string // KindString text, KindDecimal plain or scientific text
	b       []byte // KindBytes
	ref     any    // []Value (array, row fields) or *mapData
}

type mapData struct {
	keys, vals []Value
}

// Null is the SQL NULL.
func Null() Value { return Value{} }

// Bool returns a BOOLEAN value.
func Bool(v bool) Value {
	if v {
		return Value{kind: KindBool, n: 1}
	}
	return Value{kind: KindBool}
}

// Int returns an integer value (TINYINT, SMALLINT, INT or BIGINT).
func Int(v int64) Value { return Value{kind: KindInt, n: uint64(v)} }

// Float32 returns a FLOAT value; the bits are kept exactly (NaN payloads too).
func Float32(v float32) Value { return Value{kind: KindFloat32, n: uint64(math.Float32bits(v))} }

// Float64 returns a DOUBLE value; the bits are kept exactly.
func Float64(v float64) Value { return Value{kind: KindFloat64, n: math.Float64bits(v)} }

// Float32Bits returns a FLOAT value from its IEEE-754 bits.
func Float32Bits(bits uint32) Value { return Value{kind: KindFloat32, n: uint64(bits)} }

// Float64Bits returns a DOUBLE value from its IEEE-754 bits.
func Float64Bits(bits uint64) Value { return Value{kind: KindFloat64, n: bits} }

// Str returns a CHAR/VARCHAR value.
func Str(s string) Value { return Value{kind: KindString, s: s} }

// Bin returns a BINARY/VARBINARY value. The slice is not copied.
func Bin(b []byte) Value {
	if b == nil {
		b = []byte{}
	}
	return Value{kind: KindBytes, b: b}
}

// DecimalText returns a DECIMAL value from its text (Java BigDecimal.toString
// syntax: plain "123.45" or scientific "1.2E-7"). The text is validated.
func DecimalText(s string) (Value, error) {
	if _, _, err := ParseDecimal(s); err != nil {
		return Value{}, err
	}
	return Value{kind: KindDecimal, s: s}, nil
}

// DecimalOf returns a DECIMAL value unscaled × 10^-scale.
func DecimalOf(unscaled *big.Int, scale int) Value {
	return Value{kind: KindDecimal, s: FormatDecimal(unscaled, scale)}
}

// Date returns a DATE value: days since 1970-01-01.
func Date(days int32) Value { return Value{kind: KindDate, n: uint64(int64(days))} }

// TimeOfDay returns a TIME value: milliseconds of the day.
func TimeOfDay(millis int32) Value { return Value{kind: KindTime, n: uint64(int64(millis))} }

// Timestamp returns a TIMESTAMP / TIMESTAMP_LTZ value: epoch milliseconds
// plus nanoseconds within that millisecond (0..999999).
func Timestamp(millis int64, nanoOfMilli int32) Value {
	return Value{kind: KindTimestamp, n: uint64(millis), nanos: nanoOfMilli}
}

// TimestampOf converts a time.Time (its wall clock in its location for
// TIMESTAMP, the instant for TIMESTAMP_LTZ: pass t.UTC()).
func TimestampOf(t time.Time) Value {
	_, off := t.Zone()
	sec := t.Unix() + int64(off)
	ns := int64(t.Nanosecond())
	millis := sec*1000 + ns/1_000_000
	return Timestamp(millis, int32(ns%1_000_000))
}

// Array returns an ARRAY value; elements may be Null().
func Array(elems []Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{kind: KindArray, ref: elems}
}

// Map returns a MAP value from parallel key and value slices (order kept).
func Map(keys, vals []Value) Value {
	if len(keys) != len(vals) {
		panic("fn.Map: keys and values differ in length")
	}
	return Value{kind: KindMap, ref: &mapData{keys: keys, vals: vals}}
}

// Row returns a ROW value with the given kind.
func Row(kind RowKind, fields []Value) Value {
	if fields == nil {
		fields = []Value{}
	}
	return Value{kind: KindRow, rowKind: kind, ref: fields}
}

// Kind returns the value's representation.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// AsBool returns a BOOLEAN.
func (v Value) AsBool() bool { return v.n != 0 }

// AsInt returns an integer.
func (v Value) AsInt() int64 { return int64(v.n) }

// AsFloat32 returns a FLOAT (a DOUBLE is narrowed).
func (v Value) AsFloat32() float32 {
	if v.kind == KindFloat64 {
		return float32(math.Float64frombits(v.n))
	}
	return math.Float32frombits(uint32(v.n))
}

// AsFloat64 returns a DOUBLE (a FLOAT is widened, an integer converted).
func (v Value) AsFloat64() float64 {
	switch v.kind {
	case KindFloat32:
		return float64(math.Float32frombits(uint32(v.n)))
	case KindInt:
		return float64(int64(v.n))
	}
	return math.Float64frombits(v.n)
}

// RawBits returns the IEEE-754 bits of a FLOAT (low 32 bits) or DOUBLE.
func (v Value) RawBits() uint64 { return v.n }

// AsString returns a CHAR/VARCHAR, or a DECIMAL's text.
func (v Value) AsString() string { return v.s }

// AsBytes returns a BINARY/VARBINARY.
func (v Value) AsBytes() []byte { return v.b }

// DecimalString returns a DECIMAL's text as received or built.
func (v Value) DecimalString() string { return v.s }

// AsDecimal returns a DECIMAL as unscaled × 10^-scale.
func (v Value) AsDecimal() (*big.Int, int, error) { return ParseDecimal(v.s) }

// AsDate returns a DATE as days since the epoch.
func (v Value) AsDate() int32 { return int32(int64(v.n)) }

// AsTime returns a TIME as milliseconds of the day.
func (v Value) AsTime() int32 { return int32(int64(v.n)) }

// AsTimestamp returns epoch milliseconds and nano-of-millisecond.
func (v Value) AsTimestamp() (millis int64, nanoOfMilli int32) { return int64(v.n), v.nanos }

// GoTime returns a DATE, TIME or TIMESTAMP as a UTC time.Time (TIME on
// 1970-01-01).
func (v Value) GoTime() time.Time {
	switch v.kind {
	case KindDate:
		return time.Unix(int64(v.AsDate())*86400, 0).UTC()
	case KindTime:
		return time.UnixMilli(int64(v.AsTime())).UTC()
	case KindTimestamp:
		ms, ns := v.AsTimestamp()
		return time.UnixMilli(ms).Add(time.Duration(ns)).UTC()
	}
	return time.Time{}
}

// Elems returns an ARRAY's elements.
func (v Value) Elems() []Value {
	if v.kind != KindArray {
		return nil
	}
	return v.ref.([]Value)
}

// MapEntries returns a MAP's keys and values (parallel slices).
func (v Value) MapEntries() (keys, vals []Value) {
	if v.kind != KindMap {
		return nil, nil
	}
	m := v.ref.(*mapData)
	return m.keys, m.vals
}

// Fields returns a ROW's fields.
func (v Value) Fields() []Value {
	if v.kind != KindRow {
		return nil
	}
	return v.ref.([]Value)
}

// RowKind returns a ROW's changelog kind.
func (v Value) RowKind() RowKind { return v.rowKind }

// Equal reports whether two values are identical (floats by bits).
func (v Value) Equal(u Value) bool {
	if v.kind != u.kind || v.n != u.n || v.nanos != u.nanos || v.s != u.s || v.rowKind != u.rowKind {
		return false
	}
	switch v.kind {
	case KindBytes:
		return string(v.b) == string(u.b)
	case KindArray, KindRow:
		a, b := v.ref.([]Value), u.ref.([]Value)
		return valuesEqual(a, b)
	case KindMap:
		a, b := v.ref.(*mapData), u.ref.(*mapData)
		return valuesEqual(a.keys, b.keys) && valuesEqual(a.vals, b.vals)
	}
	return true
}

func valuesEqual(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// String renders a value for messages and the describe() built-in:
// integers and decimals in plain text, floats in Go's shortest form,
// dates as 2006-01-02, times as 15:04:05.000, timestamps as
// 2006-01-02T15:04:05.000000000, bytes as hex, NULL as NULL.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "NULL"
	case KindBool:
		return strconv.FormatBool(v.AsBool())
	case KindInt:
		return strconv.FormatInt(v.AsInt(), 10)
	case KindFloat32:
		return strconv.FormatFloat(float64(v.AsFloat32()), 'g', -1, 32)
	case KindFloat64:
		return strconv.FormatFloat(v.AsFloat64(), 'g', -1, 64)
	case KindDecimal:
		u, s, err := ParseDecimal(v.s)
		if err != nil {
			return v.s
		}
		return FormatDecimal(u, s)
	case KindString:
		return v.s
	case KindBytes:
		return fmt.Sprintf("x'%x'", v.b)
	case KindDate:
		return v.GoTime().Format("2006-01-02")
	case KindTime:
		return v.GoTime().Format("15:04:05.000")
	case KindTimestamp:
		return v.GoTime().Format("2006-01-02T15:04:05.000000000")
	case KindArray, KindRow:
		var b strings.Builder
		if v.kind == KindRow {
			b.WriteString(v.rowKind.String() + "(")
		} else {
			b.WriteString("[")
		}
		for i, e := range v.ref.([]Value) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		if v.kind == KindRow {
			b.WriteString(")")
		} else {
			b.WriteString("]")
		}
		return b.String()
	case KindMap:
		var b strings.Builder
		b.WriteString("{")
		m := v.ref.(*mapData)
		for i := range m.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.keys[i].String() + "=" + m.vals[i].String())
		}
		b.WriteString("}")
		return b.String()
	}
	return "?"
}

// Limits of ParseDecimal: the text, and the digits of the value it
// denotes (Flink's DECIMAL has at most 38).
const (
	maxDecimalText   = 30_000
	maxDecimalDigits = 20_000
)

// ParseDecimal parses Java BigDecimal text ("-12.340", "1E-7", "1.5E+3")
// into unscaled × 10^-scale.
func ParseDecimal(s string) (*big.Int, int, error) {
	if s == "" {
		return nil, 0, fmt.Errorf("decimal: empty text")
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 10_000 || e < -10_000 {
			return nil, 0, fmt.Errorf("decimal: bad exponent in %q", s)
		}
		exp = e
	}
	digits := mant
	scale := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = len(mant) - i - 1
		digits = mant[:i] + mant[i+1:]
	}
	body := strings.TrimPrefix(strings.TrimPrefix(digits, "-"), "+")
	if body == "" || len(body) > maxDecimalText {
		return nil, 0, fmt.Errorf("decimal: bad text %q", s)
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return nil, 0, fmt.Errorf("decimal: bad text %q", s)
		}
	}
	u, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, 0, fmt.Errorf("decimal: bad text %q", s)
	}
	scale -= exp
	// Bound the value so that FormatDecimal's output parses back
	// (at most maxDecimalDigits digits and fraction digits).
	if scale > maxDecimalDigits || (scale < 0 && len(body)-scale > maxDecimalDigits) {
		return nil, 0, fmt.Errorf("decimal: %q has too many digits", text.Truncate(s, 40))
	}
	if scale < 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	return u, scale, nil
}

// FormatDecimal renders unscaled × 10^-scale in plain notation
// (Java BigDecimal.toPlainString), e.g. (12340, 3) → "12.340".
func FormatDecimal(unscaled *big.Int, scale int) string {
	if scale <= 0 {
		u := new(big.Int).Mul(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		return u.String()
	}
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		out = "-" + out
	}
	return out
}
