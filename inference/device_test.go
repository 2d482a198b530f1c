package inference

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Device
		str  string
	}{
		{"", Device{}, "cpu"},
		{"cpu", Device{}, "cpu"},
		{" CPU ", Device{}, "cpu"},
		{"cuda", Device{CUDA: true}, "cuda:0"},
		{"cuda:0", Device{CUDA: true}, "cuda:0"},
		{"cuda:3", Device{CUDA: true, ID: 3}, "cuda:3"},
		{"CUDA:1", Device{CUDA: true, ID: 1}, "cuda:1"},
	} {
		got, err := ParseDevice(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseDevice(%q) = %+v (%s), %v; want %+v (%s)", tc.in, got, got, err, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"cuda:", "cuda:-1", "cuda:x", "gpu1", "tpu", "cuda:0:1"} {
		if d, err := ParseDevice(bad); err == nil || !strings.Contains(err.Error(), "cuda:N") {
			t.Errorf("ParseDevice(%q) = %v, %v; want an error naming cuda:N", bad, d, err)
		}
	}
}

func TestCUDAProviderOptions(t *testing.T) {
	got, err := cudaProviderOptions(Device{CUDA: true, ID: 2}, CUDAOptions{MemLimit: 3 << 30})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"device_id":                 "2",
		"gpu_mem_limit":             "3221225472",
		"arena_extend_strategy":     "kSameAsRequested",
		"cudnn_conv_algo_search":    "HEURISTIC",
		"do_copy_in_default_stream": "1",
	}
	if len(got) != len(want) {
		t.Errorf("options %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	// No limit: no gpu_mem_limit key (ONNX Runtime's default, unbounded).
	got, err = cudaProviderOptions(Device{CUDA: true}, CUDAOptions{ConvAlgoSearch: "EXHAUSTIVE"})
	if err != nil || got["cudnn_conv_algo_search"] != "EXHAUSTIVE" || got["device_id"] != "0" {
		t.Errorf("no limit: %v, %v", got, err)
	}
	if _, ok := got["gpu_mem_limit"]; ok {
		t.Errorf("gpu_mem_limit set without a limit: %v", got)
	}
	for _, tc := range []struct {
		d    Device
		o    CUDAOptions
		want string
	}{
		{Device{}, CUDAOptions{}, "not a CUDA device"},
		{Device{CUDA: true}, CUDAOptions{MemLimit: -1}, "negative GPU memory limit"},
		{Device{CUDA: true}, CUDAOptions{ConvAlgoSearch: "FAST"}, "want EXHAUSTIVE, HEURISTIC or DEFAULT"},
	} {
		if _, err := cudaProviderOptions(tc.d, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cudaProviderOptions(%v, %+v) error %v, want %q", tc.d, tc.o, err, tc.want)
		}
	}
}

func TestIsDeviceOOM(t *testing.T) {
	for _, msg := range []string{
		// ONNX Runtime's BFC arena at gpu_mem_limit.
		"[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. Name:'/0/auto_model/encoder/layer.0/attention/self/query/MatMul' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:359 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 100663296",
		"Available memory of 0 is smaller than requested bytes of 25165824",
		"CUDA failure 2: out of memory ; GPU=0 ; hostname=x ; file=cuda_allocator.cc",
		"CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED",
		"CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED",
	} {
		if !isDeviceOOM(msg) {
			t.Errorf("not recognised as out of memory: %s", msg)
		}
	}
	for _, msg := range []string{
		"[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: input_ids",
		"CUDA failure 700: an illegal memory access was encountered",
		"context canceled",
	} {
		if isDeviceOOM(msg) {
			t.Errorf("taken for out of memory: %s", msg)
		}
	}
	if !errors.Is(errors.Join(ErrDeviceOutOfMemory), ErrDeviceOutOfMemory) {
		t.Fatal("sentinel")
	}
}

// The libraries preloaded for a CUDA 12 provider (ONNX Runtime 1.24.1's
// DT_NEEDED, read off the onnxruntime-gpu wheel) and a CUDA 13 one
// (1.31.1's, which links the driver directly and loads cuDNN itself).
func TestCUDALibraries(t *testing.T) {
	sys := []string{"libdl.so.2", "librt.so.1", "libpthread.so.0", "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2"}
	names := func(l []cudaLib) (req, opt []string) {
		for _, x := range l {
			if x.optional {
				opt = append(opt, x.soname)
			} else {
				req = append(req, x.soname)
			}
		}
		return
	}
	cu12, err := cudaLibraries(append([]string{"libcublasLt.so.12", "libcublas.so.12", "libcurand.so.10", "libcufft.so.11", "libcudart.so.12", "libcudnn.so.9"}, sys...))
	if err != nil {
		t.Fatal(err)
	}
	req, opt := names(cu12)
	if want := []string{"libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12", "libcurand.so.10", "libcufft.so.11", "libcudnn.so.9"}; !slices.Equal(req, want) {
		t.Errorf("CUDA 12 required, in order: %v, want %v", req, want)
	}
	if !slices.Equal(opt, []string{"libnvJitLink.so.12", "libnvrtc.so.12"}) {
		t.Errorf("CUDA 12 optional: %v", opt)
	}
	cu13, err := cudaLibraries(append([]string{"libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudart.so.13", "libcuda.so.1"}, sys...))
	if err != nil {
		t.Fatal(err)
	}
	req, opt = names(cu13)
	if want := []string{"libcuda.so.1", "libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"}; !slices.Equal(req, want) {
		t.Errorf("CUDA 13 required, in order: %v, want %v", req, want)
	}
	if !slices.Equal(opt, []string{"libnvJitLink.so.13", "libnvrtc.so.13"}) {
		t.Errorf("CUDA 13 optional: %v", opt)
	}
	if _, err := cudaLibraries(sys); err == nil || !strings.Contains(err.Error(), "libcudart") {
		t.Errorf("a provider without libcudart: %v", err)
	}
}

func TestFindGPURuntimeLibrary(t *testing.T) {
	root := t.TempDir()
	touch := func(p string) string {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := filepath.Join(root, "inst", "bin", "flinkfn")
	cpuOnly := touch(filepath.Join(root, "home", "gpu", "lib", RuntimeLibName))
	_, err := findGPURuntimeLibrary(Locations{Home: filepath.Join(root, "home")}, exe, nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("CPU-only folder: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{cpuOnly + " (no " + ProvidersCUDALibName + " beside it: a CPU-only build)", "make setup-gpu", EnvORTLib, "--device cpu"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// The folder next to the binary, with the provider: found.
	lib := touch(filepath.Join(root, "inst", "gpu", "lib", RuntimeLibName))
	touch(filepath.Join(root, "inst", "gpu", "lib", ProvidersCUDALibName))
	got, err := findGPURuntimeLibrary(Locations{Home: filepath.Join(root, "home")}, exe, nil)
	if err != nil || got != lib {
		t.Errorf("got %q, %v; want %s", got, err, lib)
	}
	// FLINKFN_ORT_LIB is taken as it is.
	if got, err := findGPURuntimeLibrary(Locations{ORTLib: cpuOnly}, exe, nil); err != nil || got != cpuOnly {
		t.Errorf("ORTLib: %q, %v", got, err)
	}
	if _, err := findGPURuntimeLibrary(Locations{ORTLib: filepath.Join(root, "nope.so")}, exe, nil); err == nil || !strings.Contains(err.Error(), EnvORTLib) {
		t.Errorf("missing ORTLib: %v", err)
	}
}

// OpenCUDA on an ONNX Runtime without the CUDA provider beside it (the CPU
// build make setup installs) names the cause and the fix.
func TestOpenCUDARefusesCPUBuild(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, RuntimeLibName)
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenCUDA(Device{CUDA: true, ID: 1}, lib, nil)
	if err == nil {
		t.Fatal("OpenCUDA accepted a folder without the CUDA provider")
	}
	for _, want := range []string{"device cuda:1", lib, "not the GPU build", "make setup-gpu", EnvORTLib, ProvidersCUDALibName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := OpenCUDA(Device{}, lib, nil); err == nil || !strings.Contains(err.Error(), "not a CUDA device") {
		t.Errorf("cpu: %v", err)
	}
}

// With the libraries make setup-gpu installs (.cache/gpu/lib), OpenCUDA on
// a machine without an NVIDIA driver fails naming the driver and
// nvidia-smi; on a machine with a GPU it reads the GPU's memory. Without
// make setup-gpu there is nothing to load: skipped (CI installs no GPU
// libraries; TestOpenCUDARefusesCPUBuild and package cudastub cover the
// errors there).
func TestOpenCUDAInstalled(t *testing.T) {
	lib := filepath.Join(repoCacheDir(t), filepath.FromSlash(GPURuntimeDir), RuntimeLibName)
	if _, err := os.Stat(filepath.Join(filepath.Dir(lib), ProvidersCUDALibName)); err != nil {
		t.Skipf("make setup-gpu has not run (%v)", err)
	}
	dev, err := OpenCUDA(Device{CUDA: true}, lib, nil)
	_, nvidia := os.Stat("/dev/nvidiactl")
	if nvidia != nil {
		if err == nil || !strings.Contains(err.Error(), "nvidia-smi") || !strings.Contains(err.Error(), "no usable CUDA GPU") {
			t.Fatalf("no GPU here (/dev/nvidiactl: %v), want the no-GPU error, got %v", nvidia, err)
		}
		t.Logf("no GPU: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	free, total, err := dev.MemInfo()
	if err != nil || total <= 0 || free <= 0 || free > total || total != dev.Total {
		t.Fatalf("MemInfo: free %d total %d (Total %d), %v", free, total, dev.Total, err)
	}
	t.Logf("cuda:0: %s total, %s free, driver %s, runtime %s", GiB(total), GiB(free), cudaVersion(dev.Driver), cudaVersion(dev.Runtime))
}

// A CUDA session's allocation failure becomes ErrDeviceOutOfMemory naming
// the batch, the limit and the fix; on the CPU, or for other errors, or
// once the caller gave up, it stays what it was.
func TestRunErrorOOM(t *testing.T) {
	ortErr := errors.New("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Attention node. Status Message: Failed to allocate memory for requested buffer of size 100663296")
	gpu := &Engine{model: "m", variant: "fp16", device: Device{CUDA: true, ID: 1}, gpuLimit: 1 << 30}
	err := gpu.runError(context.Background(), 64, 256, ortErr)
	if !errors.Is(err, ErrDeviceOutOfMemory) {
		t.Fatalf("not ErrDeviceOutOfMemory: %v", err)
	}
	for _, w := range []string{"model m variant fp16 on cuda:1", "batch of 64 x 256 tokens", "its limit 1.00 GiB", "Failed to allocate memory", "--gpu-memory-fraction", "--max-batch-tokens"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("lacks %q: %v", w, err)
		}
	}
	cpu := &Engine{model: "m", variant: "fp32"}
	if err := cpu.runError(context.Background(), 2, 3, ortErr); errors.Is(err, ErrDeviceOutOfMemory) || !errors.Is(err, ortErr) {
		t.Errorf("CPU: %v", err)
	}
	if err := gpu.runError(context.Background(), 2, 3, errors.New("invalid dimensions")); errors.Is(err, ErrDeviceOutOfMemory) {
		t.Errorf("other error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := gpu.runError(ctx, 2, 3, ortErr); errors.Is(err, ErrDeviceOutOfMemory) {
		t.Errorf("cancelled: %v", err)
	}
}
