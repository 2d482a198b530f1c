package inference

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

static void *flinkfn_dlopen_global(const char *path) { return dlopen(path, RTLD_NOW | RTLD_GLOBAL); }

static const char *flinkfn_dlerror(void) {
	const char *e = dlerror();
	return e ? e : "unknown dlopen error";
}

typedef int (*flinkfn_cuda_int_fn)(int *);
typedef int (*flinkfn_cuda_set_fn)(int);
typedef int (*flinkfn_cuda_mem_fn)(size_t *, size_t *);
typedef const char *(*flinkfn_cuda_str_fn)(int);

// flinkfn_cuda_call returns cudart's error code (0 = success), or -1 when
// the symbol is missing. what: 0 device count, 1 driver version, 2 runtime
// version.
static int flinkfn_cuda_int(void *h, int what, int *out) {
	const char *names[] = {"cudaGetDeviceCount", "cudaDriverGetVersion", "cudaRuntimeGetVersion"};
	flinkfn_cuda_int_fn f = (flinkfn_cuda_int_fn)dlsym(h, names[what]);
	if (!f) return -1;
	return f(out);
}

// flinkfn_cuda_meminfo makes dev current on this thread and reads its free
// and total memory, in one call so that both run on the same OS thread.
static int flinkfn_cuda_meminfo(void *h, int dev, size_t *free_b, size_t *total_b) {
	flinkfn_cuda_set_fn set = (flinkfn_cuda_set_fn)dlsym(h, "cudaSetDevice");
	flinkfn_cuda_mem_fn mem = (flinkfn_cuda_mem_fn)dlsym(h, "cudaMemGetInfo");
	if (!set || !mem) return -1;
	int rc = set(dev);
	if (rc != 0) return rc;
	return mem(free_b, total_b);
}

static const char *flinkfn_cuda_error_string(void *h, int code) {
	flinkfn_cuda_str_fn f = (flinkfn_cuda_str_fn)dlsym(h, "cudaGetErrorString");
	if (!f || code < 0) return "symbol missing from libcudart";
	return f(code);
}
*/
import "C"

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"
)

// EnvCUDALibDir names the folders (separated by ":") holding the CUDA and
// cuDNN runtime libraries that ONNX Runtime's CUDA provider links against;
// they are looked for there first, then next to the ONNX Runtime library
// (where make setup-gpu puts them), then where the dynamic linker looks
// (LD_LIBRARY_PATH, ldconfig).
const EnvCUDALibDir = "FLINKFN_CUDA_LIB_DIR"

// cudaLib is one library to load before the CUDA provider.
type cudaLib struct {
	soname   string
	optional bool
}

// cudaLibraries lists the libraries to load before ONNX Runtime's CUDA
// provider, in load order (each library's own dependencies first): the
// provider's CUDA dependencies as its ELF header names them
// (libcublasLt.so.12 … for a CUDA 12 build, .so.13 for CUDA 13), then
// cuDNN 9, and where found NVRTC (cuDNN's runtime-compiled engines) and nvJitLink (cuFFT),
// the libraries onnxruntime-gpu's preload_dlls() loads. needed is the
// provider's DT_NEEDED list.
func cudaLibraries(needed []string) ([]cudaLib, error) {
	major := ""
	var libs []string
	for _, n := range needed {
		switch {
		case strings.HasPrefix(n, "libcudart.so."):
			major = strings.TrimPrefix(n, "libcudart.so.")
			libs = append(libs, n)
		case n == "libcuda.so.1":
			// The driver: loaded first, so that its absence is named as such.
			libs = append([]string{n}, libs...)
		case strings.HasPrefix(n, "libcu"), strings.HasPrefix(n, "libnv"):
			libs = append(libs, n)
		}
	}
	if major == "" {
		return nil, fmt.Errorf("the CUDA provider links no libcudart.so.N (its libraries: %v)", needed)
	}
	rank := func(n string) int {
		for i, p := range []string{"libcuda.so", "libcudart.so", "libnvJitLink", "libcublasLt.so", "libcublas.so", "libnvrtc", "libcurand", "libcufft", "libcudnn"} {
			if strings.HasPrefix(n, p) {
				return i
			}
		}
		return 100
	}
	var out []cudaLib
	add := func(n string, optional bool) {
		for _, l := range out {
			if l.soname == n {
				return
			}
		}
		out = append(out, cudaLib{n, optional})
	}
	for _, n := range libs {
		add(n, false)
	}
	add("libnvJitLink.so."+major, true)
	add("libnvrtc.so."+major, true)
	add("libcudnn.so.9", false)
	slices.SortStableFunc(out, func(a, b cudaLib) int { return rank(a.soname) - rank(b.soname) })
	return out, nil
}

// providerNeeds reads the DT_NEEDED list of the CUDA provider library.
func providerNeeds(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ImportedLibraries()
}

// CUDADevice is a CUDA GPU whose runtime libraries are loaded into the
// process. Its memory readings come from the CUDA runtime itself
// (cudaMemGetInfo), so the device is numbered exactly as ONNX Runtime's
// device_id numbers it (CUDA ordinals, CUDA_VISIBLE_DEVICES applied),
// which NVML's indices are not.
type CUDADevice struct {
	Device  Device
	Total   int64          // the GPU's memory in bytes
	Driver  int            // CUDA driver API version, e.g. 12080
	Runtime int            // CUDA runtime version, e.g. 12080
	LibDirs []string       // where the libraries were looked for
	cudart  unsafe.Pointer // dlopen handle, kept for the process's lifetime
}

// OpenCUDA loads the CUDA and cuDNN runtime libraries that ONNX Runtime's
// CUDA provider (ProvidersCUDALibName, next to the ONNX Runtime library
// ortLib) needs, with RTLD_GLOBAL, so that the provider, loaded later by
// ONNX Runtime, finds them already in the process; then it checks that
// device d exists and reads its memory. Libraries are looked for in
// libDirs, then next to ortLib, then by the dynamic linker. Each failure
// names its cause and its fix. The libraries stay loaded for the
// process's lifetime.
func OpenCUDA(d Device, ortLib string, libDirs []string) (*CUDADevice, error) {
	if !d.CUDA {
		return nil, fmt.Errorf("device %s is not a CUDA device", d)
	}
	dir := filepath.Dir(ortLib)
	provider := filepath.Join(dir, ProvidersCUDALibName)
	needed, err := providerNeeds(provider)
	if err != nil {
		return nil, fmt.Errorf("device %s: ONNX Runtime %s has no usable CUDA provider beside it (%v): it is not the GPU build. "+
			"Run `make setup-gpu` (installs the GPU build into .cache/gpu/lib, where .cache/bin/flinkfn finds it with --device cuda), "+
			"or set %s to the libonnxruntime.so of ONNX Runtime's GPU build (onnxruntime-gpu, with %s next to it)",
			d, ortLib, err, EnvORTLib, ProvidersCUDALibName)
	}
	libs, err := cudaLibraries(needed)
	if err != nil {
		return nil, fmt.Errorf("device %s: %s: %w", d, provider, err)
	}
	dirs := append(slices.Clip(libDirs), dir)
	var cudart unsafe.Pointer
	for _, l := range libs {
		path := l.soname
		for _, d := range dirs {
			if p := filepath.Join(d, l.soname); d != "" && fileExists(p) {
				path = p
				break
			}
		}
		h, err := dlopenGlobal(path)
		if err != nil {
			if l.optional {
				continue
			}
			if l.soname == "libcuda.so.1" {
				return nil, fmt.Errorf("device %s: the NVIDIA driver's library libcuda.so.1 does not load (%v): this machine has no "+
					"NVIDIA driver, or a container was started without the GPU. Check that `nvidia-smi` lists the GPU "+
					"(a container needs docker --gpus or the NVIDIA device plugin), or run with --device cpu", d, err)
			}
			return nil, fmt.Errorf("device %s: cannot load %s, a CUDA/cuDNN library that ONNX Runtime's CUDA provider needs: "+
				"not in %s nor on the dynamic linker's path (%v). Run `make setup-gpu` (installs ONNX Runtime's GPU build "+
				"with the CUDA and cuDNN runtime libraries into .cache/gpu/lib), or set %s to the folders holding them",
				d, l.soname, strings.Join(slices.DeleteFunc(slices.Clone(dirs), func(s string) bool { return s == "" }), ", "), err, EnvCUDALibDir)
		}
		if strings.HasPrefix(l.soname, "libcudart.so.") {
			cudart = h
		}
	}
	dev := &CUDADevice{Device: d, LibDirs: dirs, cudart: cudart}
	var n C.int
	if rc := C.flinkfn_cuda_int(cudart, 1, &n); rc == 0 {
		dev.Driver = int(n)
	}
	if rc := C.flinkfn_cuda_int(cudart, 2, &n); rc == 0 {
		dev.Runtime = int(n)
	}
	if rc := C.flinkfn_cuda_int(cudart, 0, &n); rc != 0 {
		driver := "the NVIDIA driver reports CUDA " + cudaVersion(dev.Driver)
		if dev.Driver == 0 {
			driver = "no NVIDIA driver found (libcuda.so.1)"
		}
		return nil, fmt.Errorf("device %s: no usable CUDA GPU: cudaGetDeviceCount: %s (CUDA error %d; %s; the CUDA runtime is %s). "+
			"Check that `nvidia-smi` lists the GPU: it needs the NVIDIA driver on the host (one for CUDA %s or newer), and a "+
			"container needs the GPU passed in (docker --gpus, the NVIDIA device plugin); or run with --device cpu",
			d, cudaErrorString(cudart, int(rc)), int(rc), driver, cudaVersion(dev.Runtime), cudaVersion(dev.Runtime))
	}
	if int(n) <= d.ID {
		vis := os.Getenv("CUDA_VISIBLE_DEVICES")
		if vis == "" {
			vis = "unset"
		}
		return nil, fmt.Errorf("device %s: CUDA sees %d GPU(s), numbered 0 to %d (CUDA_VISIBLE_DEVICES %s). Check `nvidia-smi -L`, or pick another --device",
			d, int(n), int(n)-1, vis)
	}
	_, total, err := dev.memInfo()
	if err != nil {
		return nil, err
	}
	dev.Total = total
	return dev, nil
}

// MemInfo reads the device's free and total memory in bytes. Free is what
// every process on the GPU leaves, so total - free is the device's use,
// this process's contexts and arenas included.
func (c *CUDADevice) MemInfo() (free, total int64, err error) { return c.memInfo() }

func (c *CUDADevice) memInfo() (free, total int64, err error) {
	var f, t C.size_t
	if rc := C.flinkfn_cuda_meminfo(c.cudart, C.int(c.Device.ID), &f, &t); rc != 0 {
		return 0, 0, fmt.Errorf("device %s: cudaMemGetInfo: %s (CUDA error %d)", c.Device, cudaErrorString(c.cudart, int(rc)), int(rc))
	}
	return int64(f), int64(t), nil
}

func cudaErrorString(h unsafe.Pointer, code int) string {
	return C.GoString(C.flinkfn_cuda_error_string(h, C.int(code)))
}

// cudaVersion formats CUDA's integer versions (12080 → "12.8"; 0: none).
func cudaVersion(v int) string {
	if v <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}

func dlopenGlobal(path string) (unsafe.Pointer, error) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	h := C.flinkfn_dlopen_global(cs)
	if h == nil {
		return nil, errors.New(strings.TrimSpace(C.GoString(C.flinkfn_dlerror())))
	}
	return h, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
