package flinkconf

import (
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
