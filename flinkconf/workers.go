package flinkconf

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Defaults for the worker memory estimates.
const (
	// DefaultFrameworkMemory is python.fn-execution.framework.memory.size's
	// default: the worker's runtime, reserved once per worker process.
	DefaultFrameworkMemory = 64 * MiB
	// DefaultBufferMemory is python.fn-execution.buffer.memory.size's
	// default: in-flight input/output, reserved per session.
	DefaultBufferMemory = 15 * MiB
	// SessionFixedOverhead is the fixed part of an inference session's
	// memory beyond its files: ONNX Runtime's code, thread pools and arena,
	// and the activations of one batch at the maximum sequence length.
	SessionFixedOverhead = 64 * MiB
	// StockPythonWorkerRSS is the stock PyFlink worker with
	// sentence-transformers (PyTorch) and all-MiniLM-L6-v2 loaded: ~400 MB
	// per slot, the user's figure (taken as MiB).
	StockPythonWorkerRSS = 400 * MiB
	// DefaultMiniLMBytes is the size of all-MiniLM-L6-v2 as fp32 ONNX plus
	// tokenizer files (~91 MB), used when no model folder is given.
	DefaultMiniLMBytes MemorySize = 91_000_000
)

// ModelFootprint is the memory one loaded copy of a model takes.
//
// It is measured from the model folder: Weights is the sum of the sizes of
// the regular files under it that one load reads (symbolic links followed;
// weights, tokenizer, manifest; not the ONNX files of the variants it does
// not load), and the session overhead is documented as
//
//	SessionOverhead = Weights + SessionFixedOverhead
//
// because ONNX Runtime holds a second copy of the initializers while it
// optimises and pre-packs the graph, plus the fixed runtime/arena/
// activation part. A 91 MB MiniLM therefore counts as ~246 MB, in line with
// the 200–250 MB RSS an ONNX Runtime MiniLM session shows.
type ModelFootprint struct {
	Dir             string     `json:"dir,omitempty"`
	Files           int        `json:"files"`
	Weights         MemorySize `json:"weights_bytes"`
	SessionOverhead MemorySize `json:"session_overhead_bytes"`
	// Estimated is true when no folder was measured.
	Estimated bool `json:"estimated"`
}

// Total is weights plus session overhead.
func (m ModelFootprint) Total() MemorySize { return m.Weights + m.SessionOverhead }

// MeasureModel sums the sizes of the files under dir except those named in
// skip (paths relative to dir: the other variants' ONNX files of a folder
// that holds several, which a load never reads).
func MeasureModel(dir string, skip ...string) (ModelFootprint, error) {
	fp := ModelFootprint{Dir: dir}
	skipped := make(map[string]bool, len(skip))
	for _, f := range skip {
		skipped[filepath.Clean(f)] = true
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if rel, err := filepath.Rel(dir, path); err == nil && skipped[rel] {
			return nil
		}
		st, err := os.Stat(path) // follows links (Hugging Face snapshots are links)
		if err != nil {
			return err
		}
		if st.Mode().IsRegular() {
			fp.Files++
			fp.Weights += MemorySize(st.Size())
		}
		return nil
	})
	if err != nil {
		return ModelFootprint{}, fmt.Errorf("measure model folder: %w", err)
	}
	if fp.Files == 0 {
		return ModelFootprint{}, fmt.Errorf("measure model folder %s: no files", dir)
	}
	fp.SessionOverhead = fp.Weights + SessionFixedOverhead
	return fp, nil
}

// DefaultModelFootprint is all-MiniLM-L6-v2's estimate when no folder is given.
func DefaultModelFootprint() ModelFootprint {
	return ModelFootprint{Weights: DefaultMiniLMBytes, SessionOverhead: DefaultMiniLMBytes + SessionFixedOverhead, Estimated: true}
}

// WorkerMode is how flinkfn serves a TaskManager's slots.
type WorkerMode string

// flinkfn's two modes.
const (
	// ModeProcess: Flink starts one worker process per slot (like PyFlink),
	// each with its own model copy.
	ModeProcess WorkerMode = "process"
	// ModePool: one flinkfn pool per TaskManager serves every slot from a
	// single model copy.
	ModePool WorkerMode = "pool"
)

// WorkerNeed is the memory a set of worker processes needs in one TaskManager.
type WorkerNeed struct {
	Kind      string     `json:"kind"`
	Processes int        `json:"processes"`
	Sessions  int        `json:"sessions"`
	Model     MemorySize `json:"model_bytes"`
	Framework MemorySize `json:"framework_bytes"`
	Buffers   MemorySize `json:"buffer_bytes"`
	// Total is what all the processes together need.
	Total MemorySize `json:"total_bytes"`
	// PerSlot is Total divided by the slots (what each slot's PYTHON budget
	// must carry).
	PerSlot MemorySize `json:"per_slot_bytes"`
	Note    string     `json:"note"`
}

// WorkerSettings are the worker options read from the Flink configuration.
type WorkerSettings struct {
	Framework MemorySize `json:"framework_bytes"`
	Buffer    MemorySize `json:"buffer_bytes"`
}

// ReadWorkerSettings reads python.fn-execution.framework.memory.size
// (default 64mb) and python.fn-execution.buffer.memory.size (default 15mb).
func ReadWorkerSettings(c *Config) (WorkerSettings, error) {
	fw, err := c.memoryOr(KeyPythonFrameworkMemory, DefaultFrameworkMemory)
	if err != nil {
		return WorkerSettings{}, err
	}
	buf, err := c.memoryOr(KeyPythonBufferMemory, DefaultBufferMemory)
	if err != nil {
		return WorkerSettings{}, err
	}
	return WorkerSettings{Framework: fw, Buffer: buf}, nil
}

// FlinkfnNeed is what flinkfn's workers need for slots slots with
// sessionsPerSlot Python operators (Fn API sessions) each: in PROCESS mode
// one process per slot, each with a model copy and framework memory; in
// pool mode one process, one model copy and one framework reservation.
// Buffer memory is per session in both.
func FlinkfnNeed(mode WorkerMode, slots, sessionsPerSlot int, model ModelFootprint, ws WorkerSettings) WorkerNeed {
	sessions := slots * sessionsPerSlot
	procs := slots
	note := "one worker process per slot, each with its own model copy"
	if mode == ModePool {
		procs = 1
		note = "one pool process per TaskManager, one model copy shared by all sessions"
	}
	n := WorkerNeed{
		Kind: "flinkfn " + string(mode), Processes: procs, Sessions: sessions,
		Model: model.Total() * MemorySize(procs), Framework: ws.Framework * MemorySize(procs),
		Buffers: ws.Buffer * MemorySize(sessions), Note: note,
	}
	n.Total = n.Model + n.Framework + n.Buffers
	n.PerSlot = perSlot(n.Total, slots)
	return n
}

// StockPythonNeed is the stock PyFlink worker: one Python process per slot
// (shared by the slot's Python operators), rss each.
func StockPythonNeed(slots int, rss MemorySize) WorkerNeed {
	n := WorkerNeed{
		Kind: "stock PyFlink", Processes: slots, Sessions: slots, Model: rss * MemorySize(slots),
		Note: fmt.Sprintf("sentence-transformers + PyTorch worker, %s per slot", rss.FlinkString()),
	}
	n.Total = n.Model
	n.PerSlot = perSlot(n.Total, slots)
	return n
}

func perSlot(total MemorySize, slots int) MemorySize {
	if slots <= 0 {
		return total
	}
	return (total + MemorySize(slots) - 1) / MemorySize(slots)
}
