// Package batcher is the process-wide dynamic batcher that sits in front of
// one embedding model and is shared by every concurrent caller (Flink
// bundles, operators, sessions). It is modelled on the continuous batching of
// HuggingFace text-embeddings-inference (TEI).
//
// # Scheduling
//
// There is no timer wait. Whenever a worker is free (fewer than
// Options.Parallel batches are running) and anything is queued, the next
// batch is formed at once from whatever is queued; while a batch runs, new
// requests queue up and form the next one. An idle batcher
// therefore runs a lone sequence immediately, and a busy one batches
// naturally.
//
// A batch obeys two budgets: rows <= MaxBatchRows, and padded tokens (rows ×
// the longest sequence in the batch) <= MaxBatchTokens. A single sequence
// longer than MaxBatchTokens still runs, alone.
//
// # Length bucketing
//
// Queued sequences are kept in per-length FIFO buckets plus one global FIFO.
// The next batch is formed as follows:
//
//  1. The anchor is the oldest queued sequence; it is always in the next
//     batch, so nothing starves (a sequence waits at most for the sequences
//     that were queued before it).
//  2. The anchor's bucket is taken first, oldest first, as far as the budgets
//     allow.
//  3. The window then grows over the sorted distinct queued lengths, one
//     neighbouring length at a time, always to the neighbour closest in length
//     to the anchor (ties go to the shorter one, which never widens the
//     batch). Each bucket is taken oldest first.
//  4. A longer neighbour that would break the token budget closes the upper
//     side; the batch is complete when the lower side can add no row either,
//     when both sides are exhausted, or at MaxBatchRows.
//
// Sequences in one batch thus have similar lengths and padding stays small,
// while the oldest-anchor rule bounds every sequence's wait.
//
// # Results, errors, cancellation
//
// Each Embed call gets one vector per input sequence, in its own input order,
// however its sequences were split across batches and whichever other
// callers' sequences shared them. A model error (or a panic in Model.Run,
// which is recovered) fails exactly the callers with sequences in that batch;
// the error names the batch's rows and tokens and wraps the model's error.
//
// When an Embed context is done, its sequences that have not started are
// dropped from the queue (they never reach the model) and Embed returns
// ctx.Err() at once, without waiting for a running batch; results of its
// sequences already in a running batch are discarded.
//
// # Backpressure
//
// Tokens waiting in the queue (admitted but not yet in a running batch) are
// bounded by MaxQueuedTokens. Embed blocks, respecting its context, while
// admitting its next sequence would exceed the bound. Admission is FIFO over
// callers and piecewise within a call, so a call larger than the bound is
// admitted sequence by sequence as the queue drains; a single sequence larger
// than the bound is admitted when the queue is empty (the one case where
// queued tokens exceed the bound, by that sequence alone). Nothing can
// deadlock and nothing grows without bound.
//
// Embed copies the token ids of each call once, so a caller may reuse its
// slices as soon as Embed returns, even after a cancellation while the model
// is still reading a running batch.
//
// # Lifetime
//
// New starts Options.Parallel worker goroutines; Close stops them. Close fails
// every call that still has sequences queued or awaiting admission with
// ErrClosed, waits for running batches to finish (their callers get their
// results if nothing of theirs was left queued), and makes later Embed calls
// fail with ErrClosed.
package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// ErrClosed is returned by Embed once the batcher is closed, including to
// calls whose sequences were still queued when Close was called.
var ErrClosed = errors.New("batcher: closed")

// Model runs one batch. seqs are unpadded token id sequences (each already
// truncated, len >= 1); it returns one vector per sequence, in order. Run is
// called by the batcher's own goroutines only (one batch in flight at a time
// unless Options.Parallel > 1). Run must not retain or modify seqs after it
// returns (the outer slice is reused; the token ids are the batcher's own
// copies). ctx belongs to the batcher, not to any caller: a caller's
// cancellation does not stop a running batch, and Close waits for Run to
// return.
type Model interface {
	Run(ctx context.Context, seqs [][]int64) ([][]float32, error)
}

// Observer receives per-batch metrics. It is called from a batcher worker
// goroutine, outside the batcher's lock, once per batch; it must be cheap and
// safe for concurrent use when Options.Parallel > 1.
type Observer interface {
	// BatchDone reports a finished batch: its rows, padded tokens (rows ×
	// longest sequence), real tokens, the tokens left waiting in the queue
	// when it finished, how long Model.Run took, and its error (nil on
	// success).
	BatchDone(rows, paddedTokens, realTokens int, queueDepthTokens int, took time.Duration, err error)
}

// Options configures a Batcher. Zero values select the defaults; negative
// values are rejected by New.
type Options struct {
	MaxBatchTokens  int          // padded tokens per batch: rows * longest sequence in the batch; default 16384
	MaxBatchRows    int          // default 256
	MaxQueuedTokens int          // backpressure bound on tokens waiting (not yet in a running batch); default 8 * MaxBatchTokens
	Parallel        int          // batches in flight at once; default 1
	Observer        Observer     // optional hooks for metrics (nil ok)
	Logger          *slog.Logger // optional
}

// Default option values.
const (
	// DefaultMaxBatchTokens: a batch's activations grow with rows ×
	// longest² (attention), so the worst batch is the one of maximal-length
	// sequences: for all-MiniLM-L6-v2 4 rows × 256 tokens at 1,024 padded
	// tokens. The model's footprint (weights + the worst batch in ONNX
	// Runtime's arena) is then 169 MiB, against 392 MiB at 32 × 256; and on
	// 2 cores 1,024-token batches embed mixed texts faster than 2,048 (134
	// vs 126 rows/s) or 8,192 (BENCHMARKS.md, make bench-footprint). The
	// embedder raises it to the model's maximal length when that is longer.
	DefaultMaxBatchTokens = 1024
	// DefaultMaxBatchRows: on CPU, MiniLM's throughput peaks at small
	// batches (8-32 rows of ~50 tokens: the activations stay in cache) and
	// falls beyond 128.
	DefaultMaxBatchRows = 32
	// DefaultGPUMaxBatchTokens and DefaultGPUMaxBatchRows are the limits on
	// a CUDA device (the embedder applies them): a GPU's throughput grows
	// with the batch, and 16,384 tokens (64 maximal-length sequences of
	// 256) take well under 1 GiB of activations for the MiniLM/BGE-small
	// class of models.
	DefaultGPUMaxBatchTokens = 16384
	DefaultGPUMaxBatchRows   = 512
	DefaultParallel          = 1
	// DefaultQueuedBatches is MaxQueuedTokens' default in units of MaxBatchTokens.
	DefaultQueuedBatches = 8
)

// Stats is a point-in-time snapshot of a Batcher.
type Stats struct {
	QueuedTokens     int // tokens admitted and waiting for a batch
	QueuedSeqs       int // sequences admitted and waiting for a batch
	WaitingCalls     int // Embed calls with sequences not yet admitted (blocked by backpressure)
	InFlightBatches  int // batches currently in Model.Run
	PeakQueuedTokens int // highest QueuedTokens ever observed

	Batches       int64 // batches run (successful or not)
	FailedBatches int64 // batches whose Model.Run failed or panicked
	Rows          int64 // sequences run, over all batches
	RealTokens    int64 // sum of sequence lengths run
	PaddedTokens  int64 // sum of rows × longest sequence, over all batches
}

// item states.
const (
	stPending uint8 = iota // not yet admitted
	stQueued               // admitted, waiting for a batch
	stRunning              // in a batch
	stGone                 // finished, dropped or failed
)

// item is one sequence of one Embed call.
type item struct {
	req   *request
	seq   []int64
	idx   int
	state uint8
}

// request is one Embed call.
type request struct {
	items     []item
	results   [][]float32
	remaining int // items without a result yet
	next      int // next item to admit
	done      chan struct{}
	err       error
	finished  bool
}

// fifo is a queue of items with lazy deletion: items whose state is no longer
// stQueued are skipped and compacted away.
type fifo struct {
	items []*item
	head  int
	live  int
}

func (q *fifo) push(it *item) {
	q.items = append(q.items, it)
	q.live++
}

// skipDead advances head past items that are no longer queued.
func (q *fifo) skipDead() {
	for q.head < len(q.items) && q.items[q.head].state != stQueued {
		q.items[q.head] = nil
		q.head++
	}
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	}
}

// maybeCompact drops dead entries once they outnumber live ones.
func (q *fifo) maybeCompact() {
	if n := len(q.items) - q.head; n <= 2*q.live+64 {
		return
	}
	w := 0
	for _, it := range q.items[q.head:] {
		if it.state == stQueued {
			q.items[w] = it
			w++
		}
	}
	clear(q.items[w:])
	q.items = q.items[:w]
	q.head = 0
}

// Batcher is a shared dynamic batcher in front of one Model. All methods are
// safe for concurrent use.
type Batcher struct {
	model     Model
	maxTokens int
	maxRows   int
	maxQueued int
	parallel  int
	observer  Observer
	log       *slog.Logger
	fifoOnly  bool // test hook: plain FIFO batches, no length bucketing

	runCtx    context.Context // passed to Model.Run; cancelled after the workers exit
	cancelRun context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond // signalled when items are queued or on Close
	closed  bool
	queue   fifo          // all queued items, oldest first
	buckets map[int]*fifo // queued items by length
	lengths []int         // sorted keys of buckets
	admitq  []*request    // calls with items not yet admitted, FIFO
	admitHd int
	stats   Stats
}

// New validates o, applies defaults and starts the worker goroutines. The
// returned Batcher must be closed with Close.
func New(m Model, o Options) (*Batcher, error) {
	return newBatcher(m, o, false)
}

func newBatcher(m Model, o Options, fifoOnly bool) (*Batcher, error) {
	if m == nil {
		return nil, errors.New("batcher: nil model")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxBatchTokens", o.MaxBatchTokens},
		{"MaxBatchRows", o.MaxBatchRows},
		{"MaxQueuedTokens", o.MaxQueuedTokens},
		{"Parallel", o.Parallel},
	} {
		if f.v < 0 {
			return nil, fmt.Errorf("batcher: option %s = %d: must be >= 0 (0 selects the default)", f.name, f.v)
		}
	}
	if o.MaxBatchTokens == 0 {
		o.MaxBatchTokens = DefaultMaxBatchTokens
	}
	if o.MaxBatchRows == 0 {
		o.MaxBatchRows = DefaultMaxBatchRows
	}
	if o.MaxQueuedTokens == 0 {
		o.MaxQueuedTokens = DefaultQueuedBatches * o.MaxBatchTokens
	}
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{
		model:     m,
		maxTokens: o.MaxBatchTokens,
		maxRows:   o.MaxBatchRows,
		maxQueued: o.MaxQueuedTokens,
		parallel:  o.Parallel,
		observer:  o.Observer,
		log:       log.With("component", "batcher"),
		fifoOnly:  fifoOnly,
		buckets:   make(map[int]*fifo),
	}
	b.cond = sync.NewCond(&b.mu)
	b.runCtx, b.cancelRun = context.WithCancel(context.Background())
	b.wg.Add(b.parallel)
	for i := 0; i < b.parallel; i++ {
		go b.worker()
	}
	return b, nil
}

// Embed queues seqs (unpadded token ids, each len >= 1), waits until every
// one has run, and returns one vector per sequence in input order. It blocks
// while the queue is over MaxQueuedTokens. If ctx is done first, seqs not yet
// in a running batch are dropped and ctx.Err() is returned promptly. Embed
// copies the token ids, so seqs may be reused as soon as it returns.
func (b *Batcher) Embed(ctx context.Context, seqs [][]int64) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		return [][]float32{}, nil
	}
	total := 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("batcher: sequence %d of %d is empty", i, len(seqs))
		}
		total += len(s)
	}
	// One flat copy of all token ids: the model may still be reading a
	// running batch after a cancelled Embed has returned.
	flat := make([]int64, 0, total)
	r := &request{
		items:     make([]item, len(seqs)),
		results:   make([][]float32, len(seqs)),
		remaining: len(seqs),
		done:      make(chan struct{}),
	}
	for i, s := range seqs {
		start := len(flat)
		flat = append(flat, s...)
		r.items[i] = item{req: r, seq: flat[start:len(flat):len(flat)], idx: i}
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.admitq = append(b.admitq, r)
	b.admitLocked()
	b.mu.Unlock()

	select {
	case <-r.done:
		return r.results, r.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if r.finished { // finished while we were taking the lock
		b.mu.Unlock()
		return r.results, r.err
	}
	err := ctx.Err()
	b.finishLocked(r, err)
	b.admitLocked() // dropped tokens may let waiting calls in
	b.mu.Unlock()
	return nil, err
}

// Close stops the batcher: calls with sequences still queued or awaiting
// admission fail with ErrClosed at once, later Embed calls fail with
// ErrClosed, and Close returns once running batches have finished and the
// worker goroutines have exited. Calling Close again just waits likewise.
func (b *Batcher) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for _, r := range b.admitq[b.admitHd:] {
			if !r.finished {
				b.finishLocked(r, ErrClosed)
			}
		}
		b.admitq, b.admitHd = nil, 0
		// Collect first: finishLocked compacts the queue in place.
		var queued []*request
		for _, it := range b.queue.items[b.queue.head:] {
			if it.state == stQueued {
				queued = append(queued, it.req)
			}
		}
		for _, r := range queued {
			b.finishLocked(r, ErrClosed)
		}
		b.cond.Broadcast()
	}
	b.mu.Unlock()
	b.wg.Wait()
	b.cancelRun()
	return nil
}

// Stats returns a snapshot of the batcher's queue and counters.
func (b *Batcher) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	for _, r := range b.admitq[b.admitHd:] {
		if !r.finished {
			s.WaitingCalls++
		}
	}
	return s
}

// admitLocked moves pending items of waiting calls into the queue, FIFO over
// calls, while the queued-token bound allows (or the queue is empty), and
// wakes a worker if it queued anything.
func (b *Batcher) admitLocked() {
	queued := false
admit:
	for b.admitHd < len(b.admitq) {
		r := b.admitq[b.admitHd]
		for !r.finished && r.next < len(r.items) {
			it := &r.items[r.next]
			n := len(it.seq)
			if b.stats.QueuedTokens > 0 && b.stats.QueuedTokens+n > b.maxQueued {
				break admit
			}
			b.enqueueLocked(it)
			r.next++
			queued = true
		}
		b.admitq[b.admitHd] = nil
		b.admitHd++
	}
	if b.admitHd == len(b.admitq) {
		b.admitq, b.admitHd = b.admitq[:0], 0
	} else if b.admitHd > 64 && b.admitHd > len(b.admitq)/2 {
		n := copy(b.admitq, b.admitq[b.admitHd:])
		clear(b.admitq[n:])
		b.admitq, b.admitHd = b.admitq[:n], 0
	}
	if queued {
		b.cond.Signal()
	}
}

func (b *Batcher) enqueueLocked(it *item) {
	n := len(it.seq)
	it.state = stQueued
	b.queue.push(it)
	bk := b.buckets[n]
	if bk == nil {
		bk = &fifo{}
		b.buckets[n] = bk
		i := sort.SearchInts(b.lengths, n)
		b.lengths = append(b.lengths, 0)
		copy(b.lengths[i+1:], b.lengths[i:])
		b.lengths[i] = n
	}
	bk.push(it)
	b.stats.QueuedTokens += n
	b.stats.QueuedSeqs++
	if b.stats.QueuedTokens > b.stats.PeakQueuedTokens {
		b.stats.PeakQueuedTokens = b.stats.QueuedTokens
	}
}

// unqueueLocked removes a queued item from the queue accounting and gives it
// the state st; its queue entries are deleted lazily.
func (b *Batcher) unqueueLocked(it *item, st uint8) {
	n := len(it.seq)
	it.state = st
	b.stats.QueuedTokens -= n
	b.stats.QueuedSeqs--
	b.queue.live--
	b.buckets[n].live--
}

// finishLocked completes r with err (nil on success), dropping its items that
// are still pending or queued.
func (b *Batcher) finishLocked(r *request, err error) {
	if r.finished {
		return
	}
	r.finished = true
	r.err = err
	if err != nil {
		r.results = nil
	}
	for i := range r.items {
		it := &r.items[i]
		switch it.state {
		case stQueued:
			b.unqueueLocked(it, stGone)
		case stPending:
			it.state = stGone
		}
	}
	b.queue.maybeCompact()
	close(r.done)
}

// batch is a worker's reusable batch buffer.
type batch struct {
	items  []*item
	seqs   [][]int64
	maxLen int
	real   int
}

func (bt *batch) reset() {
	clear(bt.items)
	clear(bt.seqs)
	bt.items, bt.seqs = bt.items[:0], bt.seqs[:0]
	bt.maxLen, bt.real = 0, 0
}

func (bt *batch) add(it *item) {
	bt.items = append(bt.items, it)
	bt.seqs = append(bt.seqs, it.seq)
	if n := len(it.seq); n > bt.maxLen {
		bt.maxLen = n
	}
	bt.real += len(it.seq)
}

// worker forms and runs batches until Close.
func (b *Batcher) worker() {
	defer b.wg.Done()
	bt := &batch{}
	b.mu.Lock()
	for {
		for !b.closed && b.stats.QueuedSeqs == 0 {
			b.cond.Wait()
		}
		if b.closed {
			b.mu.Unlock()
			return
		}
		bt.reset()
		if b.fifoOnly {
			b.formFIFOLocked(bt)
		} else {
			b.formLocked(bt)
		}
		b.stats.InFlightBatches++
		if b.stats.QueuedSeqs > 0 {
			b.cond.Signal() // another idle worker may take the rest
		}
		b.admitLocked() // the batch freed queue space
		b.mu.Unlock()

		rows, padded := len(bt.items), len(bt.items)*bt.maxLen
		start := time.Now()
		vecs, err := b.run(bt)
		took := time.Since(start)
		if err != nil {
			err = fmt.Errorf("batcher: batch of %d rows, %d padded tokens (longest %d): %w", rows, padded, bt.maxLen, err)
			b.log.Warn("batch failed", "rows", rows, "padded_tokens", padded, "err", err)
		}

		b.mu.Lock()
		b.deliverLocked(bt, vecs, err)
		b.stats.InFlightBatches--
		depth := b.stats.QueuedTokens
		if b.observer != nil {
			b.mu.Unlock()
			b.observer.BatchDone(rows, padded, bt.real, depth, took, err)
			b.mu.Lock()
		}
	}
}

// run calls Model.Run, turning a panic or a wrong result count into an error.
func (b *Batcher) run(bt *batch) (vecs [][]float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("model panicked", "panic", p, "stack", string(debug.Stack()))
			vecs, err = nil, fmt.Errorf("model panicked: %v", p)
		}
	}()
	vecs, err = b.model.Run(b.runCtx, bt.seqs)
	if err == nil && len(vecs) != len(bt.seqs) {
		return nil, fmt.Errorf("model returned %d vectors for %d sequences", len(vecs), len(bt.seqs))
	}
	return vecs, err
}

// deliverLocked hands a finished batch's results (or err) to its callers.
func (b *Batcher) deliverLocked(bt *batch, vecs [][]float32, err error) {
	b.stats.Batches++
	b.stats.Rows += int64(len(bt.items))
	b.stats.RealTokens += int64(bt.real)
	b.stats.PaddedTokens += int64(len(bt.items) * bt.maxLen)
	if err != nil {
		b.stats.FailedBatches++
	}
	freed := false
	for i, it := range bt.items {
		it.state = stGone
		r := it.req
		if r.finished {
			continue // cancelled, failed or closed meanwhile: discard
		}
		if err != nil {
			b.finishLocked(r, err)
			freed = true
			continue
		}
		r.results[it.idx] = vecs[i]
		r.remaining--
		if r.remaining == 0 {
			b.finishLocked(r, nil)
		}
	}
	if freed {
		b.admitLocked()
	}
}

// takeLocked moves up to max queued items of length n into bt, oldest first,
// and returns how many it moved.
func (b *Batcher) takeLocked(bt *batch, n, max int) int {
	bk := b.buckets[n]
	took := 0
	for took < max && bk.live > 0 {
		bk.skipDead()
		it := bk.items[bk.head]
		b.unqueueLocked(it, stRunning)
		bt.add(it)
		took++
	}
	bk.skipDead()
	bk.maybeCompact()
	return took
}

// formLocked fills bt with the next batch under the length-bucketing policy
// described in the package doc. The queue must not be empty.
func (b *Batcher) formLocked(bt *batch) {
	b.queue.skipDead()
	anchor := b.queue.items[b.queue.head]
	la := len(anchor.seq)
	ai := sort.SearchInts(b.lengths, la)

	// The anchor's bucket: the anchor is its oldest item, and runs even if it
	// alone exceeds the token budget.
	b.takeLocked(bt, la, max(1, b.fitRows(bt, la)))

	lo, hi := ai-1, ai+1
	upOpen := true
	for len(bt.items) < b.maxRows {
		// Skip lengths whose buckets emptied (cancellations).
		for lo >= 0 && b.buckets[b.lengths[lo]].live == 0 {
			lo--
		}
		for upOpen && hi < len(b.lengths) && b.buckets[b.lengths[hi]].live == 0 {
			hi++
		}
		canDown := lo >= 0
		canUp := upOpen && hi < len(b.lengths)
		if !canDown && !canUp {
			break
		}
		down := canDown && (!canUp || la-b.lengths[lo] <= b.lengths[hi]-la)
		if down {
			n := b.lengths[lo]
			k := b.fitRows(bt, n)
			if k <= 0 {
				break // full at the current width; a longer one fits even less
			}
			if b.takeLocked(bt, n, k) < k {
				lo--
			} else if b.buckets[n].live > 0 {
				break // the budget stopped us inside this bucket
			} else {
				lo--
			}
			continue
		}
		n := b.lengths[hi]
		k := b.fitRows(bt, n)
		if k <= 0 {
			upOpen = false
			continue
		}
		b.takeLocked(bt, n, k)
		if b.buckets[n].live > 0 {
			upOpen = false
		} else {
			hi++
		}
	}
	b.cleanBucketsLocked()
	b.queue.skipDead()
	b.queue.maybeCompact()
}

// fitRows is how many more rows of length n fit in bt under both budgets.
func (b *Batcher) fitRows(bt *batch, n int) int {
	w := max(bt.maxLen, n)
	return min(b.maxRows, b.maxTokens/w) - len(bt.items)
}

// formFIFOLocked fills bt with queued items in arrival order until the next
// one would break a budget (the comparison policy for tests).
func (b *Batcher) formFIFOLocked(bt *batch) {
	for b.queue.live > 0 && len(bt.items) < b.maxRows {
		b.queue.skipDead()
		it := b.queue.items[b.queue.head]
		if len(bt.items) > 0 && b.fitRows(bt, len(it.seq)) <= 0 {
			break
		}
		b.unqueueLocked(it, stRunning)
		bt.add(it)
	}
	for _, n := range b.lengths {
		b.buckets[n].maybeCompact()
	}
	b.cleanBucketsLocked()
	b.queue.skipDead()
}

// cleanBucketsLocked deletes empty buckets.
func (b *Batcher) cleanBucketsLocked() {
	w := 0
	for _, n := range b.lengths {
		if bk := b.buckets[n]; bk.live == 0 {
			delete(b.buckets, n)
			continue
		}
		b.lengths[w] = n
		w++
	}
	b.lengths = b.lengths[:w]
}
