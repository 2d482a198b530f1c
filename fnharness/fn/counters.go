package fn

import (
	"context"
	"sort"
	"sync"
)

// CounterKey names a user counter: the function (short name, e.g.
// "ah_embed") and the counter ("texts_embedded").
type CounterKey struct{ Function, Name string }

// Counters collects the user counters of one bundle. The harness reports
// them to Flink as Beam user metrics (Flink shows them under the operator
// as flinkfn.<function>.<name>) and to the worker's own metrics. Safe for
// concurrent use.
type Counters struct {
	mu sync.Mutex
	m  map[CounterKey]int64
}

// NewCounters returns an empty set.
func NewCounters() *Counters { return &Counters{m: map[CounterKey]int64{}} }

// Add adds delta to a counter.
func (c *Counters) Add(function, name string, delta int64) {
	if c == nil || delta == 0 {
		return
	}
	c.mu.Lock()
	c.m[CounterKey{function, name}] += delta
	c.mu.Unlock()
}

// CounterValue is one counter and its value.
type CounterValue struct {
	CounterKey
	Value int64
}

// Values returns every non-zero counter, sorted by function then name.
func (c *Counters) Values() []CounterValue {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	out := make([]CounterValue, 0, len(c.m))
	for k, v := range c.m {
		if v != 0 {
			out = append(out, CounterValue{k, v})
		}
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function < out[j].Function
		}
		return out[i].Name < out[j].Name
	})
	return out
}

type countersKey struct{}

// WithCounters returns a context whose functions count into c.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	return context.WithValue(ctx, countersKey{}, c)
}

// AddCounter adds delta to the bundle's counter function.name; a no-op
// outside a bundle.
func AddCounter(ctx context.Context, function, name string, delta int64) {
	c, _ := ctx.Value(countersKey{}).(*Counters)
	c.Add(function, name, delta)
}
