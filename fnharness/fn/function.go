package fn

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FunctionKind says how a function is called.
type FunctionKind int

const (
	// Scalar functions return exactly one value per input row.
	Scalar FunctionKind = iota
	// Table functions emit zero or more rows per input row.
	Table
)

func (k FunctionKind) String() string {
	if k == Table {
		return "table"
	}
	return "scalar"
}

// Matcher accepts or rejects a SQL type.
type Matcher struct {
	// Desc names the accepted types in error messages, e.g. "CHAR | VARCHAR".
	Desc  string
	Match func(Type) bool
}

// OneOf accepts any type whose root is one of names.
func OneOf(names ...TypeName) Matcher {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n.String()
	}
	return Matcher{Desc: strings.Join(parts, " | "), Match: func(t Type) bool {
		for _, n := range names {
			if t.Name == n {
				return true
			}
		}
		return false
	}}
}

// Exactly accepts one type (nullability and ROW field names ignored).
func Exactly(t Type) Matcher {
	return Matcher{Desc: t.String(), Match: t.Equal}
}

// AnyType accepts every type.
func AnyType() Matcher { return Matcher{Desc: "any type", Match: func(Type) bool { return true }} }

// ArrayOfFloat accepts ARRAY<FLOAT>.
func ArrayOfFloat() Matcher {
	return Matcher{Desc: "ARRAY<FLOAT>", Match: func(t Type) bool {
		return t.Name == ARRAY && t.Elem != nil && t.Elem.Name == FLOAT
	}}
}

// Param is one declared argument.
type Param struct {
	Name    string
	Accepts Matcher
}

// ResultRule checks a declared result type against the argument types.
type ResultRule struct {
	Desc string
	// Check returns nil if result is acceptable; args[i] is nil when the
	// argument's type is not known to the worker (constants, chained calls).
	Check func(args []*Type, result Type) error
	// Infer returns the result type when it follows from the arguments, or
	// nil. Used to type-check chained calls.
	Infer func(args []*Type) *Type
}

// Returns is a result rule for a matcher (and, optionally, a known type).
func Returns(m Matcher, known *Type) ResultRule {
	return ResultRule{
		Desc: m.Desc,
		Check: func(_ []*Type, r Type) error {
			if !m.Match(r) {
				return fmt.Errorf("expected %s, got %s", m.Desc, r)
			}
			return nil
		},
		Infer: func([]*Type) *Type { return known },
	}
}

// SameAsArg is the rule "the result type equals argument i's type".
func SameAsArg(i int) ResultRule {
	return ResultRule{
		Desc: fmt.Sprintf("the type of argument %d", i),
		Check: func(args []*Type, r Type) error {
			if i < len(args) && args[i] != nil && !args[i].Equal(r) {
				return fmt.Errorf("expected %s (the type of argument %d), got %s", args[i], i, r)
			}
			return nil
		},
		Infer: func(args []*Type) *Type {
			if i < len(args) {
				return args[i]
			}
			return nil
		},
	}
}

// ScalarFunc computes one result per row.
type ScalarFunc func(ctx context.Context, args []Value) (Value, error)

// ScalarBatchFunc computes results for many rows at once: out[i] is the
// result of rows[i]. Functions that gain from batching (model inference)
// implement this; the harness calls it once per decoded input chunk.
type ScalarBatchFunc func(ctx context.Context, rows [][]Value, out []Value) error

// TableFunc emits zero or more result rows (one value per result column)
// for one input row.
type TableFunc func(ctx context.Context, args []Value, emit func(row []Value) error) error

// Function is one registered user-defined function.
type Function struct {
	// Module and Name are the Python identity: the module and qualified name
	// that a PyFlink payload refers to (e.g. "udfs.builtin", "upper").
	Module, Name string
	Kind         FunctionKind
	Doc          string
	Params       []Param
	// Variadic: the last Param may repeat (zero or more times).
	Variadic bool
	Result   ResultRule

	Eval      ScalarFunc      // Kind == Scalar (or EvalBatch)
	EvalBatch ScalarBatchFunc // optional, preferred over Eval
	EvalTable TableFunc       // Kind == Table

	// Open, optional, prepares a scalar function for one operator of a
	// worker session before the operator's first row: the embedding
	// functions acquire their model here, so a job that never calls them
	// loads none. The harness then evaluates with the returned EvalBatch
	// and calls Close when the session ends. A failed Open fails the
	// bundle with its error; the next bundle opens again.
	Open func(ctx context.Context) (Opened, error)

	// ArityError, optional, replaces CheckArity's message for a call with
	// the wrong number of arguments: args are the call's argument types
	// (nil where the worker does not know one). Functions whose signature
	// comes from configuration use it to say what to change.
	ArityError func(args []*Type) error
}

// Opened is a function bound for one operator by Function.Open.
type Opened struct {
	EvalBatch ScalarBatchFunc
	// Close, optional, releases what Open acquired.
	Close func()
}

// FullName is "module.name".
func (f *Function) FullName() string { return f.Module + "." + f.Name }

// Signature renders "name(a VARCHAR, b ANY) -> VARCHAR".
func (f *Function) Signature() string {
	parts := make([]string, len(f.Params))
	for i, p := range f.Params {
		parts[i] = p.Name + " " + p.Accepts.Desc
		if f.Variadic && i == len(f.Params)-1 {
			parts[i] += "..."
		}
	}
	return fmt.Sprintf("%s(%s) -> %s", f.FullName(), strings.Join(parts, ", "), f.Result.Desc)
}

// ParamFor returns the declared parameter for argument position i.
func (f *Function) ParamFor(i int) (Param, bool) {
	if i < len(f.Params) {
		return f.Params[i], true
	}
	if f.Variadic && len(f.Params) > 0 {
		return f.Params[len(f.Params)-1], true
	}
	return Param{}, false
}

// CheckArity reports whether n arguments fit the declaration.
func (f *Function) CheckArity(n int) error {
	if n == len(f.Params) || (f.Variadic && n >= len(f.Params)-1) {
		return nil
	}
	want := fmt.Sprintf("%d", len(f.Params))
	if f.Variadic {
		want = fmt.Sprintf("at least %d", len(f.Params)-1)
	}
	return fmt.Errorf("%s takes %s argument(s), called with %d", f.FullName(), want, n)
}

// CheckArgs is CheckArity for a call with these argument types; a wrong
// count gets ArityError's message when the function has one.
func (f *Function) CheckArgs(args []*Type) error {
	err := f.CheckArity(len(args))
	if err != nil && f.ArityError != nil {
		return f.ArityError(args)
	}
	return err
}

// Registry maps Python identities to Go functions. It is built explicitly
// (no init-time globals) and read-only once serving starts.
type Registry struct {
	byKey  map[string]*Function
	byName map[string][]*Function
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byKey: map[string]*Function{}, byName: map[string][]*Function{}}
}

// Register adds functions; it fails on duplicates or incomplete definitions.
func (r *Registry) Register(fs ...Function) error {
	var errs []error
	for i := range fs {
		f := fs[i]
		switch {
		case f.Module == "" || f.Name == "":
			errs = append(errs, fmt.Errorf("function %q: module and name are required", f.FullName()))
			continue
		case f.Kind == Scalar && f.Eval == nil && f.EvalBatch == nil && f.Open == nil:
			errs = append(errs, fmt.Errorf("function %s: scalar function without Eval, EvalBatch or Open", f.FullName()))
			continue
		case f.Kind == Table && f.Open != nil:
			errs = append(errs, fmt.Errorf("function %s: Open is for scalar functions", f.FullName()))
			continue
		case f.Kind == Table && f.EvalTable == nil:
			errs = append(errs, fmt.Errorf("function %s: table function without EvalTable", f.FullName()))
			continue
		case f.Result.Check == nil:
			errs = append(errs, fmt.Errorf("function %s: no result rule", f.FullName()))
			continue
		}
		if _, dup := r.byKey[f.FullName()]; dup {
			errs = append(errs, fmt.Errorf("function %s registered twice", f.FullName()))
			continue
		}
		r.byKey[f.FullName()] = &f
		r.byName[f.Name] = append(r.byName[f.Name], &f)
	}
	return errors.Join(errs...)
}

// Lookup finds a function by Python module and qualified name. Functions
// pickled from __main__ (or another unknown module) match by name when
// exactly one registered function has that name. The error is an
// *UnknownFunctionError.
func (r *Registry) Lookup(module, name string) (*Function, error) {
	if f, ok := r.byKey[module+"."+name]; ok {
		return f, nil
	}
	var candidates []string
	if module == "__main__" || module == "" {
		c := r.byName[name]
		if len(c) == 1 {
			return c[0], nil
		}
		for _, f := range c {
			candidates = append(candidates, f.FullName())
		}
		sort.Strings(candidates)
	}
	return nil, &UnknownFunctionError{Module: module, Name: name, Candidates: candidates, registered: r.Summary()}
}

// Functions lists all functions sorted by full name.
func (r *Registry) Functions() []*Function {
	out := make([]*Function, 0, len(r.byKey))
	for _, f := range r.byKey {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out
}

// RowError is returned by a ScalarBatchFunc to say which row failed; the
// harness then reports that row's arguments.
type RowError struct {
	Row int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }
