package memory

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

const mib = 1 << 20

func mustReserve(t *testing.T, b *Budget, k Kind, name string, n int64) *Reservation {
	t.Helper()
	r, err := b.Reserve(k, name, n)
	if err != nil {
		t.Fatalf("Reserve(%s, %s, %d): %v", k, name, n, err)
	}
	return r
}

func TestMiB(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0.0 MiB"},
		{15 * mib, "15.0 MiB"},
		{mib + mib/2, "1.5 MiB"},
		{262459392, "250.3 MiB"},
	} {
		if got := MiB(tc.n); got != tc.want {
			t.Errorf("MiB(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestRefusalMessage(t *testing.T) {
	model := int64(262459392) // 250.3 MiB
	limit := int64(400 * mib)
	b := NewBudget(limit, "--memory-limit")
	mustReserve(t, b, KindModel, "all-MiniLM-L6-v2/fp32", model)
	mustReserve(t, b, KindFramework, "", 64*mib)
	for i := 1; i <= 5; i++ {
		mustReserve(t, b, KindBuffer, fmt.Sprintf("w-%d", i), 15*mib)
	}
	free := limit - model - 64*mib - 75*mib
	if got := b.Free(); got != free {
		t.Fatalf("Free = %d, want %d", got, free)
	}

	tests := []struct {
		name string
		kind Kind
		who  string
		n    int64
		want []string
	}{
		{"buffer", KindBuffer, "w-6", 15 * mib, []string{
			"cannot reserve 15.0 MiB buffer memory for session w-6 (python.fn-execution.buffer.memory.size): ",
			MiB(free) + " of the 400.0 MiB budget (--memory-limit) is free; ",
			"reserved: model all-MiniLM-L6-v2/fp32 250.3 MiB, framework 64.0 MiB, buffer 5 sessions × 15.0 MiB = 75.0 MiB (names: w-1, w-2, w-3, w-4, w-5)",
		}},
		{"framework", KindFramework, "worker-2", 64 * mib, []string{
			"cannot reserve 64.0 MiB framework memory for worker-2 (python.fn-execution.framework.memory.size)",
			"400.0 MiB budget",
		}},
		{"model", KindModel, "big/fp32", 300 * mib, []string{
			"cannot reserve 300.0 MiB for the measured footprint of model big/fp32: ",
			"reserved: model all-MiniLM-L6-v2/fp32 250.3 MiB",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := b.Reserve(tc.kind, tc.who, tc.n)
			if err == nil {
				t.Fatalf("Reserve succeeded: %v", r.Size())
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not *RefusedError: %v", err, err)
			}
			if re.Kind != tc.kind || re.Name != tc.who || re.Need != tc.n || re.Free != free || re.Limit != limit || re.Source != "--memory-limit" {
				t.Errorf("fields = %+v", re)
			}
			if len(re.Reserved) != 7 {
				t.Errorf("Reserved has %d entries, want 7", len(re.Reserved))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message\n  %s\nlacks\n  %s", err, w)
				}
			}
		})
	}
	if s := b.Snapshot(); s.Total != limit-free || s.Count[KindBuffer] != 5 {
		t.Errorf("refusals changed the budget: %+v", s)
	}
}

func TestRefusalGrouping(t *testing.T) {
	b := NewBudget(100*mib, "cgroup memory.max")
	for i := 0; i < 10; i++ {
		mustReserve(t, b, KindBuffer, fmt.Sprintf("s%d", i), mib+int64(i))
	}
	_, err := b.Reserve(KindBuffer, "x", 95*mib)
	if err == nil {
		t.Fatal("Reserve succeeded")
	}
	msg := err.Error()
	for _, w := range []string{
		"buffer 10 sessions, " + MiB(10*mib+45) + " in all",
		"(names: s0, s1, s2, s3, s4, s5, s6, s7, …)",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
	if strings.Contains(msg, "s8") {
		t.Errorf("message lists more than 8 names: %q", msg)
	}

	empty := NewBudget(mib, "none")
	_, err = empty.Reserve(KindFramework, "", 64*mib)
	if err == nil || !strings.Contains(err.Error(), "reserved: nothing") || !strings.Contains(err.Error(), "1.0 MiB of the 1.0 MiB budget (none) is free") {
		t.Errorf("empty budget refusal = %v", err)
	}
}

func TestResize(t *testing.T) {
	b := NewBudget(100*mib, "test")
	r := mustReserve(t, b, KindModel, "m", 40*mib)
	mustReserve(t, b, KindBuffer, "s", 20*mib)

	if err := r.Resize(80 * mib); err != nil { // exactly fills the budget
		t.Fatalf("grow to fit: %v", err)
	}
	if b.Free() != 0 || r.Size() != 80*mib {
		t.Fatalf("after grow: free %d size %d", b.Free(), r.Size())
	}
	err := r.Resize(81 * mib)
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("grow past limit: %v", err)
	}
	if !re.Resize || re.Have != 80*mib || re.Need != mib || re.Free != 0 {
		t.Errorf("refusal fields %+v", re)
	}
	if want := "cannot grow the measured footprint of model m from 80.0 MiB to 81.0 MiB (1.0 MiB more): 0.0 MiB of the 100.0 MiB budget (test) is free"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if r.Size() != 80*mib {
		t.Errorf("refused resize changed size to %d", r.Size())
	}
	if err := r.Resize(10 * mib); err != nil {
		t.Fatalf("shrink: %v", err)
	}
	if b.Free() != 70*mib || b.Snapshot().Reserved[KindModel] != 10*mib {
		t.Errorf("after shrink: free %d, %+v", b.Free(), b.Snapshot())
	}
	if err := r.Resize(-1); err == nil {
		t.Error("negative resize accepted")
	}
	r.Release()
	if err := r.Resize(mib); err == nil {
		t.Error("resize of a released reservation accepted")
	}
}

func TestReleaseIdempotent(t *testing.T) {
	b := NewBudget(10*mib, "test")
	r1 := mustReserve(t, b, KindBuffer, "a", 4*mib)
	r2 := mustReserve(t, b, KindBuffer, "b", 4*mib)
	r1.Release()
	r1.Release()
	r1.Release()
	if got := b.Free(); got != 6*mib {
		t.Fatalf("Free after repeated Release = %d, want %d", got, 6*mib)
	}
	if r1.Size() != 0 || r2.Size() != 4*mib {
		t.Errorf("sizes %d %d", r1.Size(), r2.Size())
	}
	s := b.Snapshot()
	if s.Total != 4*mib || s.Count[KindBuffer] != 1 || s.Reserved[KindBuffer] != 4*mib || s.Limit != 10*mib || s.Source != "test" {
		t.Errorf("snapshot %+v", s)
	}
	if _, err := b.Reserve(KindBuffer, "neg", -1); err == nil {
		t.Error("negative reservation accepted")
	}
}

func TestUnlimited(t *testing.T) {
	for _, limit := range []int64{0, -5} {
		b := NewBudget(limit, "none")
		if b.Limit() != 0 || b.Free() != math.MaxInt64 {
			t.Errorf("NewBudget(%d): Limit %d Free %d", limit, b.Limit(), b.Free())
		}
		r := mustReserve(t, b, KindModel, "huge", 1<<50)
		mustReserve(t, b, KindBuffer, "s", 1<<50)
		if err := r.Resize(1 << 55); err != nil {
			t.Fatal(err)
		}
		if s := b.Snapshot(); s.Total != 1<<55+1<<50 || s.Count[KindModel] != 1 {
			t.Errorf("snapshot %+v", s)
		}
		if _, err := b.Reserve(KindBuffer, "overflow", math.MaxInt64); err == nil {
			t.Error("overflowing reservation accepted")
		}
	}
}

func TestConcurrentReserveRelease(t *testing.T) {
	const limit = 20 * mib
	b := NewBudget(limit, "test")
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r, err := b.Reserve(KindBuffer, fmt.Sprintf("g%d-%d", g, i), 3*mib)
				if err != nil {
					var re *RefusedError
					if !errors.As(err, &re) {
						t.Errorf("unexpected error %v", err)
						return
					}
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				if f := b.Free(); f < 0 {
					t.Errorf("Free went negative: %d", f)
				}
				if err := r.Resize(int64(i%5) * 2 * mib); err != nil && !errors.As(err, new(*RefusedError)) {
					t.Errorf("Resize: %v", err)
				}
				r.Release()
				r.Release()
			}
		}()
	}
	wg.Wait()
	s := b.Snapshot()
	if s.Total != 0 || len(s.Count) != 0 || b.Free() != limit {
		t.Errorf("after all releases: %+v free %d", s, b.Free())
	}
	t.Logf("%d refusals", refused)
}
