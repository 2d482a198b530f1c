// Package pool is flinkfn's long-running worker pool: one process per
// TaskManager (or host) that keeps the models loaded and serves Beam's
// BeamFnExternalWorkerPool. Each StartWorker opens an independent Fn API
// session (provision, control, data, logging) to the requesting operator's
// endpoints; every session shares the process's registry, and so its
// models and batcher. Flink starts flinkfn as python.executable as usual;
// with a pool configured that process is a thin shim (Shim) which asks the
// pool to serve the worker and stays alive until the session ends.
//
// Each session reserves its buffer memory (python.fn-execution.buffer.memory.size)
// from the pool's memory.Budget; a StartWorker that does not fit is refused
// with the numbers, and the session's in-flight bytes stay within the
// reservation (fnharness backpressure).
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"

	"github.com/flinkfn/flinkfn/fnharness"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/internal/recent"
	"github.com/flinkfn/flinkfn/memory"
)

// Hooks hears about sessions (observe.Metrics implements it).
type Hooks interface {
	SessionStarted()
	SessionEnded()
	SessionRefused(reason string)
}

// Config configures a Server.
type Config struct {
	Registry *fn.Registry
	Logger   *slog.Logger
	// Budget is the pool's memory budget; each session reserves
	// BufferBytes from it. Nil means no accounting.
	Budget      *memory.Budget
	BufferBytes int64
	// Observer hears about every bundle of every session.
	Observer fnharness.Observer
	Hooks    Hooks
	// ConnectTimeout bounds a session's provisioning and first control
	// connection (default 60 s).
	ConnectTimeout time.Duration
}

// Server implements BeamFnExternalWorkerPool.
type Server struct {
	fnpb.UnimplementedBeamFnExternalWorkerPoolServer

	cfg  Config
	log  *slog.Logger
	base context.Context // parent of every session
	stop context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*session
	ended    *recent.Map[string, error] // why recently ended sessions ended, for a late Wait
	draining bool
	drain    chan struct{} // closed by Shutdown: sessions finish in-flight bundles and end
	wg       sync.WaitGroup
}

type session struct {
	id      string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{} // closed when the session ended
	err     error         // why it ended (nil: Flink closed it), valid after done
	res     *memory.Reservation
	in, out *memory.Limiter
}

// New returns a Server. Call Shutdown to stop its sessions.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		return nil, errors.New("pool: no function registry")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	base, stop := context.WithCancel(context.Background())
	return &Server{cfg: cfg, log: cfg.Logger, base: base, stop: stop, sessions: map[string]*session{}, ended: recent.New[string, error](1024), drain: make(chan struct{})}, nil
}

// Register adds the pool's services to a gRPC server.
func (s *Server) Register(g *grpc.Server) {
	fnpb.RegisterBeamFnExternalWorkerPoolServer(g, s)
	registerWait(g, s)
}

// StartWorker opens a session for one Flink worker environment. It returns
// as soon as the session is admitted; the session connects to Flink in the
// background. A refusal is reported in the response's error (Beam's
// convention), which the shim turns into Flink's failure message.
func (s *Server) StartWorker(_ context.Context, req *fnpb.StartWorkerRequest) (*fnpb.StartWorkerResponse, error) {
	id := req.GetWorkerId()
	endpoint := req.GetProvisionEndpoint().GetUrl()
	refuse := func(reason string, err error) (*fnpb.StartWorkerResponse, error) {
		if s.cfg.Hooks != nil {
			s.cfg.Hooks.SessionRefused(reason)
		}
		s.log.Warn("worker refused", "worker_id", id, "reason", reason, "err", err)
		return &fnpb.StartWorkerResponse{Error: fmt.Sprintf("flinkfn pool: cannot start worker %s: %v", id, err)}, nil
	}
	if id == "" {
		return refuse("bad_request", errors.New("the request has no worker_id"))
	}
	if endpoint == "" {
		return refuse("bad_request", errors.New("the request has no provision_endpoint"))
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return refuse("shutting_down", errors.New("the pool is shutting down (SIGTERM); Flink's restart will find the next pool"))
	}
	if _, dup := s.sessions[id]; dup {
		s.mu.Unlock()
		return refuse("duplicate", fmt.Errorf("a session for worker id %s is already running", id))
	}
	var res *memory.Reservation
	if s.cfg.Budget != nil {
		var err error
		res, err = s.cfg.Budget.Reserve(memory.KindBuffer, id, s.cfg.BufferBytes)
		if err != nil {
			s.mu.Unlock()
			return refuse("memory", err)
		}
	}
	ctx, cancel := context.WithCancel(s.base)
	ss := &session{id: id, started: time.Now(), cancel: cancel, done: make(chan struct{}), res: res}
	ss.in, ss.out = memory.BufferLimiters(s.cfg.BufferBytes)
	s.sessions[id] = ss
	s.wg.Add(1)
	s.mu.Unlock()

	if s.cfg.Hooks != nil {
		s.cfg.Hooks.SessionStarted()
	}
	log := s.log.With("worker_id", id)
	log.Info("session starting", "provision_endpoint", endpoint, "buffer_bytes", s.cfg.BufferBytes,
		"python_worker_memory_limit", req.GetParams()["_PYTHON_WORKER_MEMORY_LIMIT"], "sessions", s.Sessions())
	go s.run(ctx, ss, endpoint, log)
	return &fnpb.StartWorkerResponse{}, nil
}

// run serves one session until Flink closes it, it fails, or it is stopped.
func (s *Server) run(ctx context.Context, ss *session, endpoint string, log *slog.Logger) {
	defer s.wg.Done()
	var err error
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("flinkfn pool: session %s panicked: %v", ss.id, r)
			log.Error("session panicked", "panic", r)
		}
		ss.cancel()
		if ss.res != nil {
			ss.res.Release()
		}
		ss.err = err
		s.mu.Lock()
		delete(s.sessions, ss.id)
		s.ended.Add(ss.id, err)
		s.mu.Unlock()
		close(ss.done)
		if s.cfg.Hooks != nil {
			s.cfg.Hooks.SessionEnded()
		}
		log.Info("session ended", "err", err, "lasted", time.Since(ss.started).Round(time.Millisecond),
			"peak_input_bytes", ss.in.Peak(), "peak_output_bytes", ss.out.Peak())
	}()
	err = fnharness.Run(ctx, fnharness.Options{
		WorkerID:          ss.id,
		ProvisionEndpoint: endpoint,
		Registry:          s.cfg.Registry,
		Logger:            log,
		ConnectTimeout:    s.cfg.ConnectTimeout,
		InputLimiter:      ss.in,
		OutputLimiter:     ss.out,
		Observer:          s.cfg.Observer,
		Drain:             s.drain,
	})
}

// StopWorker ends a session at once (its in-flight bundles are cancelled)
// and waits briefly for it to finish. Flink itself never calls it; the
// shim does when Flink terminates it.
func (s *Server) StopWorker(ctx context.Context, req *fnpb.StopWorkerRequest) (*fnpb.StopWorkerResponse, error) {
	s.mu.Lock()
	ss := s.sessions[req.GetWorkerId()]
	s.mu.Unlock()
	if ss == nil {
		return &fnpb.StopWorkerResponse{}, nil // already gone: nothing to do
	}
	s.log.Info("stopping session", "worker_id", ss.id)
	ss.cancel()
	select {
	case <-ss.done:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return &fnpb.StopWorkerResponse{}, nil
}

// wait blocks until the session ends (or ctx is done). It reports whether
// the session existed.
func (s *Server) wait(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	ss := s.sessions[id]
	err, ended := s.ended.Get(id)
	s.mu.Unlock()
	if ss == nil {
		return ended, err
	}
	select {
	case <-ss.done:
		return true, ss.err
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// Sessions is the number of running sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// SessionIDs lists the running sessions' worker ids, sorted.
func (s *Server) SessionIDs() []string {
	s.mu.Lock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	return ids
}

// BufferInUse is the in-flight input and output bytes over all sessions.
func (s *Server) BufferInUse() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, ss := range s.sessions {
		n += ss.in.InUse() + ss.out.InUse()
	}
	return n
}

// Shutdown refuses new sessions, lets every session finish its in-flight
// bundles and end, and after ctx's deadline cancels whatever still runs.
// It returns once every session has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining {
		s.draining = true
		close(s.drain)
	}
	n := len(s.sessions)
	s.mu.Unlock()
	s.log.Info("draining sessions", "sessions", n)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.stop()
		return nil
	case <-ctx.Done():
	}
	left := s.SessionIDs()
	s.log.Warn("drain timed out; cancelling sessions", "sessions", left)
	s.stop()
	<-done
	return fmt.Errorf("pool: %d session(s) still had bundles in flight at the drain deadline and were cancelled: %v", len(left), left)
}
