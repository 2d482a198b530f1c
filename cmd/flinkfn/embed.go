package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/flinkfn/flinkfn/httpapi"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/embedder"
)

const embedUsage = `Usage: flinkfn embed [--model NAME|DIR] [--int8 | --variant NAME] [--batch N] < texts

Reads one text per line on stdin (a trailing "\r" is dropped, an empty line
is the empty text) and writes one JSON array of floats per line on stdout:
the same vector the embedding functions give in a Flink job.

  --model NAME|DIR an installed model's name (see flinkfn models) or a model folder
                   with manifest.json (default: FLINKFN_MODEL_DIR, else FLINKFN_MODEL,
                   else all-MiniLM-L6-v2; see inference/README.md)
  --int8           use the quantised variant (same as --variant int8)
  --variant NAME   a variant of the model's manifest (FLINKFN_MODEL_VARIANT; default: the
                   manifest's default)
  --batch N        lines per request to the batcher (default 256)
  --max-batch-rows N, --max-batch-tokens N
                   the batcher's limits per model batch (benchmarks; default: its defaults,
                   larger on a GPU)
  --device cpu|cuda:N
                   where the model runs (FLINKFN_DEVICE; default cpu); cuda:N needs ONNX
                   Runtime's GPU build and the CUDA libraries: make setup-gpu
  --gpu-memory-fraction F
                   with --device cuda:N, the share of the GPU's memory the model's ONNX
                   Runtime arena may take, 0 < F <= 1 (FLINKFN_GPU_MEMORY_FRACTION; default 0.4)
`

// gpuFraction is the GPU memory fraction of a configuration (0 on the CPU).
func gpuFraction(c *config) float64 {
	if !c.Device.CUDA {
		return 0
	}
	return c.GPUMemoryFraction
}

// runEmbed is `flinkfn embed`.
func runEmbed(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseConfigFlags(cmdEmbed, args, getenv, stderr, embedUsage, "texts come on stdin")
	if err != nil {
		return err
	}
	if len(cfg.Models) > 1 {
		return exitError{code: 2, msg: "flinkfn embed: --model given more than once; embed uses one model"}
	}
	ref := ""
	if len(cfg.Models) == 1 {
		ref = cfg.Models[0]
	}
	dir, err := modelDir(ref, cfg.Locations)
	if err != nil {
		return err
	}
	e, err := embedder.Open(embedder.Config{ModelDir: dir, Variant: cfg.Variant, Locations: cfg.Locations, Logger: quietLogger(stderr),
		Batcher: batcher.Options{MaxBatchRows: cfg.MaxBatchRows, MaxBatchTokens: cfg.MaxBatchTokens},
		Device:  cfg.Device, GPUMemoryFraction: gpuFraction(cfg)})
	if err != nil {
		return err
	}
	defer e.Close()

	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	defer out.Flush()
	texts := make([]string, 0, cfg.Batch)
	var buf []byte
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		vecs, err := e.Embed(ctx, texts)
		if err != nil {
			return err
		}
		for _, v := range vecs {
			buf = httpapi.AppendFloats(buf[:0], v)
			buf = append(buf, '\n')
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("write stdout: %w", err)
			}
		}
		texts = texts[:0]
		return nil
	}
	line := 0
	for {
		s, err := in.ReadString('\n')
		if len(s) > 0 || err == nil {
			line++
			if s[len(s)-1] == '\n' {
				s = s[:len(s)-1]
			}
			if len(s) > 0 && s[len(s)-1] == '\r' {
				s = s[:len(s)-1]
			}
			texts = append(texts, s)
			if len(texts) == cfg.Batch {
				if err := flush(); err != nil {
					return fmt.Errorf("lines %d-%d: %w", line-len(texts)+1, line, err)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("lines up to %d: %w", line, err)
	}
	return out.Flush()
}

// quietLogger logs warnings and errors as text to w (the model's load line
// is info and stays out of a tool's stderr unless FLINKFN_LOG_LEVEL says so).
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// modelDir is the folder of --model NAME|DIR ("" leaves the lookup to the
// embedder: FLINKFN_MODEL_DIR, FLINKFN_MODEL, the default model).
func modelDir(ref string, loc inference.Locations) (string, error) {
	if ref == "" {
		return "", nil
	}
	spec := resolveModel(ref, loc, inference.Executable())
	return spec.dir, spec.err
}
