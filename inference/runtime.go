package inference

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ortGlobal is this package's only package-level state, and it is forced
// on us: onnxruntime_go keeps the dlopen'ed library and its one OrtEnv in
// process globals (SetSharedLibraryPath, InitializeEnvironment,
// DestroyEnvironment), so one library can be loaded per process at a time.
// ortGlobal counts the open Runtime handles so that several engines (and
// tests) can share that environment: the first OpenRuntime loads the
// library, the last Close unloads it. Nothing else in the process may call
// onnxruntime_go's environment functions.
var ortGlobal struct {
	mu      sync.Mutex
	refs    int
	libPath string // resolved path of the loaded library while refs > 0
	version string
}

// Runtime is a handle on the process's ONNX Runtime environment. Handles
// are reference-counted: OpenRuntime with the same library path returns
// another handle on the already-loaded library, and the library is
// unloaded when the last handle is closed. Engines hold a handle of their
// own, so closing a Runtime while its engines are open is safe.
type Runtime struct {
	libPath string
	version string
	closed  bool // guarded by ortGlobal.mu
}

// OpenRuntime loads ONNX Runtime from libPath (see FindRuntimeLibrary) and
// initialises its environment, or, when it is already loaded from the same
// file, returns another handle on it. Loading a second, different library
// into the process is an error. The library must provide C API version 24
// (ONNX Runtime 1.24 or newer), as onnxruntime_go v1.27 requires.
func OpenRuntime(libPath string) (*Runtime, error) {
	if libPath == "" {
		return nil, errors.New("onnx runtime: no library path (see inference.FindRuntimeLibrary)")
	}
	resolved, err := filepath.Abs(libPath)
	if err != nil {
		return nil, fmt.Errorf("onnx runtime %s: %w", libPath, err)
	}
	if r, err := filepath.EvalSymlinks(resolved); err == nil {
		resolved = r
	} else {
		return nil, fmt.Errorf("onnx runtime: %w", err)
	}
	g := &ortGlobal
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refs > 0 {
		if g.libPath != resolved {
			return nil, fmt.Errorf("onnx runtime: %s is already loaded in this process; cannot also load %s", g.libPath, resolved)
		}
		g.refs++
		return &Runtime{libPath: g.libPath, version: g.version}, nil
	}
	if ort.IsInitialized() {
		return nil, errors.New("onnx runtime: environment initialised outside package inference")
	}
	returnFreedMemory()
	ort.SetSharedLibraryPath(resolved)
	if err := ort.InitializeEnvironment(ort.WithLogLevelWarning()); err != nil {
		return nil, fmt.Errorf("onnx runtime %s (need ONNX Runtime >= 1.24, C API 24): %w", resolved, err)
	}
	g.refs = 1
	g.libPath = resolved
	g.version = ort.GetVersion()
	return &Runtime{libPath: g.libPath, version: g.version}, nil
}

// retain returns another handle on the same environment.
func (r *Runtime) retain() (*Runtime, error) {
	g := &ortGlobal
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.closed {
		return nil, errors.New("onnx runtime: handle used after Close")
	}
	g.refs++
	return &Runtime{libPath: r.libPath, version: r.version}, nil
}

// Version returns the loaded ONNX Runtime's version, e.g. "1.24.1".
func (r *Runtime) Version() string { return r.version }

// LibraryPath returns the loaded library's path (symbolic links resolved).
func (r *Runtime) LibraryPath() string { return r.libPath }

// Close releases this handle; the last one to go unloads the library.
// Closing a handle twice is a no-op.
func (r *Runtime) Close() error {
	g := &ortGlobal
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	g.refs--
	if g.refs > 0 {
		return nil
	}
	g.libPath, g.version = "", ""
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", r.libPath, err)
	}
	return nil
}
