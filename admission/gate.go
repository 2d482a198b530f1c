// Package admission shares one model between classes of callers (the
// Flink sessions, the HTTP API) so that neither starves the other.
//
// The model's batcher admits callers first come, first served: a Flink
// bundle of 2,000 rows queued ahead of an HTTP request is embedded whole
// before it. A Gate sits in front of the model and admits rows into it in
// pieces of at most Options.ChunkRows, at most Options.MaxRows at once, by
// deficit round robin over the classes that wait (each class gets about
// the same rows while more than one waits; a class alone gets them all).
// Within a class pieces go first come, first served. The class of a call
// is its context's (WithClass); the default class is "".
//
// It imports nothing of ours: the model is any EmbedCounted.
package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Model is an embedding model (a *embedder.Embedder).
type Model interface {
	EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error)
	CountTokens(text string) (tokens int, truncated bool, err error)
	Close() error
}

// Options configure a Gate.
type Options struct {
	// MaxRows is the most rows in the model at once, over every class
	// (default 256): enough to keep its batches full, few enough that a
	// new class waits for at most that many rows.
	MaxRows int
	// ChunkRows is the most rows one piece of a call has (default 32, the
	// embedder's default batch rows); it is also each class's quantum.
	ChunkRows int
}

// Default options.
const (
	DefaultMaxRows   = 256
	DefaultChunkRows = 32
)

type classKey struct{}

// WithClass returns ctx with the caller's class ("http" for the API).
func WithClass(ctx context.Context, class string) context.Context {
	return context.WithValue(ctx, classKey{}, class)
}

// ClassOf is ctx's class ("" unless WithClass set one).
func ClassOf(ctx context.Context) string {
	c, _ := ctx.Value(classKey{}).(string)
	return c
}

// Gate is a Model that admits its callers' rows fairly across classes.
// Safe for concurrent use.
type Gate struct {
	m Model
	o Options

	mu      sync.Mutex
	free    int                 // rows that may still enter the model
	queues  map[string][]*piece // waiting pieces per class, oldest first
	ring    []string            // classes with waiting pieces, in round-robin order
	next    int                 // ring index of the class whose turn it is
	inTurn  bool                // the class at next has had its quantum added
	deficit map[string]int
	rows    map[string]int64 // rows admitted per class, ever (Stats)
}

// piece is one waiting chunk of a call.
type piece struct {
	rows    int
	ready   chan struct{} // closed when admitted
	granted bool
}

// New returns a Gate in front of m.
func New(m Model, o Options) (*Gate, error) {
	if m == nil {
		return nil, errors.New("admission: nil model")
	}
	if o.MaxRows < 0 || o.ChunkRows < 0 {
		return nil, fmt.Errorf("admission: negative options %+v", o)
	}
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.ChunkRows == 0 {
		o.ChunkRows = DefaultChunkRows
	}
	if o.ChunkRows > o.MaxRows {
		return nil, fmt.Errorf("admission: ChunkRows %d is more than MaxRows %d", o.ChunkRows, o.MaxRows)
	}
	return &Gate{m: m, o: o, free: o.MaxRows, queues: map[string][]*piece{}, deficit: map[string]int{}, rows: map[string]int64{}}, nil
}

// Model is the model behind the gate.
func (g *Gate) Model() Model { return g.m }

// CountTokens is the model's: counting takes no admission.
func (g *Gate) CountTokens(text string) (int, bool, error) { return g.m.CountTokens(text) }

// Close closes the model.
func (g *Gate) Close() error { return g.m.Close() }

// Admitted returns the rows admitted per class so far.
func (g *Gate) Admitted() map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]int64, len(g.rows))
	for k, v := range g.rows {
		out[k] = v
	}
	return out
}

// EmbedCounted embeds texts in pieces of at most ChunkRows, each admitted
// in its class's turn, and returns the vectors in order and the texts
// truncated. A failed piece cancels the call's other pieces.
func (g *Gate) EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error) {
	class := ClassOf(ctx)
	if len(texts) <= g.o.ChunkRows {
		if err := g.acquire(ctx, class, len(texts)); err != nil {
			return nil, 0, err
		}
		defer g.release(len(texts))
		return g.m.EmbedCounted(ctx, texts)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	vecs := make([][]float32, len(texts))
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
		truncated int
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for start := 0; start < len(texts); start += g.o.ChunkRows {
		chunk := texts[start:min(start+g.o.ChunkRows, len(texts))]
		if err := g.acquire(ctx, class, len(chunk)); err != nil {
			fail(err)
			break
		}
		wg.Add(1)
		go func(start int, chunk []string) {
			defer wg.Done()
			defer g.release(len(chunk))
			v, tr, err := g.m.EmbedCounted(ctx, chunk)
			if err == nil && len(v) != len(chunk) {
				err = fmt.Errorf("the model returned %d vectors for %d texts", len(v), len(chunk))
			}
			if err != nil {
				fail(fmt.Errorf("texts %d-%d: %w", start, start+len(chunk)-1, err))
				return
			}
			copy(vecs[start:], v)
			mu.Lock()
			truncated += tr
			mu.Unlock()
		}(start, chunk)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	return vecs, truncated, nil
}

// acquire waits for rows to be admitted in class's turn, or for ctx.
func (g *Gate) acquire(ctx context.Context, class string, rows int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if len(g.ring) == 0 && g.free >= rows {
		g.free -= rows
		g.rows[class] += int64(rows)
		g.mu.Unlock()
		return nil
	}
	p := &piece{rows: rows, ready: make(chan struct{})}
	if len(g.queues[class]) == 0 {
		g.ring = append(g.ring, class)
	}
	g.queues[class] = append(g.queues[class], p)
	g.dispatchLocked()
	g.mu.Unlock()
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.granted { // admitted while we gave up: give the rows back
		g.free += rows
		g.dispatchLocked()
		return ctx.Err()
	}
	q := g.queues[class]
	for i, w := range q {
		if w == p {
			g.queues[class] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(g.queues[class]) == 0 {
		g.dropLocked(class)
	}
	g.dispatchLocked()
	return ctx.Err()
}

func (g *Gate) release(rows int) {
	g.mu.Lock()
	g.free += rows
	g.dispatchLocked()
	g.mu.Unlock()
}

// dispatchLocked admits waiting pieces, deficit round robin over the ring.
func (g *Gate) dispatchLocked() {
	for len(g.ring) > 0 {
		if g.next >= len(g.ring) {
			g.next = 0
		}
		c := g.ring[g.next]
		if !g.inTurn {
			g.deficit[c] += g.o.ChunkRows
			g.inTurn = true
		}
		q := g.queues[c]
		head := q[0]
		if head.rows > g.deficit[c] {
			// Turn over: the next class.
			g.inTurn = false
			g.next++
			continue
		}
		if head.rows > g.free {
			return // the model is full: wait for a release
		}
		g.free -= head.rows
		g.deficit[c] -= head.rows
		g.rows[c] += int64(head.rows)
		head.granted = true
		close(head.ready)
		g.queues[c] = q[1:]
		if len(g.queues[c]) == 0 {
			g.dropLocked(c)
		}
	}
}

// dropLocked takes a class with no waiting piece off the ring.
func (g *Gate) dropLocked(class string) {
	i := -1
	for j, c := range g.ring {
		if c == class {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	delete(g.queues, class)
	delete(g.deficit, class)
	g.ring = append(g.ring[:i:i], g.ring[i+1:]...)
	switch {
	case i < g.next:
		g.next--
	case i == g.next:
		g.inTurn = false
	}
}
