package memory

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/flinkfn/flinkfn/flinkconf"
)

// Kind is what a reservation is for.
type Kind string

// The kinds of memory the worker reserves.
const (
	// KindModel is the measured footprint of a loaded model.
	KindModel Kind = "model"
	// KindFramework is python.fn-execution.framework.memory.size, once per
	// worker process.
	KindFramework Kind = "framework"
	// KindBuffer is python.fn-execution.buffer.memory.size, once per session.
	KindBuffer Kind = "buffer"
)

// maxNames is how many names a refusal message lists per kind.
const maxNames = 8

// Budget tracks reservations against a limit. Safe for concurrent use.
type Budget struct {
	limit  int64
	source string

	mu    sync.Mutex
	total int64
	next  uint64
	live  map[*Reservation]struct{}
}

// NewBudget returns a budget of limit bytes; source says where the limit
// came from ("--memory-limit", "cgroup memory.max", "none", ...). A limit
// <= 0 is unlimited: Reserve always succeeds but is still tracked.
func NewBudget(limit int64, source string) *Budget {
	if limit < 0 {
		limit = 0
	}
	return &Budget{limit: limit, source: source, live: map[*Reservation]struct{}{}}
}

// Limit is the budget in bytes; 0 means unlimited.
func (b *Budget) Limit() int64 { return b.limit }

// Source says where the limit came from.
func (b *Budget) Source() string { return b.source }

// Free is the limit less what is reserved (math.MaxInt64 if unlimited).
func (b *Budget) Free() int64 {
	if b.limit <= 0 {
		return math.MaxInt64
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.total
}

// Reservation is memory held against a Budget until Release.
type Reservation struct {
	b    *Budget
	kind Kind
	name string
	seq  uint64

	// guarded by b.mu
	size     int64
	released bool
}

// Reserve reserves n bytes of kind for name (a model, a worker, a session).
// When they do not fit it returns a *RefusedError.
func (b *Budget) Reserve(kind Kind, name string, n int64) (*Reservation, error) {
	r, _, err := b.reserve(kind, name, n, false)
	return r, err
}

// Overcommit reserves n bytes of kind for name even when they do not fit
// (Flink's own policy for a Python worker whose managed memory is short:
// warn and go on). short is the *RefusedError Reserve would have returned,
// nil when they fit; the reservation is made either way, so the budget's
// numbers stay true.
func (b *Budget) Overcommit(kind Kind, name string, n int64) (r *Reservation, short, err error) {
	return b.reserve(kind, name, n, true)
}

func (b *Budget) reserve(kind Kind, name string, n int64, over bool) (*Reservation, error, error) {
	if n < 0 {
		return nil, nil, fmt.Errorf("memory: cannot reserve a negative size (%d bytes) of %s memory for %q", n, kind, name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var short error
	if err := b.fits(n); err != nil {
		short = b.refuse(err, kind, name, n, 0, false)
		if !over || errors.Is(err, errOverflow) {
			return nil, nil, short
		}
	}
	b.next++
	r := &Reservation{b: b, kind: kind, name: name, seq: b.next, size: n}
	b.live[r] = struct{}{}
	b.total += n
	return r, short, nil
}

var (
	errOverflow = errors.New("reservations exceed 2^63 bytes")
	errNoRoom   = errors.New("no room left in the budget")
)

// fits reports (with b.mu held) whether n more bytes fit: nil when they do,
// errOverflow when the total would overflow, errNoRoom when the limit
// refuses them.
func (b *Budget) fits(n int64) error {
	if b.limit <= 0 {
		if n > math.MaxInt64-b.total {
			return errOverflow
		}
		return nil
	}
	if n > b.limit-b.total {
		return errNoRoom
	}
	return nil
}

func (b *Budget) refuse(err error, kind Kind, name string, need, have int64, resize bool) error {
	if errors.Is(err, errOverflow) {
		return fmt.Errorf("memory: cannot reserve %d more bytes of %s memory for %q: %w", need, kind, name, err)
	}
	e := &RefusedError{
		Kind: kind, Name: name, Need: need, Have: have, Resize: resize,
		Free: b.limit - b.total, Limit: b.limit, Source: b.source,
	}
	rs := make([]*Reservation, 0, len(b.live))
	for r := range b.live {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].seq < rs[j].seq })
	for _, r := range rs {
		e.Reserved = append(e.Reserved, Held{Kind: r.kind, Name: r.name, Size: r.size})
	}
	return e
}

// Resize grows or shrinks the reservation to n bytes. Growth that does not
// fit is refused with a *RefusedError and leaves the size unchanged.
func (r *Reservation) Resize(n int64) error {
	if n < 0 {
		return fmt.Errorf("memory: cannot resize %s memory for %q to a negative size (%d bytes)", r.kind, r.name, n)
	}
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.released {
		return fmt.Errorf("memory: cannot resize %s memory for %q: the reservation was released", r.kind, r.name)
	}
	if grow := n - r.size; grow > 0 {
		if err := b.fits(grow); err != nil {
			return b.refuse(err, r.kind, r.name, grow, r.size, true)
		}
	}
	b.total += n - r.size
	r.size = n
	return nil
}

// Release gives the reservation back. Calling it again does nothing.
func (r *Reservation) Release() {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	b.total -= r.size
	r.size = 0
	delete(b.live, r)
}

// Size is the reservation's size in bytes (0 once released).
func (r *Reservation) Size() int64 {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.size
}

// Kind is what the reservation is for.
func (r *Reservation) Kind() Kind { return r.kind }

// Name is the model, worker or session the reservation is for.
func (r *Reservation) Name() string { return r.name }

// Snapshot is a budget's state at one moment.
type Snapshot struct {
	Limit    int64
	Source   string
	Reserved map[Kind]int64
	Total    int64
	Count    map[Kind]int
}

// Snapshot returns the current reservations, summed per kind.
func (b *Budget) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Snapshot{
		Limit: b.limit, Source: b.source, Total: b.total,
		Reserved: map[Kind]int64{}, Count: map[Kind]int{},
	}
	for r := range b.live {
		s.Reserved[r.kind] += r.size
		s.Count[r.kind]++
	}
	return s
}

// Held is one reservation as a RefusedError reports it.
type Held struct {
	Kind Kind
	Name string
	Size int64
}

// RefusedError is a reservation (or the growth of one) the budget refused.
type RefusedError struct {
	Kind Kind
	Name string
	// Need is the bytes asked for: the size for Reserve, the growth for
	// Resize.
	Need int64
	// Resize is true when Reservation.Resize was refused; Have is then the
	// reservation's size, which it keeps.
	Resize bool
	Have   int64
	// Free is what the budget had free, Limit and Source describe it.
	Free   int64
	Limit  int64
	Source string
	// Reserved is what was reserved when the request was refused, oldest
	// first.
	Reserved []Held
}

// option is the Flink option a kind is sized by.
func option(k Kind) string {
	switch k {
	case KindFramework:
		return flinkconf.KeyPythonFrameworkMemory
	case KindBuffer:
		return flinkconf.KeyPythonBufferMemory
	}
	return ""
}

// subject names what a reservation is for, e.g. "buffer memory for session
// w-3 (python.fn-execution.buffer.memory.size)".
func subject(k Kind, name string) string {
	switch k {
	case KindModel:
		return "the measured footprint of model " + name
	case KindBuffer:
		return fmt.Sprintf("buffer memory for session %s (%s)", name, option(k))
	}
	s := string(k) + " memory"
	if name != "" {
		s += " for " + name
	}
	if o := option(k); o != "" {
		s += " (" + o + ")"
	}
	return s
}

func (e *RefusedError) Error() string {
	var sb strings.Builder
	if e.Resize {
		fmt.Fprintf(&sb, "cannot grow %s from %s to %s (%s more)", subject(e.Kind, e.Name), MiB(e.Have), MiB(e.Have+e.Need), MiB(e.Need))
	} else if e.Kind == KindModel {
		fmt.Fprintf(&sb, "cannot reserve %s for %s", MiB(e.Need), subject(e.Kind, e.Name))
	} else {
		fmt.Fprintf(&sb, "cannot reserve %s %s", MiB(e.Need), subject(e.Kind, e.Name))
	}
	fmt.Fprintf(&sb, ": %s of the %s budget (%s) is free; reserved: %s", MiB(e.Free), MiB(e.Limit), e.Source, summarize(e.Reserved))
	return sb.String()
}

// Overcommitted describes the refusal as Budget.Overcommit went on with
// it: what the reservation is for, what is reserved in all now, and the
// budget.
func (e *RefusedError) Overcommitted() string {
	held := append(append([]Held{}, e.Reserved...), Held{Kind: e.Kind, Name: e.Name, Size: e.Need})
	total := int64(0)
	for _, h := range held {
		total += h.Size
	}
	return fmt.Sprintf("%s (%s) does not fit in the %s budget (%s): reserved now %s, %s over: %s",
		subject(e.Kind, e.Name), MiB(e.Need), MiB(e.Limit), e.Source, MiB(total), MiB(total-e.Limit), summarize(held))
}

// summarize renders reservations per kind: models one by one, other kinds
// grouped ("buffer 5 sessions × 15.0 MiB = 75.0 MiB (names: w-1, ...)").
func summarize(held []Held) string {
	if len(held) == 0 {
		return "nothing"
	}
	byKind := map[Kind][]Held{}
	var kinds []Kind
	for _, h := range held {
		if _, ok := byKind[h.Kind]; !ok {
			kinds = append(kinds, h.Kind)
		}
		byKind[h.Kind] = append(byKind[h.Kind], h)
	}
	rank := func(k Kind) int {
		switch k {
		case KindModel:
			return 0
		case KindFramework:
			return 1
		case KindBuffer:
			return 2
		}
		return 3
	}
	sort.SliceStable(kinds, func(i, j int) bool {
		if ri, rj := rank(kinds[i]), rank(kinds[j]); ri != rj {
			return ri < rj
		}
		return kinds[i] < kinds[j]
	})
	var parts []string
	for _, k := range kinds {
		hs := byKind[k]
		if k == KindModel {
			for _, h := range hs {
				parts = append(parts, fmt.Sprintf("model %s %s", h.Name, MiB(h.Size)))
			}
			continue
		}
		parts = append(parts, group(k, hs))
	}
	return strings.Join(parts, ", ")
}

func group(k Kind, hs []Held) string {
	var sum int64
	equal := true
	names := make([]string, 0, min(len(hs), maxNames+1))
	for i, h := range hs {
		sum += h.Size
		equal = equal && h.Size == hs[0].Size
		switch {
		case i < maxNames:
			names = append(names, h.Name)
		case i == maxNames:
			names = append(names, "…")
		}
	}
	if len(hs) == 1 {
		if hs[0].Name == "" {
			return fmt.Sprintf("%s %s", k, MiB(sum))
		}
		return fmt.Sprintf("%s %s (name: %s)", k, MiB(sum), hs[0].Name)
	}
	unit := "reservations"
	switch k {
	case KindBuffer:
		unit = "sessions"
	case KindFramework:
		unit = "workers"
	}
	var s string
	if equal {
		s = fmt.Sprintf("%s %d %s × %s = %s", k, len(hs), unit, MiB(hs[0].Size), MiB(sum))
	} else {
		s = fmt.Sprintf("%s %d %s, %s in all", k, len(hs), unit, MiB(sum))
	}
	return s + " (names: " + strings.Join(names, ", ") + ")"
}

// MiB formats bytes like "15.0 MiB".
func MiB(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
