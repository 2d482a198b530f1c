package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ShutdownTimeout bounds Server.Close's graceful shutdown; connections still
// open after it are closed forcibly.
const ShutdownTimeout = 5 * time.Second

// Server serves /healthz, /readyz and /metrics. It is created by Serve and
// stopped by Close or by the cancellation of Serve's context.
type Server struct {
	srv  *http.Server
	addr string
	log  *slog.Logger

	done     chan struct{} // closed when the serve goroutine has returned
	serveErr error         // the serve goroutine's error; read after done

	stopWatch func() bool // stops the ctx watcher

	once     sync.Once
	closeErr error
}

// Serve listens on addr at once ("127.0.0.1:0" picks a free port) and serves
// in a goroutine owned by the returned Server:
//
//   - /healthz: 200 "ok" while the process runs;
//   - /readyz: 200 "ready" when ready returns nil (a nil ready means always
//     ready), else 503 with the error text;
//   - /metrics: m's registry.
//
// The server stops when ctx is done or Close is called; Close waits for it
// either way. log may be nil.
func Serve(ctx context.Context, addr string, m *Metrics, ready func() error, log *slog.Logger) (*Server, error) {
	return ServeWith(ctx, addr, m, ready, log, nil)
}

// ServeWith is Serve with more routes: mount, when not nil, adds them to
// the mux that serves /healthz, /readyz and /metrics before the server
// starts (the embedding API of package httpapi).
func ServeWith(ctx context.Context, addr string, m *Metrics, ready func() error, log *slog.Logger, mount func(*http.ServeMux)) (*Server, error) {
	if m == nil {
		return nil, errors.New("observe: Serve: nil Metrics")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("observe: serve %s: %w", addr, err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("observe: listen %s: %w", addr, err)
	}
	mux := newMux(m, ready)
	if mount != nil {
		mount(mux)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		log:  log,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("observe: serve %s: %w", s.addr, err)
			log.Error("observe server failed", "addr", s.addr, "err", err)
		}
	}()
	s.stopWatch = context.AfterFunc(ctx, func() { _ = s.shutdown() })
	log.Info("observe server listening", "addr", s.addr)
	return s, nil
}

// NewMux returns the handler Serve uses: /healthz, /readyz and /metrics.
func NewMux(m *Metrics, ready func() error) http.Handler { return newMux(m, ready) }

func newMux(m *Metrics, ready func() error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close shuts the server down gracefully (at most ShutdownTimeout, then
// forcibly) and waits for its goroutine. It is safe to call more than once
// and after the context was cancelled; every call returns the same error.
func (s *Server) Close() error {
	s.stopWatch()
	return s.shutdown()
}

func (s *Server) shutdown() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = fmt.Errorf("observe: shutdown %s: %w", s.addr, err)
			if cerr := s.srv.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("observe: close %s: %w", s.addr, cerr))
			}
		}
		<-s.done
		s.closeErr = errors.Join(err, s.serveErr)
		s.log.Info("observe server stopped", "addr", s.addr)
	})
	return s.closeErr
}

// NewLogger returns a JSON slog logger writing to w at level and above, with
// attrs (alternating keys and values, or slog.Attr) on every record.
func NewLogger(w io.Writer, level slog.Level, attrs ...any) *slog.Logger {
	l := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	if len(attrs) > 0 {
		l = l.With(attrs...)
	}
	return l
}
