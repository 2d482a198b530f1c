package fn

import (
	"fmt"
	"sort"
	"strings"
)

// UnknownFunctionError is Lookup's error: no function is registered under
// the Python module and name a job declared. Its text says what was asked,
// what a __main__ module means, the ways out and (once) what is registered.
// Flink repeats a worker's message at every level of its cause chain, so the
// text is kept to one paragraph.
type UnknownFunctionError struct {
	Module, Name string
	// Candidates are the registered functions of that name when the module
	// is __main__ and more than one has it (the name alone is ambiguous).
	Candidates []string
	registered string
}

func (e *UnknownFunctionError) Error() string { return UnknownFunctions([]*UnknownFunctionError{e}) }

// UnknownFunctions renders one message for every function of a job that
// flinkfn does not know, listing the registered functions once.
func UnknownFunctions(errs []*UnknownFunctionError) string {
	if len(errs) == 0 {
		return ""
	}
	var b strings.Builder
	seen := map[string]bool{}
	var names []string
	mainNames := 0
	for _, e := range errs {
		full := e.Module + "." + e.Name
		if seen[full] {
			continue
		}
		seen[full] = true
		names = append(names, full)
		if e.Module == "__main__" || e.Module == "" {
			mainNames++
		}
	}
	first := errs[0]
	if len(names) == 1 {
		fmt.Fprintf(&b, "unknown function %s (Python module %q, name %q): flinkfn has no Go implementation registered under that module and name.",
			names[0], first.Module, first.Name)
	} else {
		fmt.Fprintf(&b, "unknown functions %s: flinkfn has no Go implementation registered under those Python modules and names.", strings.Join(names, ", "))
	}
	if mainNames > 0 {
		b.WriteString(" Module __main__ means the function is defined in the job script itself (a @udf in the file run with `python` or `flink run`), so flinkfn cannot recognise it by module")
		var ambiguous []string
		for _, e := range errs {
			if len(e.Candidates) > 1 {
				ambiguous = append(ambiguous, fmt.Sprintf("%s: %s", e.Name, strings.Join(e.Candidates, ", ")))
			}
		}
		if len(ambiguous) > 0 {
			fmt.Fprintf(&b, ", and the name alone matches several functions (%s)", strings.Join(ambiguous, "; "))
		} else {
			b.WriteString(", and no registered function has that name")
		}
		b.WriteString(".")
	}
	b.WriteString(" Ways out: (a) if it embeds text: a templates entry ")
	if len(names) == 1 {
		fmt.Fprintf(&b, "%q with \"module\": %q and its \"columns\"", first.Name, first.Module)
	} else {
		b.WriteString("per function, named like the function, with its \"module\" and \"columns\"")
	}
	b.WriteString(" in a copy of udfs/templates.json that FLINKFN_TEMPLATES points at (README \"Embedding functions\");" +
		" (b) implement it in Go and register it in flinkfn (README \"Adding a function\");" +
		" (c) keep it on the stock Python worker: run this job with python.executable set to a Python interpreter with PyFlink.")
	if first.registered != "" {
		fmt.Fprintf(&b, " Registered: %s (signatures: `flinkfn functions`).", first.registered)
	}
	return b.String()
}

// Summary lists the registered functions grouped by module, short: names
// sharing a prefix such as "id_" four or more times become "id_* (N)".
// For example "udfs.builtin: describe, id_* (17), upper; udfs.embed_udf: embed".
func (r *Registry) Summary() string {
	byModule := map[string][]string{}
	for _, f := range r.byKey {
		byModule[f.Module] = append(byModule[f.Module], f.Name)
	}
	modules := make([]string, 0, len(byModule))
	for m := range byModule {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	parts := make([]string, 0, len(modules))
	for _, m := range modules {
		names := byModule[m]
		sort.Strings(names)
		prefixCount := map[string]int{}
		for _, n := range names {
			if i := strings.Index(n, "_"); i > 0 {
				prefixCount[n[:i+1]]++
			}
		}
		var out []string
		done := map[string]bool{}
		for _, n := range names {
			i := strings.Index(n, "_")
			if i > 0 && prefixCount[n[:i+1]] >= 4 {
				p := n[:i+1]
				if !done[p] {
					done[p] = true
					out = append(out, fmt.Sprintf("%s* (%d)", p, prefixCount[p]))
				}
				continue
			}
			out = append(out, n)
		}
		parts = append(parts, m+": "+strings.Join(out, ", "))
	}
	return strings.Join(parts, "; ")
}
