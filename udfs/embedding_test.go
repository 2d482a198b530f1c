package udfs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

// readGoldenRows returns the golden lines of sample rows, whose "text" the
// Python reference (udfs/_embedding.py) rendered.
func readGoldenRows(t *testing.T) []testfix.Golden {
	t.Helper()
	var out []testfix.Golden
	for _, g := range testfix.LoadGolden(t) {
		if g.Fn != "" {
			out = append(out, g)
		}
	}
	return out
}

// sqlValue converts a sample-data JSON field to the value Flink delivers for
// the demo table's column type.
func sqlValue(t *testing.T, col, s string, present bool) fn.Value {
	t.Helper()
	if !present {
		return fn.Null()
	}
	switch col {
	case "date_of_birth":
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return fn.Date(int32(d.Unix() / 86400))
	case "amount":
		v, err := fn.DecimalText(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	case "event_time":
		ts, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return fn.TimestampOf(ts)
	}
	return fn.Str(s)
}

func TestTemplatesMatchPythonReference(t *testing.T) {
	ts, err := LoadTemplates(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Template{}
	for _, tp := range ts {
		byName[tp.Name] = tp
	}
	rows := readGoldenRows(t)
	if len(rows) < 200 {
		t.Fatalf("only %d template rows in the golden fixture", len(rows))
	}
	for i, g := range rows {
		tp := byName[g.Fn]
		if tp == nil {
			t.Fatalf("no template %q", g.Fn)
		}
		vals := make([]fn.Value, len(tp.Columns))
		for c, col := range tp.Columns {
			raw := g.Row[col]
			s := ""
			if raw != nil {
				s = *raw
			}
			vals[c] = sqlValue(t, col, s, raw != nil)
		}
		text, ok, err := tp.Render(vals)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if g.Text == nil {
			if ok {
				t.Errorf("row %d: Python gives NULL, Go %q", i, text)
			}
			continue
		}
		if !ok || text != *g.Text {
			t.Errorf("row %d (%s):\n python %q\n go     %q (ok=%v)", i, g.Fn, *g.Text, text, ok)
		}
	}
}

// The sample data's JSON nulls must reach the test above, or the skip rule
// is untested.
func TestGoldenRowsHaveNulls(t *testing.T) {
	nulls := 0
	for _, g := range readGoldenRows(t) {
		for _, v := range g.Row {
			if v == nil {
				nulls++
			}
		}
	}
	if nulls < 10 {
		t.Fatalf("%d NULL fields in the golden rows: the skip rule is barely tested", nulls)
	}
}

func TestTemplateRules(t *testing.T) {
	ts, err := ParseTemplates([]byte(`{"t": {"columns": ["a", "b", "c"], "separator": " | ",
		"parts": ["A={a}", "{{literal}} {b}/{c}", "end"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	tp := ts[0]
	if tp.Module != "udfs.t_udf" {
		t.Errorf("module %q", tp.Module)
	}
	dec, _ := fn.DecimalText("-12.50")
	cases := []struct {
		vals []fn.Value
		want string
	}{
		{[]fn.Value{fn.Str("x"), fn.Int(7), dec}, "A=x | {literal} 7/-12.50 | end"},
		{[]fn.Value{fn.Null(), fn.Int(7), dec}, "{literal} 7/-12.50 | end"},
		{[]fn.Value{fn.Str(" \u00a0\u3000\x1c"), fn.Null(), dec}, "end"},
		{[]fn.Value{fn.Str("é"), fn.Bool(true), fn.Date(0)}, "A=é | {literal} true/1970-01-01 | end"},
		{[]fn.Value{fn.Str("t"), fn.TimeOfDay(3723004), fn.Timestamp(-1, 0)}, "A=t | {literal} 01:02:03/1969-12-31 23:59:59 | end"},
	}
	for i, c := range cases {
		got, ok, err := tp.Render(c.vals)
		if err != nil || !ok || got != c.want {
			t.Errorf("case %d: got %q ok=%v err=%v, want %q", i, got, ok, err, c.want)
		}
	}
	if _, _, err := tp.Render([]fn.Value{fn.Str("x"), fn.Float64(1.5), dec}); err == nil || !strings.Contains(err.Error(), "column b") {
		t.Errorf("double: %v", err)
	}
	// Every part blank: NULL.
	ts, _ = ParseTemplates([]byte(`{"u": {"columns": ["a"], "separator": ";", "parts": ["x {a}"]}}`))
	if _, ok, err := ts[0].Render([]fn.Value{fn.Str("")}); ok || err != nil {
		t.Errorf("blank row: ok=%v err=%v", ok, err)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{"t": {"columns": ["a"], "separator": "", "parts": ["{b}"]}}`, "placeholder {b} is not a column"},
		{`{"t": {"columns": ["a", "b"], "separator": "", "parts": ["{a}"]}}`, `column "b" is in no part`},
		{`{"t": {"columns": ["a"], "separator": "", "parts": ["{a"]}}`, "unclosed"},
		{`{"t": {"columns": ["a"], "separator": "", "parts": ["a}"]}}`, "single '}'"},
		{`{"t": {"columns": [], "separator": "", "parts": ["x"]}}`, "no columns"},
		{`{"t-1": {"columns": ["a"], "separator": "", "parts": ["{a}"]}}`, "Python identifier"},
		{`{"t": {"columns": ["a"], "parts": ["{a}"], "colour": 1}}`, "unknown field"},
	} {
		_, err := ParseTemplates([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src, err, c.want)
		}
	}
}

type fakeEmbedder struct {
	calls [][]string
	err   error
}

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.calls = append(f.calls, append([]string(nil), texts...))
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = []float32{float32(len(s)), float32(i)}
	}
	return out, nil
}

func TestEmbedRowsKeepsOrderAndNulls(t *testing.T) {
	fe := &fakeEmbedder{}
	loads := 0
	src := func(context.Context) (Embedder, error) { loads++; return fe, nil }
	ts, _ := LoadTemplates(func(string) string { return "" })
	fs := Embeddings(src, ts)
	var embed *fn.Function
	for i := range fs {
		if fs[i].Name == "embed" {
			embed = &fs[i]
		}
	}
	rows := [][]fn.Value{{fn.Str("abc")}, {fn.Null()}, {fn.Str("")}, {fn.Str("hello")}}
	out := make([]fn.Value, len(rows))
	if err := embed.EvalBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	if len(fe.calls) != 1 || strings.Join(fe.calls[0], ",") != "abc,,hello" {
		t.Fatalf("calls %q", fe.calls)
	}
	if !out[1].IsNull() || out[0].Elems()[0].AsFloat32() != 3 || out[2].Elems()[0].AsFloat32() != 0 || out[3].Elems()[1].AsFloat32() != 2 {
		t.Fatalf("out %v", out)
	}
	// All NULL: no model load at all.
	fe.calls = nil
	loads = 0
	if err := embed.EvalBatch(context.Background(), [][]fn.Value{{fn.Null()}}, out[:1]); err != nil || loads != 0 || len(fe.calls) != 0 {
		t.Fatalf("all-null batch: err=%v loads=%d calls=%d", err, loads, len(fe.calls))
	}
	fe.err = errors.New("boom")
	err := embed.EvalBatch(context.Background(), rows, out)
	if err == nil || !strings.Contains(err.Error(), "udfs.embed_udf.embed: embed 3 texts: boom") {
		t.Fatalf("error %v", err)
	}
	src2 := func(context.Context) (Embedder, error) { return nil, errors.New("no model here") }
	err = Embeddings(src2, nil)[0].EvalBatch(context.Background(), rows, out)
	if err == nil || !strings.Contains(err.Error(), "load the embedding model: no model here") {
		t.Fatalf("load error %v", err)
	}
}
