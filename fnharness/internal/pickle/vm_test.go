package pickle

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// canon mirrors canon() in scripts/fixtures/gen_pickle_fixtures.py: a tagged JSON form of a value.
func canon(t *testing.T, v Value) any {
	t.Helper()
	list := func(items []Value) []any {
		out := make([]any, 0, len(items))
		for _, it := range items {
			out = append(out, canon(t, it))
		}
		return out
	}
	pairs := func(d *Dict) []any {
		out := make([]any, 0)
		if d == nil {
			return out
		}
		for _, e := range d.Items() {
			out = append(out, []any{canon(t, e.Key), canon(t, e.Value)})
		}
		return out
	}
	switch x := v.(type) {
	case nil:
		return []any{"none"}
	case bool:
		return []any{"bool", x}
	case int64:
		return []any{"int", strconv.FormatInt(x, 10)}
	case *big.Int:
		return []any{"int", x.String()}
	case float64:
		if math.IsNaN(x) {
			return []any{"float", "nan"}
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(x))
		return []any{"float", hex.EncodeToString(b[:])}
	case string:
		return []any{"str", x}
	case Bytes:
		return []any{"bytes", hex.EncodeToString(x)}
	case ByteArray:
		return []any{"bytearray", hex.EncodeToString(x)}
	case Tuple:
		return []any{"tuple", list(x)}
	case *List:
		return []any{"list", list(x.Items)}
	case *Dict:
		return []any{"dict", pairs(x)}
	case *Set:
		if x.Frozen {
			return []any{"frozenset", list(x.Items())}
		}
		return []any{"set", list(x.Items())}
	case Global:
		return []any{"global", x.Module, x.Name}
	case *Call:
		var kw, st any
		if x.Kwargs != nil {
			kw = canon(t, x.Kwargs)
		}
		if x.HasState {
			st = canon(t, x.State)
		}
		return []any{"call", canon(t, x.Callable), canon(t, x.Args), kw, x.New, st,
			list(x.ListItems), pairs(x.DictItems)}
	}
	t.Fatalf("canon: unexpected %T", v)
	return nil
}

func normalizeJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type vmCase struct {
	Name     string `json:"name"`
	Protocol int    `json:"protocol"`
	Hex      string `json:"hex"`
	Expected any    `json:"expected"`
}

func loadVMCases(t testing.TB) []vmCase {
	t.Helper()
	b, err := os.ReadFile("testdata/vm_values.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []vmCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnpickleMatchesCPythonReference decodes pickles written by CPython at protocols 0-5 and
// compares with CPython's own unpickler (imports and calls replaced by markers).
func TestUnpickleMatchesCPythonReference(t *testing.T) {
	cases := loadVMCases(t)
	if len(cases) < 300 {
		t.Fatalf("only %d reference cases", len(cases))
	}
	protos := map[int]int{}
	for _, c := range cases {
		protos[c.Protocol]++
		data := mustHex(t, c.Hex)
		v, n, err := UnpickleLimits(data, Limits{})
		if err != nil {
			t.Errorf("%s/proto%d: %v", c.Name, c.Protocol, err)
			continue
		}
		if n != len(data) {
			t.Errorf("%s/proto%d: consumed %d of %d bytes", c.Name, c.Protocol, n, len(data))
		}
		got := normalizeJSON(t, canon(t, v))
		if !reflect.DeepEqual(got, c.Expected) {
			gj, _ := json.Marshal(got)
			ej, _ := json.Marshal(c.Expected)
			t.Errorf("%s/proto%d:\n got  %.600s\n want %.600s", c.Name, c.Protocol, gj, ej)
		}
	}
	for p := 0; p <= HighestProtocol; p++ {
		if protos[p] == 0 {
			t.Errorf("no reference case for protocol %d", p)
		}
	}
}

func findCase(t *testing.T, name string, proto int) []byte {
	t.Helper()
	for _, c := range loadVMCases(t) {
		if c.Name == name && c.Protocol == proto {
			return mustHex(t, c.Hex)
		}
	}
	t.Fatalf("no case %s/%d", name, proto)
	return nil
}

func TestMemoSharesObjects(t *testing.T) {
	for _, proto := range []int{1, 2, 5} {
		v, err := Unpickle(findCase(t, "shared_refs", proto))
		if err != nil {
			t.Fatal(err)
		}
		l, ok := v.(*List)
		if !ok || len(l.Items) != 3 {
			t.Fatalf("proto %d: got %s", proto, Repr(v))
		}
		a, _ := l.Items[0].(*List)
		b, _ := l.Items[1].(*List)
		tup, _ := l.Items[2].(Tuple)
		if a == nil || a != b || len(tup) != 1 || tup[0] != Value(a) {
			t.Errorf("proto %d: memo references do not share the list: %s", proto, Repr(v))
		}
	}
}

func TestCyclicValues(t *testing.T) {
	// l = []; l.append(l) at protocol 2: ] q\x00 h\x00 a .
	data := []byte{0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}
	v, err := Unpickle(data)
	if err != nil {
		t.Fatal(err)
	}
	l := v.(*List)
	if len(l.Items) != 1 || l.Items[0] != Value(l) {
		t.Fatalf("cycle not preserved: %#v", l.Items)
	}
	if r := Repr(v); !strings.HasPrefix(r, "[[[[") || len(r) > 2*maxReprLen {
		t.Errorf("Repr of a cycle: %.100s (len %d)", r, len(r))
	}
	_ = Plain(v) // must terminate
}

func TestPopOnEmptyFrameDiscardsMark(t *testing.T) {
	// MARK POP (discards the mark, as CPython does) NONE STOP.
	v, err := Unpickle([]byte("(0N."))
	if err != nil || v != nil {
		t.Fatalf("got %v, %v", v, err)
	}
}

func TestTrailingBytesIgnored(t *testing.T) {
	v, n, err := UnpickleLimits([]byte("K\x05.garbage"), Limits{})
	if err != nil || v != int64(5) || n != 3 {
		t.Fatalf("got %v, %d, %v", v, n, err)
	}
}

func TestGlobalFixImports(t *testing.T) {
	v, err := Unpickle([]byte("\x80\x02c__builtin__\nset\n."))
	if err != nil || v != (Global{"builtins", "set"}) {
		t.Fatalf("got %v, %v", v, err)
	}
	// Protocol 3+ names are taken as written.
	v, err = Unpickle([]byte("\x80\x03c__builtin__\nset\n."))
	if err != nil || v != (Global{"__builtin__", "set"}) {
		t.Fatalf("got %v, %v", v, err)
	}
}

func TestBuildMergesDictState(t *testing.T) {
	// Global NEWOBJ with {'a':1} BUILD then {'b':2} BUILD.
	data := []byte("\x80\x04\x8c\x01m\x8c\x01C\x93)\x81}\x8c\x01aK\x01sb}\x8c\x01bK\x02sb.")
	v, err := Unpickle(data)
	if err != nil {
		t.Fatal(err)
	}
	c := v.(*Call)
	d, _ := c.State.(*Dict)
	if !c.New || d == nil || d.Len() != 2 {
		t.Fatalf("got %s", Repr(v))
	}
	if a, _ := d.Get("a"); a != int64(1) {
		t.Errorf("a = %v", a)
	}
	if b, _ := d.Get("b"); b != int64(2) {
		t.Errorf("b = %v", b)
	}
}

func TestCloudpickleSetstateHelpersAttachState(t *testing.T) {
	for _, mod := range []string{"cloudpickle.cloudpickle_fast", "cloudpickle.cloudpickle"} {
		// obj = m.C(); cloudpickle._function_setstate(obj, ({}, {'__name__': 'f'})); POP
		var b []byte
		b = append(b, 0x80, 5)
		b = append(b, "\x8c\x01m\x8c\x01C\x93)R\x94"...)
		b = append(b, 0x8c, byte(len(mod)))
		b = append(b, mod...)
		b = append(b, "\x8c\x12_function_setstate\x93h\x00}}\x8c\x08__name__\x8c\x01fs\x86\x86R0."...)
		v, err := Unpickle(b)
		if err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		c := v.(*Call)
		if !c.HasState {
			t.Fatalf("%s: state not attached: %s", mod, Repr(v))
		}
		_, slots := splitState(c)
		if s, _ := slots.GetString("__name__"); s != "f" {
			t.Errorf("%s: slot state %s", mod, Repr(c.State))
		}
	}
}

func TestOpcodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		sent   error
		op     string
		offset int
	}{
		{"empty", "", ErrTruncated, "STOP", 0},
		{"no stop", "\x80\x02N", ErrTruncated, "STOP", 3},
		{"stop on empty stack", ".", ErrMalformed, "STOP", 0},
		{"bad protocol", "\x80\x06N.", ErrUnsupported, "PROTO", 0},
		{"truncated binint", "\x80\x02J\x01\x02", ErrTruncated, "BININT", 2},
		{"truncated binunicode", "X\xff\xff\xff\xffab", ErrTruncated, "BINUNICODE", 0},
		{"huge binunicode8", "\x8d\xff\xff\xff\xff\xff\xff\xff\xffab", ErrTruncated, "BINUNICODE8", 0},
		{"frame past end", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N.", ErrTruncated, "FRAME", 2},
		{"negative binstring", "T\xff\xff\xff\xff.", ErrMalformed, "BINSTRING", 0},
		{"negative long4", "\x8b\x00\x00\x00\x80.", ErrMalformed, "LONG4", 0},
		{"memo miss", "\x80\x02h\x05.", ErrMalformed, "BINGET", 2},
		{"long memo miss", "j\x05\x00\x00\x00.", ErrMalformed, "LONG_BINGET", 0},
		{"put on empty", "q\x00.", ErrMalformed, "BINPUT", 0},
		{"memoize on empty", "\x94.", ErrMalformed, "MEMOIZE", 0},
		{"tuple without mark", "Nt.", ErrMalformed, "TUPLE", 1},
		{"tuple2 underflow", "N\x86.", ErrMalformed, "TUPLE2", 1},
		{"tuple1 across mark", "N(\x85.", ErrMalformed, "TUPLE1", 2},
		{"append to int", "K\x01K\x02a.", ErrMalformed, "APPEND", 4},
		{"setitem on list", "]K\x01K\x02s.", ErrMalformed, "SETITEM", 5},
		{"odd dict", "(K\x01d.", ErrMalformed, "DICT", 3},
		{"odd setitems", "}(K\x01u.", ErrMalformed, "SETITEMS", 4},
		{"additems on list", "](K\x01\x90.", ErrMalformed, "ADDITEMS", 4},
		{"stack_global non-str", "K\x01K\x02\x93.", ErrMalformed, "STACK_GLOBAL", 4},
		{"build on int", "K\x01}b.", ErrMalformed, "BUILD", 3},
		{"reduce underflow", "NR.", ErrMalformed, "REDUCE", 1},
		{"newobj underflow", ")\x81.", ErrMalformed, "NEWOBJ", 1},
		{"newobj_ex underflow", "))\x92.", ErrMalformed, "NEWOBJ_EX", 2},
		{"obj without class", "(o.", ErrMalformed, "OBJ", 1},
		{"pop underflow", "0.", ErrMalformed, "POP", 0},
		{"pop_mark without mark", "1.", ErrMalformed, "POP_MARK", 0},
		{"dup on empty", "2.", ErrMalformed, "DUP", 0},
		{"persid", "Pabc\n.", ErrUnsupported, "PERSID", 0},
		{"binpersid", "N\x51.", ErrUnsupported, "BINPERSID", 1},
		{"ext1", "\x82\x01.", ErrUnsupported, "EXT1", 0},
		{"ext2", "\x83\x01\x00.", ErrUnsupported, "EXT2", 0},
		{"ext4", "\x84\x01\x00\x00\x00.", ErrUnsupported, "EXT4", 0},
		{"next_buffer", "\x97.", ErrUnsupported, "NEXT_BUFFER", 0},
		{"readonly_buffer", "\x98.", ErrUnsupported, "READONLY_BUFFER", 0},
		{"unknown opcode", "\x80\x05\xff.", ErrMalformed, "0xff", 2},
		{"int garbage", "Iabc\n.", ErrMalformed, "INT", 0},
		{"int no newline", "I12", ErrTruncated, "INT", 0},
		{"float garbage", "Fx\n.", ErrMalformed, "FLOAT", 0},
		{"string unquoted", "Sabc\n.", ErrMalformed, "STRING", 0},
		{"string bad escape", "S'\\x4'\n.", ErrMalformed, "STRING", 0},
		{"unicode bad escape", "V\\u12\n.", ErrMalformed, "UNICODE", 0},
		{"get bad key", "gx\n.", ErrMalformed, "GET", 0},
		{"put negative", "Np-1\n.", ErrMalformed, "PUT", 1},
		{"int too long", "I" + strings.Repeat("9", 5000) + "\n.", ErrLimit, "INT", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Unpickle([]byte(tc.data))
			if err == nil {
				t.Fatalf("no error, got %s", Repr(v))
			}
			if !errors.Is(err, tc.sent) {
				t.Errorf("error %q is not %v", err, tc.sent)
			}
			var oe *OpError
			if !errors.As(err, &oe) {
				t.Fatalf("error %q is not an *OpError", err)
			}
			if OpName(oe.Op) != tc.op || oe.Offset != tc.offset {
				t.Errorf("error %q: op %s at %d, want %s at %d", err, OpName(oe.Op), oe.Offset, tc.op, tc.offset)
			}
			if !strings.Contains(err.Error(), "offset "+strconv.Itoa(tc.offset)) {
				t.Errorf("error %q does not name the offset", err)
			}
		})
	}
}

func TestTextOpcodes(t *testing.T) {
	tests := []struct {
		data string
		want string // Repr
	}{
		{"I00\n.", "False"},
		{"I01\n.", "True"},
		{"I-17\n.", "-17"},
		{"I123456789012345678901234567890\n.", "123456789012345678901234567890"},
		{"L-5L\n.", "-5"},
		{"L99999999999999999999L\n.", "99999999999999999999"},
		{"F1.5\n.", "1.5"},
		{"F1e400\n.", "+Inf"},
		{"S'a\\n\\x41\\101\\'b'\n.", `"a\nAA'b"`},
		{"S\"q\"\n.", `"q"`},
		{"V\\u00e9\\U0001F600\xe9\\\\u0041\n.", `"é😀é\\\\u0041"`},
		{"(I1\nI2\nl.", "[1, 2]"},
		{"(S'k'\nI1\nd.", `{"k": 1}`},
		{"(I1\ntp0\ng0\n\x86.", "((1), (1))"},
		{"(cm\nC\nI1\no.", "m.C((1))"},
		{"(I1\nim\nC\n.", "m.C((1))"},
		{"\x80\x02\x8a\x00.", "0"},
		{"\x80\x02\x8a\x01\xff.", "-1"},
		{"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x80.", "-2361183241434822606848"},
		{"\x80\x02\x8b\x02\x00\x00\x00\x00\x80.", "-32768"},
		{"\x80\x04\x8f(K\x01K\x01K\x02\x90.", "{1, 2}"},
		{"\x80\x04(K\x01\x91.", "frozenset({1})"},
		{"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00hi.", `bytearray(b"hi")`},
		{"\x80\x04\x8e\x01\x00\x00\x00\x00\x00\x00\x00z.", `b"z"`},
		{"\x80\x04\x8d\x01\x00\x00\x00\x00\x00\x00\x00z.", `"z"`},
		{"\x80\x04N(K\x011\x85.", "(None)"},
	}
	for _, tc := range tests {
		v, err := Unpickle([]byte(tc.data))
		if err != nil {
			t.Errorf("%q: %v", tc.data, err)
			continue
		}
		if got := Repr(v); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.data, got, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("N", 100) + "."
	if _, _, err := UnpickleLimits([]byte(deep), Limits{MaxStack: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("stack limit: %v", err)
	}
	marks := strings.Repeat("(", 100) + "N."
	if _, _, err := UnpickleLimits([]byte(marks), Limits{MaxMarks: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("mark limit: %v", err)
	}
	memo := "N" + strings.Repeat("\x94", 100) + "."
	if _, _, err := UnpickleLimits([]byte(memo), Limits{MaxMemo: 50}); !errors.Is(err, ErrLimit) {
		t.Errorf("memo limit: %v", err)
	}
	// Re-putting an existing key does not count.
	reput := "N" + strings.Repeat("q\x00", 100) + "."
	if _, _, err := UnpickleLimits([]byte(reput), Limits{MaxMemo: 1}); err != nil {
		t.Errorf("re-put: %v", err)
	}
	if _, _, err := UnpickleLimits([]byte(deep), Limits{}); err != nil {
		t.Errorf("default limits: %v", err)
	}
}

func TestValueHelpers(t *testing.T) {
	d := NewDict()
	d.Set("a", int64(1))
	d.Set("a", int64(2))
	d.Set(Tuple{int64(1)}, "t")
	d.Set(Tuple{int64(1)}, "t2")
	if d.Len() != 3 {
		t.Errorf("len %d", d.Len())
	}
	if v, ok := d.Get("a"); !ok || v != int64(2) {
		t.Errorf("a = %v", v)
	}
	if _, ok := d.Get("missing"); ok {
		t.Error("missing key found")
	}
	var nilDict *Dict
	if _, ok := nilDict.Get("a"); ok {
		t.Error("nil dict has a key")
	}
	p := Plain(Tuple{int64(1), &List{Items: []Value{"x", Bytes("b")}}, mustDict(t, "k", 2.5)})
	want := []any{int64(1), []any{"x", []byte("b")}, map[string]any{"k": 2.5}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Plain = %#v", p)
	}
	// A dict with a non-str key stays a *Dict.
	nd := NewDict()
	nd.Set(int64(1), "x")
	if _, ok := Plain(nd).(*Dict); !ok {
		t.Error("Plain converted a dict with int keys")
	}
}

func mustDict(t *testing.T, kv ...any) *Dict {
	t.Helper()
	d := NewDict()
	for i := 0; i+1 < len(kv); i += 2 {
		d.Set(kv[i], kv[i+1])
	}
	return d
}

// TestExponentialSharing: a small pickle that describes a tree of 2^40 nodes via memo
// references must not make Plain or Repr explode.
func TestExponentialSharing(t *testing.T) {
	b := []byte{0x80, 4, ']'}
	for i := 0; i < 40; i++ {
		b = append(b, 0x94, 'h', byte(i), 'h', byte(i), 0x86) // memo[i] = top; push (x, x)
	}
	b = append(b, '.')
	v, err := Unpickle(b)
	if err != nil {
		t.Fatal(err)
	}
	if r := Repr(v); len(r) > 2*maxReprLen {
		t.Errorf("Repr length %d", len(r))
	}
	_ = Plain(v)
}

// TestPrefixesNeverPanic decodes every prefix of every fixture: all must fail cleanly (or,
// for fixtures with trailing data, succeed) without panicking.
func TestPrefixesNeverPanic(t *testing.T) {
	for _, c := range loadVMCases(t) {
		data := mustHex(t, c.Hex)
		if len(data) > 2000 {
			continue
		}
		for i := 0; i < len(data); i++ {
			if _, err := Unpickle(data[:i]); err == nil {
				t.Errorf("%s/%d: prefix of %d bytes decoded", c.Name, c.Protocol, i)
			}
		}
	}
}
