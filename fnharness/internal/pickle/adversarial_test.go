package pickle

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestAdversarialInputs runs inputs built to make a naive unpickler quadratic or exponential.
// Each must finish quickly (the test would time out otherwise) with a definite outcome.
func TestAdversarialInputs(t *testing.T) {
	const n = 200000
	bigStr := "X\x00\x00\x01\x00" + strings.Repeat("k", 1<<16) // 64 KiB str
	tests := []struct {
		name string
		data []byte
		sent error // nil: must decode
		len  int   // container length after decoding, when sent is nil
	}{
		{"dup a long key into one dict",
			[]byte("\x80\x04}" + bigStr + "\x940" + strings.Repeat("h\x00h\x00s", n/5) + "."), nil, n / 5}, // long keys are not indexed
		{"dup a long member into one set",
			[]byte("\x80\x04\x8f(" + bigStr + strings.Repeat("2", n) + "\x90."), nil, n + 1},
		{"self-appending list",
			[]byte("\x80\x04]\x94" + strings.Repeat("h\x002a", n/4) + "."), nil, n / 4},
		{"many big ints",
			[]byte("\x80\x02(" + strings.Repeat("I"+strings.Repeat("7", 4000)+"\n", 250) + "l."), nil, 250},
		{"many LONG4 ints",
			[]byte("\x80\x02(" + strings.Repeat("\x8b\x00\x10\x00\x00"+strings.Repeat("\xff", 4096), 200) + "l."), nil, 200},
		{"marks beyond the limit", bytes.Repeat([]byte("("), 1<<17), ErrLimit, 0},
		{"stack beyond the limit", bytes.Repeat([]byte("N"), 1<<21), ErrLimit, 0},
		{"memo beyond the limit", append([]byte("N"), bytes.Repeat([]byte{opMemoize}, 1<<21)...), ErrLimit, 0},
		{"wide tuple", []byte("(" + strings.Repeat("N", 1<<19) + "t."), nil, 1 << 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Unpickle(tc.data)
			if tc.sent != nil {
				if !errors.Is(err, tc.sent) {
					t.Fatalf("error %v, want %v", err, tc.sent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.len >= 0 {
				var got int
				switch x := v.(type) {
				case *List:
					got = len(x.Items)
				case *Set:
					got = x.Len()
				case Tuple:
					got = len(x)
				case *Dict:
					got = x.Len()
				}
				if got != tc.len {
					t.Errorf("length %d, want %d", got, tc.len)
				}
			}
			if r := Repr(v); len(r) > 2*maxReprLen {
				t.Errorf("Repr length %d", len(r))
			}
			_ = Plain(v)
		})
	}
}
