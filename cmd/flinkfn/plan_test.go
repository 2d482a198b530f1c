package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedFile(name string) string {
	return filepath.Join("..", "..", "flinkconf", "testdata", "seed", name)
}

func TestRunPlanSeedPool(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runPlan(context.Background(), []string{
		"--config", seedFile("config.yaml"), "--compose", seedFile("docker-compose.yaml"), "--service", "taskmanager",
	}, noEnv.getenv, &out, &errOut)
	if err != nil {
		t.Fatalf("runPlan: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		// Flink's start-up log lines, verbatim
		"Final TaskExecutor Memory configuration:",
		"  Total Process Memory:          12.000gb (12884901888 bytes)",
		"        Task:                    3.800gb (4080218912 bytes)",
		"          Network:               512.000mb (536870912 bytes)",
		"    JVM Overhead:                1.200gb (1288490208 bytes)",
		"-Xmx4214436640 -Xms4214436640 -XX:MaxDirectMemorySize=4966055936 -XX:MaxMetaspaceSize=268435456",
		"_PYTHON_WORKER_MEMORY_LIMIT per slot: 357913941",
		"6 stock PyFlink workers do NOT fit",
		"MEMORY WASTED",
		"Recommended settings for flinkfn pool mode",
		"task.off-heap.size: 0m",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestRunPlanJSON(t *testing.T) {
	var out bytes.Buffer
	err := runPlan(context.Background(), []string{"--config", seedFile("config.yaml"), "--mode", "process", "--json"}, noEnv.getenv, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Mode        string `json:"mode"`
		Verdict     string `json:"verdict"`
		TaskManager struct {
			TaskHeap int64 `json:"task_heap"`
		} `json:"taskmanager"`
		Recommendation struct {
			TaskManager struct {
				TotalProcess int64 `json:"total_process"`
			} `json:"taskmanager"`
		} `json:"recommendation"`
	}
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Mode != "process" || p.TaskManager.TaskHeap != 4080218912 || p.Recommendation.TaskManager.TotalProcess != 12884901888 {
		t.Errorf("unexpected JSON plan: %+v", p)
	}
}

func TestRunPlanWillNotFitExitCode(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// 2 GiB TaskManager, 8 slots, default 40 % managed: far too little for 8 process-mode workers.
	if err := os.WriteFile(cfg, []byte("taskmanager.memory.process.size: 2g\ntaskmanager.numberOfTaskSlots: 8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := runPlan(context.Background(), []string{"--config", cfg, "--mode", "process"}, noEnv.getenv, &out, &bytes.Buffer{})
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != 1 {
		t.Fatalf("want exit code 1, got %v", err)
	}
	if !strings.Contains(out.String(), "WILL BE OOM-KILLED") {
		t.Errorf("verdict missing:\n%s", out.String())
	}
}

func TestRunPlanErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(bad, []byte("taskmanager.memory.process.size: 768m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "--config"},
		{[]string{"--config", bad, "--mode", "threads"}, 2, "unknown worker mode"},
		{[]string{"--config", bad}, 3, "TaskManager memory configuration failed: Sum of configured Framework Heap Memory"},
		{[]string{"--config", seedFile("config.yaml"), "--compose", seedFile("docker-compose.yaml"), "--service", "nope"}, 2, "no service"},
	} {
		err := runPlan(context.Background(), tc.args, noEnv.getenv, &bytes.Buffer{}, &bytes.Buffer{})
		var ec interface{ ExitCode() int }
		if !errors.As(err, &ec) || ec.ExitCode() != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: got %v, want exit %d mentioning %q", tc.args, err, tc.code, tc.msg)
		}
	}
}

// Pool mode: the report tells the pool's --memory-limit, the PYTHON budget
// the recommendation planned (the value the JSON carries too).
func TestRunPlanPoolSaysThePoolMemoryLimit(t *testing.T) {
	args := []string{"--config", seedFile("config.yaml"), "--compose", seedFile("docker-compose.yaml"), "--mode", "pool"}
	var js bytes.Buffer
	if err := runPlan(context.Background(), append(args, "--json"), noEnv.getenv, &js, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var p struct {
		Recommendation struct {
			PoolMemoryLimit int64 `json:"pool_memory_limit_bytes"`
			Assessment      struct {
				Budget int64 `json:"budget_bytes"`
			} `json:"assessment"`
		} `json:"recommendation"`
	}
	if err := json.Unmarshal(js.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	limit := p.Recommendation.PoolMemoryLimit
	if limit <= 0 || limit != p.Recommendation.Assessment.Budget {
		t.Fatalf("pool memory limit %d, planned PYTHON budget %d", limit, p.Recommendation.Assessment.Budget)
	}
	var out bytes.Buffer
	if err := runPlan(context.Background(), args, noEnv.getenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("flinkfn pool --memory-limit %db", limit); !strings.Contains(out.String(), want) {
		t.Errorf("pool-mode report lacks %q:\n%s", want, out.String())
	}
	if !strings.Contains(out.String(), "set the pool's memory limit to") {
		t.Errorf("pool-mode report does not say to set the pool's memory limit:\n%s", out.String())
	}
}

// 16 process-mode workers in 16 GiB: the recommendation takes the workers'
// managed memory from the task heap and says so; its 20 % headroom (about
// 1 GiB, above the waste threshold) is planned spare, not "memory wasted".
func TestRunPlanRecommendationShrinkingHeapNotWasted(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("taskmanager.memory.process.size: 16g\ntaskmanager.numberOfTaskSlots: 16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runPlan(context.Background(), []string{"--config", cfg, "--mode", "process"}, noEnv.getenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	i := strings.Index(text, "Recommended settings")
	if i < 0 {
		t.Fatalf("no recommendation:\n%s", text)
	}
	rec := text[i:]
	for _, want := range []string{"task heap shrinks by", "→ fits:", "spare: the 20% headroom"} {
		if !strings.Contains(rec, want) {
			t.Errorf("recommendation lacks %q:\n%s", want, rec)
		}
	}
	if strings.Contains(strings.ToLower(rec), "memory wasted") || strings.Contains(rec, "--memory-limit") {
		t.Errorf("process-mode recommendation labelled wasted or given a pool limit:\n%s", rec)
	}
}

// A model folder with several variants is measured by the files one load
// reads: the variants not loaded are not counted (an int8 and an int8-fast
// next to fp32 once made plan count MiniLM as 229 MiB of files, not 87).
func TestMeasureModelFolderCountsOneVariant(t *testing.T) {
	dir := t.TempDir()
	manifest := `{"name": "m", "dims": 4, "pooling": "mean", "normalize": true, "max_seq_length": 8,
	  "tokenizer": "tokenizer.json", "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
	  "output": "last_hidden_state", "variants": {"fp32": "model.onnx", "int8": "model_int8.onnx"}}`
	for name, data := range map[string][]byte{
		"manifest.json":   []byte(manifest),
		"tokenizer.json":  make([]byte, 100),
		"model.onnx":      make([]byte, 4000),
		"model_int8.onnx": make([]byte, 1000),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := int64(len(manifest) + 100)
	for _, c := range []struct {
		variant string
		want    int64
	}{{"", files + 4000}, {"fp32", files + 4000}, {"int8", files + 1000}} {
		fp, err := measureModelFolder(dir, c.variant)
		if err != nil || int64(fp.Weights) != c.want || fp.Files != 3 {
			t.Errorf("variant %q: %+v, %v; want %d bytes in 3 files", c.variant, fp, err, c.want)
		}
	}
	if _, err := measureModelFolder(dir, "fp16"); err == nil || !strings.Contains(err.Error(), "have fp32, int8") {
		t.Errorf("unknown variant: %v", err)
	}
	// Without a manifest every file counts.
	if err := os.Remove(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	if fp, err := measureModelFolder(dir, ""); err != nil || int64(fp.Weights) != 5100 {
		t.Errorf("no manifest: %+v, %v", fp, err)
	}
}
