package fakeflink

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// LogWatch is a slog handler that lets a test wait for a message.
type LogWatch struct {
	mu   sync.Mutex
	seen map[string]chan struct{}
	done map[string]bool
}

// NewLogWatch returns an empty LogWatch.
func NewLogWatch() *LogWatch {
	return &LogWatch{seen: map[string]chan struct{}{}, done: map[string]bool{}}
}

func (h *LogWatch) ch(msg string) chan struct{} {
	c, ok := h.seen[msg]
	if !ok {
		c = make(chan struct{})
		h.seen[msg] = c
	}
	return c
}

// Logged is closed once a record with message msg was logged.
func (h *LogWatch) Logged(msg string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch(msg)
}

func (h *LogWatch) Enabled(context.Context, slog.Level) bool { return true }

func (h *LogWatch) Handle(_ context.Context, rec slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done[rec.Message] {
		h.done[rec.Message] = true
		close(h.ch(rec.Message))
	}
	return nil
}

func (h *LogWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *LogWatch) WithGroup(string) slog.Handler      { return h }

// AwaitClosed fails the test unless c is closed within 10 s.
func AwaitClosed(t testing.TB, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
