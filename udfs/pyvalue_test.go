package udfs

import (
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

func mustDecimal(t *testing.T, s string) fn.Value {
	t.Helper()
	v, err := fn.DecimalText(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ts(y int, mo time.Month, d, h, mi, s, ns int) fn.Value {
	return fn.TimestampOf(time.Date(y, mo, d, h, mi, s, ns, time.UTC))
}

// Expected texts are Python 3.11's str() of what PyFlink's decoders hand a
// Python function (datetime.datetime.utcfromtimestamp(...).replace(
// microsecond=...), datetime.time(h, m, s, ms*1000), Decimal quantized to
// the column's scale, float).
func TestPythonValueStyle(t *testing.T) {
	for i, c := range []struct {
		v    fn.Value
		want string
	}{
		{fn.Str("José"), "José"},
		{fn.Str(""), ""},
		{fn.Bool(true), "True"},
		{fn.Bool(false), "False"},
		{fn.Int(-9223372036854775808), "-9223372036854775808"},
		// TIMESTAMP: microseconds when not zero, nothing when zero.
		{ts(2024, 3, 16, 13, 31, 1, 796_000_000), "2024-03-16 13:31:01.796000"},
		{ts(2024, 3, 16, 13, 31, 1, 0), "2024-03-16 13:31:01"},
		{ts(2024, 3, 16, 0, 0, 0, 1_000), "2024-03-16 00:00:00.000001"},
		{ts(2024, 3, 16, 0, 0, 0, 999), "2024-03-16 00:00:00"}, // nanoseconds below a microsecond: dropped
		{ts(2024, 3, 16, 0, 0, 0, 123_456_789), "2024-03-16 00:00:00.123456"},
		{fn.Timestamp(-1, 0), "1969-12-31 23:59:59.999000"},
		{ts(1, 1, 1, 0, 0, 0, 0), "0001-01-01 00:00:00"},
		// DATE, TIME (PyFlink passes milliseconds).
		{fn.Date(0), "1970-01-01"},
		{fn.Date(int32(time.Date(5, 1, 2, 0, 0, 0, 0, time.UTC).Unix() / 86400)), "0005-01-02"},
		{fn.TimeOfDay(3723004), "01:02:03.004000"},
		{fn.TimeOfDay(3723000), "01:02:03"},
		{fn.TimeOfDay(0), "00:00:00"},
		// DECIMAL: str(Decimal) with the column's scale.
		{mustDecimal(t, "-12.50"), "-12.50"},
		{mustDecimal(t, "0.00"), "0.00"},
		{mustDecimal(t, "5"), "5"},
		{mustDecimal(t, "0.000001"), "0.000001"},
		{mustDecimal(t, "0.0000010"), "0.0000010"},
		{mustDecimal(t, "0.0000001"), "1E-7"},
		{mustDecimal(t, "-0.0000001"), "-1E-7"},
		{mustDecimal(t, "0.00000012"), "1.2E-7"},
		{mustDecimal(t, "0E-8"), "0E-8"},
		{mustDecimal(t, "-1.23E-10"), "-1.23E-10"},
		{mustDecimal(t, "123456789012345678901234567890.12345678"), "123456789012345678901234567890.12345678"},
		// FLOAT / DOUBLE: repr(float); FLOAT as the double of the float32.
		{fn.Float64(0.1), "0.1"},
		{fn.Float64(100), "100.0"},
		{fn.Float64(1e16), "1e+16"},
		{fn.Float64(1e15), "1000000000000000.0"},
		{fn.Float64(123456789012345678), "1.2345678901234568e+17"},
		{fn.Float64(0.0001), "0.0001"},
		{fn.Float64(0.00001), "1e-05"},
		{fn.Float64(math.Copysign(0, -1)), "-0.0"},
		{fn.Float64(math.Inf(1)), "inf"},
		{fn.Float64(math.Inf(-1)), "-inf"},
		{fn.Float64(math.NaN()), "nan"},
		{fn.Float64(1.5e300), "1.5e+300"},
		{fn.Float64(5e-324), "5e-324"},
		{fn.Float32(0.1), "0.10000000149011612"},
		{fn.Float32(3.4e38), "3.3999999521443642e+38"},
		{fn.Float32(1e-40), "9.99994610111476e-41"},
	} {
		var b strings.Builder
		if err := appendPyValue(&b, c.v); err != nil || b.String() != c.want {
			t.Errorf("case %d (%v): got %q err=%v, want %q", i, c.v, b.String(), err, c.want)
		}
	}
	for _, v := range []fn.Value{ts(0, 12, 31, 0, 0, 0, 0), ts(10000, 1, 1, 0, 0, 0, 0), fn.Date(-719529)} {
		var b strings.Builder
		if err := appendPyValue(&b, v); err == nil || !strings.Contains(err.Error(), "outside Python's datetime range") {
			t.Errorf("%v: err=%v", v, err)
		}
	}
	var b strings.Builder
	if err := appendPyValue(&b, fn.Bin([]byte("x"))); err == nil {
		t.Error("BYTES rendered")
	}
}

func TestPyDecimalNegativeScale(t *testing.T) {
	// Not produced by Flink's DECIMAL (scale >= 0), but str(Decimal('1E+3')).
	if got := pyDecimalStr(big.NewInt(1), -3); got != "1E+3" {
		t.Errorf("got %q", got)
	}
	if got := pyDecimalStr(big.NewInt(0), -2); got != "0E+2" {
		t.Errorf("got %q", got)
	}
}

func parseOne(t *testing.T, src string) *Template {
	t.Helper()
	ts, err := ParseTemplates([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return ts[0]
}

func TestTemplateValuesAndNullPolicies(t *testing.T) {
	ev := ts(2024, 3, 16, 13, 31, 1, 796_000_000)
	dec := mustDecimal(t, "-12.50")
	cases := []struct {
		name, src string
		vals      []fn.Value
		want      string
		ok        bool
	}{
		{"default style drops fractions", `{"t": {"columns": ["a", "b", "c"], "separator": "; ", "parts": ["A {a}", "B {b}", "C {c}"]}}`,
			[]fn.Value{ev, fn.Bool(true), dec}, "A 2024-03-16 13:31:01; B true; C -12.50", true},
		{"python style", `{"t": {"columns": ["a", "b", "c"], "separator": "; ", "values": "python", "parts": ["A {a}", "B {b}", "C {c}"]}}`,
			[]fn.Value{ev, fn.Bool(true), dec}, "A 2024-03-16 13:31:01.796000; B True; C -12.50", true},
		{"explicit default and skip", `{"t": {"columns": ["a", "b"], "separator": "|", "values": "default", "null": "skip", "parts": ["A {a}", "B {b}"]}}`,
			[]fn.Value{fn.Null(), fn.Str("x")}, "B x", true},
		{"skip: blank string drops the part", `{"t": {"columns": ["a", "b"], "separator": "|", "values": "python", "parts": ["A {a}", "B {b}"]}}`,
			[]fn.Value{fn.Str(" \t"), fn.Str("x")}, "B x", true},
		{"skip: all parts dropped is NULL", `{"t": {"columns": ["a"], "parts": ["A {a}"]}}`,
			[]fn.Value{fn.Null()}, "", false},
		{"literal None", `{"t": {"columns": ["a", "b", "c"], "values": "python", "null": {"literal": "None"}, "parts": ["{a} {b}, {c}"]}}`,
			[]fn.Value{fn.Str("Ann"), fn.Null(), ev}, "Ann None, 2024-03-16 13:31:01.796000", true},
		{"literal keeps blank strings", `{"t": {"columns": ["a", "b"], "separator": "; ", "null": {"literal": "None"}, "parts": ["A {a}", "B {b}"]}}`,
			[]fn.Value{fn.Str("  "), fn.Str("")}, "A   ; B ", true},
		{"literal: all NULL is still a text", `{"t": {"columns": ["a", "b"], "separator": "; ", "null": {"literal": "None"}, "parts": ["A {a}", "B {b}"]}}`,
			[]fn.Value{fn.Null(), fn.Null()}, "A None; B None", true},
		{"empty literal", `{"t": {"columns": ["a", "b"], "null": {"literal": ""}, "parts": ["[{a}|{b}]"]}}`,
			[]fn.Value{fn.Null(), fn.Int(3)}, "[|3]", true},
	}
	for _, c := range cases {
		tp := parseOne(t, c.src)
		got, ok, err := tp.Render(c.vals)
		if err != nil || ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: got %q ok=%v err=%v, want %q ok=%v", c.name, got, ok, err, c.want, c.ok)
		}
	}
}

func TestTemplateStyleDecidesAcceptedTypes(t *testing.T) {
	dbl := fn.Simple(fn.DOUBLE)
	def := parseOne(t, `{"t": {"columns": ["a"], "parts": ["{a}"]}}`)
	py := parseOne(t, `{"t": {"columns": ["a"], "values": "python", "parts": ["{a}"]}}`)
	if def.templateParam("a").Accepts.Match(dbl) {
		t.Error("default style accepts DOUBLE")
	}
	if !py.templateParam("a").Accepts.Match(dbl) || !py.templateParam("a").Accepts.Match(fn.Simple(fn.FLOAT)) {
		t.Error("python style refuses FLOAT/DOUBLE")
	}
	ltz := fn.Type{Name: fn.LOCAL_ZONED_TIMESTAMP, Precision: 3}
	if py.templateParam("a").Accepts.Match(ltz) || def.templateParam("a").Accepts.Match(ltz) {
		t.Error("TIMESTAMP_LTZ accepted")
	}
	if _, _, err := def.Render([]fn.Value{fn.Float64(1.5)}); err == nil {
		t.Error("default style rendered a DOUBLE")
	}
	if got, _, err := py.Render([]fn.Value{fn.Float64(1.5)}); err != nil || got != "1.5" {
		t.Errorf("python style DOUBLE: %q %v", got, err)
	}
}

func TestTemplateOptionErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{"t": {"columns": ["a"], "values": "pyhton", "parts": ["{a}"]}}`, `template t: "values": unknown style "pyhton"; write "python"`},
		{`{"t": {"columns": ["a"], "null": "None", "parts": ["{a}"]}}`, `template t: "null": unknown policy "None"; write "skip"`},
		{`{"t": {"columns": ["a"], "null": {"literal": 1}, "parts": ["{a}"]}}`, `{"literal": "None"}`},
		{`{"t": {"columns": ["a"], "null": {"text": "None"}, "parts": ["{a}"]}}`, `template t: "null": cannot use {"text": "None"}`},
		{`{"t": {"columns": ["a"], "null": {}, "parts": ["{a}"]}}`, `template t: "null": cannot use {}`},
		{`{"t": {"columns": ["a"], "null": 0, "parts": ["{a}"]}}`, `template t: "null": cannot use 0`},
		{`{"t": {"columns": ["a"], "module": "udfs/t_udf.py", "parts": ["{a}"]}}`, `template t: "module": "udfs/t_udf.py" is not a Python module path`},
	} {
		_, err := ParseTemplates([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got  %v\n want %q", c.src, err, c.want)
		}
	}
	// The file is named in the message.
	p := filepath.Join(t.TempDir(), "team-templates.json")
	if err := os.WriteFile(p, []byte(`{"t": {"columns": ["a"], "values": "str", "parts": ["{a}"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTemplates(p, "")
	if err == nil || !strings.Contains(err.Error(), "templates "+p+" (FLINKFN_TEMPLATES): template t: \"values\"") {
		t.Errorf("got %v", err)
	}
}

func TestTemplateModuleAndSource(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(p, []byte(`{"ah_embed": {"module": "udfs.ah_embed_udf", "columns": ["a"], "parts": ["{a}"]},
		"mine": {"module": "jobs.team.embeddings", "columns": ["a"], "parts": ["{a}"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTemplates(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Module != "jobs.team.embeddings" || got[1].Source != p+" (FLINKFN_TEMPLATES)" {
		t.Errorf("%+v", got[1])
	}
	fs := Embeddings(EmbeddingOptions{Templates: got})
	if fs[2].FullName() != "jobs.team.embeddings.mine" {
		t.Errorf("function %s", fs[2].FullName())
	}
	builtin, _ := LoadTemplates("", "")
	if builtin[0].Source != BuiltinTemplatesSource {
		t.Errorf("built-in source %q", builtin[0].Source)
	}
}

// A team's own ah_embed(first_name, last_name, email, country, balance)
// against the built-in 8-column template: the message names the function,
// the template and its file, the call's count and types, and the entry to
// write.
func TestTemplateArityMismatchSaysTheFix(t *testing.T) {
	builtin, err := LoadTemplates("", "")
	if err != nil {
		t.Fatal(err)
	}
	var ah *fn.Function
	for _, f := range Embeddings(EmbeddingOptions{Templates: builtin}) {
		if f.Name == "ah_embed" {
			ah = &f
		}
	}
	str := fn.String()
	dec := fn.Decimal(12, 2)
	args := []*fn.Type{&str, &str, &str, &str, &dec}
	err = ah.CheckArgs(args)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Logf("message:\n%s", msg)
	for _, want := range []string{
		`udfs.ah_embed_udf.ah_embed is flinkfn's template function "ah_embed" from the built-in templates (udfs/templates.json; FLINKFN_TEMPLATES is not set)`,
		"with 8 columns (name, address, city, country, nationality, occupation, segment, date_of_birth)",
		"calls it with 5 argument(s) (STRING, STRING, STRING, STRING, DECIMAL(12, 2))",
		"set FLINKFN_TEMPLATES=<that file>",
		`{"ah_embed": {"module": "udfs.ah_embed_udf", "columns": ["c1", "c2", "c3", "c4", "c5"], "values": "python", "null": {"literal": "None"}, "parts": ["{c1} {c2} {c3} {c4} {c5}"]}}`,
		`README "Moving an existing PyFlink job to flinkfn"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	// The skeleton is a valid templates file.
	line := msg[strings.Index(msg, "\n  ")+3:]
	line = line[:strings.IndexByte(line, '\n')]
	if _, err := ParseTemplates([]byte(line)); err != nil {
		t.Errorf("skeleton %s: %v", line, err)
	}
	if err := ah.CheckArgs(make([]*fn.Type, 8)); err != nil {
		t.Errorf("8 arguments: %v", err)
	}
	// With FLINKFN_TEMPLATES: the file is named, and the advice is to edit it.
	p := filepath.Join(t.TempDir(), "team.json")
	if err := os.WriteFile(p, []byte(`{"ah_embed": {"columns": ["a", "b"], "parts": ["{a} {b}"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	own, err := LoadTemplates(p, "")
	if err != nil {
		t.Fatal(err)
	}
	f := Embeddings(EmbeddingOptions{Templates: own})[1]
	msg = f.CheckArgs([]*fn.Type{&str, nil, &dec}).Error()
	for _, want := range []string{"from " + p + " (FLINKFN_TEMPLATES), with 2 columns (a, b)", "(STRING, ?, DECIMAL(12, 2))",
		`edit the entry "ah_embed" of that file`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}
