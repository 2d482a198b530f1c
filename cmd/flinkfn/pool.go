package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/flinkfn/flinkfn/httpapi"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
	"github.com/flinkfn/flinkfn/pool"
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
  --memory-limit SIZE      the pool's memory budget (FLINKFN_MEMORY_LIMIT; default: _PYTHON_WORKER_MEMORY_LIMIT,
                           else the cgroup memory limit, else none)
  --framework-memory SIZE  override the framework memory (reserved once; FLINKFN_FRAMEWORK_MEMORY)
  --buffer-memory SIZE     override the buffer memory (reserved per session; FLINKFN_BUFFER_MEMORY)
  --model NAME|DIR         the default model: an installed model's name or a model folder
                           (default: as the worker finds it, all-MiniLM-L6-v2); repeat it to
                           load more models. The models the templates name load too.
  --int8 | --variant NAME  model variant of every model (default: each manifest's default)
  --drain-timeout DUR      on SIGTERM, how long in-flight bundles may finish (default 30s;
                           FLINKFN_DRAIN_TIMEOUT)
  --log-level LEVEL        debug, info, warn, error (default info)
  --templates FILE         a template file replacing the built-in one

` + apiFlagsUsage + `
Sizes use Flink's syntax (512mb, 2 gb, 1073741824). Most flags have an
environment variable too (flags win, then the environment, then the Flink
configuration, then the defaults): flinkfn config pool lists every setting
with its value and where it came from.
`

// runPool is `flinkfn pool`.
func runPool(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var served atomic.Pointer[pool.Server] // set once the service runs
	svc, err := startService(cmdPool, args, getenv, stderr, poolUsage, func() int64 {
		if s := served.Load(); s != nil {
			return s.BufferInUse()
		}
		return 0
	})
	if err != nil {
		return err
	}
	defer svc.models.Close()
	cfg, log, fail, budget, set, metrics, models, mo := svc.cfg, svc.log, svc.fail, svc.budget, svc.set, svc.metrics, svc.models, svc.mo

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
	if cfg.HTTP != "" && cfg.HTTP != "off" {
		var mount func(*http.ServeMux)
		on, err := mountAPI(cfg.API, cfg.HTTP, cfg.APIKey, log)
		if err != nil {
			return exitError{code: 2, msg: "flinkfn pool: " + err.Error()}
		}
		if on {
			if api, err = newAPI(cfg, apiDeps{models: models, mo: mo, budget: budget, metrics: metrics, log: log, ready: ready}); err != nil {
				return fail(err)
			}
			mount = api.Mount
		}
		hs, err := observe.ServeWith(context.WithoutCancel(ctx), cfg.HTTP, metrics, ready, log, mount)
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
	reg, err := newRegistry(models, mo.Templates, metrics)
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
	lis, err := pool.Listen(cfg.Listen)
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
	log.Info("flinkfn pool ready", "version", version, "listen", cfg.Listen, "functions", len(reg.Functions()), "models", models.Names(),
		"memory_free", budget.Free(), "sessions_that_fit", sessionsThatFit(budget, set.Buffer))

	select {
	case <-ctx.Done():
		log.Info("SIGTERM: draining the pool", "sessions", srv.Sessions(), "timeout", cfg.DrainTimeout)
	case err := <-stopped:
		srv.Shutdown(context.Background())
		return fail(fmt.Errorf("gRPC server stopped: %w", err))
	}
	metrics.SetReady(false)
	if api != nil {
		api.Drain()
	}
	dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
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
