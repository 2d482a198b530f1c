package inference

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The environment variables that say where the runtime library and the
// models are. This package reads none of them: the command's configuration
// does, and hands their values over as Locations.
const (
	// EnvORTLib names the ONNX Runtime shared library file to load.
	EnvORTLib = "FLINKFN_ORT_LIB"
	// EnvHome names an installation folder holding lib/ and models/.
	EnvHome = "FLINKFN_HOME"
	// EnvModelDir names a model folder (one holding manifest.json).
	EnvModelDir = "FLINKFN_MODEL_DIR"
	// EnvModel names the model to look for in the models/ folders
	// instead of DefaultModelName.
	EnvModel = "FLINKFN_MODEL"
)

// Locations are the settings that override where the runtime library and
// the models are found ("" = not set). The command fills them from its
// configuration (FLINKFN_ORT_LIB, FLINKFN_HOME, FLINKFN_MODEL_DIR,
// FLINKFN_MODEL).
type Locations struct {
	// ORTLib is ONNX Runtime's shared library file (EnvORTLib).
	ORTLib string
	// Home is an installation folder holding lib/ and models/ (EnvHome).
	Home string
	// ModelDir is the default model's folder (EnvModelDir).
	ModelDir string
	// Model is the default model's name (EnvModel); "" is DefaultModelName.
	Model string
	// CUDALibDirs are folders holding the CUDA and cuDNN libraries of
	// --device cuda (EnvCUDALibDir); see OpenCUDA.
	CUDALibDirs []string
}

// DefaultModelName is the model used when neither a model folder nor
// FLINKFN_MODEL is given.
const DefaultModelName = "all-MiniLM-L6-v2"

// RuntimeLibName is the file name of ONNX Runtime's shared library.
const RuntimeLibName = "libonnxruntime.so"

// System-wide install locations, searched last.
func systemLibDirs() []string { return []string{"/usr/local/lib/flinkfn", "/usr/lib/flinkfn"} }

func systemModelRoots() []string {
	return []string{"/usr/local/share/flinkfn/models", "/usr/share/flinkfn/models"}
}

// NotFoundError is returned when no candidate location holds what was
// looked for. Tried lists every place looked at, in order, with why it was
// rejected.
type NotFoundError struct {
	What  string
	Tried []string
	Hint  string
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not found; tried:", e.What)
	for _, t := range e.Tried {
		b.WriteString("\n  ")
		b.WriteString(t)
	}
	if e.Hint != "" {
		b.WriteString("\n")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// FindRuntimeLibrary returns the path of ONNX Runtime's shared library,
// trying in order:
//
//  1. loc.ORTLib ($FLINKFN_ORT_LIB), a file (when set, it must exist: no fallback);
//  2. loc.Home ($FLINKFN_HOME)/lib/libonnxruntime.so;
//  3. <folder of exe>/../lib/libonnxruntime.so (so .cache/bin/flinkfn,
//     built by make setup, finds .cache/lib);
//  4. /usr/local/lib/flinkfn/libonnxruntime.so, then
//     /usr/lib/flinkfn/libonnxruntime.so.
//
// exe is the running executable's path ("" skips step 3). The error lists
// every place tried.
func FindRuntimeLibrary(loc Locations, exe string) (string, error) {
	return findRuntimeLibrary(loc, exe, systemLibDirs())
}

func findRuntimeLibrary(loc Locations, exe string, sysDirs []string) (string, error) {
	nf := &NotFoundError{
		What: "ONNX Runtime library (" + RuntimeLibName + ")",
		Hint: "run make setup (scripts/setup/fetch_artifacts.py installs it), or set " + EnvORTLib + " to the library file",
	}
	if p := loc.ORTLib; p != "" {
		if err := isFile(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvORTLib, p, err)
		}
		return abs(p), nil
	}
	nf.Tried = append(nf.Tried, EnvORTLib+" (not set)")
	return search(nf, loc.Home, exe, filepath.Join("lib", RuntimeLibName), sysDirs, RuntimeLibName, isFile)
}

// GPURuntimeDir is where make setup-gpu installs ONNX Runtime's GPU build
// and its CUDA libraries, relative to an installation folder (.cache).
const GPURuntimeDir = "gpu/lib"

// FindGPURuntimeLibrary returns the ONNX Runtime library for --device
// cuda: the GPU build, which carries the CUDA execution provider. It tries
// loc.ORTLib ($FLINKFN_ORT_LIB, when set: the user's choice, used as it
// is), then loc.Home/gpu/lib/libonnxruntime.so, <folder of
// exe>/../gpu/lib/libonnxruntime.so (.cache/bin/flinkfn finds what make
// setup-gpu put in .cache/gpu/lib), then /usr/local/lib/flinkfn/gpu and
// /usr/lib/flinkfn/gpu. A folder qualifies when it also holds the CUDA
// provider library.
func FindGPURuntimeLibrary(loc Locations, exe string) (string, error) {
	var sys []string
	for _, d := range systemLibDirs() {
		sys = append(sys, filepath.Join(d, "gpu"))
	}
	return findGPURuntimeLibrary(loc, exe, sys)
}

func findGPURuntimeLibrary(loc Locations, exe string, sysDirs []string) (string, error) {
	nf := &NotFoundError{
		What: "ONNX Runtime's GPU build (" + RuntimeLibName + " with " + ProvidersCUDALibName + " beside it)",
		Hint: "run make setup-gpu (scripts/setup/setup_gpu.py installs it into .cache/gpu/lib), or set " + EnvORTLib +
			" to the libonnxruntime.so of ONNX Runtime's GPU build (onnxruntime-gpu); or run with --device cpu",
	}
	if p := loc.ORTLib; p != "" {
		if err := isFile(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvORTLib, p, err)
		}
		return abs(p), nil
	}
	nf.Tried = append(nf.Tried, EnvORTLib+" (not set)")
	withProvider := func(p string) error {
		if err := isFile(p); err != nil {
			return err
		}
		if isFile(filepath.Join(filepath.Dir(p), ProvidersCUDALibName)) != nil {
			return errors.New("no " + ProvidersCUDALibName + " beside it: a CPU-only build")
		}
		return nil
	}
	return search(nf, loc.Home, exe, filepath.Join(GPURuntimeDir, RuntimeLibName), sysDirs, RuntimeLibName, withProvider)
}

// search tries <home>/<rel>, <folder of exe>/../<rel>, then <sys>/<sysRel>
// for each system folder, and returns the first place check accepts; nf
// collects every place tried.
func search(nf *NotFoundError, home, exe, rel string, sys []string, sysRel string,
	check func(string) error) (string, error) {
	var cands []string
	if h := home; h != "" {
		cands = append(cands, filepath.Join(h, rel))
	} else {
		nf.Tried = append(nf.Tried, EnvHome+" (not set)")
	}
	if exe != "" {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", rel))
	}
	for _, d := range sys {
		cands = append(cands, filepath.Join(d, sysRel))
	}
	for _, c := range cands {
		c = filepath.Clean(c)
		if err := check(c); err != nil {
			nf.Tried = append(nf.Tried, fmt.Sprintf("%s (%v)", c, reason(err)))
			continue
		}
		return abs(c), nil
	}
	return "", nf
}

// FindModelDir returns the folder of the model to serve, trying in order:
//
//  1. explicit (a command-line flag), when not empty;
//  2. loc.ModelDir ($FLINKFN_MODEL_DIR);
//  3. loc.Home ($FLINKFN_HOME)/models/<name>;
//  4. <folder of exe>/../models/<name>;
//  5. /usr/local/share/flinkfn/models/<name>, then
//     /usr/share/flinkfn/models/<name>;
//
// where <name> is loc.Model ($FLINKFN_MODEL), or DefaultModelName when
// unset. A folder qualifies when it holds manifest.json. Steps 1 and 2 name
// the folder outright: when given, it must qualify (no fallback). exe is
// the running executable's path ("" skips step 4). The error lists every
// place tried.
func FindModelDir(explicit string, loc Locations, exe string) (string, error) {
	return findModelDir(explicit, loc, exe, systemModelRoots())
}

func findModelDir(explicit string, loc Locations, exe string, sysRoots []string) (string, error) {
	if explicit != "" {
		if err := isModelDir(explicit); err != nil {
			return "", fmt.Errorf("model folder %s: %w", explicit, err)
		}
		return abs(explicit), nil
	}
	if d := loc.ModelDir; d != "" {
		if err := isModelDir(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvModelDir, d, err)
		}
		return abs(d), nil
	}
	name := DefaultModelName
	if n := loc.Model; n != "" {
		if !nameRe.MatchString(n) {
			return "", fmt.Errorf("%s=%q: not a model name (a folder name under models/, e.g. %s)", EnvModel, n, DefaultModelName)
		}
		name = n
	}
	nf := &NotFoundError{
		What:  "model " + name,
		Tried: []string{"model flag (not given)", EnvModelDir + " (not set)"},
		Hint:  "run make setup (scripts/setup/fetch_artifacts.py installs the models), or set " + EnvModelDir + " to a folder holding " + ManifestFile,
	}
	return search(nf, loc.Home, exe, filepath.Join("models", name), sysRoots, name, isModelDir)
}

// Executable returns the running executable's path with symbolic links
// resolved, so that a link in a bin/ folder finds the real installation;
// "" when unknown.
func Executable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		return r
	}
	return exe
}

func isFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}

func isModelDir(d string) error {
	st, err := os.Stat(d)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a folder")
	}
	if err := isFile(filepath.Join(d, ManifestFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no " + ManifestFile)
		}
		return err
	}
	return nil
}

// reason shortens an os error for a "tried" line.
func reason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "does not exist"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// FindModelDirByName returns the folder of the installed model called name:
// loc.Home/models/<name>, <folder of exe>/../models/<name>, then the
// system folders. It is how a template's "model" is found.
func FindModelDirByName(name string, loc Locations, exe string) (string, error) {
	return findModelDirByName(name, loc, exe, systemModelRoots())
}

func findModelDirByName(name string, loc Locations, exe string, sysRoots []string) (string, error) {
	if !nameRe.MatchString(name) {
		return "", fmt.Errorf("%q is not a model name (a folder name under models/, e.g. %s)", name, DefaultModelName)
	}
	nf := &NotFoundError{
		What: "model " + name,
		Hint: "install it: `make setup` installs the models this project ships; a model you bring goes in a folder models/" + name +
			" with its " + ManifestFile + " (see inference/README.md; `flinkfn models check DIR` checks it). `flinkfn models` lists what is installed",
	}
	return search(nf, loc.Home, exe, filepath.Join("models", name), sysRoots, name, isModelDir)
}

// ModelRoots lists the folders whose subfolders are installed models, in
// the order FindModelDirByName searches them (existing ones only).
func ModelRoots(loc Locations, exe string) []string {
	return modelRoots(loc, exe, systemModelRoots())
}

func modelRoots(loc Locations, exe string, sysRoots []string) []string {
	var cands, out []string
	if h := loc.Home; h != "" {
		cands = append(cands, filepath.Join(h, "models"))
	}
	if exe != "" {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "models"))
	}
	cands = append(cands, sysRoots...)
	seen := map[string]bool{}
	for _, c := range cands {
		c = abs(filepath.Clean(c))
		if st, err := os.Stat(c); err != nil || !st.IsDir() || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}
