// Package recent remembers the most recent keys (and a value for each) in
// a fixed amount of memory: the oldest key is forgotten when a new one
// comes and the memory is full.
package recent

// Map holds at most its capacity of the most recently added keys. Not safe
// for concurrent use.
type Map[K comparable, V any] struct {
	keys []K
	used []bool
	vals map[K]V
	next int
}

// New returns a Map that remembers n keys (n >= 1).
func New[K comparable, V any](n int) *Map[K, V] {
	n = max(n, 1)
	return &Map[K, V]{keys: make([]K, n), used: make([]bool, n), vals: make(map[K]V, n)}
}

// Add remembers k with v. A key already remembered gets the new value and
// keeps its place (it is not added twice).
func (m *Map[K, V]) Add(k K, v V) {
	if _, ok := m.vals[k]; ok {
		m.vals[k] = v
		return
	}
	if m.used[m.next] {
		delete(m.vals, m.keys[m.next])
	}
	m.keys[m.next], m.used[m.next] = k, true
	m.vals[k] = v
	m.next = (m.next + 1) % len(m.keys)
}

// Get returns k's value and whether k is remembered.
func (m *Map[K, V]) Get(k K) (V, bool) {
	v, ok := m.vals[k]
	return v, ok
}

// Has reports whether k is remembered.
func (m *Map[K, V]) Has(k K) bool {
	_, ok := m.vals[k]
	return ok
}

// Len is the number of keys remembered.
func (m *Map[K, V]) Len() int { return len(m.vals) }
