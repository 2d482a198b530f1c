package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/embedder"
)

// checkModelDir is `flinkfn models check DIR`: embedder.CheckModel's report
// (manifest, files, checksums, tokenizer, each variant's graph and a
// self-test), then where to install a usable model.
func checkModelDir(ctx context.Context, dir string, loc inference.Locations, stdout io.Writer) error {
	r, err := embedder.CheckModel(ctx, dir, embedder.CheckOptions{Locations: loc, Logger: slog.New(slog.DiscardHandler)})
	if r != nil {
		if _, werr := r.WriteTo(stdout); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "install it as models/%s under $FLINKFN_HOME (or next to the flinkfn binary) and name it in a template: \"model\": %q\n",
		r.Info.Name, r.Info.Name)
	return nil
}
