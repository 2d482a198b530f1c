package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/udfs"
)

// newRegistry builds the registry of every function this binary serves.
func newRegistry() (*fn.Registry, error) {
	reg := fn.NewRegistry()
	if err := reg.Register(udfs.Builtins()...); err != nil {
		return nil, fmt.Errorf("register built-in functions: %w", err)
	}
	return reg, nil
}

func runFunctions(stdout io.Writer) error {
	reg, err := newRegistry()
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
