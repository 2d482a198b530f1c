package pickle

import (
	"errors"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"os"
	"path/filepath"
	"testing"
)

// seedAll adds every fixture of the package to a fuzz corpus.
func seedAll(f *testing.F, withTag bool) {
	f.Helper()
	add := func(b []byte) {
		if withTag {
			for tag := byte(0); tag <= TagTimestamp; tag++ {
				f.Add(append([]byte{tag}, b...))
			}
			return
		}
		f.Add(b)
	}
	for _, c := range loadVMCases(f) {
		add(mustHex(f, c.Hex))
	}
	files, err := filepath.Glob("testdata/payloads/*.pkl")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	for _, c := range loadPyrolite(f) {
		b := mustHex(f, c.Hex)
		if withTag {
			f.Add(b)
		} else {
			f.Add(b[1:])
		}
	}
	add(ByReference("pkg.plainmod", "f", false))
}

func FuzzUnpickle(f *testing.F) {
	seedAll(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := UnpickleLimits(data, Limits{})
		if err != nil {
			var oe *OpError
			if !errors.As(err, &oe) {
				t.Fatalf("error without opcode/offset: %v", err)
			}
			if oe.Offset < 0 || oe.Offset > len(data) {
				t.Fatalf("offset %d outside input of %d bytes", oe.Offset, len(data))
			}
			return
		}
		if n <= 0 || n > len(data) || data[n-1] != opStop {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		_ = Repr(v)
		_ = Plain(v)
	})
}

func FuzzIdentify(f *testing.F) {
	seedAll(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, err := Identify(data)
		if err != nil {
			if len(data) > 0 && data[0] == opProto && errors.Is(err, ErrNotPickle) {
				t.Fatalf("pickle reported as not a pickle: %v", err)
			}
			return
		}
		if len(data) == 0 || data[0] != opProto {
			t.Fatalf("identified a payload not starting with PROTO: %+v", ref)
		}
		_ = ref.Name()
		for _, v := range ref.State {
			_ = Plain(v)
		}
	})
}

func FuzzConstant(f *testing.F) {
	seedAll(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Constant(data)
		if err != nil {
			return
		}
		if c.Kind < ConstNull || c.Kind > ConstTimestamp || c.Tag != data[0] {
			t.Fatalf("bad constant %+v", c)
		}
		if c.Kind == ConstDecimal {
			if _, _, err := fn.ParseDecimal(c.Str); err != nil {
				t.Fatalf("decimal %q accepted but does not parse: %v", c.Str, err)
			}
		}
		_ = c.String()
		_, _ = c.Time()
	})
}

func FuzzByReference(f *testing.F) {
	f.Add("pkg.plainmod", "f", false)
	f.Add("pickle_fixture_mods.table_funcs", "plain_range", true)
	f.Add("", "", false)
	f.Fuzz(func(t *testing.T, module, name string, table bool) {
		ref, err := Identify(ByReference(module, name, table))
		if err != nil {
			t.Fatal(err)
		}
		if ref.Module != module || ref.QualName != name || !ref.Delegating || ref.ByValue {
			t.Fatalf("got %+v", ref)
		}
	})
}
