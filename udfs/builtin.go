// Package udfs holds flinkfn's user-defined functions: plain Go functions
// with declared signatures, identified by the Python module and name that
// a PyFlink job refers to. It imports only fnharness/fn.
//
// The Python stubs beside this file (udfs/builtin.py, package udfs) define
// the same functions for the stock Python worker, so one SQL job runs on
// either worker.
//
// Adding a function: write a fn.Function (Module, Name, Params, Result,
// Eval or EvalTable) and return it from a constructor such as Builtins;
// cmd/flinkfn registers it. See upper and split_words for examples.
package udfs

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// BuiltinModule is the Python module of the built-in functions.
const BuiltinModule = "udfs.builtin"

// maxSeries bounds series(n) so one row cannot exhaust memory.
const maxSeries = 10_000_000

// Builtins returns the wire-exercising built-in functions: an identity per
// type family, a few text functions and two table functions.
func Builtins() []fn.Function {
	out := []fn.Function{
		identity("id_boolean", fn.OneOf(fn.BOOLEAN)),
		identity("id_tinyint", fn.OneOf(fn.TINYINT)),
		identity("id_smallint", fn.OneOf(fn.SMALLINT)),
		identity("id_int", fn.OneOf(fn.INT)),
		identity("id_bigint", fn.OneOf(fn.BIGINT)),
		identity("id_float", fn.OneOf(fn.FLOAT)),
		identity("id_double", fn.OneOf(fn.DOUBLE)),
		identity("id_decimal", fn.OneOf(fn.DECIMAL)),
		identity("id_string", fn.OneOf(fn.CHAR, fn.VARCHAR)),
		identity("id_binary", fn.OneOf(fn.BINARY, fn.VARBINARY)),
		identity("id_date", fn.OneOf(fn.DATE)),
		identity("id_time", fn.OneOf(fn.TIME)),
		identity("id_timestamp", fn.OneOf(fn.TIMESTAMP)),
		identity("id_timestamp_ltz", fn.OneOf(fn.LOCAL_ZONED_TIMESTAMP)),
		identity("id_array", fn.OneOf(fn.ARRAY)),
		identity("id_map", fn.OneOf(fn.MAP)),
		identity("id_row", fn.OneOf(fn.ROW)),
		identity("identity", fn.AnyType()),
		upper(),
		length(),
		describe(),
		reject(),
		rowToString(),
		rowUpper(),
		splitWords(),
		series(),
	}
	return out
}

func identity(name string, m fn.Matcher) fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: name, Kind: fn.Scalar,
		Doc:    "returns its argument unchanged",
		Params: []fn.Param{{Name: "x", Accepts: m}},
		Result: fn.SameAsArg(0),
		Eval:   func(_ context.Context, a []fn.Value) (fn.Value, error) { return a[0], nil },
	}
}

var stringType = fn.String()

func upper() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "upper", Kind: fn.Scalar,
		Doc:    "upper-cases text with full Unicode case mapping, like Python str.upper",
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR, fn.CHAR), &stringType),
		EvalBatch: func(_ context.Context, rows [][]fn.Value, out []fn.Value) error {
			c := cases.Upper(language.Und)
			for i, a := range rows {
				if a[0].IsNull() {
					out[i] = fn.Null()
					continue
				}
				out[i] = fn.Str(c.String(a[0].AsString()))
			}
			return nil
		},
	}
}

var intType = fn.Simple(fn.INT)

func length() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "length", Kind: fn.Scalar,
		Doc:    "number of Unicode code points, like Python len",
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.OneOf(fn.INT, fn.BIGINT), &intType),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			if a[0].IsNull() {
				return fn.Null(), nil
			}
			return fn.Int(int64(utf8.RuneCountInString(a[0].AsString()))), nil
		},
	}
}

func describe() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "describe", Kind: fn.Scalar,
		Doc:    "the value as text, as the worker received it (NULL gives 'NULL')",
		Params: []fn.Param{{Name: "x", Accepts: fn.AnyType()}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR), &stringType),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			return fn.Str(a[0].String()), nil
		},
	}
}

func reject() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "reject", Kind: fn.Scalar,
		Doc:    "returns its input, but fails for input starting with BAD (tests error reporting)",
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR, fn.CHAR), &stringType),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			if !a[0].IsNull() && strings.HasPrefix(a[0].AsString(), "BAD") {
				return fn.Value{}, fmt.Errorf("rejected input %q", a[0].AsString())
			}
			return a[0], nil
		},
	}
}

func rowToString() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "row_to_string", Kind: fn.Scalar,
		Doc:    "renders a whole row, e.g. +I(a, 1, NULL)",
		Params: []fn.Param{{Name: "row", Accepts: fn.OneOf(fn.ROW)}},
		Result: fn.Returns(fn.OneOf(fn.VARCHAR), &stringType),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			return fn.Str(a[0].String()), nil
		},
	}
}

func rowUpper() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "row_upper", Kind: fn.Scalar,
		Doc:    "the row with its text fields upper-cased",
		Params: []fn.Param{{Name: "row", Accepts: fn.OneOf(fn.ROW)}},
		Result: fn.SameAsArg(0),
		Eval: func(_ context.Context, a []fn.Value) (fn.Value, error) {
			if a[0].IsNull() {
				return fn.Null(), nil
			}
			c := cases.Upper(language.Und)
			in := a[0].Fields()
			out := make([]fn.Value, len(in))
			for i, v := range in {
				if v.Kind() == fn.KindString {
					v = fn.Str(c.String(v.AsString()))
				}
				out[i] = v
			}
			return fn.Row(fn.Insert, out), nil
		},
	}
}

var wordsType = fn.RowOf(fn.Field{Name: "word", Type: fn.String()})

func splitWords() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "split_words", Kind: fn.Table,
		Doc:    "one row per whitespace-separated word, like Python str.split()",
		Params: []fn.Param{{Name: "s", Accepts: fn.OneOf(fn.CHAR, fn.VARCHAR)}},
		Result: fn.Returns(fn.Matcher{Desc: "ROW<word VARCHAR>", Match: func(t fn.Type) bool {
			return t.Name == fn.ROW && len(t.Fields) == 1 && t.Fields[0].Type.Name == fn.VARCHAR
		}}, &wordsType),
		EvalTable: func(_ context.Context, a []fn.Value, emit func([]fn.Value) error) error {
			if a[0].IsNull() {
				return nil
			}
			for _, w := range strings.FieldsFunc(a[0].AsString(), isPySpace) {
				if err := emit([]fn.Value{fn.Str(w)}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// isPySpace is Python's str.isspace for one code point: Unicode White_Space
// plus the information separators U+001C..U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

var seriesType = fn.RowOf(fn.Field{Name: "i", Type: fn.Simple(fn.BIGINT)})

func series() fn.Function {
	return fn.Function{
		Module: BuiltinModule, Name: "series", Kind: fn.Table,
		Doc:    "rows i = 0 .. n-1",
		Params: []fn.Param{{Name: "n", Accepts: fn.OneOf(fn.TINYINT, fn.SMALLINT, fn.INT, fn.BIGINT)}},
		Result: fn.Returns(fn.Matcher{Desc: "ROW<i BIGINT>", Match: func(t fn.Type) bool {
			return t.Name == fn.ROW && len(t.Fields) == 1 && t.Fields[0].Type.Name == fn.BIGINT
		}}, &seriesType),
		EvalTable: func(_ context.Context, a []fn.Value, emit func([]fn.Value) error) error {
			if a[0].IsNull() {
				return nil
			}
			n := a[0].AsInt()
			if n > maxSeries {
				return fmt.Errorf("n = %d is over the limit of %d rows", n, maxSeries)
			}
			for i := int64(0); i < n; i++ {
				if err := emit([]fn.Value{fn.Int(i)}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
