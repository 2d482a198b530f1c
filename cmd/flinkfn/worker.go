package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/flinkconf"
	"github.com/flinkfn/flinkfn/fnharness"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
	"github.com/flinkfn/flinkfn/pool"
	"github.com/flinkfn/flinkfn/udfs"
)

// bootLogName is the file Flink reads into its exception when the worker
// dies before connecting ("Failed to create stage bundle factory! ...").
const bootLogName = "flink-python-udf-boot.log"

// runWorker runs one Fn API worker session, as Beam's boot would.
func runWorker(ctx context.Context, args []string, env procEnv, stderr io.Writer) error {
	return runWorkerTimeout(ctx, args, env, stderr, 60*time.Second)
}

// runWorkerTimeout is runWorker. Flink starts the worker with its settings
// in the environment (and only --id and --provision_endpoint as flags):
// the configuration reads them, and its errors reach the boot log, which
// Flink puts in the job's exception.
func runWorkerTimeout(ctx context.Context, args []string, env procEnv, stderr io.Writer, connectTimeout time.Duration) error {
	var id, endpoint string
	parseKnown(args, map[string]*string{"id": &id, "provision_endpoint": &endpoint})

	cfg, cfgErr := loadConfig(cmdWorker, nil, env.getenv)
	var boot io.Writer = io.Discard
	if dir := cfg.BootLogDir; dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, bootLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			defer f.Close()
			boot = f
		}
	}
	level := cfg.LogLevel
	local := teeHandler{
		slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(boot, &slog.HandlerOptions{Level: level}),
	}
	// log also reaches Flink's logging stream (the TaskManager's log) once
	// the session opens it; warnings logged before that are sent then.
	flink := newLateHandler()
	log := slog.New(teeHandler{local, flink}).With("component", "flinkfn", "pid", os.Getpid())

	fail := func(err error) error {
		msg := fmt.Sprintf("flinkfn worker %s: %v", id, err)
		fmt.Fprintln(boot, msg)
		return exitError{code: 1, msg: msg}
	}
	if id == "" || endpoint == "" {
		return fail(fmt.Errorf("missing --id or --provision_endpoint (got %q): flinkfn must be started by Flink through pyflink-udf-runner.sh", args))
	}
	if cfgErr != nil {
		return fail(cfgErr)
	}
	if m := cfg.MarkerFile; m != "" {
		if f, err := os.OpenFile(m, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), id)
			f.Close()
		}
	}

	// Pool mode: this process is only the shim.
	if addr, src := cfg.Pool, cfg.PoolFrom; addr != "" {
		log.Info("flinkfn shim: asking the pool to serve the worker", "version", version, "worker_id", id, "pool", addr, "pool_from", src)
		err := pool.Shim(ctx, pool.ShimConfig{
			Address: addr, WorkerID: id, ProvisionEndpoint: endpoint,
			Params: workerParams(env), Logger: log,
		})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, pool.ErrNotFlinkfnPool) && src == "PYTHON_LOOPBACK_SERVER_ADDRESS":
			// A local `python job.py` (PyFlink's default loopback mode):
			// never hand the session to PyFlink's Python workers.
			log.Info("PYTHON_LOOPBACK_SERVER_ADDRESS is PyFlink's own loopback worker pool, not a flinkfn pool; "+
				"flinkfn serves this worker in this process (set FLINKFN_POOL to use a flinkfn pool)", "worker_id", id, "address", addr)
		case errors.Is(err, pool.ErrNotFlinkfnPool):
			return fail(fmt.Errorf("%w. FLINKFN_POOL must be the --listen address of a `flinkfn pool` on this host (or unset it to run the worker in this process)", err))
		case cfg.PoolFallback == "local" && errors.Is(err, pool.ErrUnreachable):
			log.Warn("pool unreachable; serving the worker in this process ("+fallbackEnv+"=local)", "err", err)
		default:
			return fail(err)
		}
	}

	// In-process worker (PROCESS mode): the same memory rules as a pool
	// session, for its single session.
	budget, set := memoryPlan(cfg)
	reserve := workerReserver(budget, cfg.MemoryPolicy, cfg.flink, log)
	fw, err := reserve(memory.KindFramework, "worker "+id, set.Framework)
	if err != nil {
		return fail(err)
	}
	defer fw.Release()
	buf, err := reserve(memory.KindBuffer, id, set.Buffer)
	if err != nil {
		return fail(err)
	}
	defer buf.Release()
	in, out := memory.BufferLimiters(set.Buffer)

	metrics := observe.New()
	metrics.WatchMemory(memoryState(budget, func() int64 { return in.InUse() + out.InUse() }))
	templates, err := udfs.LoadTemplates(cfg.Templates, cfg.TemplatesFrom)
	if err != nil {
		return fail(err)
	}
	// Models load when an operator that calls an embedding function is
	// planned (fnharness opens the function), not before.
	mo := cfg.modelOptions(templates, log)
	mo.Budget, mo.Reserve, mo.Metrics = budget, reserve, metrics
	models, err := newModelSet(mo)
	if err != nil {
		return fail(err)
	}
	defer models.Close()
	if addr := cfg.HTTP; addr != "" {
		metrics.SetReady(true)
		srv, err := observe.Serve(ctx, addr, metrics, nil, log)
		if err != nil {
			log.Warn("metrics endpoint unavailable", "addr", addr, "err", err)
		} else {
			defer srv.Close()
			log.Info("metrics endpoint", "addr", srv.Addr())
		}
	}
	reg, err := newRegistry(models, templates, metrics)
	if err != nil {
		return fail(err)
	}
	log.Info("flinkfn worker starting", "version", version, "worker_id", id, "provision_endpoint", endpoint,
		"functions", len(reg.Functions()), "memory_limit", budget.Limit(), "memory_limit_source", budget.Source(),
		"framework", set.Framework, "buffer", set.Buffer, cfg.logSettings())

	// SIGTERM (ctx) drains: no new bundles, in-flight ones finish within
	// the drain timeout, then the session ends.
	drainFor := cfg.DrainTimeout
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	drain := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			close(drain)
			select {
			case <-time.After(drainFor):
				cancel()
			case <-runCtx.Done():
			}
		case <-runCtx.Done():
		}
	}()
	err = fnharness.Run(runCtx, fnharness.Options{
		WorkerID:          id,
		ProvisionEndpoint: endpoint,
		Registry:          reg,
		Logger:            slog.New(local).With("component", "flinkfn", "pid", os.Getpid()),
		ConnectTimeout:    connectTimeout,
		InputLimiter:      in,
		OutputLimiter:     out,
		Observer:          harnessObserver{metrics},
		Drain:             drain,
		OnLogStream:       flink.Set,
	})
	cancel()
	if err != nil {
		return fail(err)
	}
	log.Info("flinkfn worker stopped", "worker_id", id)
	return nil
}

// workerReserver reserves from a PROCESS-mode worker's budget (the slot's
// managed memory for Python) under policy: what does not fit is refused
// (strict) or reserved anyway with a warning (warn, Flink's own FLIP-88
// behaviour). Both say which setting fits.
func workerReserver(budget *memory.Budget, policy memory.Policy, conf *flinkconf.Config, log *slog.Logger) func(memory.Kind, string, int64) (*memory.Reservation, error) {
	fix := func(n int64) string {
		need := budget.Snapshot().Total + n
		if !strings.Contains(budget.Source(), "_PYTHON_WORKER_MEMORY_LIMIT") {
			return fmt.Sprintf("Raise the worker's memory limit (%s) to at least %s", budget.Source(), memory.MiB(need))
		}
		return memory.PythonShareFix(need, budget.Limit(), conf)
	}
	return func(k memory.Kind, name string, n int64) (*memory.Reservation, error) {
		if policy == memory.PolicyStrict {
			r, err := budget.Reserve(k, name, n)
			if err != nil {
				return nil, fmt.Errorf("%w. %s. (%s=strict refuses; unset it to warn and go on, as Flink does)", err, fix(n), memory.EnvPolicy)
			}
			return r, nil
		}
		advice := fix(n) // before the reservation counts in the total
		r, short, err := budget.Overcommit(k, name, n)
		if err != nil {
			return nil, err
		}
		if short != nil {
			what := short.Error()
			var re *memory.RefusedError
			if errors.As(short, &re) {
				what = re.Overcommitted()
			}
			log.Warn(fmt.Sprintf("Python worker memory short: %s. flinkfn goes on, as Flink does when a Python worker's managed memory is short (FLIP-88): this worker may use more memory than Flink planned for it. %s. (%s=strict refuses instead.)",
				what, advice, memory.EnvPolicy))
		}
		return r, nil
	}
}

// fallbackEnv opts into serving the worker in-process when the configured
// pool cannot be reached (default: fail with the pool's address).
const fallbackEnv = "FLINKFN_POOL_FALLBACK"

// workerParams is StartWorkerRequest.params: like PyFlink's boot, the
// worker's environment (plus SEMI_PERSISTENT_DIRECTORY).
func workerParams(env procEnv) map[string]string {
	params := map[string]string{}
	for _, kv := range env.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			params[k] = v
		}
	}
	if _, ok := params["SEMI_PERSISTENT_DIRECTORY"]; !ok {
		params["SEMI_PERSISTENT_DIRECTORY"] = env.getenv("BOOT_LOG_DIR")
	}
	return params
}

// defaultDrainTimeout bounds how long SIGTERM waits for in-flight bundles,
// in a worker and in a pool alike.
const defaultDrainTimeout = 30 * time.Second

// parseKnown reads --name=value (or --name value) for the known names and
// ignores everything else, as beam_boot does with parse_known_args.
func parseKnown(args []string, known map[string]*string) {
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		p, ok := known[name]
		if !ok {
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		*p = val
	}
}

// teeHandler sends every record to all handlers.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			_ = h.Handle(ctx, r.Clone())
		}
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}
