package memory

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until n acquirers are queued on l.
func waitQueued(t *testing.T, l *Limiter, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := l.waiters.Len()
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type acquired struct {
	id  string
	got int64
	err error
}

func acquireAsync(ctx context.Context, l *Limiter, id string, n int64, out chan<- acquired) {
	go func() {
		got, err := l.Acquire(ctx, n)
		out <- acquired{id, got, err}
	}()
}

func expectNone(t *testing.T, ch <-chan acquired) {
	t.Helper()
	select {
	case a := <-ch:
		t.Fatalf("%s acquired %d (err %v) while it should block", a.id, a.got, a.err)
	case <-time.After(20 * time.Millisecond):
	}
}

func receive(t *testing.T, ch <-chan acquired) acquired {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("acquirer still blocked")
		return acquired{}
	}
}

func TestLimiterBlocksAndUnblocks(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(10)
	if got, err := l.Acquire(ctx, 6); got != 6 || err != nil {
		t.Fatalf("Acquire(6) = %d, %v", got, err)
	}
	if got, err := l.Acquire(ctx, 4); got != 4 || err != nil {
		t.Fatalf("Acquire(4) = %d, %v", got, err)
	}
	ch := make(chan acquired, 1)
	acquireAsync(ctx, l, "a", 5, ch)
	waitQueued(t, l, 1)
	expectNone(t, ch)
	l.Release(4) // 4 free: still not enough
	expectNone(t, ch)
	l.Release(6)
	if a := receive(t, ch); a.got != 5 || a.err != nil {
		t.Fatalf("waiter got %d, %v", a.got, a.err)
	}
	if l.InUse() != 5 || l.Peak() != 10 || l.Capacity() != 10 {
		t.Errorf("InUse %d Peak %d Capacity %d", l.InUse(), l.Peak(), l.Capacity())
	}
	l.Release(5)
	if l.InUse() != 0 {
		t.Errorf("InUse %d after all releases", l.InUse())
	}
}

func TestLimiterClamp(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(10)
	small, _ := l.Acquire(ctx, 3)
	ch := make(chan acquired, 1)
	acquireAsync(ctx, l, "huge", 1000, ch)
	waitQueued(t, l, 1)
	expectNone(t, ch) // waits for the whole capacity
	l.Release(small)
	a := receive(t, ch)
	if a.got != 10 || a.err != nil {
		t.Fatalf("huge got %d, %v; want clamped to 10", a.got, a.err)
	}
	if l.InUse() != 10 {
		t.Errorf("InUse %d", l.InUse())
	}
	l.Release(a.got)
	if got, _ := l.Acquire(ctx, 0); got != 0 || l.InUse() != 0 {
		t.Errorf("Acquire(0) took %d", got)
	}
}

func TestLimiterFIFO(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(10)
	held, _ := l.Acquire(ctx, 10)
	order := make(chan acquired, 3)
	acquireAsync(ctx, l, "big", 8, order)
	waitQueued(t, l, 1)
	acquireAsync(ctx, l, "small", 2, order)
	waitQueued(t, l, 2)
	acquireAsync(ctx, l, "small2", 1, order)
	waitQueued(t, l, 3)

	l.Release(2) // 2 free: small would fit but big is ahead
	expectNone(t, order)
	l.Release(held - 2)
	// 10 free: big (8) and small (2) are granted together, in that order;
	// small2 (1) must wait for a release.
	first, second := receive(t, order), receive(t, order)
	if first.id == "small" {
		first, second = second, first
	}
	if first.id != "big" || first.got != 8 || second.id != "small" || second.got != 2 {
		t.Fatalf("served %+v and %+v, want big and small", first, second)
	}
	expectNone(t, order)
	l.Release(first.got)
	if a := receive(t, order); a.id != "small2" || a.got != 1 {
		t.Fatalf("got %+v", a)
	}
	// A newcomer that fits must still queue behind an existing waiter.
	l2 := NewLimiter(10)
	h, _ := l2.Acquire(ctx, 5)
	ch := make(chan acquired, 2)
	acquireAsync(ctx, l2, "waiter", 10, ch)
	waitQueued(t, l2, 1)
	acquireAsync(ctx, l2, "newcomer", 1, ch) // fits in the 5 free bytes
	waitQueued(t, l2, 2)
	expectNone(t, ch)
	l2.Release(h)
	a := receive(t, ch)
	if a.id != "waiter" {
		t.Fatalf("%s served first", a.id)
	}
	expectNone(t, ch)
	l2.Release(a.got)
	if a := receive(t, ch); a.id != "newcomer" {
		t.Fatalf("%s served second", a.id)
	}
}

func TestLimiterCancel(t *testing.T) {
	l := NewLimiter(10)
	held, _ := l.Acquire(context.Background(), 9)

	// Already cancelled: nothing taken even though 1 byte is free.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := l.Acquire(done, 1); got != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on cancelled ctx = %d, %v", got, err)
	}

	// Cancelled while waiting at the front: the waiter behind it, which
	// fits, is served.
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan acquired, 2)
	acquireAsync(ctx, l, "big", 5, ch)
	waitQueued(t, l, 1)
	acquireAsync(context.Background(), l, "small", 1, ch)
	waitQueued(t, l, 2)
	cancel()
	a, b := receive(t, ch), receive(t, ch)
	if a.id == "small" {
		a, b = b, a
	}
	if a.got != 0 || !errors.Is(a.err, context.Canceled) || !strings.Contains(a.err.Error(), "in-flight") {
		t.Errorf("cancelled waiter: %d, %v", a.got, a.err)
	}
	if b.got != 1 || b.err != nil {
		t.Errorf("small waiter: %d, %v", b.got, b.err)
	}
	if l.InUse() != held+1 {
		t.Errorf("InUse %d, want %d", l.InUse(), held+1)
	}

	// Deadline.
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer tcancel()
	if got, err := l.Acquire(tctx, 5); got != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire past deadline = %d, %v", got, err)
	}
	l.mu.Lock()
	queued := l.waiters.Len()
	l.mu.Unlock()
	if queued != 0 || l.InUse() != held+1 {
		t.Errorf("after cancellations: %d queued, InUse %d", queued, l.InUse())
	}
}

func TestLimiterUnlimitedAndPeak(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(0)
	for _, n := range []int64{1 << 40, 5, 1 << 41} {
		if got, err := l.Acquire(ctx, n); got != n || err != nil {
			t.Fatalf("Acquire(%d) = %d, %v", n, got, err)
		}
	}
	want := int64(1<<40 + 5 + 1<<41)
	if l.InUse() != want || l.Peak() != want || l.Capacity() != 0 {
		t.Errorf("InUse %d Peak %d Capacity %d", l.InUse(), l.Peak(), l.Capacity())
	}
	l.Release(1 << 41)
	if l.InUse() != 1<<40+5 || l.Peak() != want {
		t.Errorf("after release: InUse %d Peak %d", l.InUse(), l.Peak())
	}
}

func TestLimiterConcurrent(t *testing.T) {
	ctx := context.Background()
	const capacity = 100
	l := NewLimiter(capacity)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got, err := l.Acquire(ctx, int64(1+(g*7+i*13)%150))
				if err != nil {
					t.Error(err)
					return
				}
				if u := l.InUse(); u > capacity {
					t.Errorf("InUse %d > capacity", u)
				}
				l.Release(got)
			}
		}()
	}
	wg.Wait()
	if l.InUse() != 0 || l.Peak() > capacity || l.Peak() == 0 {
		t.Errorf("InUse %d Peak %d", l.InUse(), l.Peak())
	}
}

func TestLimiterReleaseTooMuchPanics(t *testing.T) {
	l := NewLimiter(10)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	l.Release(1)
}
