package flinkconf

// TaskManagerLog returns the lines Flink logs when it starts a TaskManager
// ("Final TaskExecutor Memory configuration:", BashJavaUtils), verbatim.
func (s TaskManagerSpec) TaskManagerLog() []string {
	return []string{
		"Final TaskExecutor Memory configuration:",
		"  Total Process Memory:          " + s.TotalProcess.HumanReadable(),
		"    Total Flink Memory:          " + s.TotalFlink.HumanReadable(),
		"      Total JVM Heap Memory:     " + s.JVMHeap().HumanReadable(),
		"        Framework:               " + s.FrameworkHeap.HumanReadable(),
		"        Task:                    " + s.TaskHeap.HumanReadable(),
		"      Total Off-heap Memory:     " + s.TotalOffHeap().HumanReadable(),
		"        Managed:                 " + s.Managed.HumanReadable(),
		"        Total JVM Direct Memory: " + s.JVMDirect().HumanReadable(),
		"          Framework:             " + s.FrameworkOffHeap.HumanReadable(),
		"          Task:                  " + s.TaskOffHeap.HumanReadable(),
		"          Network:               " + s.Network.HumanReadable(),
		"    JVM Metaspace:               " + s.Metaspace.HumanReadable(),
		"    JVM Overhead:                " + s.Overhead.HumanReadable(),
	}
}

// JobManagerLog returns the lines Flink logs when it starts a JobManager
// ("Final Master Memory configuration:"), verbatim.
func (s JobManagerSpec) JobManagerLog() []string {
	return []string{
		"Final Master Memory configuration:",
		"  Total Process Memory: " + s.TotalProcess.HumanReadable(),
		"    Total Flink Memory: " + s.TotalFlink.HumanReadable(),
		"      JVM Heap:         " + s.Heap.HumanReadable(),
		"      Off-heap:         " + s.OffHeap.HumanReadable(),
		"    JVM Metaspace:      " + s.Metaspace.HumanReadable(),
		"    JVM Overhead:       " + s.Overhead.HumanReadable(),
	}
}
