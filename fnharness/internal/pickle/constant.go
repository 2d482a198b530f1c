package pickle

import (
	"errors"
	"fmt"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"math/big"
	"strconv"
	"time"
)

// Type tags of Input.inputConstant (byte 0), set by Flink's planner in
// CommonPythonUtil.convertLiteralToPython.
const (
	// TagValue: TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT, DOUBLE, DECIMAL, BOOLEAN, CHAR,
	// VARCHAR, and a NULL literal of any type.
	TagValue byte = 0
	// TagDate: DATE, an int of days since 1970-01-01.
	TagDate byte = 1
	// TagTime: TIME, an int of milliseconds of the day.
	TagTime byte = 2
	// TagTimestamp: TIMESTAMP, an int of milliseconds since the epoch (a naive date-time).
	TagTimestamp byte = 3
)

// ConstKind says what a constant argument holds.
type ConstKind int

// Constant kinds.
const (
	ConstNull ConstKind = iota
	ConstBool
	ConstInt
	ConstFloat
	ConstDecimal
	ConstString
	ConstDate
	ConstTime
	ConstTimestamp
)

func (k ConstKind) String() string {
	switch k {
	case ConstNull:
		return "null"
	case ConstBool:
		return "bool"
	case ConstInt:
		return "int"
	case ConstFloat:
		return "float"
	case ConstDecimal:
		return "decimal"
	case ConstString:
		return "string"
	case ConstDate:
		return "date"
	case ConstTime:
		return "time"
	case ConstTimestamp:
		return "timestamp"
	}
	return "ConstKind(" + strconv.Itoa(int(k)) + ")"
}

// Const is a decoded constant argument.
//
// What the Java side sends (PythonBridgeUtils.pickleValue with the Pyrolite 4.13 Pickler
// shaded into flink-python): TINYINT/SMALLINT/INTEGER and BIGINT values in the int32 range as
// BININT1/BININT2/BININT, other BIGINT values as a decimal INT line; FLOAT widened to double
// and DOUBLE as BINFLOAT; DECIMAL as GLOBAL 'decimal\nDecimal' + BINUNICODE (the
// BigDecimal's engineering string, e.g. "10E+9") + TUPLE1 + REDUCE; BOOLEAN as
// NEWTRUE/NEWFALSE; CHAR/VARCHAR as BINUNICODE; NULL as NONE; DATE/TIME as Integer and
// TIMESTAMP as Long, with tag 1/2/3.
type Const struct {
	Kind ConstKind
	// Tag is the type tag byte the constant came with.
	Tag byte
	// Bool is the value of a ConstBool.
	Bool bool
	// Int is the value of a ConstInt that fits in int64 (Big is nil then), the days of a
	// ConstDate, or the milliseconds of a ConstTime or ConstTimestamp.
	Int int64
	// Big is the value of a ConstInt outside the int64 range (Int is 0 then); nil otherwise.
	Big *big.Int
	// Float is the value of a ConstFloat (Java float constants arrive widened to double).
	Float float64
	// Str is the value of a ConstString, or the decimal text of a ConstDecimal exactly as
	// pickled (fn.ParseDecimal gives its digits and scale).
	Str string
}

// Constant decodes Input.inputConstant: a type tag byte followed by a pickle. It never
// executes anything; the only object it accepts is decimal.Decimal(str).
func Constant(b []byte) (Const, error) {
	if len(b) == 0 {
		return Const{}, errors.New("decode constant: empty input")
	}
	tag := b[0]
	if tag > TagTimestamp {
		return Const{}, fmt.Errorf("decode constant: unknown type tag %d", tag)
	}
	v, err := Unpickle(b[1:])
	if err != nil {
		return Const{}, fmt.Errorf("decode constant (tag %d): %w", tag, err)
	}
	c := Const{Tag: tag}
	if tag != TagValue {
		n, ok := v.(int64)
		if !ok {
			return Const{}, fmt.Errorf("decode constant (tag %d): want int, got %s", tag, shortRepr(v))
		}
		c.Int = n
		switch tag {
		case TagDate:
			c.Kind = ConstDate
		case TagTime:
			c.Kind = ConstTime
		default:
			c.Kind = ConstTimestamp
		}
		return c, nil
	}
	switch x := v.(type) {
	case nil:
		c.Kind = ConstNull
	case bool:
		c.Kind, c.Bool = ConstBool, x
	case int64:
		c.Kind, c.Int = ConstInt, x
	case *big.Int:
		c.Kind, c.Big = ConstInt, x
	case float64:
		c.Kind, c.Float = ConstFloat, x
	case string:
		c.Kind, c.Str = ConstString, x
	case *Call:
		s, ok := decimalText(x)
		if !ok {
			return Const{}, fmt.Errorf("decode constant: unsupported object %s", shortRepr(v))
		}
		if _, _, err := fn.ParseDecimal(s); err != nil {
			return Const{}, fmt.Errorf("decode constant: %w", err)
		}
		c.Kind, c.Str = ConstDecimal, s
	default:
		return Const{}, fmt.Errorf("decode constant: unsupported value %s", shortRepr(v))
	}
	return c, nil
}

// decimalText recognizes decimal.Decimal(<str>).
func decimalText(c *Call) (string, bool) {
	g, ok := c.Callable.(Global)
	if !ok || g.Module != "decimal" || g.Name != "Decimal" || c.New || c.HasState {
		return "", false
	}
	args, ok := c.Args.(Tuple)
	if !ok || len(args) != 1 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// Time returns the instant of a ConstDate (midnight UTC of that day), ConstTime (that time of
// day on 1970-01-01 UTC) or ConstTimestamp (UTC, as Python's naive datetime reads it); ok is
// false for other kinds.
func (c Const) Time() (t time.Time, ok bool) {
	switch c.Kind {
	case ConstDate:
		return time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(c.Int)), true
	case ConstTime, ConstTimestamp:
		return time.UnixMilli(c.Int).UTC(), true
	}
	return time.Time{}, false
}

// String renders the constant for logs and error messages.
func (c Const) String() string {
	switch c.Kind {
	case ConstNull:
		return "None"
	case ConstBool:
		if c.Bool {
			return "True"
		}
		return "False"
	case ConstInt:
		if c.Big != nil {
			return c.Big.String()
		}
		return strconv.FormatInt(c.Int, 10)
	case ConstFloat:
		return strconv.FormatFloat(c.Float, 'g', -1, 64)
	case ConstDecimal:
		return "Decimal(" + strconv.Quote(c.Str) + ")"
	case ConstString:
		return strconv.Quote(c.Str)
	case ConstDate:
		t, _ := c.Time()
		return "date " + t.Format("2006-01-02")
	case ConstTime:
		t, _ := c.Time()
		return "time " + t.Format("15:04:05.000")
	case ConstTimestamp:
		t, _ := c.Time()
		return "timestamp " + t.Format("2006-01-02 15:04:05.000")
	}
	return c.Kind.String()
}
