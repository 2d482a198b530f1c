package flinkconf

import (
	"strings"
	"testing"
)

func TestParseMemorySize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MemorySize
		err  string
	}{
		{"12gb", 12 * GiB, ""},
		{"12 GB", 12 * GiB, ""},
		{" 12 g ", 12 * GiB, ""},
		{"12G", 12 * GiB, ""}, // binary in Flink, unlike Kubernetes
		{"1024", 1024, ""},    // bytes, not MiB
		{"1728m", 1728 * MiB, ""},
		{"4 gibibytes", 4 * GiB, ""},
		{"1t", TiB, ""},
		{"0", 0, ""},
		{"12Gi", 0, "Memory size unit 'gi' does not match any of the recognized units: (b | bytes) / (k | kb | kibibytes) / (m | mb | mebibytes) / (g | gb | gibibytes) / (t | tb | tebibytes)"},
		{"1.5g", 0, "Memory size unit '.5g' does not match"},
		{"-1", 0, "text does not start with a number"},
		{"+1g", 0, "text does not start with a number"},
		{"", 0, "argument is an empty- or whitespace-only string"},
		{"99999999999999999999", 0, "The value '99999999999999999999' cannot be re represented as 64bit number (numeric overflow)."},
		{"8388608t", 0, "The value '8388608t' cannot be re represented as 64bit number of bytes (numeric overflow)."},
	} {
		got, err := ParseMemorySize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("ParseMemorySize(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestHumanReadableAndString(t *testing.T) {
	for _, tc := range []struct {
		m            MemorySize
		human, plain string
	}{
		{0, "0 bytes", "0 bytes"},
		{1024, "1024 bytes", "1 kb"},
		{1025, "1.001kb (1025 bytes)", "1025 bytes"},
		{GiB, "1024.000mb (1073741824 bytes)", "1 gb"},
		{1288490208, "1.200gb (1288490208 bytes)", "1288490208 bytes"}, {3 * MiB, "3.000mb (3145728 bytes)", "3 mb"},
		{MaxMemorySize, "8388608.000tb (9223372036854775807 bytes)", "9223372036854775807 bytes"},
	} {
		if got := tc.m.HumanReadable(); got != tc.human {
			t.Errorf("HumanReadable(%d) = %q, want %q", tc.m, got, tc.human)
		}
		if got := tc.m.String(); got != tc.plain {
			t.Errorf("String(%d) = %q, want %q", tc.m, got, tc.plain)
		}
	}
}

func TestMultiplyWidenedFloat(t *testing.T) {
	// Flink's fractions are Java floats widened to double: 0.1f = 0.10000000149011612.
	f := float64(float32(0.1))
	for _, tc := range []struct {
		base, want MemorySize
	}{
		{1342177280, 134217730}, // network of the default 1728m TaskManager
		{12 * GiB, 1288490208},  // overhead of the seed's 12gb TaskManager
		{11327976224, 1132797639},
	} {
		got, err := tc.base.Multiply(f)
		if err != nil || got != tc.want {
			t.Errorf("%d × 0.1f = %d, %v; want %d", tc.base, got, err, tc.want)
		}
	}
	if _, err := MaxMemorySize.Multiply(1.5); err == nil {
		t.Error("overflowing multiply succeeded")
	}
}

func TestJavaDouble(t *testing.T) {
	for in, want := range map[float64]string{
		float64(float32(0.1)): "0.10000000149011612", 1: "1.0", 100: "100.0", 1e7: "1.0E7",
		0.001: "0.001", 0.0001: "1.0E-4", 1.5e-45: "1.5E-45", 6: "6.0", 0.1764705882352941: "0.1764705882352941",
	} {
		if got := javaDouble(in); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in  string
		sec int64
		ns  int32
		err string
	}{
		{"10s", 10, 0, ""},
		{"100", 0, 100_000_000, ""}, // no unit: milliseconds
		{"1m", 60, 0, ""},           // minutes, not mebibytes
		{"2 days", 172800, 0, ""},
		{"5 µs", 0, 5000, ""},
		{"PT1H30M", 5400, 0, ""}, // ISO-8601 fallback
		{"PT0.5S", 0, 500_000_000, ""},
		{"1h30m", 0, 0, "Time interval unit label 'h30m' does not match"},
		{"1.5s", 0, 0, "Time interval unit label '.5s'"},
		{"-PT1S", 0, 0, "negative duration is not supported"},
		{"-1s", 0, 0, "text does not start with a number, and is not a valid ISO-8601 duration format: -1s"},
		{"PT", 0, 0, "not a valid ISO-8601 duration format"},
	} {
		d, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || d.Seconds != tc.sec || d.Nanos != tc.ns {
			t.Errorf("ParseDuration(%q) = %+v, %v", tc.in, d, err)
		}
	}
	if _, ok := (Duration{Seconds: 1 << 62}).Std(); ok {
		t.Error("Std accepted a duration beyond time.Duration")
	}
}
