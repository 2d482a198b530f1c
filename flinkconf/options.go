package flinkconf

import (
	"fmt"
	"strings"
)

// memOption is a MemorySize ConfigOption.
type memOption struct {
	key        string
	fallbacks  []string // deprecated keys, in declaration order
	hasDefault bool
	def        MemorySize
}

// floatOption is a Float ConfigOption; def is its Java default.
type floatOption struct {
	key       string
	fallbacks []string
	def       float32
}

// String renders the option like Java's ConfigOption.toString, which Flink
// puts in its "Inconsistently configured" message.
func (o floatOption) String() string {
	return fmt.Sprintf("Key: '%s' , default: %s (fallback keys: [%s])", o.key, javaFloat(o.def), fallbackList(o.fallbacks))
}

// String renders the option like Java's ConfigOption.toString.
func (o memOption) String() string {
	def := "null"
	if o.hasDefault {
		def = o.def.String()
	}
	return fmt.Sprintf("Key: '%s' , default: %s (fallback keys: [%s])", o.key, def, fallbackList(o.fallbacks))
}

func fallbackList(keys []string) string {
	fb := make([]string, len(keys))
	for i, k := range keys {
		fb[i] = fmt.Sprintf("{key=%s, isDeprecated=true}", k)
	}
	return strings.Join(fb, ", ")
}

func memOpt(key string, def string, fallbacks ...string) memOption {
	o := memOption{key: key, fallbacks: fallbacks}
	if def != "" {
		o.hasDefault, o.def = true, MustParseMemorySize(def)
	}
	return o
}

// Option keys of the TaskManager and JobManager memory model (Flink 2.3,
// TaskManagerOptions / JobManagerOptions) and of the Python workers.
const (
	KeyTMProcessSize         = "taskmanager.memory.process.size"
	KeyTMFlinkSize           = "taskmanager.memory.flink.size"
	KeyTMFrameworkHeap       = "taskmanager.memory.framework.heap.size"
	KeyTMFrameworkOffHeap    = "taskmanager.memory.framework.off-heap.size"
	KeyTMTaskHeap            = "taskmanager.memory.task.heap.size"
	KeyTMTaskOffHeap         = "taskmanager.memory.task.off-heap.size"
	KeyTMManagedSize         = "taskmanager.memory.managed.size"
	KeyTMManagedFraction     = "taskmanager.memory.managed.fraction"
	KeyTMConsumerWeights     = "taskmanager.memory.managed.consumer-weights"
	KeyTMNetworkMin          = "taskmanager.memory.network.min"
	KeyTMNetworkMax          = "taskmanager.memory.network.max"
	KeyTMNetworkFraction     = "taskmanager.memory.network.fraction"
	KeyTMMetaspace           = "taskmanager.memory.jvm-metaspace.size"
	KeyTMOverheadMin         = "taskmanager.memory.jvm-overhead.min"
	KeyTMOverheadMax         = "taskmanager.memory.jvm-overhead.max"
	KeyTMOverheadFraction    = "taskmanager.memory.jvm-overhead.fraction"
	KeyTMSegmentSize         = "taskmanager.memory.segment-size"
	KeyTMSlots               = "taskmanager.numberOfTaskSlots"
	KeyTMCPUCores            = "taskmanager.cpu.cores"
	KeyJMProcessSize         = "jobmanager.memory.process.size"
	KeyJMFlinkSize           = "jobmanager.memory.flink.size"
	KeyJMHeap                = "jobmanager.memory.heap.size"
	KeyJMOffHeap             = "jobmanager.memory.off-heap.size"
	KeyJMDirectLimit         = "jobmanager.memory.enable-jvm-direct-memory-limit"
	KeyJMMetaspace           = "jobmanager.memory.jvm-metaspace.size"
	KeyJMOverheadMin         = "jobmanager.memory.jvm-overhead.min"
	KeyJMOverheadMax         = "jobmanager.memory.jvm-overhead.max"
	KeyJMOverheadFraction    = "jobmanager.memory.jvm-overhead.fraction"
	KeyPythonManaged         = "python.fn-execution.memory.managed"
	KeyPythonFrameworkMemory = "python.fn-execution.framework.memory.size"
	KeyPythonBufferMemory    = "python.fn-execution.buffer.memory.size"
	KeyPythonExecutionMode   = "python.execution-mode"
)

// processOptions names the options one process (TM or JM) is derived from.
type processOptions struct {
	fineGrained  []memOption
	totalFlink   memOption
	totalProcess memOption
	metaspace    memOption
	overheadMin  memOption
	overheadMax  memOption
	overheadFrac floatOption
}

var (
	tmTaskHeap  = memOpt(KeyTMTaskHeap, "")
	tmManaged   = memOpt(KeyTMManagedSize, "", "taskmanager.memory.size")
	tmFlink     = memOpt(KeyTMFlinkSize, "")
	tmProcess   = memOpt(KeyTMProcessSize, "")
	tmFwHeap    = memOpt(KeyTMFrameworkHeap, "128m")
	tmFwOffHeap = memOpt(KeyTMFrameworkOffHeap, "128m")
	tmTaskOff   = memOpt(KeyTMTaskOffHeap, "0")
	tmNetMin    = memOpt(KeyTMNetworkMin, "64m", "taskmanager.network.memory.min")
	tmNetMax    = memOption{key: KeyTMNetworkMax, fallbacks: []string{"taskmanager.network.memory.max"}, hasDefault: true, def: MaxMemorySize}
	tmSegment   = memOpt(KeyTMSegmentSize, "32kb")

	tmManagedFraction = floatOption{key: KeyTMManagedFraction, def: 0.4}
	tmNetFraction     = floatOption{key: KeyTMNetworkFraction, def: 0.1, fallbacks: []string{"taskmanager.network.memory.fraction"}}

	tmProcessOptions = processOptions{
		fineGrained:  []memOption{tmTaskHeap, tmManaged},
		totalFlink:   tmFlink,
		totalProcess: tmProcess,
		metaspace:    memOpt(KeyTMMetaspace, "256m"),
		overheadMin:  memOpt(KeyTMOverheadMin, "192m"),
		overheadMax:  memOpt(KeyTMOverheadMax, "1g"),
		overheadFrac: floatOption{key: KeyTMOverheadFraction, def: 0.1},
	}

	jmHeap    = memOpt(KeyJMHeap, "")
	jmOffHeap = memOpt(KeyJMOffHeap, "128m")

	jmProcessOptions = processOptions{
		fineGrained:  []memOption{jmHeap},
		totalFlink:   memOpt(KeyJMFlinkSize, ""),
		totalProcess: memOpt(KeyJMProcessSize, ""),
		metaspace:    memOpt(KeyJMMetaspace, "256m"),
		overheadMin:  memOpt(KeyJMOverheadMin, "192m"),
		overheadMax:  memOpt(KeyJMOverheadMax, "1g"),
		overheadFrac: floatOption{key: KeyJMOverheadFraction, def: 0.1},
	}
)
