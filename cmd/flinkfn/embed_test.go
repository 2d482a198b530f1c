package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/internal/testfix"
)

// goldenVectors maps each golden text to sentence-transformers' vector.
func goldenVectors(t *testing.T) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, g := range testfix.LoadGolden(t) {
		if g.Text == nil {
			continue
		}
		v := make([]float64, len(g.Vector))
		for i, x := range g.Vector {
			v[i] = float64(x)
		}
		out[*g.Text] = v
	}
	return out
}

func cosine(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

// The acceptance command: printf 'José Müller\nZoë Ångström\n' | flinkfn embed.
func TestEmbedCommandMatchesSentenceTransformers(t *testing.T) {
	getenv := testfix.HomeEnv(t)
	golden := goldenVectors(t)
	texts := []string{"José Müller", "Zoë Ångström", ""}
	in := "José Müller\nZoë Ångström\n\r\n" // the last line is the empty text (its "\r" dropped)
	for _, c := range []struct {
		args  []string
		floor float64
	}{{nil, 0.99999}, {[]string{"--int8"}, 0.95}, {[]string{"--batch", "1", "--max-batch-rows", "1"}, 0.99999}} {
		var out, errb bytes.Buffer
		if err := runEmbed(context.Background(), c.args, getenv, strings.NewReader(in), &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, errb.String())
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%v: %d output lines for 3 input lines", c.args, len(lines))
		}
		for i, l := range lines {
			var v []float64
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			want, ok := golden[texts[i]]
			if !ok || len(v) != 384 {
				t.Fatalf("line %d: %d floats, golden %v", i, len(v), ok)
			}
			if cs := cosine(v, want); cs < c.floor {
				t.Errorf("%v line %d %q: cosine %.7f < %v", c.args, i, texts[i], cs, c.floor)
			}
		}
	}
}

func TestEmbedCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"--int8", "--variant", "fp32"}, nil, "disagree"},
		{[]string{"--batch", "0"}, nil, "at least 1"},
		{[]string{"stray"}, nil, "texts come on stdin"},
		{[]string{"--variant", "fp8"}, testfix.HomeEnv(t), "fp8"}, // fp16 exists once make setup-gpu ran,
		{[]string{"--model", "/nonexistent/model"}, testfix.HomeEnv(t), "/nonexistent/model"},
	} {
		env := c.env
		if env == nil {
			env = func(string) string { return "" }
		}
		var out, errb bytes.Buffer
		err := runEmbed(context.Background(), c.args, env, strings.NewReader("x\n"), &out, &errb)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		if msg := err.Error() + errb.String(); !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not mention %q", c.args, msg, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote %q", c.args, out.String())
		}
	}
}
