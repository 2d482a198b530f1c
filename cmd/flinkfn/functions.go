package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/udfs"
)

// newRegistry builds the registry of every function this binary serves.
// The embedding functions share emb, which loads the model on first use.
func newRegistry(getenv func(string) string, emb *model) (*fn.Registry, error) {
	reg := fn.NewRegistry()
	if err := reg.Register(udfs.Builtins()...); err != nil {
		return nil, fmt.Errorf("register built-in functions: %w", err)
	}
	templates, err := udfs.LoadTemplates(getenv)
	if err != nil {
		return nil, err
	}
	src := func(ctx context.Context) (udfs.Embedder, error) {
		e, err := emb.Get(ctx)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	if err := reg.Register(udfs.Embeddings(src, templates)...); err != nil {
		return nil, fmt.Errorf("register embedding functions: %w", err)
	}
	return reg, nil
}

func runFunctions(getenv func(string) string, stdout io.Writer) error {
	emb := newModel(embedder.Config{Getenv: getenv}, nil, nil, slog.Default(), getenv)
	defer emb.Close()
	reg, err := newRegistry(getenv, emb)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tSIGNATURE\tDESCRIPTION")
	for _, f := range reg.Functions() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Kind, f.Signature(), f.Doc)
	}
	return w.Flush()
}
