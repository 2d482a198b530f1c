package main

import (
	"fmt"

	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/observe"
)

// memoryInputs are the explicit memory settings of a command (flags, or
// the FLINKFN_* environment for a worker Flink starts).
type memoryInputs struct {
	limit, framework, buffer string // sizes in Flink syntax; "" = not given
	limitSource              string // e.g. "--memory-limit"
	flinkConf                string // a Flink config.yaml/flink-conf.yaml or conf folder; "" = none
}

// memoryPlan resolves the budget (explicit limit, else
// _PYTHON_WORKER_MEMORY_LIMIT, else the cgroup limit) and the framework and
// buffer sizes (flags over the Flink configuration over Flink's defaults).
func memoryPlan(in memoryInputs, getenv func(string) string) (*memory.Budget, memory.Settings, error) {
	set := memory.DefaultSettings()
	if in.flinkConf != "" {
		s, err := memory.LoadSettings(in.flinkConf)
		if err != nil {
			return nil, set, err
		}
		set = s
	}
	if in.framework != "" {
		n, err := memory.ParseSize(in.framework)
		if err != nil {
			return nil, set, fmt.Errorf("framework memory %q: %w", in.framework, err)
		}
		set.Framework, set.FrameworkSource = n, "flag/env"
	}
	if in.buffer != "" {
		n, err := memory.ParseSize(in.buffer)
		if err != nil {
			return nil, set, fmt.Errorf("buffer memory %q: %w", in.buffer, err)
		}
		set.Buffer, set.BufferSource = n, "flag/env"
	}
	if in.limit != "" {
		n, err := memory.ParseSize(in.limit)
		if err != nil {
			return nil, set, fmt.Errorf("memory limit %q (%s): %w", in.limit, in.limitSource, err)
		}
		return memory.NewBudget(n, in.limitSource), set, nil
	}
	n, src, err := memory.DetectLimit(getenv, "")
	if err != nil {
		return nil, set, err
	}
	return memory.NewBudget(n, src), set, nil
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
