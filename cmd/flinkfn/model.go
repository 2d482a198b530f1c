package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/admission"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/batcher"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/inference/modelset"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
	"github.com/flinkfn/flinkfn/udfs"
)

// modelOptions says which models the process serves and how it accounts
// for them.
type modelOptions struct {
	// Default is the default model: a folder, a model name, or ""
	// (Locations.ModelDir, Locations.Model, else all-MiniLM-L6-v2).
	Default string
	// Variant applies to every model ("": each manifest's default).
	Variant string
	// Extra are more models to serve (names or folders), besides the
	// default and those the templates name.
	Extra     []string
	Templates []*udfs.Template
	// Budget, when not nil, gets each model's footprint reserved.
	Budget *memory.Budget
	// Reserve takes a footprint from Budget; nil means Budget.Reserve,
	// refusing what does not fit (a pool). A PROCESS-mode worker passes its
	// memory policy (warn and go on, or refuse).
	Reserve func(memory.Kind, string, int64) (*memory.Reservation, error)
	Metrics *observe.Metrics // nil: none
	Batcher batcher.Options
	Log     *slog.Logger
	// Locations say where the models and the runtime are.
	Locations inference.Locations
	// GoMemLimitSet: GOMEMLIMIT is set, the Go memory limit is left alone.
	GoMemLimitSet bool
	// Device is where the models run. On a GPU their ONNX Runtime arenas
	// share GPUMemoryFraction of its memory evenly: each model's session
	// gets fraction / (number of models) as its gpu_mem_limit.
	Device            inference.Device
	GPUMemoryFraction float64
	gpuShare          float64 // set by newModelSet
}

// modelSpec is one model of the set: its folder, or why it has none.
type modelSpec struct {
	name, dir string
	err       error
}

// newModelSet resolves every model's folder and returns the set whose
// loads open, warm up, measure and reserve each model (see openModel). A
// model that cannot be found is an error when it is first acquired, not
// before: a job that does not call its functions runs.
func newModelSet(o modelOptions) (*modelset.Set, error) {
	specs := resolveModels(o)
	if o.Device.CUDA && o.GPUMemoryFraction > 0 {
		o.gpuShare = o.GPUMemoryFraction / float64(len(specs))
	}
	names := make([]string, len(specs))
	byName := make(map[string]modelSpec, len(specs))
	for i, s := range specs {
		names[i] = s.name
		byName[s.name] = s
	}
	return modelset.New(modelset.Options{
		Names: names, Default: names[0], Logger: o.Log,
		Open: func(ctx context.Context, name string) (modelset.Loaded, error) {
			return openModel(ctx, o, byName[name])
		},
	})
}

// resolveModels lists the set's models, the default first, each once.
func resolveModels(o modelOptions) []modelSpec {
	exe := inference.Executable()
	var specs []modelSpec
	add := func(s modelSpec) {
		for _, have := range specs {
			if have.name == s.name {
				return
			}
		}
		specs = append(specs, s)
	}
	// The default model.
	switch {
	case o.Default == "":
		dir, err := inference.FindModelDir("", o.Locations, exe)
		name := o.Locations.Model
		if name == "" {
			name = inference.DefaultModelName
		}
		add(specFromDir(name, dir, err))
	default:
		add(resolveModel(o.Default, o.Locations, exe))
	}
	for _, m := range o.Extra {
		add(resolveModel(m, o.Locations, exe))
	}
	for _, t := range o.Templates {
		if t.Model == "" {
			continue
		}
		s := resolveModel(t.Model, o.Locations, exe)
		if s.err != nil {
			s.err = fmt.Errorf("template %s (%s) names model %q: %w", t.Name, t.Source, t.Model, s.err)
		}
		add(s)
	}
	return specs
}

// resolveModel finds a model given as a folder (a path, or an existing
// folder) or as a name (an installed model).
func resolveModel(ref string, loc inference.Locations, exe string) modelSpec {
	if strings.ContainsRune(ref, os.PathSeparator) || isDir(ref) {
		dir, err := inference.FindModelDir(ref, loc, exe)
		return specFromDir(filepath.Base(filepath.Clean(ref)), dir, err)
	}
	dir, err := inference.FindModelDirByName(ref, loc, exe)
	return specFromDir(ref, dir, err)
}

// specFromDir names a found folder by its manifest (the name its metrics
// and templates use); fallback names a folder that was not found.
func specFromDir(fallback, dir string, err error) modelSpec {
	if err != nil {
		return modelSpec{name: fallback, err: err}
	}
	m, err := inference.LoadManifest(dir)
	if err != nil {
		return modelSpec{name: fallback, dir: dir, err: err}
	}
	return modelSpec{name: m.Name, dir: dir}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// openModel loads one model, warms it up, measures its footprint (the
// process's peak RSS across load and warm-up above its RSS before) and
// reserves that from the budget.
func openModel(ctx context.Context, o modelOptions, spec modelSpec) (modelset.Loaded, error) {
	if spec.err != nil {
		return modelset.Loaded{}, spec.err
	}
	cfg := embedder.Config{ModelDir: spec.dir, Variant: o.Variant, Locations: o.Locations, Logger: o.Log, Batcher: o.Batcher,
		Device: o.Device, GPUMemoryFraction: o.gpuShare}
	if o.Metrics != nil {
		cfg.Batcher.Observer = o.Metrics.Batches(spec.name)
	}
	e, footprint, took, err := loadMeasured(ctx, cfg, o.Log)
	if err != nil {
		if o.Metrics != nil {
			o.Metrics.Error(observe.ErrModel)
		}
		return modelset.Loaded{}, err
	}
	name := e.Model() + "/" + e.Variant()
	// The gate shares the model fairly between the Flink sessions and the
	// HTTP API (package admission).
	gate, err := admission.New(e, admission.Options{})
	if err != nil {
		e.Close()
		return modelset.Loaded{}, err
	}
	l := modelset.Loaded{Model: gate}
	if o.Budget != nil {
		reserve := o.Reserve
		if reserve == nil {
			reserve = func(k memory.Kind, name string, n int64) (*memory.Reservation, error) {
				r, err := o.Budget.Reserve(k, name, n)
				if err != nil {
					return nil, fmt.Errorf("%w. Give the pool more memory (--memory-limit, or its container's limit); `flinkfn plan --mode pool --measure` computes the settings", err)
				}
				return r, nil
			}
		}
		res, err := reserve(memory.KindModel, name, footprint)
		if err != nil {
			e.Close()
			return modelset.Loaded{}, err
		}
		l.Release = res.Release
		if lim, ok := memory.GoLimit(o.GoMemLimitSet, o.Budget.Limit(), o.Budget.Snapshot().Reserved[memory.KindModel]); ok {
			o.Log.Info("Go memory limit set from the budget", "gomemlimit", lim)
		}
	}
	if o.Metrics != nil {
		o.Metrics.ModelLoaded(e.Model(), e.Variant(), took, footprint)
		if _, onGPU, _ := e.GPU(); onGPU {
			o.Metrics.WatchGPU(e.Model(), func() observe.GPUMemory { return gpuReading(e) })
			// The model set closes e when it releases the model; stop
			// reading its device then.
			release := l.Release
			l.Release = func() {
				o.Metrics.WatchGPU(e.Model(), nil)
				if release != nil {
					release()
				}
			}
		}
	}
	o.Log.Info("embedding model ready", "model", name, "load_and_warmup", took.Round(time.Millisecond),
		"footprint", memory.MiB(footprint))
	return l, nil
}

// gpuReading is e's GPU memory as /metrics and /health report it.
func gpuReading(e *embedder.Embedder) observe.GPUMemory {
	g, _, err := e.GPU()
	r := observe.GPUMemory{Model: e.Model(), Device: e.Device().String(), TotalBytes: g.Total, LimitBytes: g.Limit, UsedBytes: g.Used}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// loadMeasured opens the model and runs its worst batch; footprint is the
// process's peak RSS across both above its RSS before.
func loadMeasured(ctx context.Context, cfg embedder.Config, log *slog.Logger) (e *embedder.Embedder, footprint int64, took time.Duration, err error) {
	if err := memory.ResetPeakRSS(); err != nil {
		log.Warn("the model's footprint is measured against the process's peak RSS since it started", "err", err)
	}
	before, _ := memory.RSS()
	start := time.Now()
	e, err = embedder.Open(cfg)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := warmUp(ctx, e); err != nil {
		if !errors.Is(err, inference.ErrDeviceOutOfMemory) {
			e.Close()
			return nil, 0, 0, fmt.Errorf("warm up %s: %w", e.Describe(), err)
		}
		// On a GPU the model serves the batches that fit its memory limit;
		// those that do not fail alone (HTTP 507), so the pool still starts.
		rows, tokens := e.WorstBatch()
		log.Warn("the largest batch does not fit the model's GPU memory limit: batches that large will fail until "+
			"--gpu-memory-fraction is raised or --max-batch-tokens lowered", "model", e.Describe(),
			"worst_batch", fmt.Sprintf("%d x %d tokens", rows, tokens), "err", err)
	}
	took = time.Since(start)
	peak, err := memory.PeakRSS()
	if err != nil {
		peak, _ = memory.RSS()
	}
	return e, max(peak-before, 0), took, nil
}

// warmUp runs the batch that needs the most memory (as many sequences of
// maximal length as the token budget admits), so that the footprint,
// measured as the peak RSS across load and warm-up, is the weights plus
// the worst batch's activations: what the model can use at most.
func warmUp(ctx context.Context, e *embedder.Embedder) error {
	rows, tokens := e.WorstBatch()
	long := strings.Repeat("account holder transaction merchant payment ", tokens/5+1)
	texts := make([]string, rows)
	for i := range texts {
		texts[i] = fmt.Sprintf("%d %s", i, long)
	}
	_, err := e.Embed(ctx, texts)
	return err
}

// harnessObserver feeds the harness's bundle events into the Prometheus
// metrics.
type harnessObserver struct{ m *observe.Metrics }

func (h harnessObserver) BundleDone(functions []string, rowsIn int64, took time.Duration, errKind string) {
	h.m.BundleDone(functions, rowsIn, took, errKind)
}
