package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/flinkfn/flinkfn/httpapi"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
	"github.com/flinkfn/flinkfn/pool"
	"github.com/flinkfn/flinkfn/udfs"
)

const poolUsage = `Usage: flinkfn pool [--listen ADDR] [--http ADDR] [--flink-conf PATH] [--memory-limit SIZE] [--model NAME|DIR]... [--int8]

Runs the worker pool: one long-running process per TaskManager that loads
each embedding model once, warms it and serves Beam's
BeamFnExternalWorkerPool. Point the TaskManager's workers at it with
FLINKFN_POOL=ADDR in the TaskManager's environment (python.executable stays
this binary; the process Flink starts becomes a thin shim), or with Flink's
python.loopback-server.address.

  --listen ADDR            unix:///path/to.sock or a loopback host:port (default 127.0.0.1:50051)
  --http ADDR              /healthz, /readyz, /metrics and the embedding API (default 127.0.0.1:9464;
                           "off" disables)
  --api on|off|auto        the embedding API (POST /embed, POST /v1/embeddings, GET /info, GET /health)
                           on --http: auto (default) serves it on a loopback address or with --api-key
  --flink-conf PATH        Flink config.yaml / flink-conf.yaml or conf folder: reads
                           python.fn-execution.framework.memory.size (default 64mb) and
                           python.fn-execution.buffer.memory.size (default 15mb)
  --memory-limit SIZE      the pool's memory budget (default: _PYTHON_WORKER_MEMORY_LIMIT,
                           else the cgroup memory limit, else none)
  --framework-memory SIZE  override the framework memory (reserved once)
  --buffer-memory SIZE     override the buffer memory (reserved per session)
  --model NAME|DIR         the default model: an installed model's name or a model folder
                           (default: as the worker finds it, all-MiniLM-L6-v2); repeat it to
                           load more models. The models the templates name load too.
  --int8 | --variant NAME  model variant of every model (default: each manifest's default)
  --drain-timeout DUR      on SIGTERM, how long in-flight bundles may finish (default 30s)
  --log-level LEVEL        debug, info, warn, error (default info)

` + apiFlagsUsage + `
Sizes use Flink's syntax (512mb, 2 gb, 1073741824).
`

// runPool is `flinkfn pool`.
func runPool(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("pool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, poolUsage) }
	listen := fs.String("listen", "127.0.0.1:50051", "pool address")
	httpAddr := fs.String("http", "127.0.0.1:9464", "health and metrics address")
	flinkConf := fs.String("flink-conf", "", "Flink configuration")
	limit := fs.String("memory-limit", "", "memory budget")
	framework := fs.String("framework-memory", "", "framework memory")
	buffer := fs.String("buffer-memory", "", "buffer memory per session")
	var modelRefs stringList
	fs.Var(&modelRefs, "model", "model name or folder (repeatable)")
	int8 := fs.Bool("int8", false, "quantised variant")
	variant := fs.String("variant", "", "model variant")
	drainTimeout := fs.Duration("drain-timeout", defaultDrainTimeout, "drain timeout")
	logLevel := fs.String("log-level", "info", "log level")
	apiMode := fs.String("api", "auto", "embedding API on the HTTP listener: on, off, auto")
	af := addAPIFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: fmt.Sprintf("flinkfn pool: unexpected argument %q", fs.Arg(0))}
	}
	if *int8 {
		if *variant != "" && *variant != "int8" {
			return exitError{code: 2, msg: "flinkfn pool: --int8 and --variant " + *variant + " disagree"}
		}
		*variant = "int8"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("flinkfn pool: --log-level %q: %v", *logLevel, err)}
	}
	log := observe.NewLogger(stderr, level, "component", "flinkfn-pool", "pid", os.Getpid())
	fail := func(err error) error {
		log.Error("flinkfn pool failed", "err", err)
		return exitError{code: 1, msg: "flinkfn pool: " + err.Error()}
	}

	conf := *flinkConf
	if conf == "" {
		conf = flinkConfDir(getenv)
	}
	src := "--memory-limit"
	if *limit == "" && getenv("FLINKFN_MEMORY_LIMIT") != "" {
		*limit, src = getenv("FLINKFN_MEMORY_LIMIT"), "FLINKFN_MEMORY_LIMIT"
	}
	budget, set, err := memoryPlan(memoryInputs{limit: *limit, limitSource: src, framework: *framework, buffer: *buffer, flinkConf: conf}, getenv)
	if err != nil {
		return fail(err)
	}
	log.Info("memory plan", "limit", budget.Limit(), "limit_source", budget.Source(),
		"framework", set.Framework, "framework_source", set.FrameworkSource, "buffer_per_session", set.Buffer, "buffer_source", set.BufferSource)

	metrics := observe.New()
	var served atomic.Pointer[pool.Server] // set once the service runs
	metrics.WatchMemory(memoryState(budget, func() int64 {
		if s := served.Load(); s != nil {
			return s.BufferInUse()
		}
		return 0
	}))
	templates, err := udfs.LoadTemplates(getenv)
	if err != nil {
		return fail(err)
	}
	mo := modelOptions{Variant: *variant, Templates: templates, Budget: budget, Metrics: metrics, Log: log, Getenv: getenv}
	if len(modelRefs) > 0 {
		mo.Default, mo.Extra = modelRefs[0], modelRefs[1:]
	}
	models, err := newModelSet(mo)
	if err != nil {
		return fail(err)
	}
	defer models.Close()

	// Health first: /healthz answers, and /readyz says at once why not
	// while the models load.
	readyCh := make(chan struct{})
	ready := func() error {
		if err := models.Ready(); err != nil {
			return err
		}
		select {
		case <-readyCh:
			return nil
		default:
			return errors.New("starting the worker pool service")
		}
	}
	var api *httpapi.Server
	if *httpAddr != "" && *httpAddr != "off" {
		var mount func(*http.ServeMux)
		on, err := mountAPI(*apiMode, *httpAddr, af.apiKey(getenv), log)
		if err != nil {
			return exitError{code: 2, msg: "flinkfn pool: " + err.Error()}
		}
		if on {
			if api, err = af.newAPI(apiDeps{models: models, mo: mo, budget: budget, metrics: metrics, log: log, ready: ready, getenv: getenv}); err != nil {
				return fail(err)
			}
			mount = api.Mount
		}
		hs, err := observe.ServeWith(context.WithoutCancel(ctx), *httpAddr, metrics, ready, log, mount)
		if err != nil {
			return fail(err)
		}
		defer hs.Close()
		log.Info("health and metrics endpoint", "addr", hs.Addr())
	}

	fw, err := budget.Reserve(memory.KindFramework, "pool", set.Framework)
	if err != nil {
		return fail(err)
	}
	defer fw.Release()
	if err := models.Preload(models.Names()...); err != nil {
		return fail(err)
	}
	if err := models.Wait(ctx); err != nil {
		return fail(err)
	}
	reg, err := newRegistry(models, templates, metrics)
	if err != nil {
		return fail(err)
	}
	srv, err := pool.New(pool.Config{
		Registry: reg, Logger: log, Budget: budget, BufferBytes: set.Buffer,
		Observer: harnessObserver{metrics}, Hooks: metrics,
	})
	if err != nil {
		return fail(err)
	}
	lis, err := pool.Listen(*listen)
	if err != nil {
		return fail(err)
	}
	g := grpc.NewServer()
	srv.Register(g)
	served.Store(srv)
	stopped := make(chan error, 1)
	go func() { stopped <- g.Serve(lis) }()
	close(readyCh)
	metrics.SetReady(true)
	log.Info("flinkfn pool ready", "version", version, "listen", *listen, "functions", len(reg.Functions()), "models", models.Names(),
		"memory_free", budget.Free(), "sessions_that_fit", sessionsThatFit(budget, set.Buffer))

	select {
	case <-ctx.Done():
		log.Info("SIGTERM: draining the pool", "sessions", srv.Sessions(), "timeout", *drainTimeout)
	case err := <-stopped:
		srv.Shutdown(context.Background())
		return fail(fmt.Errorf("gRPC server stopped: %w", err))
	}
	metrics.SetReady(false)
	if api != nil {
		api.Drain()
	}
	dctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	derr := srv.Shutdown(dctx)
	cancel()
	g.Stop()
	<-stopped
	if derr != nil {
		log.Warn("drain incomplete", "err", derr)
	}
	log.Info("flinkfn pool stopped")
	return nil
}

// sessionsThatFit is how many more sessions the budget admits (-1: no limit).
func sessionsThatFit(b *memory.Budget, buffer int64) int64 {
	if b.Limit() <= 0 || buffer <= 0 {
		return -1
	}
	return b.Free() / buffer
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}
