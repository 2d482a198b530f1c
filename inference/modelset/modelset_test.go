package modelset

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeModel struct {
	name   string
	closed atomic.Bool
}

func (f *fakeModel) CountTokens(text string) (int, bool, error) { return len(text), false, nil }

func (f *fakeModel) EmbedCounted(_ context.Context, texts []string) ([][]float32, int, error) {
	if f.closed.Load() {
		return nil, 0, errors.New("closed")
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t))}
	}
	return out, 0, nil
}

func (f *fakeModel) Close() error { f.closed.Store(true); return nil }

// opener opens fake models; a name's load blocks until its gate is closed
// when it has one.
type opener struct {
	mu       sync.Mutex
	gates    map[string]chan struct{}
	fail     map[string]error
	opens    map[string]int
	models   map[string]*fakeModel
	released map[string]int
	active   atomic.Int32
	maxConc  atomic.Int32
}

func newOpener() *opener {
	return &opener{gates: map[string]chan struct{}{}, fail: map[string]error{}, opens: map[string]int{},
		models: map[string]*fakeModel{}, released: map[string]int{}}
}

func (o *opener) open(ctx context.Context, name string) (Loaded, error) {
	n := o.active.Add(1)
	defer o.active.Add(-1)
	for {
		m := o.maxConc.Load()
		if n <= m || o.maxConc.CompareAndSwap(m, n) {
			break
		}
	}
	o.mu.Lock()
	o.opens[name]++
	gate, err := o.gates[name], o.fail[name]
	o.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Loaded{}, ctx.Err()
		}
	}
	if err != nil {
		return Loaded{}, err
	}
	m := &fakeModel{name: name}
	o.mu.Lock()
	o.models[name] = m
	o.mu.Unlock()
	return Loaded{Model: m, Release: func() {
		o.mu.Lock()
		o.released[name]++
		o.mu.Unlock()
	}}, nil
}

func newSet(t *testing.T, o *opener, names ...string) *Set {
	t.Helper()
	s, err := New(Options{Names: names, Open: o.open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAcquireLoadsOnceAndDefaults(t *testing.T) {
	o := newOpener()
	s := newSet(t, o, "minilm", "bge")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := s.Acquire(context.Background(), "")
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Release()
			if h.Name() != "minilm" {
				t.Errorf("default model: %s", h.Name())
			}
			v, _, err := h.EmbedCounted(context.Background(), []string{"abc"})
			if err != nil || v[0][0] != 3 {
				t.Errorf("embed: %v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if o.opens["minilm"] != 1 || o.opens["bge"] != 0 {
		t.Fatalf("opens = %v, want minilm once and bge never", o.opens)
	}
	_, err := s.Acquire(context.Background(), "nope")
	var unknown *UnknownModelError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "minilm, bge") {
		t.Fatalf("unknown model error = %v", err)
	}
}

func TestReadyAnswersWhileLoading(t *testing.T) {
	o := newOpener()
	gate := make(chan struct{})
	o.gates["minilm"] = gate
	s := newSet(t, o, "minilm", "bge")
	if err := s.Ready(); err != nil {
		t.Fatalf("nothing asked for yet: Ready = %v", err)
	}
	if err := s.Preload("minilm", "bge"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		err := s.Ready()
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Fatalf("Ready took %s during a load", took)
		}
		if err != nil && strings.Contains(err.Error(), "model minilm is loading") &&
			strings.Contains(err.Error(), "model bge is waiting to load") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("after the loads: %v", err)
	}
	if o.maxConc.Load() != 1 {
		t.Fatalf("%d loads ran at once, want 1", o.maxConc.Load())
	}
}

func TestCancelledCallerDoesNotPoisonTheLoad(t *testing.T) {
	o := newOpener()
	gate := make(chan struct{})
	o.gates["minilm"] = gate
	s := newSet(t, o, "minilm")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx, "minilm"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first caller: %v, want its deadline", err)
	}
	close(gate)
	h, err := s.Acquire(context.Background(), "minilm")
	if err != nil {
		t.Fatalf("second caller: %v", err)
	}
	h.Release()
	if o.opens["minilm"] != 1 {
		t.Fatalf("opens = %d, want 1", o.opens["minilm"])
	}
}

func TestFailedLoadIsRemembered(t *testing.T) {
	o := newOpener()
	o.fail["bge"] = errors.New("no such file: model.onnx")
	s := newSet(t, o, "minilm", "bge")
	for range 2 {
		if _, err := s.Acquire(context.Background(), "bge"); err == nil || !strings.Contains(err.Error(), "model bge: no such file") {
			t.Fatalf("Acquire = %v", err)
		}
	}
	if o.opens["bge"] != 1 {
		t.Fatalf("opens = %d, want 1", o.opens["bge"])
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Ready = %v", err)
	}
	h, err := s.Acquire(context.Background(), "minilm")
	if err != nil {
		t.Fatalf("another model still loads: %v", err)
	}
	h.Release()
}

func TestCloseWaitsForLastHandle(t *testing.T) {
	o := newOpener()
	s := newSet(t, o, "minilm", "bge")
	h, err := s.Acquire(context.Background(), "minilm")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := s.Acquire(context.Background(), "bge")
	if err != nil {
		t.Fatal(err)
	}
	h2.Release()
	h2.Release() // a second release does nothing
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !o.models["bge"].closed.Load() || o.released["bge"] != 1 {
		t.Fatalf("bge: closed %v, released %d; want closed once at Close", o.models["bge"].closed.Load(), o.released["bge"])
	}
	if o.models["minilm"].closed.Load() {
		t.Fatal("minilm closed while a handle holds it")
	}
	if _, _, err := h.EmbedCounted(context.Background(), []string{"x"}); err != nil {
		t.Fatalf("held model after Close: %v", err)
	}
	h.Release()
	if !o.models["minilm"].closed.Load() || o.released["minilm"] != 1 {
		t.Fatal("minilm not closed with its last handle")
	}
	if _, err := s.Acquire(context.Background(), "minilm"); err == nil {
		t.Fatal("Acquire after Close succeeded")
	}
}

func TestCloseCancelsALoad(t *testing.T) {
	o := newOpener()
	o.gates["minilm"] = make(chan struct{}) // never opens
	s, err := New(Options{Names: []string{"minilm"}, Open: o.open})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := s.Acquire(context.Background(), "minilm")
		res <- err
	}()
	for o.active.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("Acquire succeeded on a closed set")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire still waiting after Close")
	}
}

func TestOptionsChecked(t *testing.T) {
	o := newOpener()
	if _, err := New(Options{Names: []string{"a"}, Default: "b", Open: o.open}); err == nil {
		t.Fatal("default outside Names accepted")
	}
	if _, err := New(Options{Names: []string{"a"}}); err == nil {
		t.Fatal("no Open accepted")
	}
}
