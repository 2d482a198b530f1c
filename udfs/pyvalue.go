package udfs

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// appendPyValue writes Python's str() of the value PyFlink hands a Python
// function for v (the template style "python"; udfs/_embedding.py
// format_value with style "python" is the reference):
//
//   - STRING as it is; BOOLEAN True/False; integers in decimal;
//   - DECIMAL: str(decimal.Decimal) of the value quantized to the column's
//     scale (plain, or exponent notation below 1E-6: 1E-7, 0E-8);
//   - DATE 2024-03-16; TIME 13:31:01 or 13:31:01.796000 (PyFlink passes
//     milliseconds); TIMESTAMP 2024-03-16 13:31:01 or
//     2024-03-16 13:31:01.796000 (microseconds, the rest dropped as PyFlink
//     does); years outside 1..9999 fail as they fail in PyFlink;
//   - FLOAT/DOUBLE: repr(float) (a FLOAT arrives as the double of its
//     float32 value: 0.10000000149011612).
func appendPyValue(b *strings.Builder, v fn.Value) error {
	switch v.Kind() {
	case fn.KindString:
		b.WriteString(v.AsString())
	case fn.KindBool:
		if v.AsBool() {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case fn.KindInt:
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case fn.KindDecimal:
		u, scale, err := v.AsDecimal()
		if err != nil {
			return err
		}
		b.WriteString(pyDecimalStr(u, scale))
	case fn.KindFloat32:
		b.WriteString(pyFloatRepr(float64(v.AsFloat32())))
	case fn.KindFloat64:
		b.WriteString(pyFloatRepr(v.AsFloat64()))
	case fn.KindDate:
		t := v.GoTime()
		if err := pyYear(t); err != nil {
			return err
		}
		b.WriteString(t.Format("2006-01-02"))
	case fn.KindTime:
		appendPyClock(b, v.GoTime())
	case fn.KindTimestamp:
		t := v.GoTime()
		if err := pyYear(t); err != nil {
			return err
		}
		b.WriteString(t.Format("2006-01-02 "))
		appendPyClock(b, t)
	default:
		return fmt.Errorf("cannot render a %s value as text (use STRING, an integer type, BOOLEAN, DECIMAL, FLOAT, DOUBLE, DATE, TIME or TIMESTAMP)", sqlKind(v.Kind()))
	}
	return nil
}

// appendPyClock writes str(datetime.time): HH:MM:SS, plus .ffffff when the
// microseconds are not zero.
func appendPyClock(b *strings.Builder, t time.Time) {
	b.WriteString(t.Format("15:04:05"))
	if us := t.Nanosecond() / 1000; us != 0 {
		fmt.Fprintf(b, ".%06d", us)
	}
}

// pyYear fails for dates Python's datetime cannot hold (PyFlink's decoder
// raises there, so the stock worker fails the job too).
func pyYear(t time.Time) error {
	if y := t.Year(); y < 1 || y > 9999 {
		return fmt.Errorf("year %d is outside Python's datetime range 1..9999", y)
	}
	return nil
}

// pyDecimalStr is Python's str(decimal.Decimal) (the to-scientific-string
// of the decimal arithmetic specification, as Java's BigDecimal.toString)
// of unscaled × 10^-scale with exactly that exponent: plain notation when
// the exponent is ≤ 0 and the adjusted exponent ≥ -6, else d.dddE±n.
func pyDecimalStr(unscaled *big.Int, scale int) string {
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	exp := -scale
	adjusted := exp + len(digits) - 1
	var out string
	switch {
	case exp <= 0 && adjusted >= -6:
		if exp == 0 {
			out = digits
		} else if point := len(digits) + exp; point > 0 {
			out = digits[:point] + "." + digits[point:]
		} else {
			out = "0." + strings.Repeat("0", -point) + digits
		}
	default:
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		out += "E"
		if adjusted >= 0 {
			out += "+"
		}
		out += strconv.Itoa(adjusted)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// pyFloatRepr is Python's repr(float): the shortest text that reads back
// to x, in fixed notation with at least one fraction digit when the
// decimal exponent is in [-4, 16), else d.ddde±XX.
func pyFloatRepr(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(x, 'e', -1, 64) // e.g. "1.5e-07", "-0e+00"
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	f := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsAny(f, ".") {
		f += ".0"
	}
	return f
}
