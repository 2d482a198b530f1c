package memory

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// Limiter is a byte semaphore bounding the bytes in flight (backpressure).
// Waiters are served in arrival order. Safe for concurrent use.
type Limiter struct {
	capacity int64

	mu      sync.Mutex
	inUse   int64
	peak    int64
	waiters list.List // of *waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are taken for the waiter
}

// BufferLimiters splits one session's buffer reservation into an input and
// an output limiter (half each). They are separate so that a bundle waiting
// to send its output never waits on input it holds itself.
func BufferLimiters(buffer int64) (in, out *Limiter) {
	return NewLimiter(buffer / 2), NewLimiter(buffer - buffer/2)
}

// NewLimiter returns a limiter of capacity bytes. A capacity <= 0 is
// unlimited: Acquire never blocks but InUse and Peak still count.
func NewLimiter(capacity int64) *Limiter {
	if capacity < 0 {
		capacity = 0
	}
	return &Limiter{capacity: capacity}
}

// Capacity is the limiter's capacity in bytes; 0 means unlimited.
func (l *Limiter) Capacity() int64 { return l.capacity }

// InUse is the bytes acquired and not yet released.
func (l *Limiter) InUse() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse
}

// Peak is the most bytes ever in use at once.
func (l *Limiter) Peak() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// Acquire blocks until n bytes are free and takes them. An n larger than
// the capacity is clamped to the capacity, so one huge message waits until
// nothing else is in flight instead of deadlocking. It returns the bytes
// actually taken, to be passed to Release. Waiters are served first come,
// first served: a large waiter is not starved by small ones behind it. On
// cancellation of ctx it returns ctx.Err() (wrapped) and takes nothing.
func (l *Limiter) Acquire(ctx context.Context, n int64) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	if l.capacity > 0 && n > l.capacity {
		n = l.capacity
	}
	if err := ctx.Err(); err != nil {
		return 0, l.cancelled(n, err)
	}
	l.mu.Lock()
	if l.capacity <= 0 || (l.waiters.Len() == 0 && l.capacity-l.inUse >= n) {
		l.take(n)
		l.mu.Unlock()
		return n, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	e := l.waiters.PushBack(w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	select {
	case <-w.ready:
		// Granted while ctx was being cancelled: give the bytes back.
		l.inUse -= n
	default:
		l.waiters.Remove(e)
	}
	// Either way the waiters behind may fit now.
	l.grant()
	err := l.cancelledLocked(n, ctx.Err())
	l.mu.Unlock()
	return 0, err
}

func (l *Limiter) cancelled(n int64, cause error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancelledLocked(n, cause)
}

func (l *Limiter) cancelledLocked(n int64, cause error) error {
	return fmt.Errorf("memory: gave up waiting for %s of in-flight memory (%s of %s in use): %w",
		MiB(n), MiB(l.inUse), MiB(l.capacity), cause)
}

// Release returns n bytes taken by Acquire. Releasing more than is in use
// is a bug and panics.
func (l *Limiter) Release(n int64) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > l.inUse {
		panic(fmt.Sprintf("memory: Limiter.Release(%d) with only %d bytes in use", n, l.inUse))
	}
	l.inUse -= n
	l.grant()
}

// take counts n bytes as in use (l.mu held).
func (l *Limiter) take(n int64) {
	l.inUse += n
	if l.inUse > l.peak {
		l.peak = l.inUse
	}
}

// grant serves waiters from the front while they fit (l.mu held).
func (l *Limiter) grant() {
	for {
		front := l.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*waiter)
		if l.capacity-l.inUse < w.n {
			return
		}
		l.take(w.n)
		l.waiters.Remove(front)
		close(w.ready)
	}
}
