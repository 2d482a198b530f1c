package inference

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// ProvidersCUDALibName is the GPU build's CUDA provider library, which
// ONNX Runtime loads from the folder of libonnxruntime.so.
const ProvidersCUDALibName = "libonnxruntime_providers_cuda.so"

// Device is where an engine runs its graph: the CPU, or one CUDA GPU by
// its CUDA ordinal (the numbering CUDA_VISIBLE_DEVICES and ONNX Runtime's
// device_id use).
type Device struct {
	CUDA bool
	ID   int // the CUDA ordinal; 0 on the CPU
}

// EnvDevice names the device when no --device flag is given.
const EnvDevice = "FLINKFN_DEVICE"

// ParseDevice reads "cpu", "cuda" (= cuda:0) or "cuda:N"; "" is the CPU.
func ParseDevice(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "" || t == "cpu":
		return Device{}, nil
	case t == "cuda" || t == "gpu":
		return Device{CUDA: true}, nil
	case strings.HasPrefix(t, "cuda:"):
		n, err := strconv.Atoi(t[len("cuda:"):])
		if err != nil || n < 0 {
			return Device{}, fmt.Errorf("device %q: want cpu, cuda or cuda:N with N a GPU index (0, 1, ...)", s)
		}
		return Device{CUDA: true, ID: n}, nil
	}
	return Device{}, fmt.Errorf("device %q: want cpu, cuda or cuda:N", s)
}

// String is "cpu" or "cuda:N".
func (d Device) String() string {
	if d.CUDA {
		return "cuda:" + strconv.Itoa(d.ID)
	}
	return "cpu"
}

// ErrDeviceOutOfMemory marks a batch that failed because the GPU (or the
// session's GPU memory limit) had no room for it. The engine stays usable:
// later, smaller batches run.
var ErrDeviceOutOfMemory = errors.New("GPU out of memory")

// CUDAOptions tunes an engine on a CUDA device.
type CUDAOptions struct {
	// MemLimit caps the session's GPU memory arena in bytes (ONNX Runtime's
	// gpu_mem_limit); 0 leaves it unbounded. The arena grows by what each
	// allocation asks (kSameAsRequested) instead of doubling, so it can use
	// the limit to its last byte rather than stop at the largest power of
	// two under it.
	MemLimit int64
	// ConvAlgoSearch is cudnn_conv_algo_search: EXHAUSTIVE, HEURISTIC or
	// DEFAULT ("" is HEURISTIC: the embedding graphs have no convolutions,
	// and an exhaustive search allocates workspaces outside the limit).
	ConvAlgoSearch string
}

// cudaProviderOptions is the key/value map handed to ONNX Runtime's
// UpdateCUDAProviderOptions for device d.
func cudaProviderOptions(d Device, o CUDAOptions) (map[string]string, error) {
	if !d.CUDA {
		return nil, fmt.Errorf("device %s is not a CUDA device", d)
	}
	if d.ID < 0 {
		return nil, fmt.Errorf("device %s: negative CUDA ordinal", d)
	}
	if o.MemLimit < 0 {
		return nil, fmt.Errorf("device %s: negative GPU memory limit %d", d, o.MemLimit)
	}
	search := o.ConvAlgoSearch
	if search == "" {
		search = "HEURISTIC"
	}
	switch search {
	case "EXHAUSTIVE", "HEURISTIC", "DEFAULT":
	default:
		return nil, fmt.Errorf("device %s: cudnn_conv_algo_search %q: want EXHAUSTIVE, HEURISTIC or DEFAULT", d, search)
	}
	m := map[string]string{
		"device_id":                 strconv.Itoa(d.ID),
		"arena_extend_strategy":     "kSameAsRequested",
		"cudnn_conv_algo_search":    search,
		"do_copy_in_default_stream": "1",
	}
	if o.MemLimit > 0 {
		m["gpu_mem_limit"] = strconv.FormatInt(o.MemLimit, 10)
	}
	return m, nil
}

// isDeviceOOM says whether an ONNX Runtime error from a CUDA session is an
// allocation failure: the arena refusing past gpu_mem_limit ("Failed to
// allocate memory for requested buffer", "Available memory of N is smaller
// than requested bytes of M"), cudaMalloc's "out of memory", or cuBLAS /
// cuDNN failing to allocate their workspaces.
func isDeviceOOM(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{
		"failed to allocate memory",
		"available memory of",
		"out of memory",
		"cudaerrormemoryallocation",
		"cublas_status_alloc_failed",
		"cudnn_status_alloc_failed",
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// GiB formats bytes as GiB with two decimals, for messages.
func GiB(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

// appendCUDA adds ONNX Runtime's CUDA execution provider for device d to
// opts. lib is the loaded ONNX Runtime library, named in the errors: a
// CPU-only build refuses the provider options, and a GPU build whose
// provider library (libonnxruntime_providers_cuda.so, next to lib) or its
// CUDA libraries do not load refuses the provider.
func appendCUDA(opts *ort.SessionOptions, d Device, o CUDAOptions, lib string) error {
	kv, err := cudaProviderOptions(d, o)
	if err != nil {
		return err
	}
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("device %s: ONNX Runtime %s has no CUDA execution provider (%v): it is a CPU-only build. "+
			"Run `make setup-gpu` (installs the GPU build into .cache/gpu/lib, where .cache/bin/flinkfn finds it with --device cuda), "+
			"or set %s to the libonnxruntime.so of ONNX Runtime's GPU build (onnxruntime-gpu)", d, lib, err, EnvORTLib)
	}
	defer co.Destroy()
	if err := co.Update(kv); err != nil {
		return fmt.Errorf("device %s: CUDA provider options %v: %w", d, kv, err)
	}
	if err := opts.AppendExecutionProviderCUDA(co); err != nil {
		return fmt.Errorf("device %s: ONNX Runtime could not start its CUDA execution provider: %w. It loads %s next to %s, "+
			"which needs the CUDA and cuDNN libraries (make setup-gpu installs them; %s names another folder) and a GPU "+
			"with its driver (check `nvidia-smi`)", d, err, ProvidersCUDALibName, lib, EnvCUDALibDir)
	}
	return nil
}
