package coder

import (
	"errors"
	"fmt"
	"strconv"
)

// Decimal handling without math/big: a DECIMAL(p, s) value is at most 38
// digits, so rounding and formatting work on digit strings in a fixed-size
// buffer, which keeps Encode free of allocations and bounds the work an
// adversarial text can cause.

// decimalText is a parsed Java BigDecimal literal: ±(intPart ‖ fracPart) ×
// 10^(exp − len(fracPart)).
type decimalText struct {
	neg               bool
	intPart, fracPart string // ASCII digits only
	exp               int64
}

// maxDecimalExp bounds the exponent; Java's BigDecimal rejects exponents
// that do not fit an int, and anything near this bound either overflows any
// DECIMAL(38) or rounds to zero.
const maxDecimalExp = 1 << 40

// parseDecimalText parses the syntax of Java's BigDecimal(String):
// [+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits].
func parseDecimalText(s string) (decimalText, error) {
	var d decimalText
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	d.intPart = s[start:i]
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		d.fracPart = s[start:i]
	}
	if d.intPart == "" && d.fracPart == "" {
		return d, errors.New("not a decimal number")
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start = i
		var e int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e < maxDecimalExp {
				e = e*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return d, errors.New("not a decimal number")
		}
		if e >= maxDecimalExp {
			return d, fmt.Errorf("exponent out of range")
		}
		if eneg {
			e = -e
		}
		d.exp = e
	}
	if i != len(s) {
		return d, errors.New("not a decimal number")
	}
	return d, nil
}

// decimalDigits holds the unscaled magnitude of a rounded decimal: at most
// maxDecimalPrecision digits, plus one for a rounding carry.
type decimalDigits struct {
	buf [maxDecimalPrecision + 1]byte
	n   int
}

func (d *decimalText) digit(i int) byte {
	if i < len(d.intPart) {
		return d.intPart[i]
	}
	return d.fracPart[i-len(d.intPart)]
}

// rescale rounds the value HALF_UP (away from zero on a tie, like Java's
// RoundingMode.HALF_UP) to scale fractional digits and stores the unscaled
// magnitude in out ("0" for zero). It fails when the result has more than
// precision significant digits, where Java's DecimalData.fromBigDecimal
// returns NULL.
func (d *decimalText) rescale(precision, scale int, out *decimalDigits) error {
	l := len(d.intPart) + len(d.fracPart)
	first := 0
	for first < l && d.digit(first) == '0' {
		first++
	}
	out.n = 0
	if first == l {
		out.buf[0] = '0'
		out.n = 1
		return nil
	}
	sig := int64(l - first)
	// value = D × 10^(exp − len(frac)); unscaled = D × 10^k.
	k := d.exp - int64(len(d.fracPart)) + int64(scale)
	if k >= 0 {
		if sig+k > int64(precision) {
			return errPrecision(sig+k, precision)
		}
		for i := first; i < l; i++ {
			out.buf[out.n] = d.digit(i)
			out.n++
		}
		for ; k > 0; k-- {
			out.buf[out.n] = '0'
			out.n++
		}
		return nil
	}
	keep := int64(l) + k // digits of D kept: [first, keep)
	if keep <= int64(first) {
		// Every significant digit is dropped; only D[first] can round up.
		if keep == int64(first) && d.digit(first) >= '5' {
			out.buf[0] = '1'
		} else {
			out.buf[0] = '0'
		}
		out.n = 1
		return nil
	}
	if keep-int64(first) > int64(precision) {
		return errPrecision(keep-int64(first), precision)
	}
	for i := first; i < int(keep); i++ {
		out.buf[out.n] = d.digit(i)
		out.n++
	}
	if d.digit(int(keep)) >= '5' {
		i := out.n - 1
		for ; i >= 0 && out.buf[i] == '9'; i-- {
			out.buf[i] = '0'
		}
		if i >= 0 {
			out.buf[i]++
		} else {
			copy(out.buf[1:out.n+1], out.buf[:out.n])
			out.buf[0] = '1'
			out.n++
		}
	}
	if out.n > precision {
		return errPrecision(int64(out.n), precision)
	}
	return nil
}

func errPrecision(digits int64, precision int) error {
	return fmt.Errorf("%d significant digits overflow precision %d", digits, precision)
}

func (out *decimalDigits) isZero() bool { return out.n == 1 && out.buf[0] == '0' }

// appendJavaDecimal appends what Java's BigDecimal.toString() prints for
// the value ±u × 10^-scale (scale >= 0): plain notation unless the adjusted
// exponent is below -6, then scientific ("1.000000000E-9", "0E-18").
func appendJavaDecimal(dst []byte, neg bool, u []byte, scale int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	n := len(u)
	if scale == 0 {
		return append(dst, u...)
	}
	adjusted := n - 1 - scale
	if adjusted >= -6 {
		if n > scale {
			dst = append(dst, u[:n-scale]...)
			dst = append(dst, '.')
			return append(dst, u[n-scale:]...)
		}
		dst = append(dst, '0', '.')
		for i := n; i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, u...)
	}
	dst = append(dst, u[0])
	if n > 1 {
		dst = append(dst, '.')
		dst = append(dst, u[1:]...)
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(adjusted), 10)
}

// canonicalDecimal rounds the BigDecimal text s to DECIMAL(precision,
// scale) and appends Java's BigDecimal.toString() of the result to dst.
func canonicalDecimal(dst []byte, s string, precision, scale int) ([]byte, error) {
	d, err := parseDecimalText(s)
	if err != nil {
		return dst, err
	}
	var u decimalDigits
	if err := d.rescale(precision, scale, &u); err != nil {
		return dst, err
	}
	return appendJavaDecimal(dst, d.neg && !u.isZero(), u.buf[:u.n], scale), nil
}
