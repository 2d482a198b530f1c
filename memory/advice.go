package memory

import (
	"fmt"
	"math"

	"github.com/flinkfn/flinkfn/flinkconf"
)

// EnvPolicy (read by the command's configuration) selects what a
// PROCESS-mode worker does when the slot's Python budget cannot hold what
// it needs: "warn" (the default: log a warning with the numbers and the
// setting that fits, and go on, as Flink itself does, FLIP-88) or "strict"
// (refuse). A pool's budget is explicit: it refuses.
const EnvPolicy = "FLINKFN_MEMORY_POLICY"

// Policy is what happens when a reservation does not fit.
type Policy string

// The policies.
const (
	PolicyWarn   Policy = "warn"
	PolicyStrict Policy = "strict"
)

// localManagedDefault is the managed memory of a local MiniCluster (a
// `python job.py` run) when the job does not set it.
const localManagedDefault = 128 << 20

// PythonShareFix says which setting gives a PROCESS-mode worker (whose
// budget is Flink's _PYTHON_WORKER_MEMORY_LIMIT: the PYTHON share of its
// slot's managed memory) the bytes it needs. With the TaskManager's
// configuration (conf != nil) the values are exact; without it the size
// is given as a factor of the current one, and for a local run's default.
func PythonShareFix(need, have int64, conf *flinkconf.Config) string {
	why := "Flink gives a Python worker the PYTHON share of its slot's managed memory (taskmanager.memory.managed.size / slots × PYTHON's part of taskmanager.memory.managed.consumer-weights among the job's consumers in the slot)"
	if need <= 0 || have <= 0 {
		return "Give the slot managed memory for Python: " + why + "; `flinkfn plan` computes the settings"
	}
	if conf != nil {
		if fix, ok := exactFix(need, have, conf); ok {
			return fix + ". " + why
		}
	}
	k := float64(need) / float64(have)
	return fmt.Sprintf("Set taskmanager.memory.managed.size to at least %.2f× its current value (%s needed, %s given; a local run's default 128m → taskmanager.memory.managed.size: %dm). %s; `flinkfn plan` computes the settings for a cluster",
		k, MiB(need), MiB(have), ceilMiB(float64(localManagedDefault)*k), why)
}

// exactFix computes the managed size (and the PYTHON weight) that fit from
// the TaskManager's configuration.
func exactFix(need, have int64, conf *flinkconf.Config) (string, bool) {
	spec, err := flinkconf.DeriveTaskManager(conf)
	if err != nil || spec.Slots <= 0 || spec.Managed.Bytes() <= 0 {
		return "", false
	}
	slots := int64(spec.Slots)
	slotManaged := spec.Managed.Bytes() / slots
	w, err := flinkconf.ManagedConsumerWeights(conf)
	if err != nil || !consistent(have, slotManaged, w) {
		// Not the configuration this TaskManager runs with: a local run's
		// MiniCluster, for one, ignores the FLINK_CONF_DIR PyFlink ships and
		// takes the job's settings.
		return "", false
	}
	f := math.Min(float64(have)/float64(slotManaged), 1)
	size := ceilMiB(math.Ceil(float64(need)/f) * float64(slots))
	fix := fmt.Sprintf("Set taskmanager.memory.managed.size: %dm (now %s for %d slot(s); PYTHON gets %.1f%% of a slot's managed memory in this job)",
		size, MiB(spec.Managed.Bytes()), slots, f*100)
	resized := conf.Clone()
	resized.Set("taskmanager.memory.managed.size", fmt.Sprintf("%dm", size))
	if _, err := flinkconf.DeriveTaskManager(resized); err != nil {
		fix += ", which the TaskManager's total memory cannot hold: raise taskmanager.memory.process.size too (`flinkfn plan` computes both)"
	}
	if f >= 1 {
		return fix, true
	}
	wp := float64(w[flinkconf.UseCasePython])
	want := float64(need) / float64(slotManaged)
	if wp > 0 && want < 1 {
		others := wp * (1 - f) / f
		fix += fmt.Sprintf(", or keep the size and give PYTHON the weight %d in taskmanager.memory.managed.consumer-weights (now %d; the other consumers keep theirs)",
			int64(math.Ceil(want*others/(1-want))), int64(wp))
	}
	return fix, true
}

// consistent reports whether a slot of slotManaged bytes with consumer
// weights w gives Python have bytes for some job shape, as Flink computes
// it: only then does the configuration describe this worker's TaskManager.
func consistent(have, slotManaged int64, w flinkconf.ConsumerWeights) bool {
	for _, shape := range flinkconf.AllJobShapes() {
		if f := flinkconf.FractionOfSlot(flinkconf.UseCasePython, w, shape); int64(math.Floor(float64(slotManaged)*f)) == have {
			return true
		}
	}
	return false
}

func ceilMiB(bytes float64) int64 { return int64(math.Ceil(bytes / (1 << 20))) }
