package fn

import (
	"strings"
	"testing"
)

func ptr(t Type) *Type { return &t }

func notNull(t Type) Type { t.Nullable = false; return t }

func TestParseTypeExamples(t *testing.T) {
	cases := []struct {
		in   string
		want Type
	}{
		{"BIGINT", Simple(BIGINT)},
		{"bigint", Simple(BIGINT)},
		{"INT NOT NULL", notNull(Simple(INT))},
		{"INTEGER", Simple(INT)},
		{"INT NULL", Simple(INT)},
		{"TINYINT", Simple(TINYINT)},
		{"SMALLINT", Simple(SMALLINT)},
		{"BOOLEAN", Simple(BOOLEAN)},
		{"FLOAT", Simple(FLOAT)},
		{"DOUBLE", Simple(DOUBLE)},
		{"DOUBLE PRECISION", Simple(DOUBLE)},
		{"DATE", Simple(DATE)},
		{"DECIMAL(38, 18)", Decimal(38, 18)},
		{"DECIMAL(38,18) NOT NULL", notNull(Decimal(38, 18))},
		{"DECIMAL", Decimal(10, 0)},
		{"DECIMAL(5)", Decimal(5, 0)},
		{"NUMERIC(7, 2)", Decimal(7, 2)},
		{"DEC(7, 2)", Decimal(7, 2)},
		{"STRING", String()},
		{"VARCHAR(10)", Type{Name: VARCHAR, Nullable: true, Length: 10}},
		{"VARCHAR(2147483647)", String()},
		{"VARCHAR", Type{Name: VARCHAR, Nullable: true, Length: 1}},
		{"CHAR", Type{Name: CHAR, Nullable: true, Length: 1}},
		{"CHAR(3) NOT NULL", Type{Name: CHAR, Length: 3}},
		{"BYTES", Bytes()},
		{"BINARY(16)", Type{Name: BINARY, Nullable: true, Length: 16}},
		{"VARBINARY(4)", Type{Name: VARBINARY, Nullable: true, Length: 4}},
		{"TIME", Type{Name: TIME, Nullable: true, Precision: 0}},
		{"TIME(3)", Type{Name: TIME, Nullable: true, Precision: 3}},
		{"TIME(3) WITHOUT TIME ZONE", Type{Name: TIME, Nullable: true, Precision: 3}},
		{"TIMESTAMP", Type{Name: TIMESTAMP, Nullable: true, Precision: 6}},
		{"TIMESTAMP(9)", Type{Name: TIMESTAMP, Nullable: true, Precision: 9}},
		{"TIMESTAMP(3) WITHOUT TIME ZONE", Type{Name: TIMESTAMP, Nullable: true, Precision: 3}},
		{"TIMESTAMP(3) *ROWTIME*", Type{Name: TIMESTAMP, Nullable: true, Precision: 3}},
		{"TIMESTAMP_LTZ(3) *PROCTIME* NOT NULL", Type{Name: LOCAL_ZONED_TIMESTAMP, Precision: 3}},
		{"TIMESTAMP_LTZ(3)", Type{Name: LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 3}},
		{"TIMESTAMP_LTZ", Type{Name: LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 6}},
		{"TIMESTAMP(3) WITH LOCAL TIME ZONE", Type{Name: LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 3}},
		{"TIMESTAMP WITH LOCAL TIME ZONE", Type{Name: LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 6}},
		{"TIMESTAMP(3) WITH TIME ZONE", Type{Name: ZONED_TIMESTAMP, Nullable: true, Precision: 3}},
		{"ARRAY<INT>", ArrayOf(Simple(INT))},
		{"ARRAY<INT NOT NULL> NOT NULL", notNull(ArrayOf(notNull(Simple(INT))))},
		{"INT ARRAY", ArrayOf(Simple(INT))},
		{"INT NOT NULL ARRAY NOT NULL", notNull(ArrayOf(notNull(Simple(INT))))},
		{"MULTISET<STRING>", Type{Name: MULTISET, Nullable: true, Elem: ptr(String())}},
		{"MAP<STRING, INT>", MapOf(String(), Simple(INT))},
		{"MAP<STRING NOT NULL, ARRAY<DOUBLE>>", MapOf(notNull(String()), ArrayOf(Simple(DOUBLE)))},
		{"ROW<a INT, b STRING>", RowOf(Field{"a", Simple(INT)}, Field{"b", String()})},
		{"ROW(a INT, b STRING)", RowOf(Field{"a", Simple(INT)}, Field{"b", String()})},
		{"ROW<`a b` INT>", RowOf(Field{"a b", Simple(INT)})},
		{"ROW<`a``b` INT 'the ''a'' field', c BOOLEAN>", RowOf(Field{"a`b", Simple(INT)}, Field{"c", Simple(BOOLEAN)})},
		{"ROW<`f0` BIGINT NOT NULL, `f1` VARCHAR(2147483647)> NOT NULL",
			notNull(RowOf(Field{"f0", notNull(Simple(BIGINT))}, Field{"f1", String()}))},
		{"ROW<>", RowOf()},
		{"ROW<INT, STRING>", RowOf(Field{"", Simple(INT)}, Field{"", String()})},
		{"ROW<INT ARRAY, `x` INT>", RowOf(Field{"", ArrayOf(Simple(INT))}, Field{"x", Simple(INT)})},
		{"ROW<int INT, date DATE>", RowOf(Field{"int", Simple(INT)}, Field{"date", Simple(DATE)})},
		{"ROW<array ARRAY<INT>>", RowOf(Field{"array", ArrayOf(Simple(INT))})},
		{"ROW<n ROW<m MAP<INT, ROW<x TIME(3)>>>>",
			RowOf(Field{"n", RowOf(Field{"m", MapOf(Simple(INT), RowOf(Field{"x", Type{Name: TIME, Nullable: true, Precision: 3}}))})})},
		{"  MAP < INT , INT >  ", MapOf(Simple(INT), Simple(INT))},
		{"NULL", Simple(NULL)},
	}
	for _, c := range cases {
		got, err := ParseType(c.in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", c.in, err)
			continue
		}
		if !deepEqualType(got, c.want) {
			t.Errorf("ParseType(%q) = %s (%#v), want %s", c.in, got, got, c.want)
		}
	}
}

// deepEqualType compares types including nullability and field names.
func deepEqualType(a, b Type) bool {
	if a.Name != b.Name || a.Nullable != b.Nullable || a.Precision != b.Precision ||
		a.Scale != b.Scale || a.Length != b.Length || len(a.Fields) != len(b.Fields) {
		return false
	}
	for _, p := range [][2]*Type{{a.Elem, b.Elem}, {a.Key, b.Key}, {a.Value, b.Value}} {
		if (p[0] == nil) != (p[1] == nil) {
			return false
		}
		if p[0] != nil && !deepEqualType(*p[0], *p[1]) {
			return false
		}
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !deepEqualType(a.Fields[i].Type, b.Fields[i].Type) {
			return false
		}
	}
	return true
}

func TestParseTypeRoundTripsString(t *testing.T) {
	types := []Type{
		Simple(BOOLEAN), Simple(TINYINT), Simple(SMALLINT), Simple(INT), Simple(BIGINT),
		Simple(FLOAT), Simple(DOUBLE), Simple(DATE), notNull(Simple(BIGINT)),
		Decimal(38, 18), Decimal(1, 0), notNull(Decimal(10, 2)),
		String(), Bytes(), notNull(String()),
		{Name: CHAR, Nullable: true, Length: 7}, {Name: VARCHAR, Length: 10},
		{Name: BINARY, Nullable: true, Length: 3}, {Name: VARBINARY, Nullable: true, Length: 9},
		{Name: TIME, Nullable: true, Precision: 0}, {Name: TIME, Precision: 3},
		{Name: TIMESTAMP, Nullable: true, Precision: 9}, {Name: TIMESTAMP, Nullable: true, Precision: 0},
		{Name: LOCAL_ZONED_TIMESTAMP, Nullable: true, Precision: 3},
		ArrayOf(Simple(FLOAT)), notNull(ArrayOf(notNull(Simple(DOUBLE)))),
		MapOf(notNull(String()), ArrayOf(Decimal(5, 2))),
		RowOf(Field{"a", Simple(INT)}, Field{"b c", String()}, Field{"", Simple(DATE)}),
		RowOf(Field{"nested", RowOf(Field{"x", ArrayOf(RowOf(Field{"y", Bytes()}))})}),
		RowOf(),
		Simple(NULL),
	}
	for _, typ := range types {
		s := typ.String()
		got, err := ParseType(s)
		if err != nil {
			t.Errorf("ParseType(%q): %v", s, err)
			continue
		}
		if !deepEqualType(got, typ) {
			t.Errorf("ParseType(%q) = %s, want %s", s, got, typ)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "expected a type"},
		{"FOO", `unknown type "FOO"`},
		{"INT INT", "unexpected"},
		{"DECIMAL(39, 2)", "precision 39"},
		{"DECIMAL(5, 6)", "scale 6"},
		{"DECIMAL(5, -1)", "expected an integer"},
		{"VARCHAR(0)", "length 0"},
		{"VARCHAR(99999999999)", "out of range"},
		{"TIMESTAMP(10)", "precision 10"},
		{"TIME(12)", "precision 12"},
		{"ARRAY<INT", `expected ">"`},
		{"ARRAY INT", `expected "<"`},
		{"MAP<INT>", `expected ","`},
		{"ROW<a INT,>", "expected a type"},
		{"ROW<`a INT>", "unterminated"},
		{"ROW<a INT 'x>", "unterminated"},
		{"ROW a INT", "expected '<' or '('"},
		{"INTERVAL DAY", "unsupported type INTERVAL"},
		{"RAW('a', 'b')", "unsupported type RAW"},
		{"TIMESTAMP(3) WITH LOCAL ZONE", "expected TIME"},
		{"INT NOT", "unexpected"},
		{strings.Repeat("ARRAY<", 100) + "INT" + strings.Repeat(">", 100), "nested deeper"},
	}
	for _, c := range cases {
		_, err := ParseType(c.in)
		if err == nil {
			t.Errorf("ParseType(%q): no error, want %q", c.in, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseType(%q) error %q does not contain %q", c.in, err, c.want)
		}
	}
}

func TestDecimalTextUnchecked(t *testing.T) {
	v := DecimalTextUnchecked("1.000000000E-9")
	if v.Kind() != KindDecimal || v.DecimalString() != "1.000000000E-9" {
		t.Fatalf("got %v %q", v.Kind(), v.DecimalString())
	}
	u, s, err := v.AsDecimal()
	if err != nil || u.String() != "1000000000" || s != 18 {
		t.Fatalf("AsDecimal = %v, %d, %v", u, s, err)
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"BIGINT", "ROW<a INT, `b` MAP<STRING, ARRAY<DECIMAL(10, 2)>>>", "INT ARRAY NOT NULL",
		"TIMESTAMP(3) WITH LOCAL TIME ZONE", "ROW(a INT 'x')", "ROW<INT, STRING>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := ParseType(s)
		if err != nil {
			return
		}
		for _, f := range allFields(typ) {
			if strings.Contains(f.Name, "`") {
				return // Type.String does not escape backticks in field names
			}
		}
		printed := typ.String()
		again, err := ParseType(printed)
		if err != nil {
			if hasUnprintable(typ) {
				return
			}
			t.Fatalf("ParseType(%q) = %s, but re-parsing it fails: %v", s, printed, err)
		}
		if !hasUnprintable(typ) && !deepEqualType(typ, again) {
			t.Fatalf("ParseType(%q) = %s; re-parsed as %s", s, printed, again)
		}
	})
}

func allFields(t Type) []Field {
	var out []Field
	for _, f := range t.Fields {
		out = append(out, f)
		out = append(out, allFields(f.Type)...)
	}
	for _, p := range []*Type{t.Elem, t.Key, t.Value} {
		if p != nil {
			out = append(out, allFields(*p)...)
		}
	}
	return out
}

// hasUnprintable reports types whose String() form is lossy: MULTISET and
// TIMESTAMP_TZ lose their parameters.
func hasUnprintable(t Type) bool {
	if t.Name == MULTISET || t.Name == ZONED_TIMESTAMP {
		return true
	}
	for _, f := range t.Fields {
		if hasUnprintable(f.Type) {
			return true
		}
	}
	for _, p := range []*Type{t.Elem, t.Key, t.Value} {
		if p != nil && hasUnprintable(*p) {
			return true
		}
	}
	return false
}
