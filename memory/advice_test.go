package memory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/flinkconf"
)

// The managed size and the PYTHON weight PythonShareFix names really give
// the worker what it needs, by Flink's own formula (flinkconf), and one
// MiB less of managed memory would not.
func TestPythonShareFixIsExact(t *testing.T) {
	need := int64(260 << 20)
	for _, tc := range []struct{ yaml, shape string }{
		{"taskmanager.memory.process.size: 1728m\ntaskmanager.numberOfTaskSlots: 2\n", "python"},
		{"taskmanager.memory.process.size: 8g\ntaskmanager.numberOfTaskSlots: 6\n", "python+operators"},
		{"taskmanager.memory.process.size: 12g\ntaskmanager.numberOfTaskSlots: 4\ntaskmanager.memory.managed.size: 256m\n", "python+operators+rocksdb"},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			conf, err := flinkconf.ParseConfigYAML([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			shape, _ := flinkconf.ParseJobShape(tc.shape)
			have := pythonBytes(t, conf, shape)
			fix := PythonShareFix(need, have, conf)
			m := regexp.MustCompile(`taskmanager\.memory\.managed\.size: (\d+)m`).FindStringSubmatch(fix)
			if m == nil {
				t.Fatalf("no managed size in %q", fix)
			}
			size, _ := strconv.Atoi(m[1])
			if got := pythonBytes(t, with(conf, "taskmanager.memory.managed.size", fmt.Sprintf("%dm", size)), shape); got < need {
				t.Fatalf("%dm gives Python %d bytes < %d: %s", size, got, need, fix)
			}
			if got := pythonBytes(t, with(conf, "taskmanager.memory.managed.size", fmt.Sprintf("%dm", size-1)), shape); got >= need {
				t.Fatalf("%dm already gives Python %d bytes ≥ %d: the fix is not the smallest", size-1, got, need)
			}
			if shape == (flinkconf.JobShape{}) {
				if strings.Contains(fix, "consumer-weights (now") {
					t.Fatalf("a Python-only slot needs no weight change: %s", fix)
				}
				return
			}
			w := regexp.MustCompile(`give PYTHON the weight (\d+)`).FindStringSubmatch(fix)
			if w == nil {
				return // the slot's managed memory is too small for any weight
			}
			weights, _ := flinkconf.ManagedConsumerWeights(conf)
			ws := []string{}
			for _, uc := range weights.SortedUseCases() {
				v := strconv.Itoa(weights[uc])
				if uc == flinkconf.UseCasePython {
					v = w[1]
				}
				ws = append(ws, string(uc)+":"+v)
			}
			if got := pythonBytes(t, with(conf, "taskmanager.memory.managed.consumer-weights", strings.Join(ws, ",")), shape); got < need {
				t.Fatalf("weight %s gives Python %d bytes < %d: %s", w[1], got, need, fix)
			}
		})
	}
}

// Without the TaskManager's configuration, or with one that does not give
// the worker its budget (a local run: PyFlink's shipped config.yaml says
// 1728m while the MiniCluster takes the job's settings), the fix is a
// factor, and the value for a local run's default.
func TestPythonShareFixWithoutConfig(t *testing.T) {
	shipped, err := flinkconf.ParseConfigYAML([]byte("taskmanager.memory.process.size: 1728m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := PythonShareFix(256<<20, 128<<20, nil), PythonShareFix(256<<20, 128<<20, shipped); a != b {
		t.Fatalf("a configuration that does not match the budget was used:\n%s\n%s", b, a)
	}
	fix := PythonShareFix(256<<20, 128<<20, nil)
	for _, want := range []string{"2.00× its current value", "taskmanager.memory.managed.size: 256m", "PYTHON share"} {
		if !strings.Contains(fix, want) {
			t.Errorf("%q lacks %q", fix, want)
		}
	}
}

// Overcommit reserves what does not fit and says by how much.
func TestOvercommit(t *testing.T) {
	b := NewBudget(100<<20, "_PYTHON_WORKER_MEMORY_LIMIT")
	if _, short, err := b.Overcommit(KindFramework, "w", 64<<20); err != nil || short != nil {
		t.Fatalf("fits: %v %v", short, err)
	}
	r, short, err := b.Overcommit(KindModel, "m", 64<<20)
	if err != nil || r == nil || short == nil {
		t.Fatalf("over: %v %v %v", r, short, err)
	}
	if !strings.Contains(short.Error(), "36.0 MiB of the 100.0 MiB budget") {
		t.Fatalf("short = %v", short)
	}
	if s := b.Snapshot(); s.Total != 128<<20 {
		t.Fatalf("total %d, want both reservations counted", s.Total)
	}
	r.Release()
	if s := b.Snapshot(); s.Total != 64<<20 {
		t.Fatalf("total %d after release", s.Total)
	}
}

func pythonBytes(t *testing.T, conf *flinkconf.Config, shape flinkconf.JobShape) int64 {
	t.Helper()
	spec, err := flinkconf.DeriveTaskManager(conf)
	if err != nil {
		t.Fatal(err)
	}
	l, err := flinkconf.PythonWorkerMemoryLimit(conf, spec, shape)
	if err != nil {
		t.Fatal(err)
	}
	return l.Bytes
}

func with(conf *flinkconf.Config, key, value string) *flinkconf.Config {
	c := conf.Clone()
	c.Set(key, value)
	return c
}
