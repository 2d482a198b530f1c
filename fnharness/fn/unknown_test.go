package fn

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func summaryRegistry(t *testing.T) *Registry {
	t.Helper()
	eval := func(context.Context, []Value) (Value, error) { return Null(), nil }
	reg := NewRegistry()
	var fs []Function
	for _, n := range []string{"upper", "id_int", "id_bigint", "id_row", "id_map", "row_a", "row_b", "describe"} {
		fs = append(fs, Function{Module: "udfs.builtin", Name: n, Result: Returns(AnyType(), nil), Eval: eval})
	}
	fs = append(fs,
		Function{Module: "udfs.embed_udf", Name: "embed", Result: Returns(AnyType(), nil), Eval: eval},
		Function{Module: "udfs.other", Name: "describe", Result: Returns(AnyType(), nil), Eval: eval})
	if err := reg.Register(fs...); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestSummaryGroupsByModule(t *testing.T) {
	got := summaryRegistry(t).Summary()
	want := "udfs.builtin: describe, id_* (4), row_a, row_b, upper; udfs.embed_udf: embed; udfs.other: describe"
	if got != want {
		t.Fatalf("Summary() = %q, want %q", got, want)
	}
}

func TestLookupUnknownMain(t *testing.T) {
	reg := summaryRegistry(t)
	// __main__ matches by name when the name is unique.
	if f, err := reg.Lookup("__main__", "upper"); err != nil || f.FullName() != "udfs.builtin.upper" {
		t.Fatalf("Lookup(__main__, upper) = %v, %v", f, err)
	}
	_, err := reg.Lookup("__main__", "shout")
	var u *UnknownFunctionError
	if !errors.As(err, &u) || u.Module != "__main__" || u.Name != "shout" {
		t.Fatalf("Lookup(__main__, shout) error = %#v, want *UnknownFunctionError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"unknown function __main__.shout", `module "__main__", name "shout"`,
		"defined in the job script itself", "no registered function has that name",
		`templates entry "shout" with "module": "__main__"`, "FLINKFN_TEMPLATES", `README "Embedding functions"`,
		"register it in flinkfn", `README "Adding a function"`,
		"stock Python worker", "python.executable",
		"Registered: udfs.builtin: describe, id_* (4)", "flinkfn functions",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Count(msg, "udfs.embed_udf") != 1 {
		t.Errorf("registered functions listed more than once:\n%s", msg)
	}
}

func TestLookupUnknownModule(t *testing.T) {
	_, err := summaryRegistry(t).Lookup("team.udfs", "upper")
	msg := err.Error()
	if strings.Contains(msg, "job script") {
		t.Errorf("a named module is not the job script:\n%s", msg)
	}
	if !strings.Contains(msg, "unknown function team.udfs.upper") || !strings.Contains(msg, `"module": "team.udfs"`) {
		t.Errorf("message does not name the module:\n%s", msg)
	}
}

func TestLookupAmbiguousMain(t *testing.T) {
	_, err := summaryRegistry(t).Lookup("__main__", "describe")
	var u *UnknownFunctionError
	if !errors.As(err, &u) || len(u.Candidates) != 2 {
		t.Fatalf("error = %#v, want two candidates", err)
	}
	if !strings.Contains(err.Error(), "several functions (describe: udfs.builtin.describe, udfs.other.describe)") {
		t.Errorf("message does not list the candidates:\n%s", err)
	}
}

func TestUnknownFunctionsListsRegisteredOnce(t *testing.T) {
	reg := summaryRegistry(t)
	var errs []*UnknownFunctionError
	for _, n := range []string{"a", "b", "a"} {
		_, err := reg.Lookup("__main__", n)
		errs = append(errs, err.(*UnknownFunctionError))
	}
	msg := UnknownFunctions(errs)
	if !strings.HasPrefix(msg, "unknown functions __main__.a, __main__.b:") {
		t.Errorf("message does not name both functions once:\n%s", msg)
	}
	if strings.Count(msg, "Registered:") != 1 || strings.Count(msg, "Ways out") != 1 {
		t.Errorf("message repeats itself:\n%s", msg)
	}
}
