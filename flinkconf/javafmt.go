package flinkconf

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// This file reproduces the few pieces of Java's text formatting that end up
// in Flink's messages and outputs: Double.toString, String.format("%.3f")
// and String.trim. Java 17's Double.toString is the shortest repr in all but
// rare cases (JDK-4511638); the corpus check against Flink would catch a
// divergence in the values that matter here.

// javaTrim trims like java.lang.String.trim: every char <= U+0020 at either end.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// shortestDigits returns the shortest decimal digits and the decimal exponent
// of |d| such that d = 0.DIGITS × 10^exp.
func shortestDigits(d float64) (digits string, exp int) {
	s := strconv.FormatFloat(math.Abs(d), 'e', -1, 64) // d.ddddde±xx
	mant, e, _ := strings.Cut(s, "e")
	n, _ := strconv.Atoi(e)
	digits = strings.Replace(mant, ".", "", 1)
	return digits, n + 1
}

// javaDouble formats d like java.lang.Double.toString.
func javaDouble(d float64) string {
	switch {
	case math.IsNaN(d):
		return "NaN"
	case math.IsInf(d, 1):
		return "Infinity"
	case math.IsInf(d, -1):
		return "-Infinity"
	case d == 0:
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if d < 0 {
		sign = "-"
	}
	digits, exp := shortestDigits(d)
	abs := math.Abs(d)
	if abs >= 1e-3 && abs < 1e7 {
		var b strings.Builder
		b.WriteString(sign)
		if exp <= 0 {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp))
			b.WriteString(digits)
			return b.String()
		}
		if len(digits) <= exp {
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp-len(digits)))
			b.WriteString(".0")
			return b.String()
		}
		b.WriteString(digits[:exp])
		b.WriteByte('.')
		b.WriteString(digits[exp:])
		return b.String()
	}
	frac := digits[1:]
	if frac == "" {
		frac = "0"
	}
	return sign + digits[:1] + "." + frac + "E" + strconv.Itoa(exp-1)
}

// javaFloat formats f like java.lang.Float.toString.
func javaFloat(f float32) string {
	d := float64(f)
	if math.IsNaN(d) || math.IsInf(d, 0) || d == 0 {
		return javaDouble(d)
	}
	s := strconv.FormatFloat(d, 'e', -1, 32)
	// Re-use the double formatter on the float's shortest digits.
	v, _ := strconv.ParseFloat(s, 64)
	return javaDouble(v)
}

// javaFixed3 formats a non-negative double like
// String.format(Locale.ROOT, "%.3f", d): Java rounds the shortest decimal
// representation half-up (it does not round the exact binary value).
func javaFixed3(d float64) string {
	digits, exp := shortestDigits(d)
	r, ok := new(big.Rat).SetString("0." + digits + "e" + strconv.Itoa(exp))
	if !ok {
		return strconv.FormatFloat(d, 'f', 3, 64)
	}
	// half-up at 3 decimals: floor(r*1000 + 1/2)
	r.Mul(r, big.NewRat(1000, 1))
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	s := q.String()
	if len(s) < 4 {
		s = strings.Repeat("0", 4-len(s)) + s
	}
	return s[:len(s)-3] + "." + s[len(s)-3:]
}
