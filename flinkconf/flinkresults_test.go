package flinkconf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestAgainstFlinkResults compares the Go derivation with what Flink 2.3
// itself computed for every configuration of testdata/corpus
// (testdata/flink-results.json, written and checked by integration/memcheck):
// loaded configuration, TaskManager and JobManager components byte for byte,
// JVM arguments, dynamic properties, start-up log lines, per-slot shares,
// Python worker limits, and error for error.
func TestAgainstFlinkResults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "flink-results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		FlinkVersion string                     `json:"flink_version"`
		Cases        map[string]json.RawMessage `json:"cases"`
		MemorySizes  []json.RawMessage          `json:"memory_sizes"`
		Durations    []json.RawMessage          `json:"durations"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want.Cases) {
		t.Errorf("corpus has %d files, flink-results.json %d cases: rerun integration/memcheck with -Dflinkconf.update=true", len(files), len(want.Cases))
	}
	if len(want.Cases) < 100 {
		t.Errorf("corpus has %d configurations, want at least 100", len(want.Cases))
	}
	names := make([]string, 0, len(want.Cases))
	for n := range want.Cases {
		names = append(names, n)
	}
	sort.Strings(names)
	matched := 0
	for _, name := range names {
		text, err := os.ReadFile(filepath.Join("testdata", "corpus", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := resultOf(name, text)
		exp := decodeJSON(t, want.Cases[name])
		diffs := compareJSON(name, exp, normalise(t, got))
		for _, d := range diffs {
			t.Error(d)
		}
		if len(diffs) == 0 {
			matched++
		}
	}
	for i, raw := range want.MemorySizes {
		exp, _ := decodeJSON(t, raw).(map[string]any)
		for _, d := range compareJSON(fmt.Sprintf("memory_sizes[%d]", i), exp, normalise(t, memorySizeResult(exp["input"].(string)))) {
			t.Error(d)
		}
	}
	for i, raw := range want.Durations {
		exp, _ := decodeJSON(t, raw).(map[string]any)
		for _, d := range compareJSON(fmt.Sprintf("durations[%d]", i), exp, normalise(t, durationResult(exp["input"].(string)))) {
			t.Error(d)
		}
	}
	t.Logf("Flink %s: %d of %d configurations match; %d memory sizes, %d durations compared",
		want.FlinkVersion, matched, len(names), len(want.MemorySizes), len(want.Durations))
}

func normalise(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, b)
}

// decodeJSON keeps numbers as json.Number so that byte counts above 2^53
// compare exactly.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareJSON reports every difference. Error chains are compared entry by
// entry (class and message) except for YAML syntax errors and class casts,
// whose text comes from snakeyaml / the JVM: there only the class must match.
func compareJSON(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: Flink %s, Go %s", path, short(want), short(got))}
		}
		if isChainEntry(w) {
			return compareChainEntry(path, w, g)
		}
		var out []string
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !wok:
				out = append(out, fmt.Sprintf("%s/%s: Go has %s, Flink has nothing", path, k, short(gv)))
			case !gok:
				out = append(out, fmt.Sprintf("%s/%s: Flink has %s, Go has nothing", path, k, short(wv)))
			default:
				out = append(out, compareJSON(path+"/"+k, wv, gv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: Flink %s, Go %s", path, short(want), short(got))}
		}
		var out []string
		for i := range w {
			out = append(out, compareJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: Flink %s, Go %s", path, short(want), short(got))}
	}
	return nil
}

func isChainEntry(m map[string]any) bool {
	_, c := m["class"]
	_, msg := m["message"]
	return c && msg && len(m) == 2
}

func compareChainEntry(path string, w, g map[string]any) []string {
	wc, gc := w["class"], g["class"]
	if wc != gc {
		return []string{fmt.Sprintf("%s: Flink %v: %v; Go %v: %v", path, wc, w["message"], gc, g["message"])}
	}
	switch wc {
	case ClassYAML, "ClassCastException":
		return nil
	}
	if w["message"] != g["message"] {
		return []string{fmt.Sprintf("%s: Flink %v: %q; Go %q", path, wc, w["message"], g["message"])}
	}
	return nil
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// resultOf builds, for one corpus file, the structure integration/memcheck
// writes from Flink's results.
func resultOf(name string, text []byte) map[string]any {
	out := map[string]any{}
	legacy := strings.HasSuffix(name, ".flink-conf.yaml")
	var cfg *Config
	if legacy {
		out["format"] = LegacyConfigFile
		cfg = ParseLegacyConfig(text, name)
	} else {
		out["format"] = StandardConfigFile
		var err error
		if cfg, err = ParseConfigYAML(text); err != nil {
			out["load_error"] = ErrorChain(err)
			return out
		}
	}
	conf := map[string]any{}
	for _, k := range cfg.Keys() {
		v, _ := cfg.Get(k)
		conf[k] = map[string]string{"type": string(v.Type), "value": v.Text}
	}
	out["config"] = conf
	out["taskmanager"] = tmResult(cfg)
	out["jobmanager"] = jmResult(cfg)
	return out
}

func tmResult(cfg *Config) map[string]any {
	s, err := DeriveTaskManager(cfg)
	if err != nil {
		return map[string]any{"error": ErrorChain(err)}
	}
	out := map[string]any{
		"framework_heap": s.FrameworkHeap, "framework_off_heap": s.FrameworkOffHeap,
		"task_heap": s.TaskHeap, "task_off_heap": s.TaskOffHeap, "network": s.Network, "managed": s.Managed,
		"metaspace": s.Metaspace, "overhead": s.Overhead, "total_flink": s.TotalFlink, "total_process": s.TotalProcess,
		"jvm_heap": s.JVMHeap(), "jvm_direct": s.JVMDirect(), "slots": s.Slots, "cpu_cores": javaDouble(s.CPUCores),
		"jvm_args": s.JVMArgs(), "dynamic_configs": s.DynamicConfigs(), "log": s.TaskManagerLog(),
	}
	if s.Slots > 0 {
		p := s.PerSlot()
		out["per_slot"] = map[string]any{"task_heap": p.TaskHeap, "task_off_heap": p.TaskOffHeap, "managed": p.Managed, "network": p.Network}
		py := map[string]any{}
		for _, shape := range AllJobShapes() {
			l, err := PythonWorkerMemoryLimit(cfg, s, shape)
			if err != nil {
				py = map[string]any{"error": ErrorChain(err)}
				break
			}
			py[shape.Name()] = map[string]any{"fraction": javaDouble(l.Fraction), "worker_memory_limit": l.Bytes}
		}
		out["python"] = py
	}
	return out
}

func jmResult(cfg *Config) map[string]any {
	s, err := DeriveJobManager(cfg)
	if err != nil {
		return map[string]any{"error": ErrorChain(err)}
	}
	out := map[string]any{
		"heap": s.Heap, "off_heap": s.OffHeap, "metaspace": s.Metaspace, "overhead": s.Overhead,
		"total_flink": s.TotalFlink, "total_process": s.TotalProcess,
		"dynamic_configs": s.DynamicConfigs(), "log": s.JobManagerLog(),
	}
	if args, err := s.JVMArgs(cfg); err != nil {
		out["jvm_args_error"] = ErrorChain(err)
	} else {
		out["jvm_args"] = args
	}
	return out
}

func memorySizeResult(in string) map[string]any {
	m, err := ParseMemorySize(in)
	if err != nil {
		return map[string]any{"input": in, "error": ErrorChain(err)}
	}
	return map[string]any{"input": in, "bytes": m, "human": m.HumanReadable(), "string": m.String()}
}

func durationResult(in string) map[string]any {
	d, err := ParseDuration(in)
	if err != nil {
		return map[string]any{"input": in, "error": ErrorChain(err)}
	}
	return map[string]any{"input": in, "seconds": d.Seconds, "nanos": d.Nanos}
}
