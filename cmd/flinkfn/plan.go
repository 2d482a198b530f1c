package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flinkfn/flinkfn/flinkconf"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/embedder"
)

// Exit statuses of "flinkfn plan".
const (
	planExitWillNotFit = 1 // the workers will be OOM-killed
	planExitUsage      = 2 // bad flags or unreadable files
	planExitFlinkError = 3 // Flink itself rejects the configuration
)

// planExitError carries the exit status "flinkfn plan" should end with.
type planExitError struct {
	code int
	err  error
}

func (e *planExitError) Error() string { return e.err.Error() }
func (e *planExitError) Unwrap() error { return e.err }

// ExitCode is the process exit status.
func (e *planExitError) ExitCode() int { return e.code }

const planUsage = `usage: flinkfn plan --config FILE [--compose FILE --service NAME] [--model DIR] [--measure | --model-footprint SIZE] [--mode process|pool] [--json]

Derives the TaskManager memory exactly as Flink 2.3 does, prints it in the
shape of Flink's start-up log with the per-slot budget, what the workers
need, a verdict on the configuration given (fits / will be OOM-killed /
memory wasted) and settings that fit the same container, re-derived with
Flink's rules: what they take from the task heap, and in pool mode the
pool's --memory-limit. Exit status 1 when the workers will not fit, 2 for
usage errors, 3 when Flink itself rejects the configuration.
`

// runPlan implements "flinkfn plan".
func runPlan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, planUsage)
		fs.PrintDefaults()
	}
	config := fs.String("config", "", "Flink config.yaml, flink-conf.yaml or $FLINK_CONF_DIR (required)")
	compose := fs.String("compose", "", "docker-compose file with the TaskManager service")
	service := fs.String("service", "taskmanager", "compose service of the TaskManager")
	model := fs.String("model", "", "model folder to measure (default: all-MiniLM-L6-v2 estimate)")
	mode := fs.String("mode", string(flinkconf.ModePool), "flinkfn worker mode: process (one worker per slot) or pool (one per TaskManager)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	shape := fs.String("shape", "python", "what shares the slots: python, python+rocksdb, python+operators, python+operators+rocksdb, python+hashmap")
	sessions := fs.Int("sessions-per-slot", 1, "Python operators (worker sessions) per slot")
	stockRSS := fs.String("python-worker-rss", "400m", "RSS of one stock PyFlink worker, for comparison (Flink memory syntax)")
	headroom := fs.Float64("headroom", 1.2, "safety factor on the workers' need in recommendations")
	footprint := fs.String("model-footprint", "", "the model's measured footprint (flinkfn_model_footprint_bytes of a running pool or worker) instead of the file-size estimate")
	measure := fs.Bool("measure", false, "load and warm the model (--model or the installed one) here and use its measured footprint, as the pool and the worker reserve it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &planExitError{planExitUsage, err}
	}
	if *config == "" || fs.NArg() > 0 {
		fs.Usage()
		return &planExitError{planExitUsage, errors.New("plan: --config FILE is required and takes no positional arguments")}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := planInput(*config, *compose, *service, *model, *mode, *shape, *stockRSS, *sessions, *headroom)
	if err != nil {
		return &planExitError{planExitUsage, fmt.Errorf("plan: %w", err)}
	}
	if *measure {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg, err := loadConfig(cmdTools, nil, getenv)
		if err != nil {
			return &planExitError{planExitUsage, fmt.Errorf("plan: --measure: %w", err)}
		}
		dir := ""
		if *model != "" {
			spec := resolveModel(*model, cfg.Locations, inference.Executable())
			if spec.err != nil {
				return &planExitError{planExitUsage, fmt.Errorf("plan: --measure: %w", spec.err)}
			}
			dir = spec.dir
		}
		e, measured, _, err := loadMeasured(ctx, embedder.Config{ModelDir: dir, Variant: cfg.Variant, Locations: cfg.Locations, Logger: quiet}, quiet)
		if err != nil {
			return &planExitError{planExitUsage, fmt.Errorf("plan: --measure: %w", err)}
		}
		fp, err := measureModelFolder(e.Dir(), e.Variant())
		e.Close()
		if err != nil {
			return &planExitError{planExitUsage, fmt.Errorf("plan: --measure: %w", err)}
		}
		*footprint = strconv.FormatInt(measured, 10)
		in.Model = &fp
	}
	if *footprint != "" {
		n, err := flinkconf.ParseMemorySize(*footprint)
		if err != nil {
			return &planExitError{planExitUsage, fmt.Errorf("plan: --model-footprint %q: %w", *footprint, err)}
		}
		if in.Model == nil {
			fp := flinkconf.DefaultModelFootprint()
			in.Model = &fp
		}
		// Measured: the whole footprint; the files are part of it.
		in.Model.SessionOverhead = max(n-in.Model.Weights, 0)
		in.Model.Estimated = false
	}
	p, err := flinkconf.BuildPlan(in)
	if err != nil {
		code := planExitUsage
		var fe *flinkconf.FlinkError
		if errors.As(err, &fe) {
			code = planExitFlinkError
		}
		return &planExitError{code, fmt.Errorf("plan: Flink would reject %s: %w", *config, err)}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("plan: write JSON: %w", err)
		}
	} else if err := p.WriteText(stdout); err != nil {
		return fmt.Errorf("plan: write report: %w", err)
	}
	if !p.Fits() {
		return &planExitError{planExitWillNotFit, fmt.Errorf("plan: %s: %s", p.Verdict, p.Selected.Summary)}
	}
	return nil
}

// measureModelFolder sums the files one load of variant ("" for the
// default) reads from a model folder: a folder with a manifest that lists
// several variants (fp32, int8, int8-fast) loads one of them, so the others'
// ONNX files are not counted; a folder without a manifest counts whole.
func measureModelFolder(dir, variant string) (flinkconf.ModelFootprint, error) {
	if _, err := os.Stat(filepath.Join(dir, inference.ManifestFile)); err != nil {
		return flinkconf.MeasureModel(dir)
	}
	m, err := inference.LoadManifest(dir)
	if err != nil {
		return flinkconf.ModelFootprint{}, err
	}
	if variant == "" {
		variant = m.DefaultVariant
	}
	if _, ok := m.Variants[variant]; !ok {
		return flinkconf.ModelFootprint{}, fmt.Errorf("model %s: no variant %q (have %s)", m.Name, variant, strings.Join(m.VariantNames(), ", "))
	}
	var skip []string
	for name, f := range m.Variants {
		if name != variant && f != m.Variants[variant] {
			skip = append(skip, f)
		}
	}
	return flinkconf.MeasureModel(dir, skip...)
}

func planInput(config, compose, service, model, mode, shape, stockRSS string, sessions int, headroom float64) (flinkconf.PlanInput, error) {
	cfg, err := flinkconf.LoadPath(config)
	if err != nil {
		return flinkconf.PlanInput{}, err
	}
	in := flinkconf.PlanInput{Config: cfg, Mode: flinkconf.WorkerMode(mode), SessionsPerSlot: sessions, Headroom: headroom}
	if in.Shape, err = flinkconf.ParseJobShape(shape); err != nil {
		return in, err
	}
	if in.StockWorkerRSS, err = flinkconf.ParseMemorySize(stockRSS); err != nil {
		return in, fmt.Errorf("--python-worker-rss %s: %w", strconv.Quote(stockRSS), err)
	}
	if model != "" {
		fp, err := measureModelFolder(model, "")
		if err != nil {
			return in, err
		}
		in.Model = &fp
	}
	if compose != "" {
		if in.Container, err = flinkconf.LoadComposeLimit(compose, service); err != nil {
			return in, err
		}
	}
	return in, nil
}
