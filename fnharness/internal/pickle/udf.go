package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Kinds of PyFlink's delegate wrappers (pyflink/table/udf.py): the object PyFlink pickles when
// the user's UDF is a plain callable rather than a UserDefinedFunction instance. The user's
// callable is the wrapper's "func" attribute.
const (
	KindDelegatingScalarFunction          = "pyflink.table.udf.DelegatingScalarFunction"
	KindDelegatingAsyncScalarFunction     = "pyflink.table.udf.DelegatingAsyncScalarFunction"
	KindDelegationTableFunction           = "pyflink.table.udf.DelegationTableFunction"
	KindDelegatingPandasAggregateFunction = "pyflink.table.udf.DelegatingPandasAggregateFunction"
)

// UDFRef identifies the Python UDF inside a UserDefinedFunction.payload.
type UDFRef struct {
	// Module is the module of the user's function or class, e.g. "pkg.mod"; "__main__" for
	// code defined in the job script. Empty only when the pickle does not say.
	Module string
	// QualName is the qualified name: "f", "<lambda>", "make.<locals>.inner", "MyFunc".
	QualName string
	// Kind is the dotted class name of the pickled object: one of the Kind* delegate wrappers,
	// or the user's class for class-based UDFs ("pkg.mod.MyFunc", "__main__.MyFunc"). Empty
	// when the payload is a bare function rather than an object.
	Kind string
	// Delegating is true when Kind is a PyFlink delegate wrapper and Module/QualName describe
	// its func attribute.
	Delegating bool
	// ByValue is true when the function or class was pickled by value (cloudpickle rebuilt
	// it from its code) rather than by reference to an importable name.
	ByValue bool
	// State is the instance __dict__ of a class-based UDF (constructor parameters and any
	// other attributes), or of a callable object wrapped by a delegate. Scalars are nil, bool,
	// int64, *big.Int, float64 or string; containers are this package's Value types (see
	// Plain). Nil for functions.
	State map[string]Value
	// FileName is co_filename of a function pickled by value, when present.
	FileName string
}

// Name returns "Module.QualName" (just QualName when Module is empty).
func (r UDFRef) Name() string {
	if r.Module == "" {
		return r.QualName
	}
	return r.Module + "." + r.QualName
}

// Identify reads a UserDefinedFunction.payload (a cloudpickle of the UDF object, see
// PyFlink's UserDefinedFunctionWrapper._java_user_defined_function) and says which Python UDF
// it is, without executing or importing anything.
func Identify(payload []byte) (UDFRef, error) {
	if len(payload) == 0 {
		return UDFRef{}, fmt.Errorf("identify udf: empty payload: %w", ErrNotPickle)
	}
	if payload[0] != opProto {
		return UDFRef{}, fmt.Errorf("identify udf: payload starts with 0x%02x, not 0x80 (pickle PROTO): %w",
			payload[0], ErrNotPickle)
	}
	v, err := Unpickle(payload)
	if err != nil {
		return UDFRef{}, fmt.Errorf("identify udf: %w", err)
	}
	ref, err := identifyObject(v)
	if err != nil {
		return UDFRef{}, fmt.Errorf("identify udf: %w", err)
	}
	return ref, nil
}

// ErrUnrecognized is wrapped when a payload is a valid pickle whose shape Identify does not
// know.
var ErrUnrecognized = errors.New("unrecognized udf pickle")

func isCloudpickle(g Global) bool {
	return g.Module == "cloudpickle" || strings.HasPrefix(g.Module, "cloudpickle.")
}

// callsCloudpickle reports whether v is a call of the named cloudpickle helper(s).
func callsCloudpickle(v Value, names ...string) (*Call, bool) {
	c, ok := v.(*Call)
	if !ok || c == nil {
		return nil, false
	}
	g, ok := c.Callable.(Global)
	if !ok || !isCloudpickle(g) {
		return nil, false
	}
	for _, n := range names {
		if g.Name == n {
			return c, true
		}
	}
	return nil, false
}

func isDelegate(module, name string) bool {
	return module == "pyflink.table.udf" && strings.HasPrefix(name, "Delegat")
}

// identifyObject handles the root of a payload.
func identifyObject(v Value) (UDFRef, error) {
	switch x := v.(type) {
	case Global:
		return UDFRef{Module: x.Module, QualName: x.Name}, nil
	case *Call:
		if _, ok := callsCloudpickle(x, "_make_function"); ok {
			return identifyFunction(x)
		}
		module, qualname, byValue, err := identifyClass(x.Callable)
		if err != nil {
			return UDFRef{}, err
		}
		kind := module + "." + qualname
		state := instanceState(x)
		if !isDelegate(module, qualname) {
			return UDFRef{Module: module, QualName: qualname, Kind: kind, ByValue: byValue,
				State: state}, nil
		}
		fn, ok := state["func"]
		if !ok {
			return UDFRef{}, fmt.Errorf("%w: %s without a func attribute", ErrUnrecognized, kind)
		}
		ref, err := identifyCallable(fn)
		if err != nil {
			return UDFRef{}, fmt.Errorf("%s.func: %w", kind, err)
		}
		ref.Kind = kind
		ref.Delegating = true
		return ref, nil
	}
	return UDFRef{}, fmt.Errorf("%w: root is a %s", ErrUnrecognized, typeName(v))
}

// identifyCallable handles the func attribute of a delegate wrapper.
func identifyCallable(v Value) (UDFRef, error) {
	switch x := v.(type) {
	case Global:
		return UDFRef{Module: x.Module, QualName: x.Name}, nil
	case *Call:
		if _, ok := callsCloudpickle(x, "_make_function"); ok {
			return identifyFunction(x)
		}
		if isMethodType(x.Callable) {
			// A bound method: MethodType(function, instance). The function names the UDF;
			// the instance's attributes are its state.
			args, _ := x.Args.(Tuple)
			if len(args) != 2 {
				return UDFRef{}, fmt.Errorf("%w: bound method with %d arguments", ErrUnrecognized, len(args))
			}
			if inner, ok := args[0].(*Call); ok && isMethodType(inner.Callable) {
				return UDFRef{}, fmt.Errorf("%w: method of a method", ErrUnrecognized)
			}
			ref, err := identifyCallable(args[0])
			if err != nil {
				return UDFRef{}, fmt.Errorf("bound method: %w", err)
			}
			if self, ok := args[1].(*Call); ok {
				ref.State = instanceState(self)
			}
			return ref, nil
		}
		// A callable object: an instance of a user class with __call__.
		module, qualname, byValue, err := identifyClass(x.Callable)
		if err != nil {
			return UDFRef{}, err
		}
		return UDFRef{Module: module, QualName: qualname, ByValue: byValue,
			State: instanceState(x)}, nil
	}
	return UDFRef{}, fmt.Errorf("%w: func is %s", ErrUnrecognized, shortRepr(v))
}

// isMethodType recognizes types.MethodType as cloudpickle writes it
// (_builtin_type('MethodType')) or as a plain global.
func isMethodType(v Value) bool {
	switch x := v.(type) {
	case Global:
		return x == Global{Module: "types", Name: "MethodType"}
	case *Call:
		if c, ok := callsCloudpickle(x, "_builtin_type"); ok {
			args, _ := c.Args.(Tuple)
			name, _ := valueAt(args, 0).(string)
			return len(args) == 1 && name == "MethodType"
		}
	}
	return false
}

func shortRepr(v Value) string {
	s := Repr(v)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// identifyClass names the class an object was created from: a Global (by reference) or a
// cloudpickle skeleton class (by value).
func identifyClass(v Value) (module, qualname string, byValue bool, err error) {
	switch x := v.(type) {
	case Global:
		return x.Module, x.Name, false, nil
	case *Call:
		if c, ok := callsCloudpickle(x, "_make_skeleton_class"); ok {
			// _make_skeleton_class(type_constructor, name, bases, type_kwargs, tracker_id, extra)
			args, _ := c.Args.(Tuple)
			name := stringAt(args, 1)
			if kw, ok := valueAt(args, 3).(*Dict); ok {
				module, _ = kw.GetString("__module__")
			}
			st, slots := splitState(c)
			if module == "" {
				module = firstString("__module__", st, slots)
			}
			qualname = firstString("__qualname__", st, slots)
			if qualname == "" {
				qualname = name
			}
			if qualname == "" {
				return "", "", false, fmt.Errorf("%w: skeleton class without a name", ErrUnrecognized)
			}
			return module, qualname, true, nil
		}
		if c, ok := callsCloudpickle(x, "_make_skeleton_enum"); ok {
			// _make_skeleton_enum(bases, name, qualname, members, module, tracker_id, extra)
			args, _ := c.Args.(Tuple)
			qualname = stringAt(args, 2)
			if qualname == "" {
				qualname = stringAt(args, 1)
			}
			if qualname == "" {
				return "", "", false, fmt.Errorf("%w: skeleton enum without a name", ErrUnrecognized)
			}
			return stringAt(args, 4), qualname, true, nil
		}
	}
	return "", "", false, fmt.Errorf("%w: object of class %s", ErrUnrecognized, shortRepr(v))
}

// identifyFunction reads a function cloudpickle rebuilt by value:
// _make_function(code, base_globals, name, argdefs, closure) with its state applied by
// _function_setstate(func, (state, slotstate)).
func identifyFunction(c *Call) (UDFRef, error) {
	args, _ := c.Args.(Tuple)
	st, slots := splitState(c)
	ref := UDFRef{ByValue: true}

	var baseGlobals *Dict
	if d, ok := valueAt(args, 1).(*Dict); ok {
		baseGlobals = d
	}
	coFile, coName, coQual := codeNames(valueAt(args, 0))
	ref.FileName = coFile

	ref.Module = firstString("__module__", slots, st)
	if ref.Module == "" && baseGlobals != nil {
		ref.Module, _ = baseGlobals.GetString("__name__")
	}
	ref.QualName = firstString("__qualname__", slots, st)
	for _, s := range []string{firstString("__name__", slots, st), stringAt(args, 2), coQual, coName} {
		if ref.QualName != "" {
			break
		}
		ref.QualName = s
	}
	if ref.QualName == "" {
		return UDFRef{}, fmt.Errorf("%w: function pickled by value without a name", ErrUnrecognized)
	}
	return ref, nil
}

// codeNames extracts co_filename, co_name and (Python 3.11+) co_qualname from a pickled code
// object: a call of types.CodeType (cloudpickle: _builtin_type('CodeType')) whose arguments
// are ..., co_code (bytes), co_consts, co_names, co_varnames, co_filename, co_name,
// [co_qualname,] co_firstlineno, ...
func codeNames(code Value) (file, name, qualname string) {
	c, ok := code.(*Call)
	if !ok || c == nil {
		return "", "", ""
	}
	args, _ := c.Args.(Tuple)
	for i, a := range args {
		if _, ok := a.(Bytes); !ok {
			continue
		}
		file = stringAt(args, i+4)
		name = stringAt(args, i+5)
		qualname = stringAt(args, i+6)
		return file, name, qualname
	}
	return "", "", ""
}

// splitState returns the dict state and slot state of an object: BUILD and cloudpickle's
// setstate helpers accept either a dict or a (dict or None, slotstate dict) pair.
func splitState(c *Call) (state, slots *Dict) {
	if c == nil || !c.HasState {
		return nil, nil
	}
	switch s := c.State.(type) {
	case *Dict:
		return s, nil
	case Tuple:
		if len(s) == 2 {
			state, _ = s[0].(*Dict)
			slots, _ = s[1].(*Dict)
		}
	}
	return state, slots
}

// instanceState merges an object's dict state and slot state into a map keyed by attribute.
func instanceState(c *Call) map[string]Value {
	st, slots := splitState(c)
	out := map[string]Value{}
	for _, d := range []*Dict{st, slots} {
		if d == nil {
			continue
		}
		for _, e := range d.Items() {
			if k, ok := e.Key.(string); ok {
				out[k] = e.Value
			}
		}
	}
	return out
}

func firstString(key string, dicts ...*Dict) string {
	for _, d := range dicts {
		if s, ok := d.GetString(key); ok && s != "" {
			return s
		}
	}
	return ""
}

func valueAt(t Tuple, i int) Value {
	if i < 0 || i >= len(t) {
		return nil
	}
	return t[i]
}

func stringAt(t Tuple, i int) string {
	s, _ := valueAt(t, i).(string)
	return s
}

// ByReference builds the smallest payload a stock PyFlink worker also accepts for a UDF that
// lives in an importable module: the pickle of DelegatingScalarFunction (or, for a table
// function, DelegationTableFunction) whose func refers to module.name by reference. It has the
// exact shape cloudpickle produces for an undecorated module-level function (protocol 5,
// one FRAME, STACK_GLOBAL, EMPTY_TUPLE NEWOBJ, {'func': <global>} BUILD). For names shorter
// than 256 bytes the scalar form is 83+len(module)+len(name) bytes (96 for "pkg.plainmod",
// "f", as in the protocol spec §8.2) and the table form one byte less.
func ByReference(module, name string, tableFunction bool) []byte {
	cls := "DelegatingScalarFunction"
	if tableFunction {
		cls = "DelegationTableFunction"
	}
	body := make([]byte, 0, 96+len(module)+len(name))
	str := func(s string) {
		if len(s) < 256 {
			body = append(body, opShortBinUnicode, byte(len(s)))
		} else {
			body = append(body, opBinUnicode)
			body = binary.LittleEndian.AppendUint32(body, uint32(len(s)))
		}
		body = append(body, s...)
		body = append(body, opMemoize)
	}
	str("pyflink.table.udf")
	str(cls)
	body = append(body, opStackGlobal, opMemoize, opEmptyTuple, opNewObj, opMemoize, opEmptyDict, opMemoize)
	str("func")
	str(module)
	str(name)
	body = append(body, opStackGlobal, opMemoize, opSetItem, opBuild, opStop)

	out := make([]byte, 0, 11+len(body))
	out = append(out, opProto, 5, opFrame)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	return append(out, body...)
}
