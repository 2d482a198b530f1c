package flinkconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkerNeeds(t *testing.T) {
	m := ModelFootprint{Weights: 100 * MiB, SessionOverhead: 164 * MiB}
	ws := WorkerSettings{Framework: 64 * MiB, Buffer: 15 * MiB}
	proc := FlinkfnNeed(ModeProcess, 6, 1, m, ws)
	if proc.Total != 6*(264+64+15)*MiB || proc.Processes != 6 {
		t.Errorf("process mode: %+v", proc)
	}
	pool := FlinkfnNeed(ModePool, 6, 2, m, ws)
	if pool.Total != (264+64+12*15)*MiB || pool.Processes != 1 || pool.Sessions != 12 {
		t.Errorf("pool mode: %+v", pool)
	}
	if s := StockPythonNeed(6, 400*MiB); s.Total != 2400*MiB {
		t.Errorf("stock: %+v", s)
	}
}

func TestMeasureModel(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"model.onnx": 1000, "tok/tokenizer.json": 24} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp, err := MeasureModel(dir)
	if err != nil || fp.Files != 2 || fp.Weights != 1024 || fp.SessionOverhead != 1024+SessionFixedOverhead {
		t.Errorf("MeasureModel: %+v, %v", fp, err)
	}
	// A variant that one load does not read is not counted.
	if err := os.WriteFile(filepath.Join(dir, "model_int8.onnx"), make([]byte, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	if fp, err := MeasureModel(dir, "model_int8.onnx"); err != nil || fp.Files != 2 || fp.Weights != 1024 {
		t.Errorf("MeasureModel skipping the int8 variant: %+v, %v", fp, err)
	}
	if fp, err := MeasureModel(dir); err != nil || fp.Files != 3 || fp.Weights != 1524 {
		t.Errorf("MeasureModel of every file: %+v, %v", fp, err)
	}
	if _, err := MeasureModel(t.TempDir()); err == nil {
		t.Error("empty folder measured")
	}
}

func TestSeedVerdicts(t *testing.T) {
	pool := seedPlan(t, ModePool)
	if pool.Verdict != VerdictWasted || !pool.Fits() {
		t.Errorf("pool verdict %s: %s", pool.Verdict, pool.Selected.Summary)
	}
	stock := pool.Alternatives[0]
	// the spec's worked example: 6 × 400 MiB against 6 × 357,913,941 bytes
	if stock.Verdict != VerdictOOMKill || stock.Shortfall != 6*400*MiB-6*357913941 {
		t.Errorf("stock PyFlink: %+v", stock)
	}
	r := pool.Recommendation
	if r == nil || r.TaskManager == nil || r.Container != 12*GiB || r.ComposeLimit != "" {
		t.Fatalf("recommendation: %+v", r)
	}
	// the recommendation is re-derived with Flink's rules and fits with headroom
	if r.Assessment.Verdict != VerdictFits || r.TaskManager.TotalProcess != 12*GiB || r.TaskManager.TaskOffHeap != 0 {
		t.Errorf("recommended: %+v %+v", r.Assessment, r.TaskManager)
	}
	if r.Assessment.Available < scale(pool.Selected.Workers.Total, 1.2) {
		t.Errorf("recommendation lacks headroom: %+v", r.Assessment)
	}
	process := seedPlan(t, ModeProcess)
	if process.Selected.Workers.Processes != 6 || process.Verdict == VerdictOOMKill {
		t.Errorf("process mode: %+v", process.Selected)
	}
}

func TestPlanContainerBelowProcessSize(t *testing.T) {
	cfg := mustYAML(t, "taskmanager.memory.process.size: 12gb\ntaskmanager.numberOfTaskSlots: 6\ntaskmanager.memory.managed.size: 3g\n")
	c := &ContainerLimit{Set: true, Raw: "11G", Bytes: 11 * GiB, Source: "mem_limit"}
	p, err := BuildPlan(PlanInput{Config: cfg, Container: c})
	if err != nil {
		t.Fatal(err)
	}
	if p.Verdict != VerdictOOMKill || p.Fits() {
		t.Errorf("verdict %s", p.Verdict)
	}
	found := false
	for _, f := range p.Findings {
		found = found || (f.Level == "error" && strings.Contains(f.Message, "BELOW"))
	}
	if !found {
		t.Errorf("no finding about the limit below process.size: %+v", p.Findings)
	}
	if p.Recommendation == nil || p.Recommendation.TaskManager.TotalProcess != 11*GiB {
		t.Errorf("recommendation should size the TaskManager to the 11G container: %+v", p.Recommendation)
	}
}

func TestPlanGrowsContainerWhenWorkersCannotFit(t *testing.T) {
	cfg := mustYAML(t, "taskmanager.memory.process.size: 1g\ntaskmanager.numberOfTaskSlots: 8\n")
	p, err := BuildPlan(PlanInput{Config: cfg, Mode: ModeProcess})
	if err != nil {
		t.Fatal(err)
	}
	if p.Verdict != VerdictOOMKill {
		t.Fatalf("verdict %s", p.Verdict)
	}
	r := p.Recommendation
	if r == nil || r.ComposeLimit == "" || r.Container <= GiB || r.Assessment.Verdict == VerdictOOMKill {
		t.Errorf("recommendation %+v", r)
	}
}

func TestPlanRejectsWhatFlinkRejects(t *testing.T) {
	_, err := BuildPlan(PlanInput{Config: mustYAML(t, "taskmanager.memory.process.size: 768m\n")})
	if !IsConfigError(err) {
		t.Errorf("want Flink's configuration error, got %v", err)
	}
}

// A recommendation that gives the workers more managed memory takes it from
// the task heap; the plan says so with the numbers.
func TestRecommendationSaysWhenTaskHeapShrinks(t *testing.T) {
	cfg := mustYAML(t, "taskmanager.memory.process.size: 4g\ntaskmanager.numberOfTaskSlots: 4\ntaskmanager.memory.managed.size: 256m\n")
	p, err := BuildPlan(PlanInput{Config: cfg, Mode: ModeProcess})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Recommendation
	if r == nil || r.TaskManager == nil {
		t.Fatalf("no recommendation: %+v", r)
	}
	shrink := p.TaskManager.TaskHeap - r.TaskManager.TaskHeap
	if shrink <= 0 {
		t.Fatalf("test premise: the task heap should shrink, %s → %s", iec(p.TaskManager.TaskHeap), iec(r.TaskManager.TaskHeap))
	}
	want := fmt.Sprintf("task heap shrinks by %s, from %s to %s (%s per slot)",
		iec(shrink), iec(p.TaskManager.TaskHeap), iec(r.TaskManager.TaskHeap), iec(r.TaskManager.PerSlot().TaskHeap))
	if !hasNote(r.Notes, want) {
		t.Errorf("notes lack %q: %q", want, r.Notes)
	}
	var text strings.Builder
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, text.String())
	}
}

// The recommendation sizes the workers' budget to their need plus the
// headroom; that planned spare is never reported as "memory wasted", even
// when it is larger than the waste threshold.
func TestRecommendationIsNeverMemoryWasted(t *testing.T) {
	for _, tc := range []struct {
		config   string
		mode     WorkerMode
		shape    string
		headroom float64
	}{
		{"taskmanager.memory.process.size: 16g\ntaskmanager.numberOfTaskSlots: 16\n", ModeProcess, "python", 1.2},
		{"taskmanager.memory.process.size: 32g\ntaskmanager.numberOfTaskSlots: 16\n", ModeProcess, "python", 2},
		{"taskmanager.memory.process.size: 32g\ntaskmanager.numberOfTaskSlots: 8\ntaskmanager.memory.managed.size: 12g\n", ModePool, "python+rocksdb", 1.2},
		{"taskmanager.memory.process.size: 8g\ntaskmanager.numberOfTaskSlots: 2\n", ModePool, "python", 3},
	} {
		shape, err := ParseJobShape(tc.shape)
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(PlanInput{Config: mustYAML(t, tc.config), Mode: tc.mode, Shape: shape, Headroom: tc.headroom})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Recommendation
		if r == nil || r.TaskManager == nil {
			t.Fatalf("%q: no recommendation", tc.config)
		}
		a := r.Assessment
		if a.Verdict != VerdictFits || a.Wasted != 0 || strings.Contains(a.Summary, "idle") {
			t.Errorf("%q %s %s ×%.1f: recommendation judged %q (%s wasted): %s", tc.config, tc.mode, tc.shape, tc.headroom, a.Verdict, iec(a.Wasted), a.Summary)
		}
		if a.Unused <= 0 || !strings.Contains(a.Summary, iec(a.Unused)+" spare") {
			t.Errorf("%q: the summary should give the planned spare %s: %s", tc.config, iec(a.Unused), a.Summary)
		}
		var text strings.Builder
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		rec := text.String()[strings.Index(text.String(), "Recommended settings"):]
		if strings.Contains(rec, string(VerdictWasted)) {
			t.Errorf("%q: the recommendation is labelled %q:\n%s", tc.config, VerdictWasted, rec)
		}
	}
}

// In pool mode the pool does not get _PYTHON_WORKER_MEMORY_LIMIT from
// Flink: the plan tells to give it the PYTHON budget it planned.
func TestPoolRecommendationSetsThePoolMemoryLimit(t *testing.T) {
	p := seedPlan(t, ModePool)
	r := p.Recommendation
	if r == nil || r.TaskManager == nil {
		t.Fatal("no recommendation")
	}
	if want := MemorySize(r.Python.Bytes) * MemorySize(r.TaskManager.Slots); r.PoolMemoryLimit != want || want != r.Assessment.Budget || want < p.Selected.Workers.Total {
		t.Fatalf("pool memory limit %d, want the planned PYTHON budget %d (%d per slot × %d), covering the need %d",
			r.PoolMemoryLimit, want, r.Python.Bytes, r.TaskManager.Slots, p.Selected.Workers.Total)
	}
	want := fmt.Sprintf("flinkfn pool --memory-limit %s", r.PoolMemoryLimit.FlinkString())
	var text strings.Builder
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), want) || !strings.Contains(text.String(), "the pool's memory limit to "+iec(r.PoolMemoryLimit)) {
		t.Errorf("report lacks %q and the planned size:\n%s", want, text.String())
	}
	if got, err := ParseMemorySize(r.PoolMemoryLimit.FlinkString()); err != nil || got != r.PoolMemoryLimit {
		t.Errorf("the printed limit %q reads back as %d, %v", r.PoolMemoryLimit.FlinkString(), got, err)
	}
	// process mode: Flink hands each worker its limit; nothing to set
	proc := seedPlan(t, ModeProcess)
	if proc.Recommendation.PoolMemoryLimit != 0 {
		t.Errorf("process mode has a pool limit %d", proc.Recommendation.PoolMemoryLimit)
	}
	var ptext strings.Builder
	if err := proc.WriteText(&ptext); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ptext.String(), "--memory-limit") {
		t.Errorf("process-mode report mentions the pool's limit:\n%s", ptext.String())
	}
}

func hasNote(notes []string, want string) bool {
	for _, n := range notes {
		if strings.Contains(n, want) {
			return true
		}
	}
	return false
}
