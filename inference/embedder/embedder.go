// Package embedder puts the tokenizer, the shared batcher and the ONNX
// Runtime engine together: texts in, sentence-transformers vectors out.
//
// One Embedder serves the whole process: every bundle of every operator
// calls Embed concurrently, and the batcher forms the model's batches from
// all of them (see package batcher).
package embedder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/tokenizer"
)

// Config says which model to load and how.
type Config struct {
	// ModelDir is the model folder (with manifest.json); "" looks it up
	// (inference.FindModelDir: Locations.ModelDir, Locations.Home, next to
	// the executable, system folders).
	ModelDir string
	// Variant is a variant of the manifest ("fp32", "int8"); "" is the
	// manifest's default.
	Variant string
	// RuntimeLib is ONNX Runtime's shared library; "" looks it up
	// (inference.FindRuntimeLibrary).
	RuntimeLib string
	// Locations and Executable feed the lookups (the command's
	// configuration; this package reads no environment); "" Executable is
	// the running binary.
	Locations  inference.Locations
	Executable string
	// Device is where the model runs (the zero value: the CPU). A CUDA
	// device loads ONNX Runtime's GPU build (inference.FindGPURuntimeLibrary
	// when RuntimeLib is "") and the CUDA libraries (inference.OpenCUDA),
	// and caps the session's GPU memory at GPUMemoryFraction of the GPU's
	// memory (0 < fraction <= 1; 0 means no cap).
	Device            inference.Device
	GPUMemoryFraction float64
	// Engine and Batcher tune the session and the batching. On a CUDA
	// device the batcher's zero limits are its GPU defaults
	// (batcher.DefaultGPUMaxBatchTokens, DefaultGPUMaxBatchRows).
	Engine  inference.EngineOptions
	Batcher batcher.Options
	Logger  *slog.Logger
}

// Embedder embeds texts with one model shared by every caller.
type Embedder struct {
	rt   *inference.Runtime
	eng  *inference.Engine
	tok  *tokenizer.Tokenizer
	b    *batcher.Batcher
	log  *slog.Logger
	dir  string
	took time.Duration

	batchTokens int                   // the batcher's MaxBatchTokens
	cuda        *inference.CUDADevice // nil on the CPU

	texts     atomic.Int64
	truncated atomic.Int64
}

// Open loads the runtime, the model's manifest, tokenizer and variant, and
// starts the batcher.
func Open(cfg Config) (*Embedder, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	start := time.Now()
	exe := cfg.Executable
	if exe == "" {
		exe = inference.Executable()
	}
	lib := cfg.RuntimeLib
	var err error
	if cfg.GPUMemoryFraction < 0 || cfg.GPUMemoryFraction > 1 {
		return nil, fmt.Errorf("GPU memory fraction %g: want 0 < fraction <= 1", cfg.GPUMemoryFraction)
	}
	switch {
	case lib != "":
	case cfg.Device.CUDA:
		if lib, err = inference.FindGPURuntimeLibrary(cfg.Locations, exe); err != nil {
			return nil, fmt.Errorf("device %s: %w", cfg.Device, err)
		}
	default:
		if lib, err = inference.FindRuntimeLibrary(cfg.Locations, exe); err != nil {
			return nil, err
		}
	}
	eo := cfg.Engine
	var cuda *inference.CUDADevice
	if cfg.Device.CUDA {
		if cuda, err = inference.OpenCUDA(cfg.Device, lib, cfg.Locations.CUDALibDirs); err != nil {
			return nil, err
		}
		eo.Device = cfg.Device
		if cfg.GPUMemoryFraction > 0 {
			eo.CUDA.MemLimit = int64(cfg.GPUMemoryFraction * float64(cuda.Total))
		}
	}
	dir, err := inference.FindModelDir(cfg.ModelDir, cfg.Locations, exe)
	if err != nil {
		return nil, err
	}
	m, err := inference.LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	variant := cfg.Variant
	tokPath, err := m.TokenizerPath()
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(tokPath, tokenizer.Options{MaxLen: m.MaxSeqLength})
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	rt, err := inference.OpenRuntime(lib)
	if err != nil {
		return nil, err
	}
	if eo.Logger == nil {
		eo.Logger = log
	}
	eo.PadID = tok.PadID()
	eng, err := inference.NewEngine(rt, m, variant, eo)
	if err != nil {
		rt.Close()
		return nil, err
	}
	bo := cfg.Batcher
	if cfg.Device.CUDA {
		// A GPU runs large batches at once: its throughput grows with the
		// batch until the device is full, where a CPU's falls past a few
		// thousand tokens.
		if bo.MaxBatchTokens == 0 {
			bo.MaxBatchTokens = batcher.DefaultGPUMaxBatchTokens
		}
		if bo.MaxBatchRows == 0 {
			bo.MaxBatchRows = batcher.DefaultGPUMaxBatchRows
		}
	}
	if bo.MaxBatchTokens == 0 {
		// One sequence of the model's maximal length must fit a batch.
		bo.MaxBatchTokens = max(batcher.DefaultMaxBatchTokens, eng.MaxSeqLen())
	}
	if bo.Logger == nil {
		bo.Logger = log
	}
	b, err := batcher.New(eng, bo)
	if err != nil {
		eng.Close()
		rt.Close()
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	e := &Embedder{rt: rt, eng: eng, tok: tok, b: b, log: log, dir: dir, took: time.Since(start), batchTokens: bo.MaxBatchTokens, cuda: cuda}
	log.Info("embedding model loaded", "model", eng.Model(), "variant", eng.Variant(), "dir", dir,
		"runtime", rt.Version(), "device", cfg.Device.String(), "gpu_mem_limit", eng.GPUMemLimit(),
		"max_batch_tokens", bo.MaxBatchTokens, "dims", eng.Dims(), "max_seq_len", eng.MaxSeqLen(), "took", e.took)
	return e, nil
}

// Embed returns one vector per text, in order. Texts longer than the
// model's max sequence length are truncated (as sentence-transformers does).
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, _, err := e.EmbedCounted(ctx, texts)
	return vecs, err
}

// EmbedCounted is Embed that also says how many texts were truncated.
func (e *Embedder) EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error) {
	seqs := make([][]int64, len(texts))
	trunc := 0
	for i, t := range texts {
		enc, err := e.tok.Encode(t)
		if err != nil {
			return nil, 0, fmt.Errorf("tokenize text %d: %w", i, err)
		}
		if enc.Truncated {
			trunc++
		}
		seqs[i] = enc.IDs
	}
	e.texts.Add(int64(len(texts)))
	e.truncated.Add(int64(trunc))
	vecs, err := e.b.Embed(ctx, seqs)
	return vecs, trunc, err
}

// CountTokens tokenizes text as EmbedCounted does: its token count
// (special tokens included, after truncation) and whether it was truncated
// to the model's maximum length. Callers that check lengths before
// embedding (the HTTP API) use the model's own tokenizer, not a copy.
func (e *Embedder) CountTokens(text string) (tokens int, truncated bool, err error) {
	enc, err := e.tok.Encode(text)
	if err != nil {
		return 0, false, err
	}
	return len(enc.IDs), enc.Truncated, nil
}

// Model and Variant name the loaded model ("all-MiniLM-L6-v2", "fp32").
func (e *Embedder) Model() string   { return e.eng.Model() }
func (e *Embedder) Variant() string { return e.eng.Variant() }

// Dir is the model folder.
func (e *Embedder) Dir() string { return e.dir }

// WorstBatch is the batch that needs the most memory: as many sequences of
// the model's maximal length as the token budget admits (at least one).
func (e *Embedder) WorstBatch() (rows, tokens int) {
	return max(e.batchTokens/e.eng.MaxSeqLen(), 1), e.eng.MaxSeqLen()
}

// GPUMemory is a model's GPU memory: the device's total, the model's
// session limit, and what the device has in use (every process on it,
// this one's CUDA context, arenas and libraries' workspaces included).
type GPUMemory struct {
	Device string
	Total  int64
	Limit  int64 // 0: no limit
	Used   int64
}

// GPU reads the model's GPU memory; ok is false on the CPU.
func (e *Embedder) GPU() (m GPUMemory, ok bool, err error) {
	if e.cuda == nil {
		return GPUMemory{}, false, nil
	}
	free, total, err := e.cuda.MemInfo()
	if err != nil {
		return GPUMemory{}, true, err
	}
	return GPUMemory{Device: e.eng.Device().String(), Total: total, Limit: e.eng.GPUMemLimit(), Used: total - free}, true, nil
}

// Device is where the model runs.
func (e *Embedder) Device() inference.Device { return e.eng.Device() }

// Dims is the length of every vector.
func (e *Embedder) Dims() int { return e.eng.Dims() }

// Describe names the loaded model for logs and tools.
func (e *Embedder) Describe() string {
	return fmt.Sprintf("%s (%s) from %s, ONNX Runtime %s", e.eng.Model(), e.eng.Variant(), e.dir, e.rt.Version())
}

// Stats are counters since Open.
type Stats struct {
	Texts, Truncated int64
	LoadTime         time.Duration
	Batcher          batcher.Stats
}

// Stats returns the counters.
func (e *Embedder) Stats() Stats {
	return Stats{Texts: e.texts.Load(), Truncated: e.truncated.Load(), LoadTime: e.took, Batcher: e.b.Stats()}
}

// Close stops the batcher (failing pending calls) and releases the model
// and the runtime.
func (e *Embedder) Close() error {
	return errors.Join(e.b.Close(), e.eng.Close(), e.rt.Close())
}
