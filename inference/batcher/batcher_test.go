package batcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeModel embeds a sequence as [len, sum, first id], records every batch's
// sequences, and can be blocked, made to fail or to panic.
type fakeModel struct {
	gate    chan struct{} // if non-nil, each Run waits for a receive (or ctx)
	started chan int      // if non-nil, receives each batch's row count as Run starts
	fail    func(seqs [][]int64) error
	panics  func(seqs [][]int64) bool

	mu      sync.Mutex
	batches [][][]int64
}

func vec(s []int64) []float32 {
	var sum int64
	for _, t := range s {
		sum += t
	}
	return []float32{float32(len(s)), float32(sum), float32(s[0])}
}

func (m *fakeModel) Run(ctx context.Context, seqs [][]int64) ([][]float32, error) {
	cp := make([][]int64, len(seqs))
	for i, s := range seqs {
		cp[i] = append([]int64(nil), s...)
	}
	m.mu.Lock()
	m.batches = append(m.batches, cp)
	m.mu.Unlock()
	if m.started != nil {
		m.started <- len(seqs)
	}
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.panics != nil && m.panics(seqs) {
		panic("fake model exploded")
	}
	if m.fail != nil {
		if err := m.fail(seqs); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(seqs))
	for i, s := range seqs {
		out[i] = vec(s)
	}
	return out, nil
}

func (m *fakeModel) recorded() [][][]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][][]int64(nil), m.batches...)
}

// seqFor builds a sequence of length n whose first id tags the caller and
// position: caller*1_000_000 + i.
func seqFor(caller, i, n int) []int64 {
	s := make([]int64, n)
	s[0] = int64(caller*1_000_000 + i)
	for j := 1; j < n; j++ {
		s[j] = int64(j % 97)
	}
	return s
}

func callerOf(s []int64) int { return int(s[0] / 1_000_000) }

func checkVecs(t *testing.T, seqs [][]int64, got [][]float32) {
	t.Helper()
	if len(got) != len(seqs) {
		t.Fatalf("got %d vectors for %d sequences", len(got), len(seqs))
	}
	for i, s := range seqs {
		want := vec(s)
		for j := range want {
			if got[i][j] != want[j] {
				t.Fatalf("vector %d = %v, want %v", i, got[i], want)
			}
		}
	}
}

func newT(t testing.TB, m Model, o Options) *Batcher {
	t.Helper()
	b, err := New(m, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// recObserver records BatchDone calls.
type recObserver struct {
	mu       sync.Mutex
	calls    int
	maxDepth int
	errs     int
}

func (o *recObserver) BatchDone(rows, padded, real, depth int, took time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	o.maxDepth = max(o.maxDepth, depth)
	if err != nil {
		o.errs++
	}
}

type result struct {
	vecs [][]float32
	err  error
}

func embedAsync(b *Batcher, ctx context.Context, seqs [][]int64) <-chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := b.Embed(ctx, seqs)
		ch <- result{v, err}
	}()
	return ch
}

func TestConcurrentCallersGetOwnVectorsInOrder(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprintf("parallel=%d", par), func(t *testing.T) {
			const maxTok, maxRows = 2048, 32
			m := &fakeModel{}
			obs := &recObserver{}
			b := newT(t, m, Options{MaxBatchTokens: maxTok, MaxBatchRows: maxRows, MaxQueuedTokens: 6000, Parallel: par, Observer: obs})
			const callers = 60
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for c := 1; c <= callers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(c), 7))
					for round := 0; round < 5; round++ {
						seqs := make([][]int64, 1+rng.IntN(40))
						for i := range seqs {
							seqs[i] = seqFor(c, round*100+i, 1+rng.IntN(300))
						}
						got, err := b.Embed(context.Background(), seqs)
						if err != nil {
							errs <- err
							return
						}
						if len(got) != len(seqs) {
							errs <- fmt.Errorf("caller %d: %d vectors for %d seqs", c, len(got), len(seqs))
							return
						}
						for i, s := range seqs {
							w := vec(s)
							if got[i][0] != w[0] || got[i][1] != w[1] || got[i][2] != w[2] {
								errs <- fmt.Errorf("caller %d seq %d: got %v want %v", c, i, got[i], w)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			batches := m.recorded()
			rows := 0
			for i, bt := range batches {
				longest := 0
				for _, s := range bt {
					longest = max(longest, len(s))
				}
				if len(bt) > maxRows {
					t.Errorf("batch %d has %d rows > %d", i, len(bt), maxRows)
				}
				if len(bt) > 1 && len(bt)*longest > maxTok {
					t.Errorf("batch %d has %d padded tokens > %d", i, len(bt)*longest, maxTok)
				}
				rows += len(bt)
			}
			st := b.Stats()
			if int64(rows) != st.Rows || int64(len(batches)) != st.Batches {
				t.Errorf("stats rows/batches %d/%d, model saw %d/%d", st.Rows, st.Batches, rows, len(batches))
			}
			if st.QueuedSeqs != 0 || st.QueuedTokens != 0 || st.WaitingCalls != 0 {
				t.Errorf("queue not drained: %+v", st)
			}
			if st.PeakQueuedTokens > 6000 {
				t.Errorf("peak queued tokens %d > bound", st.PeakQueuedTokens)
			}
			b.Close()
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if obs.calls != len(batches) || obs.errs != 0 {
				t.Errorf("observer saw %d batches (%d errors), model %d", obs.calls, obs.errs, len(batches))
			}
			t.Logf("%d batches, %d rows, padding efficiency %.3f", st.Batches, st.Rows, float64(st.RealTokens)/float64(st.PaddedTokens))
		})
	}
}

// paddingEfficiency queues 2000 random-length sequences behind a blocked
// first batch and returns real/padded tokens of the batches formed from them.
func paddingEfficiency(t *testing.T, fifoOnly bool) float64 {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 1000)}
	b, err := newBatcher(m, Options{MaxBatchTokens: 4096, MaxBatchRows: 64, MaxQueuedTokens: 1 << 20}, fifoOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first := embedAsync(b, context.Background(), [][]int64{seqFor(0, 0, 5)})
	<-m.started
	rng := rand.New(rand.NewPCG(42, 42))
	const callers, per = 20, 100
	var chans []<-chan result
	var all [][][]int64
	for c := 1; c <= callers; c++ {
		seqs := make([][]int64, per)
		for i := range seqs {
			seqs[i] = seqFor(c, i, 1+rng.IntN(256))
		}
		all = append(all, seqs)
		chans = append(chans, embedAsync(b, context.Background(), seqs))
	}
	waitFor(t, "all queued", func() bool { return b.Stats().QueuedSeqs == callers*per })
	close(m.gate)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	for i, ch := range chans {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkVecs(t, all[i], r.vecs)
	}
	var real, padded int
	for _, bt := range m.recorded()[1:] {
		longest := 0
		for _, s := range bt {
			longest = max(longest, len(s))
			real += len(s)
		}
		padded += longest * len(bt)
	}
	return float64(real) / float64(padded)
}

func TestBucketingReducesPadding(t *testing.T) {
	bucketed := paddingEfficiency(t, false)
	fifo := paddingEfficiency(t, true)
	t.Logf("padding efficiency (real/padded tokens): bucketed %.3f, FIFO %.3f", bucketed, fifo)
	if bucketed < 0.93 {
		t.Errorf("bucketed efficiency %.3f < 0.93", bucketed)
	}
	if fifo > 0.75 {
		t.Errorf("FIFO efficiency %.3f unexpectedly high; test does not discriminate", fifo)
	}
	// Padding waste (padded/real - 1) at least 5x smaller.
	if wb, wf := 1/bucketed-1, 1/fifo-1; wb*5 > wf {
		t.Errorf("bucketed waste %.3f not 5x below FIFO waste %.3f", wb, wf)
	}
}

func TestNoTimerWait(t *testing.T) {
	b := newT(t, &fakeModel{}, Options{})
	const n = 50
	start := time.Now()
	for i := 0; i < n; i++ {
		got, err := b.Embed(context.Background(), [][]int64{{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		checkVecs(t, [][]int64{{1, 2, 3}}, got)
	}
	if avg := time.Since(start) / n; avg > 2*time.Millisecond {
		t.Errorf("idle single-sequence Embed took %v on average; want well under 2ms", avg)
	}
	if st := b.Stats(); st.Batches != n {
		t.Errorf("%d batches for %d sequential calls", st.Batches, n)
	}
}

func TestNextBatchFormsFromQueued(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
	b := newT(t, m, Options{})
	first := embedAsync(b, context.Background(), [][]int64{seqFor(0, 0, 8)})
	<-m.started
	var chans []<-chan result
	var all [][][]int64
	for c := 1; c <= 5; c++ {
		seqs := [][]int64{seqFor(c, 0, 4+c), seqFor(c, 1, 10-c), seqFor(c, 2, 7)}
		all = append(all, seqs)
		chans = append(chans, embedAsync(b, context.Background(), seqs))
	}
	waitFor(t, "15 queued", func() bool { return b.Stats().QueuedSeqs == 15 })
	if st := b.Stats(); st.InFlightBatches != 1 || st.Batches != 0 {
		t.Fatalf("stats while blocked: %+v", st)
	}
	m.gate <- struct{}{} // release the first batch
	if rows := <-m.started; rows != 15 {
		t.Fatalf("second batch has %d rows, want all 15 queued", rows)
	}
	m.gate <- struct{}{}
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	for i, ch := range chans {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkVecs(t, all[i], r.vecs)
	}
	batches := m.recorded()
	if len(batches) != 2 {
		t.Fatalf("%d batches, want 2", len(batches))
	}
	seen := map[int]int{}
	for _, s := range batches[1] {
		seen[callerOf(s)]++
	}
	for c := 1; c <= 5; c++ {
		if seen[c] != 3 {
			t.Errorf("caller %d has %d sequences in the second batch, want 3", c, seen[c])
		}
	}
}

func TestBackpressure(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 100)}
	obs := &recObserver{}
	b := newT(t, m, Options{MaxBatchTokens: 100, MaxBatchRows: 100, MaxQueuedTokens: 100, Observer: obs})
	first := embedAsync(b, context.Background(), [][]int64{seqFor(0, 0, 10)})
	<-m.started

	var chans []<-chan result
	var all [][][]int64
	for c := 1; c <= 3; c++ { // 3 × 30 = 90 tokens: admitted
		seqs := [][]int64{seqFor(c, 0, 30)}
		all = append(all, seqs)
		chans = append(chans, embedAsync(b, context.Background(), seqs))
		waitFor(t, "admitted", func() bool { return b.Stats().QueuedSeqs == c })
	}
	// Over the bound: blocks in admission.
	blocked := [][]int64{seqFor(4, 0, 30)}
	all = append(all, blocked)
	chans = append(chans, embedAsync(b, context.Background(), blocked))
	// Larger than the whole bound: admitted piecewise later.
	big := make([][]int64, 10)
	for i := range big {
		big[i] = seqFor(5, i, 30)
	}
	all = append(all, big)
	chans = append(chans, embedAsync(b, context.Background(), big))
	waitFor(t, "two waiting calls", func() bool { return b.Stats().WaitingCalls == 2 })
	st := b.Stats()
	if st.QueuedTokens != 90 || st.QueuedSeqs != 3 {
		t.Fatalf("queue while blocked: %+v", st)
	}
	select {
	case r := <-chans[3]:
		t.Fatalf("over-bound call returned while model blocked: %v", r.err)
	case <-time.After(20 * time.Millisecond):
	}

	// A single sequence larger than the bound, behind everything.
	huge := [][]int64{seqFor(6, 0, 250)}
	all = append(all, huge)
	chans = append(chans, embedAsync(b, context.Background(), huge))

	close(m.gate)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	for i, ch := range chans {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			checkVecs(t, all[i], r.vecs)
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d never completed", i)
		}
	}
	st = b.Stats()
	// The 250-token sequence is the one allowed exception (admitted into an empty queue).
	if st.PeakQueuedTokens > 250 {
		t.Errorf("peak queued tokens %d", st.PeakQueuedTokens)
	}
	b.Close()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.maxDepth > 250 {
		t.Errorf("observer saw queue depth %d > 250", obs.maxDepth)
	}
	for i, bt := range m.recorded() {
		for _, s := range bt {
			if len(bt) > 1 && len(s) > 100 {
				t.Errorf("batch %d: oversized sequence not alone", i)
			}
		}
	}
}

func TestBackpressureBoundHolds(t *testing.T) {
	// Many callers against a slow model: queued tokens never exceed the bound.
	m := &fakeModel{fail: func([][]int64) error { time.Sleep(100 * time.Microsecond); return nil }}
	const bound = 500
	obs := &recObserver{}
	b := newT(t, m, Options{MaxBatchTokens: 200, MaxQueuedTokens: bound, Observer: obs})
	var wg sync.WaitGroup
	for c := 1; c <= 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for r := 0; r < 20; r++ {
				seqs := make([][]int64, 1+rng.IntN(8))
				for i := range seqs {
					seqs[i] = seqFor(c, i, 1+rng.IntN(60))
				}
				got, err := b.Embed(context.Background(), seqs)
				if err != nil {
					t.Error(err)
					return
				}
				checkVecs(t, seqs, got)
			}
		}()
	}
	wg.Wait()
	if st := b.Stats(); st.PeakQueuedTokens > bound || st.PeakQueuedTokens < bound/2 {
		t.Errorf("peak queued tokens %d, want in [%d, %d]", st.PeakQueuedTokens, bound/2, bound)
	}
	b.Close()
	if obs.maxDepth > bound || obs.calls == 0 {
		t.Errorf("observer: %d batches, max queue depth %d (bound %d)", obs.calls, obs.maxDepth, bound)
	}
}

func TestCancelDropsQueued(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
	b := newT(t, m, Options{MaxQueuedTokens: 50, MaxBatchTokens: 50})
	first := embedAsync(b, context.Background(), [][]int64{seqFor(0, 0, 5)})
	<-m.started

	ctxQ, cancelQ := context.WithCancel(context.Background())
	queued := embedAsync(b, ctxQ, [][]int64{seqFor(1, 0, 20), seqFor(1, 1, 20)})
	waitFor(t, "queued", func() bool { return b.Stats().QueuedSeqs == 2 })
	ctxW, cancelW := context.WithCancel(context.Background())
	waiting := embedAsync(b, ctxW, [][]int64{seqFor(2, 0, 20)}) // blocked by backpressure
	waitFor(t, "waiting", func() bool { return b.Stats().WaitingCalls == 1 })
	other := embedAsync(b, context.Background(), [][]int64{seqFor(3, 0, 20)})
	waitFor(t, "two waiting", func() bool { return b.Stats().WaitingCalls == 2 })

	for _, c := range []struct {
		cancel context.CancelFunc
		ch     <-chan result
	}{{cancelQ, queued}, {cancelW, waiting}} {
		start := time.Now()
		c.cancel()
		select {
		case r := <-c.ch:
			if !errors.Is(r.err, context.Canceled) || r.vecs != nil {
				t.Fatalf("cancelled Embed = %v, %v", r.vecs, r.err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("cancelled Embed returned after %v", d)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("cancelled Embed did not return while the model was blocked")
		}
	}
	// The freed space admitted caller 3.
	waitFor(t, "caller 3 admitted", func() bool { st := b.Stats(); return st.WaitingCalls == 0 && st.QueuedSeqs == 1 })
	close(m.gate)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	if r := <-other; r.err != nil {
		t.Fatal(r.err)
	}
	for _, bt := range m.recorded() {
		for _, s := range bt {
			if c := callerOf(s); c == 1 || c == 2 {
				t.Errorf("cancelled caller %d's sequence reached the model", c)
			}
		}
	}
}

func TestCancelRunningDiscards(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
	b := newT(t, m, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	seqs := [][]int64{seqFor(1, 0, 5), seqFor(1, 1, 6)}
	ch := embedAsync(b, ctx, seqs)
	<-m.started
	// Reusing the caller's slices after the cancelled call must not affect the model.
	cancel()
	select {
	case r := <-ch:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("err = %v", r.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Embed waited for the running batch")
	}
	seqs[0][0] = -1
	close(m.gate)
	// Still serving.
	got, err := b.Embed(context.Background(), [][]int64{{7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	checkVecs(t, [][]int64{{7, 8}}, got)
	if st := b.Stats(); st.Rows != 3 || st.Batches != 2 {
		t.Errorf("stats %+v", st)
	}
}

var errBoom = errors.New("boom")

func TestModelErrorFailsOnlyAffected(t *testing.T) {
	poisoned := func(seqs [][]int64) bool {
		for _, s := range seqs {
			if callerOf(s) == 9 {
				return true
			}
		}
		return false
	}
	for _, mode := range []string{"error", "panic"} {
		t.Run(mode, func(t *testing.T) {
			m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
			if mode == "error" {
				m.fail = func(seqs [][]int64) error {
					if poisoned(seqs) {
						return errBoom
					}
					return nil
				}
			} else {
				m.panics = poisoned
			}
			obs := &recObserver{}
			// Rows budget 2: callers 1 and 9 share a batch, caller 2 runs next.
			b := newT(t, m, Options{MaxBatchRows: 2, Observer: obs})
			first := embedAsync(b, context.Background(), [][]int64{seqFor(0, 0, 3)})
			<-m.started
			c1 := embedAsync(b, context.Background(), [][]int64{seqFor(1, 0, 3)})
			waitFor(t, "c1", func() bool { return b.Stats().QueuedSeqs == 1 })
			c9 := embedAsync(b, context.Background(), [][]int64{seqFor(9, 0, 3)})
			waitFor(t, "c9", func() bool { return b.Stats().QueuedSeqs == 2 })
			c2 := embedAsync(b, context.Background(), [][]int64{seqFor(2, 0, 3), seqFor(2, 1, 3)})
			waitFor(t, "c2", func() bool { return b.Stats().QueuedSeqs == 4 })
			close(m.gate)
			for name, ch := range map[string]<-chan result{"first": first, "c2": c2} {
				if r := <-ch; r.err != nil {
					t.Errorf("%s failed: %v", name, r.err)
				}
			}
			for name, ch := range map[string]<-chan result{"c1": c1, "c9": c9} {
				r := <-ch
				if r.err == nil || r.vecs != nil {
					t.Fatalf("%s: want error, got %v, %v", name, r.vecs, r.err)
				}
				if !strings.Contains(r.err.Error(), "batch of 2 rows, 6 padded tokens") {
					t.Errorf("%s: error lacks batch context: %v", name, r.err)
				}
				if mode == "error" && !errors.Is(r.err, errBoom) {
					t.Errorf("%s: error does not wrap model error: %v", name, r.err)
				}
				if mode == "panic" && !strings.Contains(r.err.Error(), "panicked: fake model exploded") {
					t.Errorf("%s: %v", name, r.err)
				}
			}
			if st := b.Stats(); st.FailedBatches != 1 || st.Batches != 3 {
				t.Errorf("stats %+v", st)
			}
			got, err := b.Embed(context.Background(), [][]int64{{4, 4}})
			if err != nil {
				t.Fatal(err)
			}
			checkVecs(t, [][]int64{{4, 4}}, got)
			b.Close()
			if obs.errs != 1 {
				t.Errorf("observer saw %d errors", obs.errs)
			}
		})
	}
}

func TestWrongVectorCountIsBatchError(t *testing.T) {
	b := newT(t, modelFunc(func(ctx context.Context, seqs [][]int64) ([][]float32, error) {
		return nil, nil
	}), Options{})
	_, err := b.Embed(context.Background(), [][]int64{{1}})
	if err == nil || !strings.Contains(err.Error(), "returned 0 vectors for 1 sequences") {
		t.Fatalf("err = %v", err)
	}
}

type modelFunc func(ctx context.Context, seqs [][]int64) ([][]float32, error)

func (f modelFunc) Run(ctx context.Context, seqs [][]int64) ([][]float32, error) { return f(ctx, seqs) }

func TestCloseFailsPendingAndWaitsForRunning(t *testing.T) {
	base := runtime.NumGoroutine()
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
	b, err := New(m, Options{MaxQueuedTokens: 10, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	running := embedAsync(b, context.Background(), [][]int64{seqFor(1, 0, 4)})
	<-m.started
	queued := embedAsync(b, context.Background(), [][]int64{seqFor(2, 0, 8)})
	waitFor(t, "queued", func() bool { return b.Stats().QueuedSeqs == 1 })
	waiting := embedAsync(b, context.Background(), [][]int64{seqFor(3, 0, 8)})
	waitFor(t, "waiting", func() bool { return b.Stats().WaitingCalls == 1 })

	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	for name, ch := range map[string]<-chan result{"queued": queued, "waiting": waiting} {
		select {
		case r := <-ch:
			if !errors.Is(r.err, ErrClosed) {
				t.Errorf("%s: err = %v, want ErrClosed", name, r.err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s call not failed by Close", name)
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned before the running batch finished")
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := b.Embed(context.Background(), [][]int64{{1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Embed after Close: %v", err)
	}
	close(m.gate)
	<-closed
	r := <-running
	if r.err != nil {
		t.Errorf("running batch's caller: %v", r.err)
	} else {
		checkVecs(t, [][]int64{seqFor(1, 0, 4)}, r.vecs)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, bt := range m.recorded()[1:] {
		t.Errorf("batch after Close: %d rows", len(bt))
	}
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= base })
}

func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		b, err := New(&fakeModel{}, Options{Parallel: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Embed(context.Background(), [][]int64{{1, 2}, {3}}); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= base })
}

func TestParallelBatchesInFlight(t *testing.T) {
	m := &fakeModel{gate: make(chan struct{}), started: make(chan int, 10)}
	b := newT(t, m, Options{Parallel: 2})
	a := embedAsync(b, context.Background(), [][]int64{{1}})
	<-m.started
	c := embedAsync(b, context.Background(), [][]int64{{2}})
	select {
	case <-m.started:
	case <-time.After(2 * time.Second):
		t.Fatal("second batch did not start while the first ran")
	}
	if st := b.Stats(); st.InFlightBatches != 2 {
		t.Errorf("in flight %d, want 2", st.InFlightBatches)
	}
	close(m.gate)
	for _, ch := range []<-chan result{a, c} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
}

func TestOldestAnchorNotStarved(t *testing.T) {
	// A stream of short sequences and one long one: with a pure
	// shortest-first policy the long one would wait for the stream to end.
	m := &fakeModel{fail: func([][]int64) error { time.Sleep(50 * time.Microsecond); return nil }}
	b := newT(t, m, Options{MaxBatchTokens: 64, MaxBatchRows: 64, MaxQueuedTokens: 256})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var shortDone atomic.Int64
	for c := 1; c <= 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				seqs := [][]int64{seqFor(c, i, 2), seqFor(c, i+1, 3)}
				if _, err := b.Embed(ctx, seqs); err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Error(err)
					}
					return
				}
				shortDone.Add(1)
			}
		}()
	}
	waitFor(t, "stream running", func() bool { return shortDone.Load() > 200 })
	for k := 0; k < 5; k++ {
		before := b.Stats().Batches
		long := [][]int64{seqFor(99, k, 60)}
		got, err := b.Embed(context.Background(), long)
		if err != nil {
			t.Fatal(err)
		}
		checkVecs(t, long, got)
		// The long one waits at most for the queue ahead of it (<= 256
		// tokens) and one running batch.
		if waited := b.Stats().Batches - before; waited > 8 {
			t.Errorf("long sequence waited %d batches", waited)
		}
	}
	stop()
	wg.Wait()
}

func TestValidation(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil model accepted")
	}
	for _, o := range []Options{{MaxBatchTokens: -1}, {MaxBatchRows: -1}, {MaxQueuedTokens: -5}, {Parallel: -1}} {
		if _, err := New(&fakeModel{}, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	b := newT(t, &fakeModel{}, Options{})
	if b.maxTokens != DefaultMaxBatchTokens || b.maxRows != DefaultMaxBatchRows || b.maxQueued != 8*DefaultMaxBatchTokens || b.parallel != 1 {
		t.Errorf("defaults: %d %d %d %d", b.maxTokens, b.maxRows, b.maxQueued, b.parallel)
	}
	if _, err := b.Embed(context.Background(), [][]int64{{1}, {}}); err == nil || !strings.Contains(err.Error(), "sequence 1") {
		t.Errorf("empty sequence: %v", err)
	}
	got, err := b.Embed(context.Background(), nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty input: %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Embed(ctx, [][]int64{{1}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

// zeroModel returns a shared vector at no cost.
type zeroModel struct{ v []float32 }

func (z zeroModel) Run(_ context.Context, seqs [][]int64) ([][]float32, error) {
	out := make([][]float32, len(seqs))
	for i := range out {
		out[i] = z.v
	}
	return out, nil
}

// BenchmarkEmbedOverhead measures the batcher's own cost per sequence with a
// zero-cost model: 8 concurrent callers × 1000 sequences per iteration, either
// as one Embed of 1000 sequences each or as 1000 single-sequence Embeds each.
func BenchmarkEmbedOverhead(b *testing.B) {
	const callers, seqsPer = 8, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := make([][][]int64, callers)
	for c := range inputs {
		inputs[c] = make([][]int64, seqsPer)
		for i := range inputs[c] {
			inputs[c][i] = make([]int64, 8+rng.IntN(120))
		}
	}
	for _, perCall := range []int{seqsPer, 1} {
		b.Run(fmt.Sprintf("seqs_per_call=%d", perCall), func(b *testing.B) {
			bt, err := New(zeroModel{v: make([]float32, 384)}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer bt.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var wg sync.WaitGroup
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < seqsPer; i += perCall {
							if _, err := bt.Embed(context.Background(), inputs[c][i:i+perCall]); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*callers*seqsPer), "ns/seq")
			st := bt.Stats()
			b.ReportMetric(float64(st.Rows)/float64(st.Batches), "rows/batch")
		})
	}
}

func TestChaosCancelAndErrors(t *testing.T) {
	// Random cancellations and model failures under load: successful calls
	// still get exactly their vectors and the queue accounting ends at zero.
	m := &fakeModel{fail: func(seqs [][]int64) error {
		if seqs[0][0]%13 == 0 {
			return errBoom
		}
		return nil
	}}
	b := newT(t, m, Options{MaxBatchTokens: 512, MaxBatchRows: 16, MaxQueuedTokens: 1000, Parallel: 2})
	var wg sync.WaitGroup
	var ok, cancelled, failed atomic.Int64
	for c := 1; c <= 24; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			for r := 0; r < 40; r++ {
				seqs := make([][]int64, 1+rng.IntN(12))
				for i := range seqs {
					seqs[i] = seqFor(c, r*100+i, 1+rng.IntN(100))
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(300))*time.Microsecond)
				got, err := b.Embed(ctx, seqs)
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
					checkVecs(t, seqs, got)
				case errors.Is(err, context.DeadlineExceeded):
					cancelled.Add(1)
				case errors.Is(err, errBoom):
					failed.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	st := b.Stats()
	if st.QueuedSeqs != 0 || st.QueuedTokens != 0 || st.WaitingCalls != 0 || st.InFlightBatches > 2 {
		t.Errorf("accounting after chaos: %+v", st)
	}
	if st.PeakQueuedTokens > 1000 {
		t.Errorf("peak queued %d > 1000", st.PeakQueuedTokens)
	}
	t.Logf("ok %d, cancelled %d, failed %d, batches %d", ok.Load(), cancelled.Load(), failed.Load(), st.Batches)
	if ok.Load() == 0 || cancelled.Load() == 0 || failed.Load() == 0 {
		t.Errorf("chaos did not exercise all outcomes")
	}
	// Still healthy.
	got, err := b.Embed(context.Background(), [][]int64{{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	checkVecs(t, [][]int64{{1, 2}}, got)
}
