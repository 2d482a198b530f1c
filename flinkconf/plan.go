package flinkconf

import (
	"fmt"
)

// Verdict is the planner's answer for a TaskManager container.
type Verdict string

// The three verdicts.
const (
	VerdictFits    Verdict = "fits"
	VerdictOOMKill Verdict = "will be OOM-killed"
	VerdictWasted  Verdict = "memory wasted"
)

// Finding is one observation, with Level "error", "warning" or "info".
type Finding struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// PlanInput is what the planner needs; zero values take the defaults.
type PlanInput struct {
	Config *Config
	// Mode defaults to ModePool.
	Mode WorkerMode
	// Model defaults to DefaultModelFootprint().
	Model *ModelFootprint
	// Shape is what shares the slots with the workers (default: Python only).
	Shape JobShape
	// SessionsPerSlot is the number of Python operators per slot (default 1).
	SessionsPerSlot int
	// StockWorkerRSS defaults to StockPythonWorkerRSS.
	StockWorkerRSS MemorySize
	// Container is the compose limit, nil when none was given.
	Container *ContainerLimit
	// Headroom multiplies the workers' need in recommendations (default 1.2).
	Headroom float64
}

// Assessment compares one kind of worker with the memory it can have.
type Assessment struct {
	Workers WorkerNeed `json:"workers"`
	// Budget is Flink's PYTHON managed-memory budget over all slots.
	Budget MemorySize `json:"budget_bytes"`
	// Outside is container limit − process.size when positive: memory no
	// Flink component will use.
	Outside MemorySize `json:"outside_flink_bytes"`
	// Available = Budget + Outside.
	Available MemorySize `json:"available_bytes"`
	// Shortfall = need − available when positive: what the workers use that
	// nothing planned for; the container is OOM-killed once the JVM also
	// grows into its own budgets.
	Shortfall MemorySize `json:"shortfall_bytes"`
	// Unused = available − need when positive.
	Unused MemorySize `json:"unused_bytes"`
	// Wasted is unused worker budget plus task off-heap memory, which only
	// raises -XX:MaxDirectMemorySize and is not where workers live.
	Wasted  MemorySize `json:"wasted_bytes"`
	Verdict Verdict    `json:"verdict"`
	Summary string     `json:"summary"`
}

// Plan is the planner's full answer.
type Plan struct {
	Mode         WorkerMode        `json:"mode"`
	Shape        string            `json:"job_shape"`
	Config       string            `json:"config"`
	TaskManager  *TaskManagerSpec  `json:"taskmanager"`
	Log          []string          `json:"taskmanager_log"`
	JVMArgs      string            `json:"jvm_args"`
	PerSlot      SlotResources     `json:"per_slot"`
	Weights      ConsumerWeights   `json:"consumer_weights"`
	Python       PythonWorkerLimit `json:"python_worker_limit"`
	Settings     WorkerSettings    `json:"worker_settings"`
	Model        ModelFootprint    `json:"model"`
	Container    *ContainerLimit   `json:"container,omitempty"`
	Selected     Assessment        `json:"selected"`
	Alternatives []Assessment      `json:"alternatives"`
	Verdict      Verdict           `json:"verdict"`
	Findings     []Finding         `json:"findings"`
	// Recommendation is nil only when nothing could be derived.
	Recommendation *Recommendation `json:"recommendation,omitempty"`
}

// Fits reports whether the selected workers fit (fits or memory wasted).
func (p *Plan) Fits() bool { return p.Verdict != VerdictOOMKill }

func (in PlanInput) withDefaults() PlanInput {
	if in.Mode == "" {
		in.Mode = ModePool
	}
	if in.Model == nil {
		m := DefaultModelFootprint()
		in.Model = &m
	}
	if in.SessionsPerSlot <= 0 {
		in.SessionsPerSlot = 1
	}
	if in.StockWorkerRSS <= 0 {
		in.StockWorkerRSS = StockPythonWorkerRSS
	}
	if in.Headroom <= 0 {
		in.Headroom = 1.2
	}
	return in
}

// BuildPlan derives the TaskManager as Flink would, computes what the
// workers need, judges whether they fit the container and recommends
// settings that fit the same container. A configuration Flink rejects is
// returned as the error Flink raises.
func BuildPlan(in PlanInput) (*Plan, error) {
	in = in.withDefaults()
	if in.Mode != ModeProcess && in.Mode != ModePool {
		return nil, fmt.Errorf("unknown worker mode %q (want process or pool)", in.Mode)
	}
	spec, err := DeriveTaskManager(in.Config)
	if err != nil {
		return nil, err
	}
	if spec.Slots <= 0 {
		return nil, fmt.Errorf("%s is %d: no slot can run a worker", KeyTMSlots, spec.Slots)
	}
	weights, err := ManagedConsumerWeights(in.Config)
	if err != nil {
		return nil, err
	}
	py, err := PythonWorkerMemoryLimit(in.Config, spec, in.Shape)
	if err != nil {
		return nil, err
	}
	ws, err := ReadWorkerSettings(in.Config)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Mode: in.Mode, Shape: in.Shape.Name(), Config: in.Config.Source, TaskManager: spec,
		Log: spec.TaskManagerLog(), JVMArgs: spec.JVMArgs(), PerSlot: spec.PerSlot(),
		Weights: weights, Python: py, Settings: ws, Model: *in.Model, Container: in.Container,
	}
	slots := int(spec.Slots)
	needs := []WorkerNeed{
		StockPythonNeed(slots, in.StockWorkerRSS),
		FlinkfnNeed(ModeProcess, slots, in.SessionsPerSlot, *in.Model, ws),
		FlinkfnNeed(ModePool, slots, in.SessionsPerSlot, *in.Model, ws),
	}
	for i, n := range needs {
		a := assess(spec, py, in.Container, n)
		p.Alternatives = append(p.Alternatives, a)
		if (i == 1 && in.Mode == ModeProcess) || (i == 2 && in.Mode == ModePool) {
			p.Selected = a
		}
	}
	p.Verdict = p.Selected.Verdict
	p.Findings = findings(in, p)
	p.Recommendation = recommend(in, p)
	return p, nil
}

func assess(spec *TaskManagerSpec, py PythonWorkerLimit, c *ContainerLimit, need WorkerNeed) Assessment {
	a := Assessment{Workers: need}
	if py.Bytes > 0 {
		a.Budget = MemorySize(py.Bytes) * MemorySize(spec.Slots)
	}
	below := false
	if c != nil && c.Set {
		if c.Bytes > spec.TotalProcess {
			a.Outside = c.Bytes - spec.TotalProcess
		}
		below = c.Bytes < spec.TotalProcess
	}
	a.Available = a.Budget + a.Outside
	if need.Total > a.Available {
		a.Shortfall = need.Total - a.Available
	} else {
		a.Unused = a.Available - need.Total
	}
	a.Wasted = a.Unused + spec.TaskOffHeap
	switch {
	case below:
		a.Verdict = VerdictOOMKill
		a.Summary = fmt.Sprintf("the container limit %s is %s below taskmanager.memory.process.size %s: Flink plans memory the container does not have",
			iec(c.Bytes), iec(spec.TotalProcess-c.Bytes), iec(spec.TotalProcess))
	case a.Shortfall > 0:
		a.Verdict = VerdictOOMKill
		a.Summary = fmt.Sprintf("%s need %s but only %s is budgeted for them: %s over, unplanned memory that gets the container OOM-killed once the JVM uses its own budgets",
			need.Kind, iec(need.Total), iec(a.Available), iec(a.Shortfall))
	case a.Wasted > wasteThreshold(spec):
		a.Verdict = VerdictWasted
		a.Summary = fmt.Sprintf("%s need %s of %s budgeted; %s is idle (%s unused worker budget + %s task off-heap that only raises the JVM's direct-memory cap)",
			need.Kind, iec(need.Total), iec(a.Available), iec(a.Wasted), iec(a.Unused), iec(spec.TaskOffHeap))
	default:
		a.Verdict = VerdictFits
		a.Summary = fmt.Sprintf("%s need %s of %s budgeted (%s spare)", need.Kind, iec(need.Total), iec(a.Available), iec(a.Unused))
	}
	return a
}

// wasteThreshold: idle memory above max(512 MiB, 5 % of the process) is reported as waste.
func wasteThreshold(spec *TaskManagerSpec) MemorySize {
	t := spec.TotalProcess / 20
	if t < 512*MiB {
		t = 512 * MiB
	}
	return t
}

// iec renders a size for people: "341.3 MiB", "2.00 GiB".
func iec(m MemorySize) string {
	switch {
	case m >= GiB || m <= -GiB:
		return fmt.Sprintf("%.2f GiB", float64(m)/float64(GiB))
	case m >= MiB || m <= -MiB:
		return fmt.Sprintf("%.1f MiB", float64(m)/float64(MiB))
	case m >= KiB:
		return fmt.Sprintf("%.1f KiB", float64(m)/float64(KiB))
	}
	return fmt.Sprintf("%d B", int64(m))
}
