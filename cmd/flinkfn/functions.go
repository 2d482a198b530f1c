package main

import (
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/udfs"
)

// newRegistry builds the registry of every function this binary serves.
// The embedding functions take their models from models.
func newRegistry(models udfs.Models, templates []*udfs.Template, obs udfs.Observer) (*fn.Registry, error) {
	reg := fn.NewRegistry()
	if err := reg.Register(udfs.Builtins()...); err != nil {
		return nil, fmt.Errorf("register built-in functions: %w", err)
	}
	if err := reg.Register(udfs.Embeddings(udfs.EmbeddingOptions{Models: models, Templates: templates, Observer: obs})...); err != nil {
		return nil, fmt.Errorf("register embedding functions: %w", err)
	}
	return reg, nil
}

func runFunctions(getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(cmdTools, nil, getenv)
	if err != nil {
		return err
	}
	templates, err := udfs.LoadTemplates(cfg.Templates, cfg.TemplatesFrom)
	if err != nil {
		return err
	}
	models, err := newModelSet(cfg.modelOptions(templates, slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer models.Close()
	reg, err := newRegistry(models, templates, nil)
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
