package flinkconf

import (
	"fmt"
	"strconv"
)

// JobManagerSpec is the derived memory of a JobManager process
// (JobManagerProcessSpec).
type JobManagerSpec struct {
	Path         Path       `json:"path"`
	Heap         MemorySize `json:"heap"`
	OffHeap      MemorySize `json:"off_heap"`
	Metaspace    MemorySize `json:"metaspace"`
	Overhead     MemorySize `json:"overhead"`
	TotalFlink   MemorySize `json:"total_flink"`
	TotalProcess MemorySize `json:"total_process"`
}

// JVMArgs are the JobManager's JVM flags
// (JobManagerProcessUtils.generateJvmParametersStr): -XX:MaxDirectMemorySize
// only when jobmanager.memory.enable-jvm-direct-memory-limit is true in c.
func (s JobManagerSpec) JVMArgs(c *Config) (string, error) {
	direct, err := c.boolOption(KeyJMDirectLimit, false)
	if err != nil {
		return "", err
	}
	return jvmArgs(s.Heap, s.OffHeap, direct, s.Metaspace), nil
}

// DynamicConfigs are the -D properties of JobManagerProcessUtils.generateDynamicConfigsStr.
func (s JobManagerSpec) DynamicConfigs() map[string]string {
	b := func(m MemorySize) string { return strconv.FormatInt(int64(m), 10) + "b" }
	return map[string]string{
		KeyJMHeap:        b(s.Heap),
		KeyJMOffHeap:     b(s.OffHeap),
		KeyJMMetaspace:   b(s.Metaspace),
		KeyJMOverheadMin: b(s.Overhead),
		KeyJMOverheadMax: b(s.Overhead),
	}
}

type jmFlinkMemory struct{ heap, offHeap MemorySize }

type jmFlinkDeriver struct{}

func (jmFlinkDeriver) fromFineGrained(c *Config) (jmFlinkMemory, MemorySize, error) {
	heap, err := c.memorySizeFromConfig(jmHeap)
	if err != nil {
		return jmFlinkMemory{}, 0, err
	}
	off, err := c.memorySizeFromConfig(jmOffHeap)
	if err != nil {
		return jmFlinkMemory{}, 0, err
	}
	if c.containsMem(jmProcessOptions.totalFlink) {
		total, err := c.memorySizeFromConfig(jmProcessOptions.totalFlink)
		if err != nil {
			return jmFlinkMemory{}, 0, err
		}
		if c.containsMem(jmOffHeap) {
			derived, err := heap.Add(off)
			if err != nil {
				return jmFlinkMemory{}, 0, err
			}
			if derived != total {
				return jmFlinkMemory{}, 0, configErr(fmt.Sprintf(
					"Sum of the configured JVM Heap Memory (%s) and the configured Off-heap Memory (%s) does not match the configured Total Flink Memory (%s). "+
						"Please, make the configuration consistent or configure only one option: either JVM Heap or Total Flink Memory.",
					heap.HumanReadable(), off.HumanReadable(), total.HumanReadable()), nil)
			}
		} else {
			if total < heap {
				return jmFlinkMemory{}, 0, configErr(fmt.Sprintf(
					"The configured JVM Heap Memory (%s) exceeds the configured Total Flink Memory (%s). "+
						"Please, make the configuration consistent or configure only one option: either JVM Heap or Total Flink Memory.",
					heap.HumanReadable(), total.HumanReadable()), nil)
			}
			off = total - heap
		}
	}
	total, err := heap.Add(off)
	if err != nil {
		return jmFlinkMemory{}, 0, err
	}
	return jmFlinkMemory{heap, off}, total, nil
}

func (jmFlinkDeriver) fromTotalFlink(c *Config, total MemorySize) (jmFlinkMemory, error) {
	off, err := c.memorySizeFromConfig(jmOffHeap)
	if err != nil {
		return jmFlinkMemory{}, err
	}
	if total <= off {
		return jmFlinkMemory{}, configErr(fmt.Sprintf(
			"The configured Total Flink Memory (%s) is less than the configured Off-heap Memory (%s).",
			total.HumanReadable(), off.HumanReadable()), nil)
	}
	return jmFlinkMemory{total - off, off}, nil
}

// DeriveJobManager computes the JobManager memory exactly as Flink's
// JobManagerProcessUtils.processSpecFromConfig (no error prefix, unlike the
// TaskManager).
func DeriveJobManager(c *Config) (*JobManagerSpec, error) {
	fm, mo, path, err := deriveProcess[jmFlinkMemory](c, jmProcessOptions, jmFlinkDeriver{})
	if err != nil {
		return nil, err
	}
	totalFlink, err := fm.heap.Add(fm.offHeap)
	if err != nil {
		return nil, err
	}
	process, err := sum(totalFlink, mo.metaspace, mo.overhead)
	if err != nil {
		return nil, err
	}
	return &JobManagerSpec{
		Path: path, Heap: fm.heap, OffHeap: fm.offHeap, Metaspace: mo.metaspace, Overhead: mo.overhead,
		TotalFlink: totalFlink, TotalProcess: process,
	}, nil
}
