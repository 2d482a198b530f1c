package main

import (
	"context"
	"fmt"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/fnharness"
)

// bootLogName is the file Flink reads into its exception when the worker
// dies before connecting ("Failed to create stage bundle factory! ...").
const bootLogName = "flink-python-udf-boot.log"

// runWorker runs one Fn API worker session, as Beam's boot would.
func runWorker(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return runWorkerTimeout(ctx, args, getenv, stderr, 60*time.Second)
}

func runWorkerTimeout(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, connectTimeout time.Duration) error {
	var id, endpoint string
	parseKnown(args, map[string]*string{"id": &id, "provision_endpoint": &endpoint})

	var boot io.Writer = io.Discard
	if dir := getenv("BOOT_LOG_DIR"); dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, bootLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			defer f.Close()
			boot = f
		}
	}
	level := slog.LevelInfo
	if v := getenv("FLINKFN_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			fmt.Fprintf(boot, "flinkfn: ignoring FLINKFN_LOG_LEVEL=%q: %v\n", v, err)
			level = slog.LevelInfo
		}
	}
	log := slog.New(teeHandler{
		slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(boot, &slog.HandlerOptions{Level: level}),
	}).With("component", "flinkfn", "pid", os.Getpid())

	fail := func(err error) error {
		msg := fmt.Sprintf("flinkfn worker %s: %v", id, err)
		fmt.Fprintln(boot, msg)
		return exitError{code: 1, msg: msg}
	}
	if id == "" || endpoint == "" {
		return fail(fmt.Errorf("missing --id or --provision_endpoint (got %q): flinkfn must be started by Flink through pyflink-udf-runner.sh", args))
	}
	if m := getenv("FLINKFN_MARKER_FILE"); m != "" {
		if f, err := os.OpenFile(m, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), id)
			f.Close()
		}
	}
	emb := embedder.NewLazy(embedder.Config{Getenv: getenv, Logger: log})
	defer func() {
		if err := emb.Close(); err != nil {
			log.Warn("close the embedding model", "err", err)
		}
	}()
	reg, err := newRegistry(getenv, emb)
	if err != nil {
		return fail(err)
	}
	log.Info("flinkfn worker starting", "version", version, "worker_id", id, "provision_endpoint", endpoint, "functions", len(reg.Functions()))
	err = fnharness.Run(ctx, fnharness.Options{
		WorkerID:          id,
		ProvisionEndpoint: endpoint,
		Registry:          reg,
		Logger:            log,
		ConnectTimeout:    connectTimeout,
	})
	if err != nil {
		return fail(err)
	}
	log.Info("flinkfn worker stopped", "worker_id", id)
	return nil
}

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
