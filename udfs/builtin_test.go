package udfs

import (
	"context"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

func lookup(t *testing.T, name string) *fn.Function {
	t.Helper()
	reg := fn.NewRegistry()
	if err := reg.Register(Builtins()...); err != nil {
		t.Fatal(err)
	}
	f, err := reg.Lookup(BuiltinModule, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func scalar(t *testing.T, f *fn.Function, args ...fn.Value) (fn.Value, error) {
	t.Helper()
	if f.EvalBatch != nil {
		out := make([]fn.Value, 1)
		err := f.EvalBatch(context.Background(), [][]fn.Value{args}, out)
		return out[0], err
	}
	return f.Eval(context.Background(), args)
}

func TestTextFunctionsMatchPython(t *testing.T) {
	cases := []struct {
		fn   string
		in   fn.Value
		want fn.Value
	}{
		{"upper", fn.Str("straße éa"), fn.Str("STRASSE ÉA")}, // Python: 'straße éa'.upper()
		{"upper", fn.Null(), fn.Null()},
		{"length", fn.Str("😀é"), fn.Int(2)}, // code points, like len()
		{"length", fn.Str(""), fn.Int(0)},
		{"describe", fn.Float64(1.5), fn.Str("1.5")},
		{"describe", fn.Null(), fn.Str("NULL")},
		{"describe", fn.Date(19724), fn.Str("2024-01-02")},
		{"id_bigint", fn.Int(-9223372036854775808), fn.Int(-9223372036854775808)},
	}
	for _, c := range cases {
		got, err := scalar(t, lookup(t, c.fn), c.in)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s(%v) = %v, %v; want %v", c.fn, c.in, got, err, c.want)
		}
	}
}

func TestRejectFailsWithInput(t *testing.T) {
	_, err := scalar(t, lookup(t, "reject"), fn.Str("BAD row"))
	if err == nil || !strings.Contains(err.Error(), `rejected input "BAD row"`) {
		t.Fatalf("err = %v", err)
	}
	if v, err := scalar(t, lookup(t, "reject"), fn.Str("good")); err != nil || v.AsString() != "good" {
		t.Fatalf("reject(good) = %v, %v", v, err)
	}
}

func table(t *testing.T, name string, arg fn.Value) []string {
	t.Helper()
	var out []string
	err := lookup(t, name).EvalTable(context.Background(), []fn.Value{arg}, func(row []fn.Value) error {
		out = append(out, row[0].String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTableFunctions(t *testing.T) {
	// Python str.split(): NBSP, ideographic space and \x1c..\x1f separate words.
	got := table(t, "split_words", fn.Str(" a\u00a0b\u3000c\x1cd\r\n e "))
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Errorf("split_words = %q", got)
	}
	if got := table(t, "split_words", fn.Null()); len(got) != 0 {
		t.Errorf("split_words(NULL) = %q", got)
	}
	if got := table(t, "series", fn.Int(3)); strings.Join(got, ",") != "0,1,2" {
		t.Errorf("series(3) = %q", got)
	}
	if got := table(t, "series", fn.Int(-1)); len(got) != 0 {
		t.Errorf("series(-1) = %q", got)
	}
}

func TestSignatures(t *testing.T) {
	up := lookup(t, "upper")
	if up.Params[0].Accepts.Match(fn.Simple(fn.BIGINT)) || !up.Params[0].Accepts.Match(fn.String()) {
		t.Error("upper accepts the wrong types")
	}
	dec := fn.Decimal(38, 18)
	id := lookup(t, "id_decimal")
	if err := id.Result.Check([]*fn.Type{&dec}, fn.Decimal(10, 2)); err == nil {
		t.Error("id_decimal accepted a different result type")
	}
	if err := id.Result.Check([]*fn.Type{&dec}, fn.Decimal(38, 18)); err != nil {
		t.Errorf("id_decimal rejected its own type: %v", err)
	}
}
