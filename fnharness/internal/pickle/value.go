package pickle

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Value is anything the unpickler produces. The concrete types are:
//
//	nil        None
//	bool       True / False
//	int64      int that fits in 64 bits
//	*big.Int   int outside the int64 range (never used for values that fit)
//	float64    float
//	string     str (also the protocol 0/1 STRING opcodes, whose bytes are kept as they are)
//	Bytes      bytes
//	ByteArray  bytearray
//	Tuple      tuple
//	*List      list
//	*Dict      dict (insertion ordered)
//	*Set       set / frozenset
//	Global     a name loaded by GLOBAL / STACK_GLOBAL / INST (never imported)
//	*Call      the result of calling something (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ)
//
// Containers hold pointers, so memo references share them and pickles with cycles produce
// cyclic values; every function in this package that walks values stops at a fixed depth.
type Value = any

// Bytes is a Python bytes object.
type Bytes []byte

// ByteArray is a Python bytearray object.
type ByteArray []byte

// Tuple is a Python tuple.
type Tuple []Value

// List is a Python list. It is a pointer type because APPEND/APPENDS mutate it after it may
// have been stored in the memo.
type List struct {
	Items []Value
}

// Set is a Python set or frozenset, in insertion order. Duplicates are dropped for members
// that are indexed (see Dict); others (containers, objects, long str/bytes) are all kept.
type Set struct {
	Frozen bool
	items  []Value
	index  map[hashKey]struct{}
}

// Items returns the members in insertion order. The slice must not be modified.
func (s *Set) Items() []Value { return s.items }

// Len returns the number of members.
func (s *Set) Len() int { return len(s.items) }

func (s *Set) add(v Value) {
	if k, ok := keyOf(v); ok {
		if s.index == nil {
			s.index = make(map[hashKey]struct{})
		}
		if _, dup := s.index[k]; dup {
			return
		}
		s.index[k] = struct{}{}
	}
	s.items = append(s.items, v)
}

// Global is a module-level name referenced by the pickle (GLOBAL, STACK_GLOBAL, INST). The
// unpickler never imports it.
type Global struct {
	Module string
	Name   string
}

// String returns "module.name".
func (g Global) String() string { return g.Module + "." + g.Name }

// Call is an object built by calling Callable: REDUCE (Callable(*Args)), NEWOBJ
// (Callable.__new__(Callable, *Args)), NEWOBJ_EX (with Kwargs), INST and OBJ.
//
// State is what BUILD attached to the object (Python's __setstate__ argument, usually a dict
// or a (dict, slotstate) tuple); HasState tells whether BUILD ran. The unpickler treats calls
// of cloudpickle's state helpers (_function_setstate, _class_setstate) like BUILD on their
// first argument, because that is what they do when Python runs them.
//
// ListItems and DictItems receive APPEND(S) and SETITEM(S) applied to the object (list and
// dict subclasses).
type Call struct {
	Callable  Value
	Args      Value
	Kwargs    Value
	New       bool
	State     Value
	HasState  bool
	ListItems []Value
	DictItems *Dict
}

// Dict is a Python dict: insertion ordered; a later SETITEM with an equal indexed key replaces
// the value. Indexed keys are None, bool, int (up to 2048 bits), float, Global, and str and
// bytes up to 256 bytes (which bounds the hashing work per opcode); other keys (tuples,
// containers, objects, longer strings) are appended as they come and cannot be found by Get.
// Python treats 1, 1.0 and True as the same key; Dict keeps them apart.
type Dict struct {
	entries []DictEntry
	index   map[hashKey]int
}

// DictEntry is one key/value pair of a Dict.
type DictEntry struct {
	Key   Value
	Value Value
}

// NewDict returns an empty Dict.
func NewDict() *Dict { return &Dict{} }

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.entries) }

// Items returns the entries in insertion order. The slice must not be modified.
func (d *Dict) Items() []DictEntry { return d.entries }

// Set stores value under key.
func (d *Dict) Set(key, value Value) {
	k, ok := keyOf(key)
	if ok {
		if d.index == nil {
			d.index = make(map[hashKey]int)
		}
		if i, found := d.index[k]; found {
			d.entries[i].Value = value
			return
		}
		d.index[k] = len(d.entries)
	}
	d.entries = append(d.entries, DictEntry{Key: key, Value: value})
}

// Get returns the value stored under an indexed key.
func (d *Dict) Get(key Value) (Value, bool) {
	if d == nil {
		return nil, false
	}
	k, ok := keyOf(key)
	if !ok || d.index == nil {
		return nil, false
	}
	i, found := d.index[k]
	if !found {
		return nil, false
	}
	return d.entries[i].Value, true
}

// GetString returns the value under key if it is a str.
func (d *Dict) GetString(key string) (string, bool) {
	v, ok := d.Get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// hashKey identifies indexed keys.
type hashKey struct {
	kind byte
	s    string
}

// maxKeyLen is the longest str or bytes used as an indexed dict/set key; longer ones are kept
// without duplicate detection, which bounds the hashing work per opcode.
const maxKeyLen = 256

func keyOf(v Value) (hashKey, bool) {
	switch x := v.(type) {
	case nil:
		return hashKey{kind: 'n'}, true
	case bool:
		if x {
			return hashKey{kind: 'b', s: "1"}, true
		}
		return hashKey{kind: 'b', s: "0"}, true
	case int64:
		return hashKey{kind: 'i', s: strconv.FormatInt(x, 16)}, true
	case *big.Int:
		if x == nil || x.BitLen() > 8*maxKeyLen {
			return hashKey{}, false
		}
		return hashKey{kind: 'i', s: x.Text(16)}, true
	case float64:
		return hashKey{kind: 'f', s: strconv.FormatUint(math.Float64bits(x), 16)}, true
	case string:
		if len(x) > maxKeyLen {
			return hashKey{}, false
		}
		return hashKey{kind: 's', s: x}, true
	case Bytes:
		if len(x) > maxKeyLen {
			return hashKey{}, false
		}
		return hashKey{kind: 'y', s: string(x)}, true
	case Global:
		return hashKey{kind: 'g', s: x.Module + "\n" + x.Name}, true
	}
	return hashKey{}, false
}

// maxWalkDepth bounds every recursive walk over values (Repr, Plain, identification).
const maxWalkDepth = 64

// maxReprLen bounds the output of Repr.
const maxReprLen = 4096

// Repr renders v roughly the way Python's repr would, for error messages and debugging.
// Deep nesting, long containers and output beyond a few KiB are elided.
func Repr(v Value) string {
	var b strings.Builder
	repr(&b, v, 0)
	return b.String()
}

func repr(b *strings.Builder, v Value, depth int) {
	if depth > maxWalkDepth/4 || b.Len() > maxReprLen {
		b.WriteString("...")
		return
	}
	const maxItems = 32
	seq := func(open, closing string, items []Value) {
		b.WriteString(open)
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == maxItems {
				b.WriteString("...")
				break
			}
			repr(b, it, depth+1)
		}
		b.WriteString(closing)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		switch {
		case x == nil:
			b.WriteString("<nil int>")
		case x.BitLen() > 1024:
			fmt.Fprintf(b, "<int of %d bits>", x.BitLen())
		default:
			b.WriteString(x.String())
		}
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		if len(x) > 200 {
			x = x[:200] + "..."
		}
		b.WriteString(strconv.Quote(x))
	case Bytes:
		if len(x) > 64 {
			b.WriteString("b" + strconv.Quote(string(x[:64])) + "...")
		} else {
			b.WriteString("b" + strconv.Quote(string(x)))
		}
	case ByteArray:
		b.WriteString("bytearray(")
		repr(b, Bytes(x), depth+1)
		b.WriteString(")")
	case Tuple:
		seq("(", ")", x)
	case *List:
		if x == nil {
			b.WriteString("<nil list>")
			return
		}
		seq("[", "]", x.Items)
	case *Set:
		if x == nil {
			b.WriteString("<nil set>")
			return
		}
		if x.Frozen {
			seq("frozenset({", "})", x.items)
		} else {
			seq("{", "}", x.items)
		}
	case *Dict:
		if x == nil {
			b.WriteString("<nil dict>")
			return
		}
		b.WriteString("{")
		for i, e := range x.entries {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == maxItems {
				b.WriteString("...")
				break
			}
			repr(b, e.Key, depth+1)
			b.WriteString(": ")
			repr(b, e.Value, depth+1)
		}
		b.WriteString("}")
	case Global:
		b.WriteString(x.String())
	case *Call:
		if x == nil {
			b.WriteString("<nil call>")
			return
		}
		repr(b, x.Callable, depth+1)
		if x.New {
			b.WriteString(".__new__")
		}
		b.WriteString("(")
		repr(b, x.Args, depth+1)
		if x.Kwargs != nil {
			b.WriteString(", **")
			repr(b, x.Kwargs, depth+1)
		}
		b.WriteString(")")
		if x.HasState {
			b.WriteString(".__setstate__(")
			repr(b, x.State, depth+1)
			b.WriteString(")")
		}
	default:
		b.WriteString("<?>")
	}
}

// Plain converts containers into plain Go values, for callers that want to read constructor
// parameters without knowing this package's types: Tuple, *List and *Set become []any, a *Dict
// whose keys are all str becomes map[string]any (other dicts stay *Dict), Bytes and ByteArray
// become []byte. Scalars (nil, bool, int64, *big.Int, float64, string), Global and *Call are
// returned unchanged, as is anything nested deeper than a fixed depth or beyond a fixed number
// of converted nodes (memo references can make a small pickle describe a huge tree).
func Plain(v Value) any {
	budget := maxPlainNodes
	return plain(v, 0, &budget)
}

// maxPlainNodes bounds the number of containers Plain converts.
const maxPlainNodes = 1 << 16

func plain(v Value, depth int, budget *int) any {
	if depth > maxWalkDepth {
		return v
	}
	// take charges a container and its items to the budget.
	take := func(n int) bool {
		if *budget < n+1 {
			return false
		}
		*budget -= n + 1
		return true
	}
	list := func(items []Value) []any {
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = plain(it, depth+1, budget)
		}
		return out
	}
	switch x := v.(type) {
	case Bytes:
		return []byte(x)
	case ByteArray:
		return []byte(x)
	case Tuple:
		if !take(len(x)) {
			return v
		}
		return list(x)
	case *List:
		if x == nil || !take(len(x.Items)) {
			return v
		}
		return list(x.Items)
	case *Set:
		if x == nil || !take(len(x.items)) {
			return v
		}
		return list(x.items)
	case *Dict:
		if x == nil || !take(len(x.entries)) {
			return v
		}
		m := make(map[string]any, len(x.entries))
		for _, e := range x.entries {
			k, ok := e.Key.(string)
			if !ok {
				return v
			}
			m[k] = plain(e.Value, depth+1, budget)
		}
		return m
	}
	return v
}
