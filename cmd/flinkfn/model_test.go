package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/internal/testfix"
	"github.com/flinkfn/flinkfn/memory"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestModelLoadsOnceAndRemembersFailure(t *testing.T) {
	ctx := context.Background()
	none := func(string) string { return "" }
	bad := newModel(embedder.Config{Getenv: none, ModelDir: "/nonexistent/model", RuntimeLib: "/nonexistent/lib.so"}, nil, nil, quietLog(), none)
	_, err1 := bad.Get(ctx)
	_, err2 := bad.Get(ctx)
	if err1 == nil || err1 != err2 {
		t.Fatalf("errors %v / %v: want the same remembered error", err1, err2)
	}
	if bad.Loaded() == nil {
		t.Fatal("loaded after failure")
	}

	env := testfix.HomeEnv(t)
	budget := memory.NewBudget(0, "none")
	m := newModel(embedder.Config{Getenv: env}, budget, nil, quietLog(), env)
	if m.Loaded() == nil {
		t.Fatal("loaded before first use")
	}
	a, err := m.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Get(ctx)
	if a != b || m.Loaded() != nil {
		t.Fatal("not shared")
	}
	if got := budget.Snapshot().Reserved[memory.KindModel]; got <= 0 || got != m.footprint {
		t.Fatalf("model reservation %d, footprint %d", got, m.footprint)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx); err == nil {
		t.Fatal("Get after Close succeeded")
	}
	if got := budget.Snapshot().Reserved[memory.KindModel]; got != 0 {
		t.Fatalf("model reservation %d after Close, want 0", got)
	}
}

func TestModelOverBudgetIsRefusedWithTheNumbers(t *testing.T) {
	env := testfix.HomeEnv(t)
	budget := memory.NewBudget(32<<20, "test limit")
	m := newModel(embedder.Config{Getenv: env}, budget, nil, quietLog(), env)
	defer m.Close()
	_, err := m.Get(context.Background())
	if err == nil {
		t.Fatal("a 32 MiB budget admitted the model")
	}
	for _, want := range []string{"cannot reserve", "model", "32.0 MiB budget (test limit)", "--memory-limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := budget.Snapshot().Total; got != 0 {
		t.Fatalf("reserved %d after the refusal, want 0", got)
	}
}
