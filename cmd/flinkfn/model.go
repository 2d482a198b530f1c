package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
)

// model loads the embedding model once, warms it, measures its footprint
// (the process's peak RSS across load and warm-up above its RSS before)
// and reserves that
// from the memory budget. The pool loads it at start; a PROCESS-mode
// worker on the first bundle that needs it. A failure is remembered: every
// later Get returns it instead of reloading per bundle.
type model struct {
	cfg    embedder.Config
	budget *memory.Budget // nil: no accounting
	// reserve takes the footprint from budget; nil means budget.Reserve
	// (refuse when it does not fit: a pool). A PROCESS-mode worker passes
	// its memory policy (warn and go on, or refuse).
	reserve func(memory.Kind, string, int64) (*memory.Reservation, error)
	metrics *observe.Metrics
	log     *slog.Logger
	getenv  func(string) string

	mu        sync.Mutex
	e         *embedder.Embedder
	err       error
	done      bool
	res       *memory.Reservation
	footprint int64
}

func newModel(cfg embedder.Config, budget *memory.Budget, metrics *observe.Metrics, log *slog.Logger, getenv func(string) string) *model {
	if metrics != nil {
		cfg.Batcher.Observer = metrics
	}
	return &model{cfg: cfg, budget: budget, metrics: metrics, log: log, getenv: getenv}
}

// Get returns the shared embedder, loading it on the first call.
func (m *model) Get(ctx context.Context) (*embedder.Embedder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.done {
		m.done = true
		m.e, m.err = m.load(ctx)
		if m.err != nil && m.metrics != nil {
			m.metrics.Error("model")
		}
	}
	return m.e, m.err
}

// Loaded reports whether the model is loaded and ready.
func (m *model) Loaded() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.e != nil:
		return nil
	case m.err != nil:
		return m.err
	}
	return errors.New("the embedding model is loading")
}

func (m *model) load(ctx context.Context) (*embedder.Embedder, error) {
	if err := memory.ResetPeakRSS(); err != nil {
		m.log.Warn("the model's footprint is measured against the process's peak RSS since it started", "err", err)
	}
	before, _ := memory.RSS()
	start := time.Now()
	e, err := embedder.Open(m.cfg)
	if err != nil {
		return nil, err
	}
	if err := warmUp(ctx, e); err != nil {
		e.Close()
		return nil, fmt.Errorf("warm up %s: %w", e.Describe(), err)
	}
	took := time.Since(start)
	peak, err := memory.PeakRSS()
	if err != nil {
		peak, _ = memory.RSS()
	}
	m.footprint = max(peak-before, 0)
	name := e.Model() + "/" + e.Variant()
	if m.budget != nil {
		reserve := m.reserve
		if reserve == nil {
			reserve = func(k memory.Kind, name string, n int64) (*memory.Reservation, error) {
				r, err := m.budget.Reserve(k, name, n)
				if err != nil {
					return nil, fmt.Errorf("%w. Give the pool more memory (--memory-limit, or its container's limit); `flinkfn plan --mode pool --measure` computes the settings", err)
				}
				return r, nil
			}
		}
		res, err := reserve(memory.KindModel, name, m.footprint)
		if err != nil {
			e.Close()
			return nil, err
		}
		m.res = res
		if lim, ok := memory.GoLimit(m.getenv, m.budget.Limit(), m.budget.Snapshot().Reserved[memory.KindModel]); ok {
			m.log.Info("Go memory limit set from the budget", "gomemlimit", lim)
		}
	}
	if m.metrics != nil {
		m.metrics.ModelLoaded(e.Model(), e.Variant(), took, m.footprint)
	}
	m.log.Info("embedding model ready", "model", name, "load_and_warmup", took.Round(time.Millisecond),
		"footprint", memory.MiB(m.footprint))
	return e, nil
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

// Close releases the model and its reservation.
func (m *model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = true
	if m.err == nil {
		m.err = errors.New("the embedding model is closed")
	}
	if m.res != nil {
		m.res.Release()
		m.res = nil
	}
	if m.e == nil {
		return nil
	}
	e := m.e
	m.e = nil
	return e.Close()
}

// harnessObserver feeds the harness's bundle events and user counters into
// the Prometheus metrics.
type harnessObserver struct{ m *observe.Metrics }

func (h harnessObserver) BundleDone(functions []string, rowsIn int64, took time.Duration, errKind string) {
	h.m.BundleDone(functions, rowsIn, took, errKind)
}

func (h harnessObserver) Counters(values []fn.CounterValue) {
	type tt struct{ texts, truncated int }
	per := map[string]*tt{}
	for _, v := range values {
		t := per[v.Function]
		if t == nil {
			t = &tt{}
			per[v.Function] = t
		}
		switch v.Name {
		case "texts_embedded":
			t.texts += int(v.Value)
		case "texts_truncated":
			t.truncated += int(v.Value)
		}
	}
	for f, t := range per {
		h.m.TextsEmbedded(f, t.texts, t.truncated)
	}
}
