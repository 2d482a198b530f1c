package fn

import (
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in       string
		unscaled string
		scale    int
	}{
		{"123.45", "12345", 2},
		{"-0.001", "-1", 3},
		{"10E+9", "10000000000", 0},
		{"1e-3", "1", 3},
		{"+.5", "5", 1},
		{"7.", "7", 0},
		{"0", "0", 0},
		{"0E-18", "0", 18},
		{"12345678901234567890.123456789", "12345678901234567890123456789", 9},
		{"-1.50E-2", "-150", 4},
	}
	for _, tc := range tests {
		u, s, err := ParseDecimal(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if u.String() != tc.unscaled || s != tc.scale {
			t.Errorf("%q: %s scale %d, want %s scale %d", tc.in, u, s, tc.unscaled, tc.scale)
		}
		if back := FormatDecimal(u, s); back == "" {
			t.Errorf("%q: empty format", tc.in)
		}
	}
	for _, bad := range []string{"", ".", "-", "1e", "e5", "1.2.3", "NaN", "Infinity", "1e99999999999", "1e20000", "1E20001", "1E-20001", "0x10", "1_0", "--1"} {
		if _, _, err := ParseDecimal(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := FormatDecimal(mustBig(t, "-5"), 3); got != "-0.005" {
		t.Errorf("FormatDecimal(-5, 3) = %q", got)
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"123.45", "-0.001", "10E+9", "1e-3", ".5", "NaN", "0E-18"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, scale, err := ParseDecimal(s)
		if err != nil {
			return
		}
		// What parses must survive a format/parse round trip unchanged.
		u2, scale2, err := ParseDecimal(FormatDecimal(u, scale))
		if err != nil || u2.Cmp(u) != 0 || scale2 != scale {
			t.Fatalf("%q: round trip gave %v scale %d (%v), want %v scale %d", s, u2, scale2, err, u, scale)
		}
	})
}

func mustBig(t *testing.T, s string) *big.Int {
	t.Helper()
	u, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatal(s)
	}
	return u
}
