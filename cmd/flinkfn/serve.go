package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/flinkfn/flinkfn/httpapi"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/modelset"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
	"github.com/flinkfn/flinkfn/udfs"
)

const apiFlagsUsage = `  --api-key KEY            bearer token the embedding API requires (Authorization: Bearer KEY);
                           needed to listen on a non-loopback address (default FLINKFN_API_KEY)
  --max-inputs N           texts per request (default 32)
  --max-body SIZE          request body (default 2mb)
  --max-concurrent N       requests in the model's gate and batcher at once (default 16)
  --max-queued N           requests waiting for those; beyond: 429 (default 128)
  --request-timeout DUR    a request's deadline; past it: 504 (default 30s)
  --strict-length          a text longer than the model's maximum is a 422 unless the request
                           sends "truncate": true (TEI's default); default: truncate it
`

// apiDeps are what the embedding API is built from.
type apiDeps struct {
	models  *modelset.Set
	mo      modelOptions
	budget  *memory.Budget
	metrics *observe.Metrics
	log     *slog.Logger
	ready   func() error
}

// newAPI builds the embedding API over the process's model set, with the
// limits of the configuration (pool and serve share them).
func newAPI(cfg *config, d apiDeps) (*httpapi.Server, error) {
	catalog, err := apiCatalog(d.mo)
	if err != nil {
		return nil, err
	}
	hm, err := observe.NewHTTPMetrics(d.metrics)
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Options{
		Models: d.models, Catalog: catalog, Budget: d.budget, Metrics: hm, Logger: d.log.With("component", "http-api"),
		Ready: d.ready, APIKey: cfg.APIKey, Version: version,
		Limits: httpapi.Limits{MaxInputs: cfg.MaxInputs, MaxBodyBytes: cfg.MaxBody, MaxConcurrent: cfg.MaxConcurrent,
			MaxQueued: cfg.MaxQueued, Timeout: cfg.RequestTimeout, StrictLength: cfg.StrictLength},
	})
}

// apiCatalog describes the set's models for the API. A model whose folder
// cannot be found is left out (it fails when the set loads it); the
// default model must be there. Token counts come from each loaded model's
// own tokenizer (modelset.Model.CountTokens): no second copy is loaded.
func apiCatalog(o modelOptions) ([]httpapi.ModelInfo, error) {
	var out []httpapi.ModelInfo
	for i, s := range resolveModels(o) {
		if s.err != nil {
			if i == 0 {
				return nil, s.err
			}
			continue
		}
		m, err := inference.LoadManifest(s.dir)
		if err != nil {
			return nil, err
		}
		variant := o.Variant
		if variant == "" {
			variant = m.DefaultVariant
		}
		out = append(out, httpapi.ModelInfo{
			Name: m.Name, Variant: variant, Dims: m.Dims, MaxTokens: m.MaxSeqLength, Pooling: string(m.Pooling), Normalized: m.Normalize,
		})
	}
	return out, nil
}

const serveUsage = `Usage: flinkfn serve [--http ADDR] [--model NAME|DIR]... [--memory-limit SIZE] [--api-key KEY] ...

Serves the embedding models over HTTP, without Flink: the pool's embedding
API (POST /embed in text-embeddings-inference's shape, POST /v1/embeddings in
OpenAI's, GET /info, GET /health) and its probes and metrics (/healthz,
/readyz, /metrics). Every model loads once, before /readyz says ready.

  --http ADDR              listen address (default 127.0.0.1:8080)
  --model NAME|DIR         the default model (default all-MiniLM-L6-v2); repeat it to serve more
  --int8 | --variant NAME  model variant of every model (default: each manifest's default)
  --memory-limit SIZE      the memory budget the models and the requests reserve from
                           (FLINKFN_MEMORY_LIMIT; default: the cgroup memory limit, else none)
  --drain-timeout DUR      on SIGTERM, how long in-flight requests may finish (default 30s)
  --log-level LEVEL        debug, info, warn, error (default info)
  --templates FILE         a template file replacing the built-in one
` + apiFlagsUsage + `
Most flags have an environment variable too (flags win, then the
environment, then the defaults): flinkfn config serve lists every setting
with its value and where it came from.
`

// service is what `flinkfn pool` and `flinkfn serve` start alike: the
// configuration, the logger, the budget, the metrics and the model set
// (whose models load when preloaded or first acquired).
type service struct {
	cfg     *config
	log     *slog.Logger
	budget  *memory.Budget
	set     memory.Settings
	metrics *observe.Metrics
	mo      modelOptions
	models  *modelset.Set
	command string
}

// fail logs err and makes it the command's exit status 1.
func (s *service) fail(err error) error {
	s.log.Error("flinkfn "+s.command+" failed", "err", err)
	return exitError{code: 1, msg: "flinkfn " + s.command + ": " + err.Error()}
}

// startService parses the command's flags into its configuration and
// builds the parts pool and serve share; bufferInUse feeds /metrics. The
// caller closes models.
func startService(command string, args []string, getenv func(string) string, stderr io.Writer, usage string, bufferInUse func() int64) (*service, error) {
	cfg, err := parseConfigFlags(command, args, getenv, stderr, usage, "")
	if err != nil {
		return nil, err
	}
	s := &service{cfg: cfg, command: command, metrics: observe.New(),
		log: observe.NewLogger(stderr, cfg.LogLevel, "component", "flinkfn-"+command, "pid", os.Getpid())}
	s.budget, s.set = memoryPlan(cfg)
	s.log.Info("configuration", cfg.logSettings())
	plan := []any{"limit", s.budget.Limit(), "limit_source", s.budget.Source()}
	if command == cmdPool { // serve runs no Flink sessions: no framework or buffer memory
		plan = append(plan, "framework", s.set.Framework, "framework_source", s.set.FrameworkSource,
			"buffer_per_session", s.set.Buffer, "buffer_source", s.set.BufferSource)
	}
	s.log.Info("memory plan", plan...)
	s.metrics.WatchMemory(memoryState(s.budget, bufferInUse))
	templates, err := udfs.LoadTemplates(cfg.Templates, cfg.TemplatesFrom)
	if err != nil {
		return nil, s.fail(err)
	}
	s.mo = cfg.modelOptions(templates, s.log)
	s.mo.Budget, s.mo.Metrics = s.budget, s.metrics
	if s.models, err = newModelSet(s.mo); err != nil {
		return nil, s.fail(err)
	}
	return s, nil
}

// runServe is `flinkfn serve`.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	svc, err := startService(cmdServe, args, getenv, stderr, serveUsage, func() int64 { return 0 })
	if err != nil {
		return err
	}
	defer svc.models.Close()
	cfg, log, fail, budget, metrics, models, mo := svc.cfg, svc.log, svc.fail, svc.budget, svc.metrics, svc.models, svc.mo
	if err := httpapi.CheckBind(cfg.HTTP, cfg.APIKey); err != nil {
		return exitError{code: 2, msg: "flinkfn serve: " + err.Error()}
	}
	api, err := newAPI(cfg, apiDeps{models: models, mo: mo, budget: budget, metrics: metrics, log: log, ready: models.Ready})
	if err != nil {
		return fail(err)
	}
	if err := models.Preload(models.Names()...); err != nil {
		return fail(err)
	}
	hs, err := observe.ServeWith(context.WithoutCancel(ctx), cfg.HTTP, metrics, models.Ready, log, api.Mount)
	if err != nil {
		return fail(err)
	}
	defer hs.Close()
	if err := models.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fail(err)
	}
	metrics.SetReady(true)
	log.Info("flinkfn serve ready", "version", version, "http", hs.Addr(), "models", models.Names(),
		"memory_free", budget.Free(), "api_key", cfg.APIKey != "")
	<-ctx.Done()
	log.Info("SIGTERM: draining the embedding API", "timeout", cfg.DrainTimeout)
	api.Drain()
	metrics.SetReady(false)
	done := make(chan error, 1)
	go func() { done <- hs.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain incomplete", "err", err)
		}
	case <-time.After(cfg.DrainTimeout):
		log.Warn("drain timed out", "timeout", cfg.DrainTimeout)
	}
	log.Info("flinkfn serve stopped")
	return nil
}

// mountAPI is the pool's decision to serve the embedding API on its HTTP
// listener: "on" always (a non-loopback address needs --api-key), "off"
// never, "auto" when the address is loopback or a key is set.
func mountAPI(mode, addr, key string, log *slog.Logger) (bool, error) {
	switch mode {
	case "off":
		return false, nil
	case "on":
		if err := httpapi.CheckBind(addr, key); err != nil {
			return false, err
		}
		return true, nil
	case "auto":
		if err := httpapi.CheckBind(addr, key); err != nil {
			log.Warn("the embedding API is off on this listener: it is not loopback and no --api-key is set (probes and metrics stay on)", "http", addr)
			return false, nil
		}
		return true, nil
	}
	return false, fmt.Errorf("--api %q: want on, off or auto", mode)
}
