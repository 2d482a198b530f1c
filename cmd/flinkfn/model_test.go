package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/internal/testfix"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/udfs"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestModelSetRemembersALoadFailure(t *testing.T) {
	ctx := context.Background()
	set, err := newModelSet(modelOptions{Default: "/nonexistent/model", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	_, err1 := set.Acquire(ctx, "")
	_, err2 := set.Acquire(ctx, "model")
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() || !strings.Contains(err1.Error(), "/nonexistent/model") {
		t.Fatalf("errors %v / %v: want the same remembered error naming the folder", err1, err2)
	}
	if set.Ready() == nil {
		t.Fatal("ready after a failed load")
	}
}

func TestModelSetSharesAndReservesEachModel(t *testing.T) {
	ctx := context.Background()
	home := inference.Locations{Home: testfix.CacheDir(t)}
	templates, err := udfs.ParseTemplates([]byte(`{"doc_embed": {"columns": ["t"], "parts": ["{t}"], "model": "bge-small-en-v1.5"}}`))
	if err != nil {
		t.Fatal(err)
	}
	budget := memory.NewBudget(0, "none")
	set, err := newModelSet(modelOptions{Templates: templates, Budget: budget, Locations: home, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != "all-MiniLM-L6-v2,bge-small-en-v1.5" {
		t.Fatalf("names %s", got)
	}
	a, err := set.Acquire(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := set.Acquire(ctx, "all-MiniLM-L6-v2")
	if err != nil {
		t.Fatal(err)
	}
	if a.Model != b.Model {
		t.Fatal("the default model is loaded twice")
	}
	one := budget.Snapshot().Reserved[memory.KindModel]
	if one <= 0 {
		t.Fatalf("model reservation %d", one)
	}
	c, err := set.Acquire(ctx, "bge-small-en-v1.5")
	if err != nil {
		t.Fatal(err)
	}
	two := budget.Snapshot().Reserved[memory.KindModel]
	if two <= one {
		t.Fatalf("reserved %d after the second model, %d after the first", two, one)
	}
	vecs, _, err := c.EmbedCounted(ctx, []string{"hello"})
	if err != nil || len(vecs[0]) != 384 {
		t.Fatalf("bge: %v, %d dims", err, len(vecs[0]))
	}
	a.Release()
	b.Release()
	set.Close()
	if got := budget.Snapshot().Reserved[memory.KindModel]; got != two-one {
		t.Fatalf("after Close with bge still held: reserved %d, want %d", got, two-one)
	}
	c.Release()
	if got := budget.Snapshot().Reserved[memory.KindModel]; got != 0 {
		t.Fatalf("reserved %d after the last release, want 0", got)
	}
}

func TestTemplateWithAMissingModelSaysWhatToDo(t *testing.T) {
	home := inference.Locations{Home: testfix.CacheDir(t)}
	templates, err := udfs.ParseTemplates([]byte(`{"doc_embed": {"columns": ["t"], "parts": ["{t}"], "model": "no-such-model"}}`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := newModelSet(modelOptions{Templates: templates, Locations: home, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	_, err = set.Acquire(context.Background(), "no-such-model")
	for _, want := range []string{"template doc_embed", `names model "no-such-model"`, "model no-such-model not found", "flinkfn models"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestModelOverBudgetIsRefusedWithTheNumbers(t *testing.T) {
	home := inference.Locations{Home: testfix.CacheDir(t)}
	budget := memory.NewBudget(32<<20, "test limit")
	set, err := newModelSet(modelOptions{Budget: budget, Locations: home, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	_, err = set.Acquire(context.Background(), "")
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
