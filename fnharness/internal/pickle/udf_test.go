package pickle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type payloadEntry struct {
	File        string         `json:"file"`
	Case        string         `json:"case"`
	Description string         `json:"description"`
	Cloudpickle string         `json:"cloudpickle"`
	Python      string         `json:"python"`
	PyFlink     string         `json:"pyflink"`
	Module      string         `json:"module"`
	QualName    string         `json:"qualname"`
	Kind        string         `json:"kind"`
	Delegating  bool           `json:"delegating"`
	ByValue     bool           `json:"by_value"`
	FileName    string         `json:"filename"`
	State       map[string]any `json:"state"`
}

func loadPayloads(t testing.TB) []payloadEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Payloads []payloadEntry `json:"payloads"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Payloads
}

func readPayload(t testing.TB, e payloadEntry) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", e.File))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIdentifyRealPayloads checks Identify on payloads produced by the real PyFlink 2.3.0
// code path with cloudpickle 2.2.1 (what PyFlink 2.3.0 installs) and 3.1.2.
func TestIdentifyRealPayloads(t *testing.T) {
	entries := loadPayloads(t)
	wantCases := []string{
		"decorated_module_func", "sql_decorated_module_func", "plain_module_func", "lambda_main",
		"nested_func", "main_func", "main_decorated", "class_scalar", "class_table",
		"udtf_decorated", "udtf_plain", "class_main", "class_table_main",
		"callable_instance_main", "async_plain_module_func", "pandas_udaf_module_func",
		"bound_method",
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Cloudpickle[:1]+"/"+e.Case] = true
		t.Run(strings.TrimSuffix(filepath.Base(e.File), ".pkl"), func(t *testing.T) {
			ref, err := Identify(readPayload(t, e))
			if err != nil {
				t.Fatal(err)
			}
			if ref.Module != e.Module || ref.QualName != e.QualName {
				t.Errorf("identified %q %q, want %q %q", ref.Module, ref.QualName, e.Module, e.QualName)
			}
			if ref.Kind != e.Kind || ref.Delegating != e.Delegating || ref.ByValue != e.ByValue {
				t.Errorf("kind %q delegating %v by value %v, want %q %v %v",
					ref.Kind, ref.Delegating, ref.ByValue, e.Kind, e.Delegating, e.ByValue)
			}
			if ref.FileName != e.FileName {
				t.Errorf("file name %q, want %q", ref.FileName, e.FileName)
			}
			if e.State == nil {
				if ref.State != nil {
					t.Errorf("unexpected state %v", ref.State)
				}
				return
			}
			got := map[string]any{}
			for k, v := range ref.State {
				got[k] = Plain(v)
			}
			if g, w := normalizeJSON(t, got), normalizeJSON(t, e.State); !reflect.DeepEqual(g, w) {
				t.Errorf("state %v, want %v", g, w)
			}
		})
	}
	for _, c := range wantCases {
		for _, v := range []string{"2", "3"} {
			if !seen[v+"/"+c] {
				t.Errorf("no fixture for case %s with cloudpickle %s.x", c, v)
			}
		}
	}
}

// TestIdentifyClassState spells out the constructor parameters of one fixture, so that a
// wrong manifest cannot hide a wrong reading.
func TestIdentifyClassState(t *testing.T) {
	for _, e := range loadPayloads(t) {
		if e.Case != "class_scalar" {
			continue
		}
		ref, err := Identify(readPayload(t, e))
		if err != nil {
			t.Fatal(err)
		}
		if ref.Name() != "pickle_fixture_mods.scalar_funcs.Multiply" || ref.ByValue || ref.Delegating {
			t.Errorf("%s: %+v", e.File, ref)
		}
		st := ref.State
		if st["factor"] != int64(3) || st["label"] != "triple" || st["enabled"] != true ||
			st["ratio"] != 1.25 || st["extra"] != nil {
			t.Errorf("%s: state %v", e.File, st)
		}
		if _, ok := st["extra"]; !ok {
			t.Errorf("%s: None-valued attribute missing", e.File)
		}
		tags, _ := st["tags"].(*List)
		if tags == nil || !reflect.DeepEqual(Plain(tags), []any{"a", "b"}) {
			t.Errorf("%s: tags %s", e.File, Repr(st["tags"]))
		}
		opts, _ := st["options"].(*Dict)
		if m, _ := opts.GetString("mode"); m != "slow" {
			t.Errorf("%s: options %s", e.File, Repr(st["options"]))
		}
	}
}

// specPayload is the 96-byte by-reference payload printed in the protocol spec §8.2.
const specPayload = "8005" + "95" + "5500000000000000" + // PROTO 5, FRAME 85
	"8c11" + "7079666c696e6b2e7461626c652e756466" + "94" + // 'pyflink.table.udf'
	"8c18" + "44656c65676174696e675363616c617246756e6374696f6e" + "94" + "93" + "94" +
	"29" + "81" + "94" + "7d" + "94" +
	"8c04" + "66756e63" + "94" + // 'func'
	"8c0c" + "706b672e706c61696e6d6f64" + "94" + // 'pkg.plainmod'
	"8c01" + "66" + "94" + "93" + "94" + "73" + "62" + "2e"

func TestByReferenceMatchesSpec(t *testing.T) {
	want, err := hex.DecodeString(specPayload)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 96 {
		t.Fatalf("spec payload is %d bytes", len(want))
	}
	got := ByReference("pkg.plainmod", "f", false)
	if !bytes.Equal(got, want) {
		t.Fatalf("ByReference:\n got  %x\n want %x", got, want)
	}
	ref, err := Identify(got)
	if err != nil {
		t.Fatal(err)
	}
	want2 := UDFRef{Module: "pkg.plainmod", QualName: "f", Kind: KindDelegatingScalarFunction, Delegating: true}
	if !reflect.DeepEqual(ref, want2) {
		t.Errorf("Identify = %+v", ref)
	}
}

// TestByReferenceMatchesCloudpickle: ByReference reproduces, byte for byte, what cloudpickle
// (2.x and 3.x) writes for an undecorated module function wrapped by udf() / udtf().
func TestByReferenceMatchesCloudpickle(t *testing.T) {
	n := 0
	for _, e := range loadPayloads(t) {
		var table bool
		switch e.Case {
		case "plain_module_func":
		case "udtf_plain":
			table = true
		default:
			continue
		}
		n++
		if got := ByReference(e.Module, e.QualName, table); !bytes.Equal(got, readPayload(t, e)) {
			t.Errorf("%s:\n got  %x\n want %x", e.File, got, readPayload(t, e))
		}
	}
	if n != 4 {
		t.Errorf("compared %d fixtures, want 4", n)
	}
}

func TestByReferenceRoundTrip(t *testing.T) {
	long := strings.Repeat("m", 300)
	for _, tc := range []struct {
		module, name string
		table        bool
		kind         string
	}{
		{"a.b", "c", false, KindDelegatingScalarFunction},
		{"a.b", "C.method", true, KindDelegationTableFunction},
		{long, "x" + long, false, KindDelegatingScalarFunction},
		{"", "é", true, KindDelegationTableFunction},
	} {
		p := ByReference(tc.module, tc.name, tc.table)
		ref, err := Identify(p)
		if err != nil {
			t.Fatalf("%q %q: %v", tc.module, tc.name, err)
		}
		if ref.Module != tc.module || ref.QualName != tc.name || ref.Kind != tc.kind || ref.ByValue {
			t.Errorf("%q %q: %+v", tc.module, tc.name, ref)
		}
		// The frame length covers exactly the rest of the pickle.
		if _, n, err := UnpickleLimits(p, Limits{}); err != nil || n != len(p) {
			t.Errorf("%q: consumed %d of %d (%v)", tc.module, n, len(p), err)
		}
	}
}

func TestIdentifyNotPickle(t *testing.T) {
	for _, p := range [][]byte{nil, {}, {0x00, 'C', 'O', 'U', 'N', 'T'}, []byte("flinkfn:x")} {
		_, err := Identify(p)
		if !errors.Is(err, ErrNotPickle) {
			t.Errorf("%q: %v", p, err)
		}
		if len(p) > 0 && !strings.Contains(err.Error(), "0x80") {
			t.Errorf("%q: error %q does not explain", p, err)
		}
	}
}

func TestIdentifyErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		sent error
	}{
		{"truncated", ByReference("a", "b", false)[:50], ErrTruncated},
		{"int root", []byte("\x80\x02K\x01."), ErrUnrecognized},
		{"delegate without func", []byte("\x80\x04\x8c\x11pyflink.table.udf\x8c\x18DelegatingScalarFunction\x93)\x81}b."), ErrUnrecognized},
		{"func is an int", []byte("\x80\x04\x8c\x11pyflink.table.udf\x8c\x18DelegatingScalarFunction\x93)\x81}\x8c\x04funcK\x01sb."), ErrUnrecognized},
		{"object of a call", []byte("\x80\x04\x8c\x01m\x8c\x01f\x93)R)R."), ErrUnrecognized},
	}
	for _, tc := range tests {
		_, err := Identify(tc.data)
		if !errors.Is(err, tc.sent) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.sent)
		}
	}
}

// pb builds pickles for tests.
type pb struct{ b []byte }

func (p *pb) op(ops ...byte) *pb { p.b = append(p.b, ops...); return p }
func (p *pb) str(s string) *pb {
	p.b = append(p.b, opShortBinUnicode, byte(len(s)))
	p.b = append(p.b, s...)
	return p
}
func (p *pb) global(m, n string) *pb { return p.str(m).str(n).op(opStackGlobal) }

// byValueFunc builds DelegatingScalarFunction(func=_make_function(code, base_globals, None,
// None, None)) with an optional _function_setstate slot state, in the layout of CPython 3.11
// (withQualname) or 3.8-3.10.
func byValueFunc(cpModule string, withQualname bool, slots map[string]string, baseName string) []byte {
	p := &pb{}
	p.op(opProto, 5)
	p.global("pyflink.table.udf", "DelegatingScalarFunction").op(opEmptyTuple, opNewObj)
	p.op(opEmptyDict).str("func")
	p.global(cpModule, "_make_function").op(opMemoize) // memo 0: _make_function
	p.op(opMark)
	p.global(cpModule, "_builtin_type").str("CodeType").op(opTuple1, opReduce)
	p.op(opMark, opBinInt1, 1, opBinInt1, 0, opBinInt1, 0, opBinInt1, 1, opBinInt1, 2, opBinInt1, 3)
	p.op(opShortBinBytes, 2, 0x97, 0x00)                   // co_code
	p.op(opEmptyTuple, opEmptyTuple).str("x").op(opTuple1) // consts, names, varnames
	p.str("/src/job.py").str("inner")                      // co_filename, co_name
	if withQualname {
		p.str("outer.<locals>.inner")
	}
	p.op(opBinInt1, 7).op(opShortBinBytes, 0, opShortBinBytes, 0, opEmptyTuple, opEmptyTuple, opTuple, opReduce)
	p.op(opEmptyDict)
	if baseName != "" {
		p.str("__name__").str(baseName).op(opSetItem)
	}
	p.op(opNone, opNone, opNone, opTuple, opReduce, opMemoize) // memo 1: the function
	if slots != nil {
		p.global(cpModule, "_function_setstate").op(opBinGet, 1, opEmptyDict, opEmptyDict)
		for k, v := range slots {
			p.str(k).str(v).op(opSetItem)
		}
		p.op(opTuple2, opTuple2, opReduce, opPop)
	}
	p.op(opSetItem, opBuild, opStop)
	return p.b
}

func TestIdentifyByValueFallbacks(t *testing.T) {
	tests := []struct {
		name       string
		cp         string
		qualname   bool
		slots      map[string]string
		base       string
		wantModule string
		wantQual   string
	}{
		{"slot state", "cloudpickle.cloudpickle", true,
			map[string]string{"__module__": "pkg.mod", "__qualname__": "f.<locals>.g", "__name__": "g"}, "other",
			"pkg.mod", "f.<locals>.g"},
		{"slot __name__ only", "cloudpickle.cloudpickle", true,
			map[string]string{"__name__": "g"}, "pkg.base", "pkg.base", "g"},
		{"no state, co_qualname (3.11+)", "cloudpickle.cloudpickle", true, nil, "pkg.base",
			"pkg.base", "outer.<locals>.inner"},
		{"no state, co_name (3.10)", "cloudpickle.cloudpickle_fast", false, nil, "pkg.base",
			"pkg.base", "inner"},
		{"no module anywhere", "cloudpickle", false, nil, "", "", "inner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := Identify(byValueFunc(tc.cp, tc.qualname, tc.slots, tc.base))
			if err != nil {
				t.Fatal(err)
			}
			if ref.Module != tc.wantModule || ref.QualName != tc.wantQual || !ref.ByValue ||
				!ref.Delegating || ref.FileName != "/src/job.py" {
				t.Errorf("got %+v", ref)
			}
		})
	}
}

func TestIdentifyBareFunction(t *testing.T) {
	// cloudpickle.dumps(pkg.mod.f) of an importable function: a bare global.
	ref, err := Identify([]byte("\x80\x05\x95\x11\x00\x00\x00\x00\x00\x00\x00\x8c\x07pkg.mod\x94\x8c\x01f\x94\x93\x94."))
	if err != nil {
		t.Fatal(err)
	}
	if ref.Module != "pkg.mod" || ref.QualName != "f" || ref.Kind != "" || ref.Delegating {
		t.Errorf("got %+v", ref)
	}
}

// TestIdentifyProtocol2Instance: a class-based UDF pickled at protocol 2 with GLOBAL and
// memo opcodes (copyreg-free NEWOBJ form) and a (None, slotstate) BUILD.
func TestIdentifyProtocol2Instance(t *testing.T) {
	data := []byte("\x80\x02cpkg.mod\nMyFunc\nq\x00)\x81q\x01N}q\x02X\x01\x00\x00\x00kK\x07s\x86b.")
	ref, err := Identify(data)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Name() != "pkg.mod.MyFunc" || ref.Kind != "pkg.mod.MyFunc" || ref.State["k"] != int64(7) {
		t.Errorf("got %+v", ref)
	}
}

// TestIdentifyPrefixesFail: every strict prefix of a real payload is rejected cleanly.
func TestIdentifyPrefixesFail(t *testing.T) {
	for _, e := range loadPayloads(t) {
		p := readPayload(t, e)
		for i := 0; i < len(p); i++ {
			if _, err := Identify(p[:i]); err == nil {
				t.Fatalf("%s: prefix of %d bytes identified", e.File, i)
			}
		}
	}
}
