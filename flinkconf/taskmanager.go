package flinkconf

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// TaskManagerSpec is the derived memory of a TaskManager process, Flink's
// TaskExecutorProcessSpec.
type TaskManagerSpec struct {
	Path Path `json:"path"`
	TMFlinkMemory
	Metaspace    MemorySize `json:"metaspace"`
	Overhead     MemorySize `json:"overhead"`
	TotalFlink   MemorySize `json:"total_flink"`
	TotalProcess MemorySize `json:"total_process"`
	// Slots is taskmanager.numberOfTaskSlots.
	Slots int32 `json:"slots"`
	// CPUCores is taskmanager.cpu.cores, or the slot count when unset.
	CPUCores float64 `json:"cpu_cores"`
}

// JVMHeap is -Xmx/-Xms: framework heap + task heap.
func (s TaskManagerSpec) JVMHeap() MemorySize { return s.FrameworkHeap + s.TaskHeap }

// JVMDirect is -XX:MaxDirectMemorySize: framework off-heap + task off-heap + network.
func (s TaskManagerSpec) JVMDirect() MemorySize {
	return s.FrameworkOffHeap + s.TaskOffHeap + s.Network
}

// TotalOffHeap is what Flink's start-up log calls "Total Off-heap Memory":
// managed + JVM direct.
func (s TaskManagerSpec) TotalOffHeap() MemorySize { return s.Managed + s.JVMDirect() }

// JVMArgs are the JVM flags Flink starts the TaskManager with
// (ProcessMemoryUtils.generateJvmParametersStr).
func (s TaskManagerSpec) JVMArgs() string {
	return jvmArgs(s.JVMHeap(), s.JVMDirect(), true, s.Metaspace)
}

func jvmArgs(heap, direct MemorySize, withDirect bool, meta MemorySize) string {
	out := fmt.Sprintf("-Xmx%d -Xms%d", heap, heap)
	if withDirect {
		out += fmt.Sprintf(" -XX:MaxDirectMemorySize=%d", direct)
	}
	return out + fmt.Sprintf(" -XX:MaxMetaspaceSize=%d", meta)
}

// DynamicConfigs are the -D properties Flink passes to the TaskManager
// (TaskExecutorProcessUtils.generateDynamicConfigsStr), as a map.
func (s TaskManagerSpec) DynamicConfigs() map[string]string {
	b := func(m MemorySize) string { return strconv.FormatInt(int64(m), 10) + "b" }
	return map[string]string{
		KeyTMCPUCores:         javaDouble(s.CPUCores),
		KeyTMFrameworkHeap:    b(s.FrameworkHeap),
		KeyTMFrameworkOffHeap: b(s.FrameworkOffHeap),
		KeyTMTaskHeap:         b(s.TaskHeap),
		KeyTMTaskOffHeap:      b(s.TaskOffHeap),
		KeyTMNetworkMin:       b(s.Network),
		KeyTMNetworkMax:       b(s.Network),
		KeyTMManagedSize:      b(s.Managed),
		KeyTMMetaspace:        b(s.Metaspace),
		KeyTMOverheadMin:      b(s.Overhead),
		KeyTMOverheadMax:      b(s.Overhead),
		KeyTMSlots:            strconv.Itoa(int(s.Slots)),
		"external-resources":  "none",
	}
}

// SlotResources is one slot's share of a TaskManager
// (TaskExecutorResourceUtils.generateDefaultSlotResourceProfile).
type SlotResources struct {
	TaskHeap    MemorySize `json:"task_heap"`
	TaskOffHeap MemorySize `json:"task_off_heap"`
	Managed     MemorySize `json:"managed"`
	Network     MemorySize `json:"network"`
}

// PerSlot divides the slot-shared components by the slot count (integer
// division, as Flink does); zero when there are no slots.
func (s TaskManagerSpec) PerSlot() SlotResources {
	n := int64(s.Slots)
	return SlotResources{
		TaskHeap:    s.TaskHeap.Divide(n),
		TaskOffHeap: s.TaskOffHeap.Divide(n),
		Managed:     s.Managed.Divide(n),
		Network:     s.Network.Divide(n),
	}
}

// DeriveTaskManager computes the TaskManager memory exactly as Flink's
// TaskExecutorProcessUtils.processSpecFromConfig: one of three paths
// (task heap + managed size; total Flink size; total process size),
// float32 fractions, min/max clamps, and Flink's errors, configuration
// errors prefixed "TaskManager memory configuration failed: ".
func DeriveTaskManager(c *Config) (*TaskManagerSpec, error) {
	spec, err := deriveTaskManager(c)
	if err != nil {
		if fe, ok := err.(*FlinkError); ok && fe.Class == ClassIllegalConfiguration {
			return nil, configErr("TaskManager memory configuration failed: "+fe.Msg, fe)
		}
		return nil, err
	}
	return spec, nil
}

func deriveTaskManager(c *Config) (*TaskManagerSpec, error) {
	fm, mo, path, err := deriveProcess[TMFlinkMemory](c, tmProcessOptions, tmFlinkDeriver{})
	if err != nil {
		return nil, err
	}
	cores, err := cpuCores(c)
	if err != nil {
		return nil, err
	}
	slots, err := c.intOption(KeyTMSlots, 1)
	if err != nil {
		return nil, err
	}
	totalFlink, err := fm.Total()
	if err != nil {
		return nil, err
	}
	process, err := sum(totalFlink, mo.metaspace, mo.overhead)
	if err != nil {
		return nil, err
	}
	return &TaskManagerSpec{
		Path: path, TMFlinkMemory: fm, Metaspace: mo.metaspace, Overhead: mo.overhead,
		TotalFlink: totalFlink, TotalProcess: process, Slots: slots, CPUCores: cores,
	}, nil
}

// cpuCores is TaskExecutorProcessUtils.getCpuCoresWithFallback(config, -1)
// followed by CPUResource's rounding down to 8 decimals.
func cpuCores(c *Config) (float64, error) {
	d, ok, err := c.doubleOption(KeyTMCPUCores)
	if err != nil {
		return 0, err
	}
	if !ok {
		slots, err := c.intOption(KeyTMSlots, 1)
		if err != nil {
			return 0, err
		}
		d = float64(slots)
	}
	if d <= 0 {
		return 0, configErr("TaskExecutors need to be started with a positive number of CPU cores. Please configure "+KeyTMCPUCores+" accordingly.", nil)
	}
	if math.IsNaN(d) || math.IsInf(d, 0) {
		// CPUResource → BigDecimal.valueOf(d) → new BigDecimal("NaN" / "Infinity")
		return 0, numberFormatErr(fmt.Sprintf("Character %c is neither a decimal digit number, decimal point, nor \"e\" notation exponential mark.", javaDouble(d)[0]))
	}
	r, _ := new(big.Rat).SetString(javaDouble(d))
	r.Mul(r, big.NewRat(1e8, 1))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	f, _ := new(big.Rat).SetFrac(q, big.NewInt(1e8)).Float64()
	return f, nil
}
