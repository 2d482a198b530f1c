package udfs

import (
	"context"
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Embedder turns texts into vectors. One Embedder (one model, one batcher)
// serves every function and every bundle of the process.
type Embedder interface {
	// Embed returns one vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// TruncationCounter is implemented by embedders that can say how many of
// the texts were cut to the model's maximum sequence length.
type TruncationCounter interface {
	EmbedCounted(ctx context.Context, texts []string) (vecs [][]float32, truncated int, err error)
}

// EmbedderSource returns the process's embedder, loading it on first use.
// Functions call it when they first evaluate a batch, so a job that uses
// no embedding function never loads a model.
type EmbedderSource func(ctx context.Context) (Embedder, error)

// EmbedModule is the Python module of the plain text embedding function.
const EmbedModule = "udfs.embed_udf"

var arrayOfFloat = fn.ArrayOf(fn.Simple(fn.FLOAT))

// Embeddings returns embed(text) and one function per template (ah_embed,
// txn_embed, ...), all backed by src.
func Embeddings(src EmbedderSource, templates []*Template) []fn.Function {
	out := []fn.Function{{
		Module: EmbedModule, Name: "embed", Kind: fn.Scalar,
		Doc:    "sentence embedding of the text (ARRAY<FLOAT>); NULL gives NULL",
		Params: []fn.Param{{Name: "text", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.ArrayOfFloat(), &arrayOfFloat),
		EvalBatch: func(ctx context.Context, rows [][]fn.Value, out []fn.Value) error {
			return embedRows(ctx, src, "udfs.embed_udf.embed", "embed", rows, out, func(r []fn.Value) (string, bool, error) {
				if r[0].IsNull() {
					return "", false, nil
				}
				return r[0].AsString(), true, nil
			})
		},
	}}
	for _, t := range templates {
		t := t
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
		full := t.Module + "." + t.Name
		out = append(out, fn.Function{
			Module: t.Module, Name: t.Name, Kind: fn.Scalar,
			Doc:        doc,
			Params:     params,
			Result:     fn.Returns(fn.ArrayOfFloat(), &arrayOfFloat),
			ArityError: t.arityError,
			EvalBatch: func(ctx context.Context, rows [][]fn.Value, out []fn.Value) error {
				return embedRows(ctx, src, full, t.Name, rows, out, t.Render)
			},
		})
	}
	return out
}

// embedRows renders every row to a text (or NULL), embeds the texts in one
// call and writes one result per row.
func embedRows(ctx context.Context, src EmbedderSource, name, short string, rows [][]fn.Value, out []fn.Value,
	render func([]fn.Value) (string, bool, error)) error {
	texts := make([]string, 0, len(rows))
	idx := make([]int, 0, len(rows))
	for r, row := range rows {
		text, ok, err := render(row)
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
	e, err := src(ctx)
	if err != nil {
		return fmt.Errorf("%s: load the embedding model: %w", name, err)
	}
	var vecs [][]float32
	truncated := 0
	if tc, ok := e.(TruncationCounter); ok {
		vecs, truncated, err = tc.EmbedCounted(ctx, texts)
	} else {
		vecs, err = e.Embed(ctx, texts)
	}
	if err != nil {
		return fmt.Errorf("%s: embed %d texts: %w", name, len(texts), err)
	}
	// Flink user metrics (flinkfn.<function>.texts_embedded / texts_truncated).
	fn.AddCounter(ctx, short, "texts_embedded", int64(len(texts)))
	fn.AddCounter(ctx, short, "texts_truncated", int64(truncated))
	if len(vecs) != len(texts) {
		return fmt.Errorf("%s: embedder returned %d vectors for %d texts", name, len(vecs), len(texts))
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
