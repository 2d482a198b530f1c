package recent

import (
	"errors"
	"testing"
)

func TestForgetsTheOldest(t *testing.T) {
	m := New[string, int](3)
	for i, k := range []string{"a", "b", "c", "d"} {
		m.Add(k, i)
	}
	if m.Has("a") || !m.Has("b") || !m.Has("d") || m.Len() != 3 {
		t.Fatalf("after a..d in 3: has a %v b %v d %v, len %d", m.Has("a"), m.Has("b"), m.Has("d"), m.Len())
	}
	if v, ok := m.Get("c"); !ok || v != 2 {
		t.Fatalf("c = %v %v", v, ok)
	}
}

// A key added again keeps one place and its newest value; evicting an old
// slot never drops a newer entry (the bug of the pool's former ring).
func TestRepeatedKey(t *testing.T) {
	m := New[string, error](2)
	first, second := errors.New("first"), errors.New("second")
	m.Add("w-1", first)
	m.Add("w-1", second)
	m.Add("w-2", nil)
	if v, ok := m.Get("w-1"); !ok || v != second {
		t.Fatalf("w-1 = %v %v, want the second error", v, ok)
	}
	m.Add("w-3", nil) // evicts w-1 (the oldest), once
	if m.Has("w-1") || !m.Has("w-2") || !m.Has("w-3") || m.Len() != 2 {
		t.Fatalf("has w-1 %v w-2 %v w-3 %v len %d", m.Has("w-1"), m.Has("w-2"), m.Has("w-3"), m.Len())
	}
}

func TestZeroValueKeys(t *testing.T) {
	m := New[string, bool](2)
	m.Add("", true)
	m.Add("x", true)
	m.Add("y", true)
	if m.Has("") || !m.Has("x") || !m.Has("y") {
		t.Fatal("the empty key is a key like any other")
	}
}
