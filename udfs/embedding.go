package udfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/inference/modelset"
)

// Models are the process's embedding models, keyed by name: a
// *modelset.Set, built and loaded by the process that serves the functions.
type Models interface {
	// Acquire returns the named model ("" is the default), loading it if
	// needed; the caller releases the handle when done with it.
	Acquire(ctx context.Context, name string) (*modelset.Handle, error)
}

// Observer receives the embedding functions' statistics, by function (its
// full Python name, as the harness labels bundles and rows) and model.
type Observer interface {
	TextsEmbedded(function, model string, texts, truncated int)
}

// EmbeddingOptions configures the embedding functions.
type EmbeddingOptions struct {
	// Models gives each function its model (the template's "model", else
	// the default), acquired when the worker plans an operator that calls
	// the function: a job that calls none loads no model.
	Models Models
	// Templates add one function each (ah_embed, txn_embed, ...).
	Templates []*Template
	// Observer, optional.
	Observer Observer
}

// EmbedModule is the Python module of the plain text embedding function.
const EmbedModule = "udfs.embed_udf"

var arrayOfFloat = fn.ArrayOf(fn.Simple(fn.FLOAT))

// Embeddings returns embed(text) and one function per template.
func Embeddings(o EmbeddingOptions) []fn.Function {
	embed := embedding{o: o, full: EmbedModule + ".embed", short: "embed",
		render: func(r []fn.Value) (string, bool, error) {
			if r[0].IsNull() {
				return "", false, nil
			}
			return r[0].AsString(), true, nil
		}}
	out := []fn.Function{{
		Module: EmbedModule, Name: "embed", Kind: fn.Scalar,
		Doc:    "sentence embedding of the text (ARRAY<FLOAT>); NULL gives NULL",
		Params: []fn.Param{{Name: "text", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.ArrayOfFloat(), &arrayOfFloat),
		Open:   embed.open,
	}}
	for _, t := range o.Templates {
		params := make([]fn.Param, len(t.Columns))
		for i, c := range t.Columns {
			params[i] = t.templateParam(c)
		}
		doc := t.Doc
		if doc == "" {
			doc = "embedding of the row rendered by template " + t.Name
		}
		if t.NullLiteral == nil {
			doc += " (ARRAY<FLOAT>; NULL when every column is NULL or blank)"
		} else {
			doc += " (ARRAY<FLOAT>)"
		}
		if t.Model != "" {
			doc += "; model " + t.Model
		}
		e := embedding{o: o, model: t.Model, full: t.Module + "." + t.Name, short: t.Name, render: t.Render}
		out = append(out, fn.Function{
			Module: t.Module, Name: t.Name, Kind: fn.Scalar,
			Doc:        doc,
			Params:     params,
			Result:     fn.Returns(fn.ArrayOfFloat(), &arrayOfFloat),
			ArityError: t.arityError,
			Open:       e.open,
		})
	}
	return out
}

// embedding is one embedding function: how it renders a row and which
// model embeds the text.
type embedding struct {
	o           EmbeddingOptions
	model       string // "" is the default model
	full, short string // full Python name, and the name in Flink's user metrics
	render      func([]fn.Value) (string, bool, error)
}

// open acquires the function's model for an operator; the harness releases
// it when the session ends.
func (e embedding) open(ctx context.Context) (fn.Opened, error) {
	if e.o.Models == nil {
		return fn.Opened{}, errors.New("no embedding models in this process")
	}
	h, err := e.o.Models.Acquire(ctx, e.model)
	if err != nil {
		return fn.Opened{}, fmt.Errorf("load the embedding model: %w", err)
	}
	return fn.Opened{
		EvalBatch: func(ctx context.Context, rows [][]fn.Value, out []fn.Value) error {
			return e.embedRows(ctx, h, rows, out)
		},
		Close: h.Release,
	}, nil
}

// embedRows renders every row to a text (or NULL), embeds the texts in one
// call and writes one result per row.
func (e embedding) embedRows(ctx context.Context, m *modelset.Handle, rows [][]fn.Value, out []fn.Value) error {
	texts := make([]string, 0, len(rows))
	idx := make([]int, 0, len(rows))
	for r, row := range rows {
		text, ok, err := e.render(row)
		if err != nil {
			return &fn.RowError{Row: r, Err: err}
		}
		out[r] = fn.Null()
		if ok {
			texts = append(texts, text)
			idx = append(idx, r)
		}
	}
	if len(texts) == 0 {
		return nil
	}
	vecs, truncated, err := m.EmbedCounted(ctx, texts)
	if err != nil {
		return fmt.Errorf("embed %d texts with model %s: %w", len(texts), m.Name(), err)
	}
	if len(vecs) != len(texts) {
		return fmt.Errorf("model %s returned %d vectors for %d texts", m.Name(), len(vecs), len(texts))
	}
	// Flink user metrics (flinkfn.<function>.texts_embedded / texts_truncated).
	fn.AddCounter(ctx, e.short, "texts_embedded", int64(len(texts)))
	fn.AddCounter(ctx, e.short, "texts_truncated", int64(truncated))
	if e.o.Observer != nil {
		e.o.Observer.TextsEmbedded(e.full, m.Name(), len(texts), truncated)
	}
	total := 0
	for _, v := range vecs {
		total += len(v)
	}
	slab := make([]fn.Value, total) // one allocation for the whole batch
	for i, v := range vecs {
		elems := slab[:len(v):len(v)]
		slab = slab[len(v):]
		for j, x := range v {
			elems[j] = fn.Float32(x)
		}
		out[idx[i]] = fn.Array(elems)
	}
	return nil
}
