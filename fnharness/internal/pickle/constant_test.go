package pickle

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

type pyroliteCase struct {
	Name     string `json:"name"`
	Tag      int    `json:"tag"`
	JavaType string `json:"java_type"`
	Hex      string `json:"hex"`
}

func loadPyrolite(t testing.TB) []pyroliteCase {
	t.Helper()
	b, err := os.ReadFile("testdata/pyrolite_constants.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []pyroliteCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

func bigInt(s string) *big.Int {
	x, _ := new(big.Int).SetString(s, 10)
	return x
}

// TestConstantPyrolite decodes the exact bytes Flink 2.3.0's PythonBridgeUtils.pickleValue
// produces (scripts/fixtures/gen_pyrolite_fixtures.java).
func TestConstantPyrolite(t *testing.T) {
	f32 := func(f float32) float64 { return float64(f) }
	want := map[string]Const{
		"null":                      {Kind: ConstNull},
		"bool_true":                 {Kind: ConstBool, Bool: true},
		"bool_false":                {Kind: ConstBool},
		"tinyint_0":                 {Kind: ConstInt},
		"tinyint_max":               {Kind: ConstInt, Int: 127},
		"tinyint_min":               {Kind: ConstInt, Int: -128},
		"smallint_300":              {Kind: ConstInt, Int: 300},
		"smallint_max":              {Kind: ConstInt, Int: 32767},
		"smallint_min":              {Kind: ConstInt, Int: -32768},
		"int_42":                    {Kind: ConstInt, Int: 42},
		"int_255":                   {Kind: ConstInt, Int: 255},
		"int_256":                   {Kind: ConstInt, Int: 256},
		"int_65535":                 {Kind: ConstInt, Int: 65535},
		"int_65536":                 {Kind: ConstInt, Int: 65536},
		"int_minus1":                {Kind: ConstInt, Int: -1},
		"int_max":                   {Kind: ConstInt, Int: math.MaxInt32},
		"int_min":                   {Kind: ConstInt, Int: math.MinInt32},
		"bigint_7":                  {Kind: ConstInt, Int: 7},
		"bigint_2pow31":             {Kind: ConstInt, Int: 1 << 31},
		"bigint_minus2pow31_minus1": {Kind: ConstInt, Int: -(1 << 31) - 1},
		"bigint_1e15":               {Kind: ConstInt, Int: 1e15},
		"bigint_max":                {Kind: ConstInt, Int: math.MaxInt64},
		"bigint_min":                {Kind: ConstInt, Int: math.MinInt64},
		"float_1_5":                 {Kind: ConstFloat, Float: 1.5},
		"float_0_1":                 {Kind: ConstFloat, Float: f32(0.1)},
		"double_3_25":               {Kind: ConstFloat, Float: 3.25},
		"double_0_1":                {Kind: ConstFloat, Float: 0.1},
		"double_neg_zero":           {Kind: ConstFloat, Float: math.Copysign(0, -1)},
		"double_max":                {Kind: ConstFloat, Float: math.MaxFloat64},
		"double_nan":                {Kind: ConstFloat, Float: math.NaN()},
		"double_inf":                {Kind: ConstFloat, Float: math.Inf(1)},
		"decimal_123_45":            {Kind: ConstDecimal, Str: "123.45"},
		"decimal_neg":               {Kind: ConstDecimal, Str: "-0.001"},
		"decimal_exp":               {Kind: ConstDecimal, Str: "10E+9"}, // BigDecimal("1E+10").toEngineeringString()
		"decimal_big":               {Kind: ConstDecimal, Str: "12345678901234567890.123456789"},
		"decimal_zero":              {Kind: ConstDecimal, Str: "0"},
		"string_empty":              {Kind: ConstString},
		"string_ab":                 {Kind: ConstString, Str: "ab"},
		"string_unicode":            {Kind: ConstString, Str: "h\u00e9llo \u2713 \U0001F600"},
		"string_long":               {Kind: ConstString, Str: strings.Repeat("x", 300)},
		"string_newline":            {Kind: ConstString, Str: "a\nb\\c'\""},
		"date_epoch":                {Kind: ConstDate, Tag: TagDate},
		"date_2024_01_02":           {Kind: ConstDate, Tag: TagDate, Int: 19724},
		"date_before_epoch":         {Kind: ConstDate, Tag: TagDate, Int: -1},
		"time_midnight":             {Kind: ConstTime, Tag: TagTime},
		"time_12_34_56_789":         {Kind: ConstTime, Tag: TagTime, Int: 45296789},
		"time_max":                  {Kind: ConstTime, Tag: TagTime, Int: 86399999},
		"timestamp_epoch":           {Kind: ConstTimestamp, Tag: TagTimestamp},
		"timestamp_2023":            {Kind: ConstTimestamp, Tag: TagTimestamp, Int: 1700000000123},
		"timestamp_before_epoch":    {Kind: ConstTimestamp, Tag: TagTimestamp, Int: -1},
		"timestamp_9999":            {Kind: ConstTimestamp, Tag: TagTimestamp, Int: 253402300799999},
	}
	cases := loadPyrolite(t)
	if len(cases) != len(want) {
		t.Errorf("%d fixtures, %d expectations", len(cases), len(want))
	}
	for _, c := range cases {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("no expectation for %s", c.Name)
			continue
		}
		got, err := Constant(mustHex(t, c.Hex))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if int(got.Tag) != c.Tag {
			t.Errorf("%s: tag %d, want %d", c.Name, got.Tag, c.Tag)
		}
		same := got.Kind == w.Kind && got.Tag == w.Tag && got.Bool == w.Bool && got.Int == w.Int &&
			got.Big == nil && got.Str == w.Str &&
			(math.Float64bits(got.Float) == math.Float64bits(w.Float) || (math.IsNaN(got.Float) && math.IsNaN(w.Float)))
		if !same {
			t.Errorf("%s: got %+v (%s), want %+v", c.Name, got, got, w)
		}
	}
}

func TestConstantTimes(t *testing.T) {
	byName := map[string][]byte{}
	for _, c := range loadPyrolite(t) {
		byName[c.Name] = mustHex(t, c.Hex)
	}
	tests := []struct {
		name string
		want time.Time
		str  string
	}{
		{"date_2024_01_02", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "date 2024-01-02"},
		{"date_before_epoch", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "date 1969-12-31"},
		{"time_12_34_56_789", time.Date(1970, 1, 1, 12, 34, 56, 789e6, time.UTC), "time 12:34:56.789"},
		{"timestamp_2023", time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC), "timestamp 2023-11-14 22:13:20.123"},
		{"timestamp_9999", time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), "timestamp 9999-12-31 23:59:59.999"},
	}
	for _, tc := range tests {
		c, err := Constant(byName[tc.name])
		if err != nil {
			t.Fatal(err)
		}
		got, ok := c.Time()
		if !ok || !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if c.String() != tc.str {
			t.Errorf("%s: String %q, want %q", tc.name, c.String(), tc.str)
		}
	}
	if _, ok := (Const{Kind: ConstInt}).Time(); ok {
		t.Error("Time of an int")
	}
}

func TestConstantBigInt(t *testing.T) {
	// Python-side pickles can carry ints beyond int64 (LONG1), and Pyrolite's INT text too.
	c, err := Constant([]byte("\x00\x80\x02I123456789012345678901234567890\n."))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != ConstInt || c.Big == nil || c.Big.Cmp(bigInt("123456789012345678901234567890")) != 0 || c.Int != 0 {
		t.Errorf("got %+v", c)
	}
	if c.String() != "123456789012345678901234567890" {
		t.Errorf("String %q", c.String())
	}
}

func TestConstantErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		msg  string
	}{
		{"empty", "", "empty"},
		{"unknown tag", "\x04\x80\x02K\x01.", "unknown type tag 4"},
		{"not a pickle", "\x00\x80\x02", "truncated"},
		{"date of str", "\x01\x80\x02X\x01\x00\x00\x00a.", "want int"},
		{"timestamp beyond int64", "\x03\x80\x02I99999999999999999999\n.", "want int"},
		{"list value", "\x00\x80\x02].", "unsupported value"},
		{"other global call", "\x00\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", "unsupported object"},
		{"decimal of int", "\x00\x80\x02cdecimal\nDecimal\nK\x01\x85R.", "unsupported object"},
		{"decimal garbage", "\x00\x80\x02cdecimal\nDecimal\nX\x03\x00\x00\x00abc\x85R.", "decimal: bad text"},
		{"decimal NaN", "\x00\x80\x02cdecimal\nDecimal\nX\x03\x00\x00\x00NaN\x85R.", "decimal: bad text"},
	}
	for _, tc := range tests {
		_, err := Constant([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.msg)
		}
	}
}
