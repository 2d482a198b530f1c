package main

import (
	"context"
	"errors"
	"flag"
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

// apiFlags are the embedding API's flags, shared by pool and serve.
type apiFlags struct {
	key                                 *string
	maxInputs, maxConcurrent, maxQueued *int
	maxBody                             *string
	timeout                             *time.Duration
	strictLength                        *bool
}

func addAPIFlags(fs *flag.FlagSet) apiFlags {
	return apiFlags{
		key:           fs.String("api-key", "", "API bearer token"),
		maxInputs:     fs.Int("max-inputs", httpapi.DefaultMaxInputs, "texts per request"),
		maxConcurrent: fs.Int("max-concurrent", httpapi.DefaultMaxConcurrent, "requests in the batcher at once"),
		maxQueued:     fs.Int("max-queued", httpapi.DefaultMaxQueued, "requests waiting"),
		maxBody:       fs.String("max-body", "2mb", "request body limit"),
		timeout:       fs.Duration("request-timeout", httpapi.DefaultTimeout, "request deadline"),
		strictLength:  fs.Bool("strict-length", false, "422 for texts over the maximum unless truncate is true"),
	}
}

// apiDeps are what the embedding API is built from.
type apiDeps struct {
	models  *modelset.Set
	mo      modelOptions
	budget  *memory.Budget
	metrics *observe.Metrics
	log     *slog.Logger
	ready   func() error
	getenv  func(string) string
}

// newAPI builds the embedding API over the process's model set.
func (f apiFlags) newAPI(d apiDeps) (*httpapi.Server, error) {
	key := *f.key
	if key == "" {
		key = d.getenv("FLINKFN_API_KEY")
	}
	body, err := memory.ParseSize(*f.maxBody)
	if err != nil {
		return nil, fmt.Errorf("--max-body %q: %w", *f.maxBody, err)
	}
	for name, v := range map[string]int{"--max-inputs": *f.maxInputs, "--max-concurrent": *f.maxConcurrent, "--max-queued": *f.maxQueued} {
		if v < 1 {
			return nil, fmt.Errorf("%s must be at least 1 (got %d)", name, v)
		}
	}
	if *f.timeout <= 0 {
		return nil, fmt.Errorf("--request-timeout must be positive (got %s)", *f.timeout)
	}
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
		Ready: d.ready, APIKey: key, Version: version,
		Limits: httpapi.Limits{MaxInputs: *f.maxInputs, MaxBodyBytes: body, MaxConcurrent: *f.maxConcurrent,
			MaxQueued: *f.maxQueued, Timeout: *f.timeout, StrictLength: *f.strictLength},
	})
}

// apiKey is the key the API will require ("" when none).
func (f apiFlags) apiKey(getenv func(string) string) string {
	if *f.key != "" {
		return *f.key
	}
	return getenv("FLINKFN_API_KEY")
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
                           (default: the cgroup memory limit, else none)
  --drain-timeout DUR      on SIGTERM, how long in-flight requests may finish (default 30s)
  --log-level LEVEL        debug, info, warn, error (default info)
` + apiFlagsUsage

// runServe is `flinkfn serve`.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	addr := fs.String("http", "127.0.0.1:8080", "listen address")
	limit := fs.String("memory-limit", "", "memory budget")
	var modelRefs stringList
	fs.Var(&modelRefs, "model", "model name or folder (repeatable)")
	int8 := fs.Bool("int8", false, "quantised variant")
	variant := fs.String("variant", "", "model variant")
	drainTimeout := fs.Duration("drain-timeout", 30*time.Second, "drain timeout")
	logLevel := fs.String("log-level", "info", "log level")
	af := addAPIFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: fmt.Sprintf("flinkfn serve: unexpected argument %q", fs.Arg(0))}
	}
	if *int8 {
		if *variant != "" && *variant != "int8" {
			return exitError{code: 2, msg: "flinkfn serve: --int8 and --variant " + *variant + " disagree"}
		}
		*variant = "int8"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("flinkfn serve: --log-level %q: %v", *logLevel, err)}
	}
	if err := httpapi.CheckBind(*addr, af.apiKey(getenv)); err != nil {
		return exitError{code: 2, msg: "flinkfn serve: " + err.Error()}
	}
	log := observe.NewLogger(stderr, level, "component", "flinkfn-serve", "pid", os.Getpid())
	fail := func(err error) error {
		log.Error("flinkfn serve failed", "err", err)
		return exitError{code: 1, msg: "flinkfn serve: " + err.Error()}
	}
	budget, _, err := memoryPlan(memoryInputs{limit: *limit, limitSource: "--memory-limit"}, getenv)
	if err != nil {
		return fail(err)
	}
	metrics := observe.New()
	metrics.WatchMemory(memoryState(budget, func() int64 { return 0 }))
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
	api, err := af.newAPI(apiDeps{models: models, mo: mo, budget: budget, metrics: metrics, log: log, ready: models.Ready, getenv: getenv})
	if err != nil {
		return fail(err)
	}
	if err := models.Preload(models.Names()...); err != nil {
		return fail(err)
	}
	hs, err := observe.ServeWith(context.WithoutCancel(ctx), *addr, metrics, models.Ready, log, api.Mount)
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
		"memory_free", budget.Free(), "api_key", *af.key != "" || getenv("FLINKFN_API_KEY") != "")
	<-ctx.Done()
	log.Info("SIGTERM: draining the embedding API", "timeout", *drainTimeout)
	api.Drain()
	metrics.SetReady(false)
	done := make(chan error, 1)
	go func() { done <- hs.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain incomplete", "err", err)
		}
	case <-time.After(*drainTimeout):
		log.Warn("drain timed out", "timeout", *drainTimeout)
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
