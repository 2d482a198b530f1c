package flinkconf

import (
	"strings"
	"testing"
)

// The spec's worked example (§7): the seed's TaskManager, path C.
func TestDeriveSeedWorkedExample(t *testing.T) {
	c, err := LoadFile("testdata/seed/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := DeriveTaskManager(c)
	if err != nil {
		t.Fatal(err)
	}
	want := TaskManagerSpec{
		Path: PathTotalProcess,
		TMFlinkMemory: TMFlinkMemory{FrameworkHeap: 134217728, FrameworkOffHeap: 134217728, TaskHeap: 4080218912,
			TaskOffHeap: 4294967296, Network: 536870912, Managed: 2147483648},
		Metaspace: 268435456, Overhead: 1288490208, TotalFlink: 11327976224, TotalProcess: 12884901888,
		Slots: 6, CPUCores: 6,
	}
	if *s != want {
		t.Errorf("seed TaskManager\n got %+v\nwant %+v", *s, want)
	}
	if got := s.JVMArgs(); got != "-Xmx4214436640 -Xms4214436640 -XX:MaxDirectMemorySize=4966055936 -XX:MaxMetaspaceSize=268435456" {
		t.Errorf("JVM args %q", got)
	}
	if ps := s.PerSlot(); ps != (SlotResources{TaskHeap: 680036485, TaskOffHeap: 715827882, Managed: 357913941, Network: 89478485}) {
		t.Errorf("per slot %+v", ps)
	}
	for _, tc := range []struct {
		shape JobShape
		bytes int64
	}{
		{JobShape{}, 357913941},
		{JobShape{StateBackend: true, StateBackendManaged: true}, 107374182},
		{JobShape{Operators: true}, 107374182},
		{JobShape{Operators: true, StateBackend: true, StateBackendManaged: true}, 63161283},
		{JobShape{StateBackend: true}, 357913941}, // HashMap state uses no managed memory
	} {
		l, err := PythonWorkerMemoryLimit(c, s, tc.shape)
		if err != nil || l.Bytes != tc.bytes {
			t.Errorf("%s: _PYTHON_WORKER_MEMORY_LIMIT %d, %v; want %d", tc.shape.Name(), l.Bytes, err, tc.bytes)
		}
	}
	// Without managed.size the fraction 0.1 (of total Flink) applies.
	c.Remove(KeyTMManagedSize)
	s, err = DeriveTaskManager(c)
	if err != nil || s.Managed != 1132797639 || s.TaskHeap != 5094904921 {
		t.Errorf("fraction-derived managed %d task heap %d, %v", s.Managed, s.TaskHeap, err)
	}
}

func TestDeriveTaskManagerPaths(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		path       Path
		check      func(s *TaskManagerSpec) bool
	}{
		{"shipped default", "taskmanager.memory.process.size: 1728m\n", PathTotalProcess, func(s *TaskManagerSpec) bool {
			return s.Overhead == 201326592 && s.TotalFlink == 1342177280 && s.Managed == 536870920 && s.Network == 134217730 &&
				s.TaskHeap == 402653174 && s.JVMArgs() == "-Xmx536870902 -Xms536870902 -XX:MaxDirectMemorySize=268435458 -XX:MaxMetaspaceSize=268435456"
		}},
		{"total flink", "taskmanager.memory.flink.size: 1280m\n", PathTotalFlink, func(s *TaskManagerSpec) bool {
			return s.TaskHeap == 402653174 && s.Overhead == 201326592 && s.TotalProcess == 1811939328
		}},
		{"fine-grained", "taskmanager.memory.task.heap.size: 1g\ntaskmanager.memory.managed.size: 1g\n", PathFineGrained, func(s *TaskManagerSpec) bool {
			return s.Network == 268435460 && s.TotalFlink == 2684354564 && s.Overhead == 328087785 && s.TotalProcess == 3280877805
		}},
		{"fine-grained with process (overhead is the rest)", "taskmanager.memory.process.size: 2g\ntaskmanager.memory.task.heap.size: 512m\ntaskmanager.memory.managed.size: 512m\n", PathFineGrained, func(s *TaskManagerSpec) bool {
			return s.Network == 149130811 && s.TotalFlink == 1491308091 && s.Overhead == 387740101
		}},
		{"task heap alone takes path C, network is the rest", "taskmanager.memory.process.size: 8g\ntaskmanager.memory.task.heap.size: 2g\n", PathTotalProcess, func(s *TaskManagerSpec) bool {
			return s.TaskHeap == 2*GiB && s.Network == s.TotalFlink-s.FrameworkHeap-s.FrameworkOffHeap-s.TaskHeap-s.Managed
		}},
	} {
		s, err := DeriveTaskManager(mustYAML(t, tc.yaml))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s.Path != tc.path || !tc.check(s) {
			t.Errorf("%s: %+v", tc.name, *s)
		}
	}
}

func TestDeriveTaskManagerErrors(t *testing.T) {
	const prefix = "TaskManager memory configuration failed: "
	for _, tc := range []struct{ name, yaml, msg string }{
		{"E2 nothing set", "", prefix + "Either required fine-grained memory (taskmanager.memory.task.heap.size and taskmanager.memory.managed.size), or Total Flink Memory size (Key: 'taskmanager.memory.flink.size' , default: null (fallback keys: []))"},
		{"E3b", "taskmanager.memory.process.size: 768m\n", prefix + "Sum of configured Framework Heap Memory (128.000mb (134217728 bytes)), Framework Off-Heap Memory (128.000mb (134217728 bytes)), Task Off-Heap Memory (0 bytes), Managed Memory (128.000mb (134217730 bytes)) and Network Memory (64.000mb (67108864 bytes)) exceed configured Total Flink Memory (320.000mb (335544320 bytes))."},
		{"E7", "taskmanager.memory.process.size: 12g\ntaskmanager.memory.flink.size: 10g\n", prefix + "Derived JVM Overhead size (1.750gb (1879048192 bytes)) is not in configured JVM Overhead range [192.000mb (201326592 bytes), 1024.000mb (1073741824 bytes)]."},
		{"E3a", "taskmanager.memory.process.size: 4g\ntaskmanager.memory.task.heap.size: 3g\n", "Managed Memory (1.340gb (1438814063 bytes)) exceed configured Total Flink Memory"},
		{"E8 bytes", "taskmanager.memory.process.size: 4096\n", prefix + "Sum of configured JVM Metaspace (256.000mb (268435456 bytes)) and JVM Overhead (192.000mb (201326592 bytes)) exceed configured Total Process Memory (4.000kb (4096 bytes))."},
		{"E1", "taskmanager.memory.process.size: 4g\ntaskmanager.memory.jvm-overhead.min: 2g\ntaskmanager.memory.jvm-overhead.max: 1g\n", prefix + "Inconsistently configured Key: 'taskmanager.memory.jvm-overhead.fraction' , default: 0.1 (fallback keys: []) (0.10000000149011612) and its min (2.000gb (2147483648 bytes)), max (1024.000mb (1073741824 bytes)) value"},
		{"E0", "taskmanager.memory.process.size: 12Gi\n", prefix + "Cannot read memory size from config option 'taskmanager.memory.process.size'.: Could not parse value '12Gi' for key 'taskmanager.memory.process.size'.: Memory size unit 'gi' does not match"},
		{"E9", "taskmanager.memory.process.size: 4g\ntaskmanager.numberOfTaskSlots: 0\n", prefix + "TaskExecutors need to be started with a positive number of CPU cores."},
		{"float parse", "taskmanager.memory.process.size: 4g\ntaskmanager.memory.managed.fraction: abc\n", "Could not parse value 'abc' for key 'taskmanager.memory.managed.fraction'.: For input string: \"abc\""},
	} {
		_, err := DeriveTaskManager(mustYAML(t, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v\nwant %q", tc.name, err, tc.msg)
		}
	}
}

func TestDeriveJobManager(t *testing.T) {
	s, err := DeriveJobManager(mustYAML(t, "jobmanager.memory.process.size: 1600m\n"))
	if err != nil || s.Overhead != 201326592 || s.TotalFlink != 1207959552 || s.Heap != GiB || s.OffHeap != 128*MiB {
		t.Errorf("1600m: %+v, %v", s, err)
	}
	s, err = DeriveJobManager(mustYAML(t, "jobmanager.memory.heap.size: 1g\n"))
	if err != nil || s.TotalFlink != 1152*MiB || s.Overhead != 192*MiB || s.TotalProcess != 1600*MiB || s.Path != PathFineGrained {
		t.Errorf("heap 1g: %+v, %v", s, err)
	}
	c := mustYAML(t, "jobmanager.memory.process.size: 2g\njobmanager.memory.enable-jvm-direct-memory-limit: true\n")
	s, _ = DeriveJobManager(c)
	if args, err := s.JVMArgs(c); err != nil || !strings.Contains(args, "-XX:MaxDirectMemorySize=134217728") {
		t.Errorf("JVM args %q, %v", args, err)
	}
	if _, err := DeriveJobManager(mustYAML(t, "jobmanager.memory.heap.size: 3g\njobmanager.memory.flink.size: 2g\n")); err == nil ||
		!strings.HasPrefix(err.Error(), "The configured JVM Heap Memory (3.000gb (3221225472 bytes)) exceeds the configured Total Flink Memory") {
		t.Errorf("J2: %v", err)
	}
}
