package main

import (
	"context"
	"log/slog"
	"sync"
)

// lateHandler forwards records to a handler that becomes available later:
// Flink's logging stream, which a PROCESS-mode worker opens only after its
// memory is reserved. Warnings logged before it is set are kept (at most
// lateKeep) and sent when it is set, so that they reach the TaskManager's
// log too. Records at lower levels logged before that are dropped (the
// local log has them).
type lateHandler struct {
	s   *lateState
	ops []func(slog.Handler) slog.Handler // WithAttrs/WithGroup, in order
}

type lateState struct {
	mu     sync.Mutex
	target slog.Handler
	kept   []lateRecord
}

type lateRecord struct {
	h   *lateHandler
	rec slog.Record
}

const lateKeep = 32

func newLateHandler() *lateHandler { return &lateHandler{s: &lateState{}} }

// Set makes h's records go to target (nil: back to keeping warnings).
func (h *lateHandler) Set(target slog.Handler) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.target = target
	if target == nil {
		return
	}
	for _, k := range h.s.kept {
		_ = k.h.apply(target).Handle(context.Background(), k.rec)
	}
	h.s.kept = nil
}

func (h *lateHandler) apply(t slog.Handler) slog.Handler {
	for _, op := range h.ops {
		t = op(t)
	}
	return t
}

func (h *lateHandler) Enabled(ctx context.Context, l slog.Level) bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.target == nil {
		return l >= slog.LevelWarn
	}
	return h.s.target.Enabled(ctx, l)
}

func (h *lateHandler) Handle(ctx context.Context, r slog.Record) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.s.target == nil {
		if r.Level >= slog.LevelWarn && len(h.s.kept) < lateKeep {
			h.s.kept = append(h.s.kept, lateRecord{h: h, rec: r.Clone()})
		}
		return nil
	}
	return h.apply(h.s.target).Handle(ctx, r)
}

func (h *lateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(t slog.Handler) slog.Handler { return t.WithAttrs(as) })
}

func (h *lateHandler) WithGroup(name string) slog.Handler {
	return h.with(func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
}

func (h *lateHandler) with(op func(slog.Handler) slog.Handler) *lateHandler {
	return &lateHandler{s: h.s, ops: append(append([]func(slog.Handler) slog.Handler{}, h.ops...), op)}
}
