package main

import (
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
)

// memoryPlan is the budget (its limit and where it came from: a flag,
// FLINKFN_MEMORY_LIMIT, _PYTHON_WORKER_MEMORY_LIMIT or the cgroup) and the
// framework and buffer sizes (flag, environment, Flink configuration or
// Flink's defaults) of the configuration.
func memoryPlan(c *config) (*memory.Budget, memory.Settings) {
	set := memory.Settings{
		Framework: c.FrameworkMemory, Buffer: c.BufferMemory,
		FrameworkSource: c.sourceOf("framework-memory"), BufferSource: c.sourceOf("buffer-memory"),
	}
	return memory.NewBudget(c.MemoryLimit, c.MemoryLimitSource), set
}

// memoryState reads the budget and the process for /metrics.
func memoryState(b *memory.Budget, bufferInUse func() int64) func() observe.MemoryState {
	return func() observe.MemoryState {
		snap := b.Snapshot()
		st := observe.MemoryState{Limit: snap.Limit, Reserved: map[string]int64{}}
		for k, v := range snap.Reserved {
			st.Reserved[string(k)] = v
		}
		st.Used, _ = memory.RSS()
		if bufferInUse != nil {
			st.BufferInUse = bufferInUse()
		}
		return st
	}
}
