package flinkconf

import (
	"fmt"
	"strings"
)

func findings(in PlanInput, p *Plan) []Finding {
	var out []Finding
	add := func(level, format string, args ...any) {
		out = append(out, Finding{Level: level, Message: fmt.Sprintf(format, args...)})
	}
	spec := p.TaskManager
	for _, w := range in.Config.Warnings {
		add("warning", "%s", w)
	}
	out = append(out, containerFindings(in.Container, spec)...)
	if in.Config.containsMem(tmManaged) && in.Config.containsFloat(tmManagedFraction) {
		add("info", "%s and %s are both set: the size wins and the fraction is never read", KeyTMManagedSize, KeyTMManagedFraction)
	}
	if spec.TaskOffHeap > 0 {
		add("warning", "task off-heap %s is JVM direct memory (part of -XX:MaxDirectMemorySize=%d), not room for Python or flinkfn workers: they are separate processes and are budgeted by managed memory (PYTHON consumer); unless your Java code allocates it, it is idle",
			iec(spec.TaskOffHeap), spec.JVMDirect())
	}
	if rf, err := networkRangeFraction(in.Config); err == nil {
		if rel, err := spec.TotalFlink.Multiply(rf.fraction); err == nil && rel > spec.Network && spec.Network == rf.max {
			add("info", "network memory is capped at %s's %s (the fraction would give %s); with %d slots that is %s per slot — raise it if jobs fail with \"Insufficient number of network buffers\"",
				KeyTMNetworkMax, iec(rf.max), iec(rel), spec.Slots, iec(p.PerSlot.Network))
		}
	}
	if p.Python.Bytes < 0 {
		if p.Python.Warning != "" {
			add("warning", "PYTHON has no managed-memory share (consumer weights %s): Flink logs %q", weightsString(p.Weights), p.Python.Warning)
		} else {
			add("warning", "%s is false: Python workers get no managed-memory budget at all", KeyPythonManaged)
		}
	}
	add("info", "Flink exports _PYTHON_WORKER_MEMORY_LIMIT=%d to each slot's worker but PyFlink %d.%d never enforces it: only the container limit stops a worker that grows", p.Python.Bytes, DefaultVersion().Major, DefaultVersion().Minor)
	if p.Verdict != VerdictOOMKill {
		if want := scale(p.Selected.Workers.Total, in.Headroom); p.Selected.Available < want {
			add("warning", "tight: %s need %s, %.0f%% headroom would be %s but only %s is budgeted", p.Selected.Workers.Kind, iec(p.Selected.Workers.Total), (in.Headroom-1)*100, iec(want), iec(p.Selected.Available))
		}
	}
	return out
}

func containerFindings(c *ContainerLimit, spec *TaskManagerSpec) []Finding {
	var out []Finding
	add := func(level, format string, args ...any) {
		out = append(out, Finding{Level: level, Message: fmt.Sprintf(format, args...)})
	}
	if c == nil {
		add("info", "no compose file given: the container limit is assumed to equal %s (%s)", KeyTMProcessSize, iec(spec.TotalProcess))
		return out
	}
	for _, w := range c.Warnings {
		add("warning", "%s", w)
	}
	if !c.Set {
		return out
	}
	add("info", "compose %s: %s = %d bytes; compose units are binary, so %s is %s in Flink's units", c.Source, c.Raw, c.Bytes, c.Raw, c.Bytes.FlinkString())
	switch {
	case c.Bytes == spec.TotalProcess:
		add("info", "the container limit equals %s, as Flink intends: every byte is planned, and workers must live inside the managed-memory budget", KeyTMProcessSize)
	case c.Bytes > spec.TotalProcess:
		add("info", "the container limit is %s above %s: memory outside Flink's plan that workers can use (setting process.size to the limit and budgeting workers in managed memory is clearer)", iec(c.Bytes-spec.TotalProcess), KeyTMProcessSize)
	default:
		add("error", "the container limit %s is %s BELOW %s %s: Flink sizes heap, direct memory and overhead for memory the container does not have, and the kernel OOM-kills the container (exit 137) when the JVM reaches it; set %s: %s",
			iec(c.Bytes), iec(spec.TotalProcess-c.Bytes), KeyTMProcessSize, iec(spec.TotalProcess), KeyTMProcessSize, c.Bytes.FlinkString())
	}
	raw := strings.TrimSpace(c.Raw)
	if strings.ContainsAny(raw, ".iI") {
		add("warning", "unit trap: compose accepts %q but Flink does not (no decimals, no \"Gi\"); write process.size as %s", raw, c.Bytes.FlinkString())
	}
	if n := len(raw); n > 0 && strings.ContainsAny(raw[n-1:], "kKmMgGtT") {
		dec := decimalReading(raw)
		if dec > 0 && dec != c.Bytes {
			add("warning", "unit trap: compose's %s is binary (%d bytes, Flink's %s) but in Kubernetes %s means %d bytes, %s less; use %si in a pod spec",
				raw, c.Bytes, c.Bytes.FlinkString(), raw, dec, iec(c.Bytes-dec), raw)
		}
	}
	return out
}

// decimalReading is what a Kubernetes quantity with the same suffix means.
func decimalReading(raw string) MemorySize {
	mult := map[byte]int64{'k': 1e3, 'K': 1e3, 'm': 1e6, 'M': 1e6, 'g': 1e9, 'G': 1e9, 't': 1e12, 'T': 1e12}[raw[len(raw)-1]]
	var n int64
	if _, err := fmt.Sscanf(raw[:len(raw)-1], "%d", &n); err != nil || mult == 0 {
		return 0
	}
	return MemorySize(n * mult)
}

func weightsString(w ConsumerWeights) string {
	parts := make([]string, 0, len(w))
	for _, uc := range []UseCase{UseCaseOperator, UseCaseStateBackend, UseCasePython} {
		if v, ok := w[uc]; ok {
			parts = append(parts, fmt.Sprintf("%s:%d", uc, v))
		}
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ",")
}

func scale(m MemorySize, f float64) MemorySize { return MemorySize(float64(m)*f + 0.5) }
