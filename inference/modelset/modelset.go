// Package modelset holds a process's embedding models, keyed by name.
//
// The process (cmd) constructs a Set with the function that opens one
// model (load, warm up, measure, reserve) and hands the Set to the
// functions that embed; they Acquire a model by name when the worker
// builds their operator's plan and Release it when the session ends. A
// model loads at most once, in the Set's own goroutine and one at a time
// (a model's footprint is measured as the process's peak RSS across its
// load, which two concurrent loads would blur): a caller that gives up
// (its context ends) never cancels or poisons the load, and readiness is
// answered at once, without waiting for a load. A model stays loaded until
// the Set is closed and its last handle released (the idea of Caddy's
// UsagePool, with a handle that releases once).
package modelset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Model is a loaded embedding model (an *embedder.Embedder).
type Model interface {
	// EmbedCounted returns one vector per text, in order, and how many
	// texts were truncated to the model's maximum length.
	EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error)
	// CountTokens tokenizes text with the model's tokenizer: its token
	// count (special tokens included, after truncation) and whether it was
	// truncated to the model's maximum length.
	CountTokens(text string) (tokens int, truncated bool, err error)
	Close() error
}

// Loaded is what Options.Open returns for one model.
type Loaded struct {
	Model Model
	// Release, optional, gives back what the load took besides the model
	// (its memory reservation); called after Model.Close.
	Release func()
}

// Options configures a Set.
type Options struct {
	// Names are the models the Set can open, in the order `flinkfn models`
	// and errors list them. Acquiring another name fails.
	Names []string
	// Default is the model of name "" (must be in Names).
	Default string
	// Open loads, warms, measures and reserves one model. It runs in the
	// Set's goroutine, one call at a time; ctx ends when the Set closes.
	Open func(ctx context.Context, name string) (Loaded, error)
	// Logger, optional.
	Logger *slog.Logger
}

// Set is the process's models. Safe for concurrent use.
type Set struct {
	o      Options
	ctx    context.Context // the loads' context, ended by Close
	cancel context.CancelFunc
	loads  chan *entry // the loader goroutine's queue
	done   chan struct{}

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
}

// entry is one model's state. ready is closed when the load ends; m and err
// are set before.
type entry struct {
	name    string
	ready   chan struct{}
	started time.Time // when the load was asked for
	loading time.Time // when Open started (zero while queued)
	m       Model
	release func()
	err     error
	refs    int // handles not yet released
}

// New returns a Set and starts its loader goroutine (stopped by Close).
func New(o Options) (*Set, error) {
	if o.Open == nil {
		return nil, errors.New("modelset: Options.Open is required")
	}
	if len(o.Names) == 0 {
		return nil, errors.New("modelset: Options.Names is empty")
	}
	if o.Default == "" {
		o.Default = o.Names[0]
	}
	if !slices.Contains(o.Names, o.Default) {
		return nil, fmt.Errorf("modelset: the default model %q is not one of %s", o.Default, strings.Join(o.Names, ", "))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Set{o: o, ctx: ctx, cancel: cancel, loads: make(chan *entry, len(o.Names)),
		done: make(chan struct{}), entries: map[string]*entry{}}
	go s.loader()
	return s, nil
}

// Names lists the models the Set can open.
func (s *Set) Names() []string { return slices.Clone(s.o.Names) }

// Default is the name that "" stands for.
func (s *Set) Default() string { return s.o.Default }

// loader runs the loads one at a time until Close.
func (s *Set) loader() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-s.loads:
			s.mu.Lock()
			e.loading = time.Now()
			s.mu.Unlock()
			l, err := s.o.Open(s.ctx, e.name)
			if err == nil && l.Model == nil {
				err = errors.New("the loader returned no model")
			}
			s.mu.Lock()
			if err != nil {
				e.err = fmt.Errorf("model %s: %w", e.name, err)
			} else {
				e.m, e.release = l.Model, l.Release
			}
			close(e.ready)
			s.mu.Unlock()
			if err != nil {
				s.o.Logger.Error("model load failed", "model", e.name, "err", err)
			}
		}
	}
}

// resolve maps "" to the default and checks the name.
func (s *Set) resolve(name string) (string, error) {
	if name == "" {
		return s.o.Default, nil
	}
	if !slices.Contains(s.o.Names, name) {
		return "", &UnknownModelError{Name: name, Known: s.Names()}
	}
	return name, nil
}

// UnknownModelError is the error for a model name the Set cannot open.
type UnknownModelError struct {
	Name  string
	Known []string
}

func (e *UnknownModelError) Error() string {
	return fmt.Sprintf("no model named %q in this process (it has %s). Install the model (see `flinkfn models`) and name it in the process's model set, or correct the name",
		e.Name, strings.Join(e.Known, ", "))
}

// start queues the load of name unless it is loaded or loading; s.mu held.
func (s *Set) start(name string) (*entry, error) {
	if s.closed {
		return nil, errClosed
	}
	if e, ok := s.entries[name]; ok {
		return e, nil
	}
	e := &entry{name: name, ready: make(chan struct{}), started: time.Now()}
	s.entries[name] = e
	s.loads <- e // buffered for every name: never blocks
	return e, nil
}

var errClosed = errors.New("the model set is closed (the process is stopping)")

// Preload starts loading the named models ("" is the default) in the
// background; Ready says when they are done.
func (s *Set) Preload(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		n, err := s.resolve(n)
		if err != nil {
			return err
		}
		if _, err := s.start(n); err != nil {
			return err
		}
	}
	return nil
}

// Wait blocks until every model asked for so far has loaded, and returns
// the first load error (or ctx's).
func (s *Set) Wait(ctx context.Context) error {
	s.mu.Lock()
	es := make([]*entry, 0, len(s.entries))
	for _, n := range s.o.Names {
		if e, ok := s.entries[n]; ok {
			es = append(es, e)
		}
	}
	s.mu.Unlock()
	for _, e := range es {
		select {
		case <-e.ready:
			if e.err != nil {
				return e.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Ready returns nil when every model asked for so far is loaded; else why
// not (which model is loading and for how long, or its load error). It
// never waits for a load.
func (s *Set) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	var errs []error
	for _, n := range s.o.Names {
		e, ok := s.entries[n]
		if !ok {
			continue
		}
		select {
		case <-e.ready:
			if e.err != nil {
				errs = append(errs, e.err)
			}
		default:
			if e.loading.IsZero() {
				errs = append(errs, fmt.Errorf("model %s is waiting to load (another model is loading)", n))
			} else {
				errs = append(errs, fmt.Errorf("model %s is loading (for %s)", n, time.Since(e.loading).Round(100*time.Millisecond)))
			}
		}
	}
	return errors.Join(errs...)
}

// Status is one model's state, for listings.
type Status struct {
	Name   string
	State  string // "not loaded", "waiting", "loading", "ready", "failed"
	Err    error
	Model  Model // nil unless ready
	Refs   int
	Loaded time.Duration // how long the load took (ready or failed)
}

// Statuses lists every model of the Set.
func (s *Set) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.o.Names))
	for _, n := range s.o.Names {
		st := Status{Name: n, State: "not loaded"}
		if e, ok := s.entries[n]; ok {
			st.Refs = e.refs
			select {
			case <-e.ready:
				st.State, st.Model, st.Err = "ready", e.m, e.err
				if e.err != nil {
					st.State = "failed"
				}
			default:
				st.State = "waiting"
				if !e.loading.IsZero() {
					st.State = "loading"
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// Acquire returns a handle on the named model ("" is the default), loading
// it first if needed. It waits for the load or for ctx; giving up leaves
// the load running for the next caller. A failed load stays failed (the
// process's files or memory are wrong: the error says what to change).
func (s *Set) Acquire(ctx context.Context, name string) (*Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	n, err := s.resolve(name)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e, err := s.start(n)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for model %s to load: %w", n, ctx.Err())
	}
	if e.err != nil {
		return nil, e.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	e.refs++
	return &Handle{s: s, e: e, Model: e.m}, nil
}

// Handle is one user's hold on a loaded model.
type Handle struct {
	Model
	s    *Set
	e    *entry
	once sync.Once
}

// Name is the model's name in the Set.
func (h *Handle) Name() string { return h.e.name }

// Release gives the handle back; calling it again does nothing.
func (h *Handle) Release() {
	h.once.Do(func() {
		h.s.mu.Lock()
		h.e.refs--
		last := h.s.closed && h.e.refs == 0
		h.s.mu.Unlock()
		if last {
			h.s.closeEntry(h.e)
		}
	})
}

// closeEntry closes a loaded model and releases its reservation.
func (s *Set) closeEntry(e *entry) {
	if e.m == nil {
		return
	}
	if err := e.m.Close(); err != nil {
		s.o.Logger.Warn("close model", "model", e.name, "err", err)
	}
	if e.release != nil {
		e.release()
	}
}

// Close stops loading, and closes every model now or, for one still held,
// when its last handle is released. It waits for a load in progress to
// return (Open's context is cancelled).
func (s *Set) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	s.mu.Lock()
	var now []*entry
	for _, e := range s.entries {
		select {
		case <-e.ready:
		default:
			// Queued but never started: nobody will close it.
			e.err = errClosed
			close(e.ready)
		}
		if e.refs == 0 && e.m != nil {
			now = append(now, e)
		}
	}
	s.mu.Unlock()
	for _, e := range now {
		s.closeEntry(e)
	}
	return nil
}
