package udfs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/inference/modelset"
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
	ts, err := LoadTemplates("", "")
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

type fakeModel struct {
	mu    sync.Mutex
	calls [][]string
	err   error
}

func (f *fakeModel) CountTokens(text string) (int, bool, error) {
	return min(len(text), 10), len(text) > 10, nil
}

func (f *fakeModel) EmbedCounted(_ context.Context, texts []string) ([][]float32, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string(nil), texts...))
	if f.err != nil {
		return nil, 0, f.err
	}
	out := make([][]float32, len(texts))
	truncated := 0
	for i, s := range texts {
		out[i] = []float32{float32(len(s)), float32(i)}
		if len(s) > 10 {
			truncated++
		}
	}
	return out, truncated, nil
}

func (f *fakeModel) Close() error { return nil }

// fakeModels is a model set of fake models; a name missing from models
// fails to load.
func fakeModels(t *testing.T, models map[string]*fakeModel, names ...string) (*modelset.Set, map[string]int) {
	t.Helper()
	var mu sync.Mutex
	loads := map[string]int{}
	s, err := modelset.New(modelset.Options{Names: names, Open: func(_ context.Context, name string) (modelset.Loaded, error) {
		mu.Lock()
		loads[name]++
		mu.Unlock()
		m, ok := models[name]
		if !ok {
			return modelset.Loaded{}, errors.New("no model here")
		}
		return modelset.Loaded{Model: m}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, loads
}

type textsSeen struct {
	mu  sync.Mutex
	got []string
}

func (o *textsSeen) TextsEmbedded(function, model string, texts, truncated int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, fmt.Sprintf("%s/%s:%d/%d", function, model, texts, truncated))
}

func findFn(t *testing.T, fs []fn.Function, name string) *fn.Function {
	t.Helper()
	for i := range fs {
		if fs[i].Name == name {
			return &fs[i]
		}
	}
	t.Fatalf("no function %s", name)
	return nil
}

func TestEmbedRowsKeepsOrderAndNulls(t *testing.T) {
	fm := &fakeModel{}
	models, loads := fakeModels(t, map[string]*fakeModel{"minilm": fm}, "minilm")
	ts, _ := LoadTemplates("", "")
	seen := &textsSeen{}
	embed := findFn(t, Embeddings(EmbeddingOptions{Models: models, Templates: ts, Observer: seen}), "embed")
	if embed.EvalBatch != nil || embed.Eval != nil {
		t.Fatal("embed evaluates without being opened")
	}
	o, err := embed.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	rows := [][]fn.Value{{fn.Str("abc")}, {fn.Null()}, {fn.Str("")}, {fn.Str("hello world!")}}
	out := make([]fn.Value, len(rows))
	if err := o.EvalBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	if len(fm.calls) != 1 || strings.Join(fm.calls[0], ",") != "abc,,hello world!" {
		t.Fatalf("calls %q", fm.calls)
	}
	if !out[1].IsNull() || out[0].Elems()[0].AsFloat32() != 3 || out[2].Elems()[0].AsFloat32() != 0 || out[3].Elems()[1].AsFloat32() != 2 {
		t.Fatalf("out %v", out)
	}
	if strings.Join(seen.got, " ") != "udfs.embed_udf.embed/minilm:3/1" {
		t.Fatalf("observer saw %q", seen.got)
	}
	// All NULL: nothing to embed.
	fm.calls = nil
	if err := o.EvalBatch(context.Background(), [][]fn.Value{{fn.Null()}}, out[:1]); err != nil || len(fm.calls) != 0 || !out[0].IsNull() {
		t.Fatalf("all-null batch: err=%v calls=%d out=%v", err, len(fm.calls), out[0])
	}
	fm.err = errors.New("boom")
	err = o.EvalBatch(context.Background(), rows, out)
	if err == nil || !strings.Contains(err.Error(), "embed 3 texts with model minilm: boom") {
		t.Fatalf("error %v", err)
	}
	if loads["minilm"] != 1 {
		t.Fatalf("loads %v", loads)
	}
}

func TestTemplateNamesItsModel(t *testing.T) {
	minilm, bge := &fakeModel{}, &fakeModel{}
	models, loads := fakeModels(t, map[string]*fakeModel{"minilm": minilm, "bge-small-en-v1.5": bge}, "minilm", "bge-small-en-v1.5", "broken")
	ts, err := ParseTemplates([]byte(`{
		"doc_embed": {"columns": ["title"], "parts": ["Title: {title}"], "model": "bge-small-en-v1.5"},
		"bad_embed": {"columns": ["title"], "parts": ["{title}"], "model": "broken"}}`))
	if err != nil {
		t.Fatal(err)
	}
	seen := &textsSeen{}
	fs := Embeddings(EmbeddingOptions{Models: models, Templates: ts, Observer: seen})
	doc := findFn(t, fs, "doc_embed")
	if !strings.Contains(doc.Doc, "model bge-small-en-v1.5") {
		t.Errorf("doc %q does not name the model", doc.Doc)
	}
	o, err := doc.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]fn.Value, 1)
	if err := o.EvalBatch(context.Background(), [][]fn.Value{{fn.Str("x")}}, out); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if len(bge.calls) != 1 || bge.calls[0][0] != "Title: x" || len(minilm.calls) != 0 {
		t.Fatalf("bge calls %q, minilm calls %q", bge.calls, minilm.calls)
	}
	if loads["minilm"] != 0 {
		t.Fatalf("the default model loaded for a function that does not use it: %v", loads)
	}
	if strings.Join(seen.got, " ") != "udfs.doc_embed_udf.doc_embed/bge-small-en-v1.5:1/0" {
		t.Fatalf("observer saw %q", seen.got)
	}
	_, err = findFn(t, fs, "bad_embed").Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "load the embedding model: model broken: no model here") {
		t.Fatalf("open error %v", err)
	}
	if _, err := ParseTemplates([]byte(`{"x": {"columns": ["a"], "parts": ["{a}"], "model": "../etc"}}`)); err == nil ||
		!strings.Contains(err.Error(), "is not a model name") {
		t.Fatalf("bad model name: %v", err)
	}
}
