package coder

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Expected results computed with Java: new BigDecimal(text).setScale(s,
// HALF_UP), NULL (here: an error) when precision() > p, else toString().
// A random sample of 200,000 texts was checked the same way while writing
// this code.
var javaDecimalCases = []struct {
	p, s int
	in   string
	want string // "" = overflow error
}{
	{10, 2, "1.005", "1.01"},
	{10, 2, "-1.005", "-1.01"},
	{10, 2, "0.125", "0.13"},
	{10, 2, "-0.001", "0.00"},
	{10, 2, "-0.005", "-0.01"},
	{10, 2, "1E-9", "0.00"},
	{10, 2, "123", "123.00"},
	{10, 2, "1.5E+3", "1500.00"},
	{10, 2, "1.5e3", "1500.00"},
	{10, 2, "+5", "5.00"},
	{10, 2, ".5", "0.50"},
	{10, 2, "5.", "5.00"},
	{10, 2, "000123.4500", "123.45"},
	{10, 2, "99999999.994", "99999999.99"},
	{10, 2, "99999999.995", ""},
	{3, 2, "9.995", ""},
	{3, 2, "10", ""},
	{3, 2, "9.99", "9.99"},
	{38, 18, "0.0000000000000000005", "1E-18"},
	{38, 18, "4.9E-19", "0E-18"},
	{38, 18, "0.000000001", "1.000000000E-9"},
	{38, 18, "1E-18", "1E-18"},
	{38, 18, "-0.0000001", "-1.00000000000E-7"},
	{38, 18, "0.000001", "0.000001000000000000"},
	{38, 18, "0", "0E-18"},
	{38, 18, "0.000", "0E-18"},
	{38, 0, "99999999999999999999999999999999999999", "99999999999999999999999999999999999999"},
	{38, 0, "99999999999999999999999999999999999999.5", ""},
	{38, 0, "-99999999999999999999999999999999999999.4", "-99999999999999999999999999999999999999"},
	{5, 5, "0.00001", "0.00001"},
	{5, 5, "0.000005", "0.00001"},
	{5, 5, "0.000004", "0.00000"},
	{5, 5, "0.999995", ""},
	{1, 0, "9.5", ""},
	{1, 0, "0", "0"},
	{18, 0, "1E+17", "100000000000000000"},
	{18, 0, "1E+18", ""},
	{10, 2, "1E-1000000", "0.00"},
	{10, 2, "1E+1000000", ""},
	{10, 2, "0E+1000000", "0.00"},
	{38, 10, "12345678901234567890.12345678905", "12345678901234567890.1234567891"},
}

func TestCanonicalDecimalMatchesJava(t *testing.T) {
	for _, c := range javaDecimalCases {
		got, err := canonicalDecimal(nil, c.in, c.p, c.s)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "overflow precision") {
				t.Errorf("DECIMAL(%d, %d) %q: got %q, %v; want an overflow error", c.p, c.s, c.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("DECIMAL(%d, %d) %q: got %q, %v; want %q", c.p, c.s, c.in, got, err, c.want)
		}
	}
}

func TestDecimalSyntax(t *testing.T) {
	for _, bad := range []string{"", "-", "+", ".", "-.", "1e", "1e+", "1.2.3", "1,5", " 1", "1 ", "0x10",
		"NaN", "Infinity", "1_000", "--1", "+-1", "1e5e5", "١", "1E99999999999999999999"} {
		if _, err := canonicalDecimal(nil, bad, 10, 2); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestEncodeDecimal(t *testing.T) {
	c := mustCoder(t, fn.Decimal(10, 2))
	for _, cs := range []struct{ in, want string }{
		{"1.005", "1.01"}, {"-0.001", "0.00"}, {"1.5E+3", "1500.00"}, {"12.3", "12.30"},
	} {
		b, err := c.Encode(nil, fn.Insert, []fn.Value{dec(t, cs.in)})
		if err != nil {
			t.Fatalf("%s: %v", cs.in, err)
		}
		if n := binary.BigEndian.Uint32(b[1:]); int(n) != len(cs.want) || string(b[5:]) != cs.want {
			t.Errorf("%s encoded as %q", cs.in, b[1:])
		}
	}
	_, err := c.Encode(nil, fn.Insert, []fn.Value{dec(t, "99999999.995")})
	var ee *EncodeError
	if !errorsAs(err, &ee) || ee.Field != 0 || ee.Expected.String() != "DECIMAL(10, 2)" || ee.Actual != fn.KindDecimal ||
		!strings.Contains(err.Error(), "overflow precision 10") {
		t.Fatalf("overflow: %v", err)
	}
}

func TestDecodeDecimalRoundsToColumnScale(t *testing.T) {
	c := mustCoder(t, fn.Decimal(5, 2))
	for _, cs := range []struct{ text, want string }{
		{"1.005", "1.01"}, {"1", "1.00"}, {"1.50", "1.50"}, {"-0.004", "0.00"}, {"1E+2", "100.00"},
	} {
		b := append([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(cs.text)))...)
		b = append(b, cs.text...)
		_, v := decodeAll(t, c, b)
		if v[0].DecimalString() != cs.want {
			t.Errorf("%q decoded as %q, want %q", cs.text, v[0].DecimalString(), cs.want)
		}
	}
}
