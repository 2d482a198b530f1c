package flinkconf

import (
	"fmt"
	"math"
	"strings"
)

// Setting is one recommended configuration entry.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"` // "" means: remove the key
	Was   string `json:"was,omitempty"`
}

// Recommendation is a configuration that fits the same container, checked
// by deriving it again with Flink's rules.
type Recommendation struct {
	Mode      WorkerMode `json:"mode"`
	Container MemorySize `json:"container_bytes"`
	// ComposeLimit is set when the container must change (it cannot fit as is).
	ComposeLimit string            `json:"compose_limit,omitempty"`
	Settings     []Setting         `json:"settings"`
	YAML         string            `json:"config_yaml"`
	TaskManager  *TaskManagerSpec  `json:"taskmanager"`
	Python       PythonWorkerLimit `json:"python_worker_limit"`
	Assessment   Assessment        `json:"assessment"`
	// PoolMemoryLimit is, in pool mode, the PYTHON budget over all slots:
	// the pool's --memory-limit (Flink hands _PYTHON_WORKER_MEMORY_LIMIT
	// only to workers it starts, never to the pool). 0 in process mode.
	PoolMemoryLimit MemorySize `json:"pool_memory_limit_bytes,omitempty"`
	Notes           []string   `json:"notes"`
}

func recommend(in PlanInput, p *Plan) *Recommendation {
	spec := p.TaskManager
	container := spec.TotalProcess
	if in.Container != nil && in.Container.Set {
		container = in.Container.Bytes
	}
	r := &Recommendation{Mode: in.Mode, Container: container}
	original := container
	need := p.Selected.Workers.Total
	target := scale(need, in.Headroom)
	slots := int64(spec.Slots)
	perSlot := MemorySize((int64(target) + slots - 1) / slots)

	weights := p.Weights
	share := FractionOfSlot(UseCasePython, weights, in.Shape)
	var extra []Setting
	if share <= 0 {
		weights = DefaultConsumerWeights()
		share = FractionOfSlot(UseCasePython, weights, in.Shape)
		extra = append(extra, Setting{Key: KeyTMConsumerWeights, Value: "OPERATOR:70,STATE_BACKEND:70,PYTHON:30"})
	}
	// smallest per-slot managed memory whose PYTHON share covers perSlot
	slotManaged := MemorySize(math.Ceil(float64(perSlot) / share))
	for int64(math.Floor(float64(slotManaged)*share)) < int64(perSlot) {
		slotManaged++
	}
	managed := roundUp(slotManaged*MemorySize(slots), MiB)
	if sharesManaged(in.Shape) {
		if managed < spec.Managed {
			managed = spec.Managed // keep what RocksDB / batch operators had
			r.Notes = append(r.Notes, "managed memory kept at its current size because RocksDB / batch operators share it with the workers")
		}
	}

	for step := 0; step <= 256; step++ {
		cfg := in.Config.Clone()
		settings := apply(cfg, in.Config, container, managed, extra)
		s, err := DeriveTaskManager(cfg)
		if err == nil {
			py, perr := PythonWorkerMemoryLimit(cfg, s, in.Shape)
			if perr == nil {
				a := assess(s, py, &ContainerLimit{Set: true, Bytes: container}, p.Selected.Workers)
				if a.Verdict != VerdictOOMKill {
					r.Settings, r.TaskManager, r.Python, r.Assessment = settings, s, py, plannedSpare(a, in)
					r.Container = container
					if in.Mode == ModePool {
						r.PoolMemoryLimit = a.Budget
					}
					if container != original {
						r.ComposeLimit = composeString(container)
						r.Notes = append(r.Notes, fmt.Sprintf("the workers do not fit in the current %s container: raise its memory limit to %s", iec(original), r.ComposeLimit))
					}
					r.YAML = settingsYAML(settings)
					r.Notes = append(r.Notes, recommendationNotes(in, p, r)...)
					return r
				}
			}
		}
		container += 256 * MiB // grow the container until the workers fit
	}
	r.Notes = append(r.Notes, "no configuration up to 64 GiB larger fits these workers")
	return r
}

// plannedSpare judges a recommended configuration. Its worker budget is
// what the planner sized: the need plus the headroom, or managed memory kept
// because RocksDB / batch operators share it. What the workers leave of it
// is spare that the plan asked for, never "memory wasted" (the recommended
// task off-heap is 0, so nothing else is idle).
func plannedSpare(a Assessment, in PlanInput) Assessment {
	if a.Verdict != VerdictWasted {
		return a
	}
	why := fmt.Sprintf("the %.0f%% headroom", (in.Headroom-1)*100)
	if sharesManaged(in.Shape) {
		why += " and managed memory that RocksDB / batch operators share"
	}
	a.Verdict = VerdictFits
	a.Wasted -= a.Unused
	a.Summary = fmt.Sprintf("%s need %s of %s budgeted (%s spare: %s)",
		a.Workers.Kind, iec(a.Workers.Total), iec(a.Available), iec(a.Unused), why)
	return a
}

// sharesManaged: RocksDB or batch operators use the slots' managed memory
// besides the workers.
func sharesManaged(shape JobShape) bool {
	return shape.Operators || (shape.StateBackend && shape.StateBackendManaged)
}

func apply(cfg, orig *Config, container, managed MemorySize, extra []Setting) []Setting {
	var out []Setting
	set := func(key, value string) {
		was := ""
		if v, ok := orig.Get(key); ok {
			was = v.Text
		}
		if value == "" {
			cfg.Remove(key)
		} else {
			cfg.Set(key, value)
		}
		out = append(out, Setting{Key: key, Value: value, Was: was})
	}
	// Flink's precedence: fine-grained and total-Flink settings would win
	// over process.size; the recommendation sizes from the container.
	for _, k := range []string{KeyTMFlinkSize, KeyTMTaskHeap, "taskmanager.memory.size"} {
		if _, ok := orig.Get(k); ok {
			set(k, "")
		}
	}
	set(KeyTMProcessSize, container.FlinkString())
	set(KeyTMManagedSize, managed.FlinkString())
	if _, ok := orig.Get(KeyTMManagedFraction); ok {
		set(KeyTMManagedFraction, "")
	}
	set(KeyTMTaskOffHeap, "0m")
	for _, e := range extra {
		set(e.Key, e.Value)
	}
	return out
}

func recommendationNotes(in PlanInput, p *Plan, r *Recommendation) []string {
	var notes []string
	if p.TaskManager.TaskOffHeap > 0 {
		notes = append(notes, fmt.Sprintf("task off-heap %s → 0: the model lives in the %s worker, not in the JVM; add back only what your own Java code allocates off-heap",
			iec(p.TaskManager.TaskOffHeap), r.Mode))
	}
	switch d := r.TaskManager.TaskHeap - p.TaskManager.TaskHeap; {
	case d > 0:
		notes = append(notes, fmt.Sprintf("task heap grows by %s to %s (%s per slot)", iec(d), iec(r.TaskManager.TaskHeap), iec(r.TaskManager.PerSlot().TaskHeap)))
	case d < 0:
		notes = append(notes, fmt.Sprintf("task heap shrinks by %s, from %s to %s (%s per slot): the workers' managed memory is taken from it; check that the job's Java operators (heap state, windows, buffers of your own code) fit, or give the container more memory",
			iec(-d), iec(p.TaskManager.TaskHeap), iec(r.TaskManager.TaskHeap), iec(r.TaskManager.PerSlot().TaskHeap)))
	}
	if !in.Shape.Operators && !in.Shape.StateBackendManaged && r.TaskManager.Managed < p.TaskManager.Managed {
		notes = append(notes, fmt.Sprintf("managed memory shrinks from %s to %s because only the workers use it in job shape %q; if RocksDB state or batch operators share the slots, plan with --shape python+rocksdb / python+operators",
			iec(p.TaskManager.Managed), iec(r.TaskManager.Managed), in.Shape.Name()))
	}
	notes = append(notes, fmt.Sprintf("PYTHON budget %s per slot (%s in all) for %s needing %s (%.0f%% headroom)",
		iec(MemorySize(r.Python.Bytes)), iec(r.Assessment.Budget), p.Selected.Workers.Kind, iec(p.Selected.Workers.Total), (in.Headroom-1)*100))
	return notes
}

func roundUp(m, unit MemorySize) MemorySize { return (m + unit - 1) / unit * unit }

// composeString renders a size as a compose value ("12G", "11520M").
func composeString(m MemorySize) string {
	s := m.FlinkString()
	return strings.ToUpper(strings.TrimSuffix(s, "b"))
}

// settingsYAML renders the recommended entries as a nested config.yaml fragment.
func settingsYAML(settings []Setting) string {
	var b strings.Builder
	b.WriteString("taskmanager:\n  memory:\n")
	var removed []string
	for _, s := range settings {
		if !strings.HasPrefix(s.Key, "taskmanager.memory.") {
			continue
		}
		if s.Value == "" {
			removed = append(removed, s.Key)
			continue
		}
		fmt.Fprintf(&b, "    %s: %s\n", strings.TrimPrefix(s.Key, "taskmanager.memory."), s.Value)
	}
	for _, k := range removed {
		fmt.Fprintf(&b, "# remove %s\n", k)
	}
	return b.String()
}
