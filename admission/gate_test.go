package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowModel takes perRow per row, one call at a time (one engine), and
// counts the rows it ran per class.
type slowModel struct {
	perRow time.Duration
	mu     sync.Mutex
	rows   map[string]int
	failOn string
	closed atomic.Bool
}

// CountTokens counts bytes as tokens; over 100 is truncated.
func (m *slowModel) CountTokens(text string) (int, bool, error) {
	return min(len(text), 100), len(text) > 100, nil
}

func (m *slowModel) EmbedCounted(ctx context.Context, texts []string) ([][]float32, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	time.Sleep(time.Duration(len(texts)) * m.perRow)
	if m.rows == nil {
		m.rows = map[string]int{}
	}
	m.rows[ClassOf(ctx)] += len(texts)
	out := make([][]float32, len(texts))
	tr := 0
	for i, t := range texts {
		if t == m.failOn {
			return nil, 0, errors.New("boom")
		}
		out[i] = []float32{float32(len(t))}
		if len(t) > 10 {
			tr++
		}
	}
	return out, tr, nil
}

func (m *slowModel) Close() error { m.closed.Store(true); return nil }

func texts(n int, f string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(f, i)
	}
	return out
}

func TestVectorsInOrderAcrossPieces(t *testing.T) {
	m := &slowModel{}
	g, err := New(m, Options{MaxRows: 8, ChunkRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	in := texts(19, "t%d")
	in[7] = "a text longer than ten"
	vecs, tr, err := g.EmbedCounted(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(in) || tr != 1 {
		t.Fatalf("%d vectors, %d truncated", len(vecs), tr)
	}
	for i, v := range vecs {
		if v[0] != float32(len(in[i])) {
			t.Fatalf("vector %d is another text's", i)
		}
	}
	if g.free != 8 {
		t.Errorf("free %d after the call, want 8", g.free)
	}
	if err := g.Close(); err != nil || !m.closed.Load() {
		t.Errorf("Close: %v", err)
	}
}

func TestFailedPieceFailsTheCallAndReturnsItsRows(t *testing.T) {
	m := &slowModel{failOn: "t9"}
	g, _ := New(m, Options{MaxRows: 8, ChunkRows: 4})
	_, _, err := g.EmbedCounted(context.Background(), texts(20, "t%d"))
	if err == nil || err.Error() != "texts 8-11: boom" {
		t.Fatalf("err %v", err)
	}
	if g.free != 8 || len(g.ring) != 0 {
		t.Errorf("free %d, ring %v after a failure", g.free, g.ring)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	m := &slowModel{perRow: 20 * time.Millisecond}
	g, _ := New(m, Options{MaxRows: 4, ChunkRows: 4})
	go g.EmbedCounted(context.Background(), texts(4, "busy%d")) // holds every row for 80ms
	for {
		g.mu.Lock()
		f := g.free
		g.mu.Unlock()
		if f == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, err := g.EmbedCounted(WithClass(ctx, "http"), texts(2, "x%d"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	g.mu.Lock()
	ring, q := len(g.ring), len(g.queues)
	g.mu.Unlock()
	if ring != 0 || q != 0 {
		t.Errorf("a cancelled piece stayed queued: ring %d, queues %d", ring, q)
	}
	// Later calls go through once the busy call ends.
	if _, _, err := g.EmbedCounted(context.Background(), texts(3, "y%d")); err != nil {
		t.Fatal(err)
	}
}

// Two classes that both saturate the model get about the same rows,
// however differently they call: big calls (Flink bundles) against many
// small concurrent ones (HTTP requests).
func TestClassesShareTheModel(t *testing.T) {
	m := &slowModel{perRow: 100 * time.Microsecond}
	g, _ := New(m, Options{MaxRows: 64, ChunkRows: 16})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	load := func(class string, callers, rows int) {
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					g.EmbedCounted(WithClass(ctx, class), texts(rows, class+"%d"))
				}
			}()
		}
	}
	load("", 4, 1000)     // four sessions of 1,000-row bundles
	load("http", 16, 8)   // sixteen clients of 8 texts
	load("other", 4, 100) // a third class, four callers
	wg.Wait()
	m.mu.Lock()
	rows := m.rows
	m.mu.Unlock()
	total := rows[""] + rows["http"] + rows["other"]
	t.Logf("rows run in 1s: flink %d, http %d, other %d", rows[""], rows["http"], rows["other"])
	for _, c := range []string{"", "http", "other"} {
		if share := float64(rows[c]) / float64(total); share < 0.25 {
			t.Errorf("class %q got %.0f%% of the rows, want about a third", c, 100*share)
		}
	}
}

// Counting tokens is the model's own, and takes no rows from the gate.
func TestCountTokensIsTheModels(t *testing.T) {
	g, err := New(&slowModel{}, Options{MaxRows: 1, ChunkRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.acquire(context.Background(), "", 1); err != nil { // the gate is full
		t.Fatal(err)
	}
	defer g.release(1)
	for text, want := range map[string]struct {
		n  int
		tr bool
	}{"four": {4, false}, strings.Repeat("x", 150): {100, true}} {
		n, tr, err := g.CountTokens(text)
		if err != nil || n != want.n || tr != want.tr {
			t.Errorf("CountTokens(%d bytes) = %d, %v, %v; want %d, %v", len(text), n, tr, err, want.n, want.tr)
		}
	}
}
