package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkfn/flinkfn/internal/text"
)

const runnerScript = "pyflink-udf-runner.sh"

// pythonVersion is what flinkfn reports when asked for sys.version.
const pythonVersion = "3.11.0"

// runProbe answers `flinkfn -c CODE`. Flink runs python.executable with a
// snippet that imports pyflink and prints the directory of its runner
// script; flinkfn prints a directory holding an executable
// pyflink-udf-runner.sh that re-invokes this binary as the worker.
func runProbe(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return exitError{code: 2, msg: "flinkfn: -c needs an argument"}
	}
	code := args[0]
	switch {
	case strings.Contains(code, "print(sys.version)"):
		// Flink's PythonEnvironmentManagerUtils.getPythonVersion. flinkfn
		// speaks the protocol of the Python 3 worker of this Flink version.
		fmt.Fprintf(stdout, "%s (flinkfn %s, a Go worker for Flink Python functions)\n", pythonVersion, version)
		return nil
	case strings.Contains(code, "find_libpython") || strings.Contains(code, "import pemja"):
		// python.execution-mode: thread. Flink's EmbeddedPythonEnvironmentManager
		// hands python.executable to PEMJA, which runs it to find libpython
		// ("from find_libpython import …") and the pemja package, then loads
		// both into the TaskManager's JVM. There is no process to replace.
		return exitError{code: 1, msg: "flinkfn: this job sets python.execution-mode: thread, in which Flink runs Python inside the TaskManager's JVM " +
			"(PEMJA loads the libpython that python.executable names); flinkfn runs only as a process worker: " +
			"set python.execution-mode: process (the default) for jobs whose python.executable is flinkfn."}
	case strings.Contains(code, "sysconfig") || strings.Contains(code, "site"):
		return exitError{code: 1, msg: "flinkfn: Flink asked for a Python site-packages path (python.requirements is set). " +
			"flinkfn runs Go functions and installs no Python packages: remove python.requirements from the job configuration."}
	case !strings.Contains(code, "pyflink"):
		return exitError{code: 1, msg: "flinkfn: cannot execute Python code: flinkfn is Flink's UDF worker, not a Python interpreter. " +
			"It answers only Flink's pyflink runner probe. Code was: " + text.Truncate(code, 200)}
	}
	dir, err := ensureRunnerDir()
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("flinkfn: cannot prepare the runner script directory: %v", err)}
	}
	fmt.Fprintln(stdout, dir)
	return nil
}

// ensureRunnerDir writes (atomically, idempotently) a runner script for
// this binary into a per-binary directory under the temp dir and returns
// the directory.
func ensureRunnerDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate this binary: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	sum := sha256.Sum256([]byte(exe))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("flinkfn-runner-%d-%s", os.Getuid(), hex.EncodeToString(sum[:6])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	script := "#!/bin/sh\n" +
		"# Written by flinkfn: Flink runs this as its Python worker runner script.\n" +
		"exec " + shellQuote(exe) + " -m pyflink.fn_execution.beam.beam_boot \"$@\"\n"
	path := filepath.Join(dir, runnerScript)
	if old, err := os.ReadFile(path); err == nil && string(old) == script {
		return dir, nil
	}
	tmp, err := os.CreateTemp(dir, runnerScript+".*")
	if err != nil {
		return "", err
	}
	if _, err := tmp.WriteString(script); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return dir, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
