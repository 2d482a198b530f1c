package flinkconf

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the plan for people: Flink's TaskManager start-up log,
// the per-slot budget, what the workers need, the verdict and the
// recommended settings.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	s := p.TaskManager
	fmt.Fprintf(&b, "flinkfn plan: %s, %s mode, job shape %q (Flink %d.%d rules, derivation path: %s)\n\n",
		orDash(p.Config), p.Mode, p.Shape, DefaultVersion().Major, DefaultVersion().Minor, s.Path)
	for _, l := range p.Log {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "JVM flags: %s\n\n", p.JVMArgs)

	ps := p.PerSlot
	fmt.Fprintf(&b, "Per slot (%d slots): task heap %s, task off-heap %s, managed %s, network %s\n",
		s.Slots, iec(ps.TaskHeap), iec(ps.TaskOffHeap), iec(ps.Managed), iec(ps.Network))
	fmt.Fprintf(&b, "  PYTHON share of a slot's managed memory: %s (consumer weights %s, job shape %s)\n",
		javaDouble(p.Python.Fraction), weightsString(p.Weights), p.Shape)
	limit := "-1 (no managed budget)"
	if p.Python.Bytes >= 0 {
		limit = fmt.Sprintf("%d (%s)", p.Python.Bytes, iec(MemorySize(p.Python.Bytes)))
	}
	fmt.Fprintf(&b, "  _PYTHON_WORKER_MEMORY_LIMIT per slot: %s; all slots: %s\n", limit, iec(p.Selected.Budget))
	if p.Container != nil && p.Container.Set {
		fmt.Fprintf(&b, "  container limit: %s (%s %s of service %s), %s outside Flink's plan\n",
			iec(p.Container.Bytes), p.Container.Source, p.Container.Raw, p.Container.Service, iec(p.Selected.Outside))
	}
	b.WriteString("\n")

	m := p.Model
	src := "measured in " + m.Dir
	if m.Estimated {
		src = "all-MiniLM-L6-v2 estimate"
	}
	fmt.Fprintf(&b, "Worker needs (model %s: %s files + %s session overhead = %s; framework %s per process, buffer %s per session):\n",
		src, iec(m.Weights), iec(m.SessionOverhead), iec(m.Total()), iec(p.Settings.Framework), iec(p.Settings.Buffer))
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  workers\tprocesses\tsessions\tneed\tper slot\tavailable\tverdict")
	for _, a := range p.Alternatives {
		mark := ""
		if a.Workers.Kind == p.Selected.Workers.Kind {
			mark = " <- selected"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s%s\n", a.Workers.Kind, a.Workers.Processes, a.Workers.Sessions,
			iec(a.Workers.Total), iec(a.Workers.PerSlot), iec(a.Available), verdictWithNumbers(a), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nVerdict (%s): %s: %s\n", p.Selected.Workers.Kind, strings.ToUpper(string(p.Verdict)), p.Selected.Summary)
	if stock := p.Alternatives[0]; stock.Verdict == VerdictOOMKill {
		fmt.Fprintf(&b, "  %d stock PyFlink workers do NOT fit: %s\n", stock.Workers.Processes, stock.Summary)
	} else {
		fmt.Fprintf(&b, "  %d stock PyFlink workers fit: %s\n", stock.Workers.Processes, stock.Summary)
	}
	if len(p.Findings) > 0 {
		b.WriteString("\nFindings:\n")
		for _, f := range p.Findings {
			fmt.Fprintf(&b, "  [%s] %s\n", f.Level, f.Message)
		}
	}
	if r := p.Recommendation; r != nil && r.TaskManager != nil {
		fmt.Fprintf(&b, "\nRecommended settings for flinkfn %s mode (container %s):\n", r.Mode, iec(r.Container))
		for _, l := range strings.Split(strings.TrimRight(r.YAML, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		if r.ComposeLimit != "" {
			fmt.Fprintf(&b, "  compose: deploy.resources.limits.memory: %s\n", r.ComposeLimit)
		}
		if r.PoolMemoryLimit > 0 {
			fmt.Fprintf(&b, "  pool: set the pool's memory limit to %s, the PYTHON budget of all %d slots: flinkfn pool --memory-limit %s (or, when the pool runs in a container of its own, that container's memory limit); Flink exports _PYTHON_WORKER_MEMORY_LIMIT only to the workers it starts, so without it the pool budgets its container's whole cgroup limit\n",
				iec(r.PoolMemoryLimit), r.TaskManager.Slots, r.PoolMemoryLimit.FlinkString())
		}
		rs := r.TaskManager
		fmt.Fprintf(&b, "  → Flink derives: process %s, heap %s, managed %s, direct %s, overhead %s; -Xmx%d -XX:MaxDirectMemorySize=%d\n",
			iec(rs.TotalProcess), iec(rs.JVMHeap()), iec(rs.Managed), iec(rs.JVMDirect()), iec(rs.Overhead), rs.JVMHeap(), rs.JVMDirect())
		fmt.Fprintf(&b, "  → %s: %s\n", r.Assessment.Verdict, r.Assessment.Summary)
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictWithNumbers(a Assessment) string {
	switch a.Verdict {
	case VerdictOOMKill:
		if a.Shortfall > 0 {
			return fmt.Sprintf("%s (%s short)", a.Verdict, iec(a.Shortfall))
		}
		return string(a.Verdict)
	case VerdictWasted:
		return fmt.Sprintf("%s (%s idle)", a.Verdict, iec(a.Wasted))
	}
	return fmt.Sprintf("%s (%s spare)", a.Verdict, iec(a.Unused))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
