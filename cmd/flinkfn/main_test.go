package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noEnv is an empty environment.
var noEnv = procEnv{}

// envFunc is the environment getenv reads (nothing to enumerate).
func envFunc(getenv func(string) string) procEnv { return procEnv{getenvFn: getenv} }

// mapEnv is the environment m.
func mapEnv(m map[string]string) procEnv {
	return procEnv{
		getenvFn: func(k string) string { return m[k] },
		environFn: func() []string {
			var out []string
			for k, v := range m {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

func TestProbePrintsRunnerDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var out bytes.Buffer
	code := "import pyflink;import os;print(os.path.join(os.path.abspath(os.path.dirname(pyflink.__file__)), 'bin'))"
	if err := run(context.Background(), []string{"-c", code}, noEnv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(out.String())
	script := filepath.Join(dir, "pyflink-udf-runner.sh")
	st, err := os.Stat(script)
	if err != nil {
		t.Fatalf("runner script: %v", err)
	}
	if st.Mode()&0o111 == 0 {
		t.Fatalf("runner script is not executable: %v", st.Mode())
	}
	body, _ := os.ReadFile(script)
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if !strings.HasPrefix(string(body), "#!/bin/sh\n") || !strings.Contains(string(body), exe) ||
		!strings.Contains(string(body), "-m pyflink.fn_execution.beam.beam_boot \"$@\"") {
		t.Fatalf("unexpected runner script:\n%s", body)
	}
	// Idempotent: a second probe returns the same directory.
	var out2 bytes.Buffer
	if err := run(context.Background(), []string{"-c", code}, noEnv, &out2, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if out2.String() != out.String() {
		t.Fatalf("second probe printed %q, first %q", out2.String(), out.String())
	}
}

// python.execution-mode: thread: PEMJA (Flink 2.3.0 and 1.20) runs these
// against python.executable; the answer names the mode and the fix.
func TestProbeThreadMode(t *testing.T) {
	for _, code := range []string{
		"from find_libpython import find_libpython;print(find_libpython())",
		"import pemja;import os;print(os.path.dirname(pemja.__file__))",
	} {
		err := run(context.Background(), []string{"-c", code}, noEnv, &bytes.Buffer{}, &bytes.Buffer{})
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 1 {
			t.Fatalf("code %q: got %v, want an exit-1 error", code, err)
		}
		for _, want := range []string{"python.execution-mode: thread", "set python.execution-mode: process", "process worker"} {
			if !strings.Contains(ee.msg, want) {
				t.Errorf("code %q: message lacks %q: %s", code, want, ee.msg)
			}
		}
	}
	// Other code keeps the generic answer.
	err := run(context.Background(), []string{"-c", "print(1)"}, noEnv, &bytes.Buffer{}, &bytes.Buffer{})
	var ee exitError
	if !errors.As(err, &ee) || !strings.Contains(ee.msg, "cannot execute Python code") || strings.Contains(ee.msg, "thread") {
		t.Errorf("print(1): got %v, want the generic message", err)
	}
}

func TestProbeRejectsOtherPython(t *testing.T) {
	for _, code := range []string{"print(1)", "import sys;import sysconfig;print(sysconfig.get_path('platlib'))"} {
		err := run(context.Background(), []string{"-c", code}, noEnv, &bytes.Buffer{}, &bytes.Buffer{})
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "flinkfn") {
			t.Errorf("code %q: got %v, want a clear exit-1 error", code, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-c", "import sys;print(sys.version)"}, noEnv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "3.") {
		t.Fatalf("sys.version probe printed %q", out.String())
	}
}

func TestWorkerWithoutEndpointFailsClearly(t *testing.T) {
	bootDir := t.TempDir()
	env := func(k string) string {
		if k == "BOOT_LOG_DIR" {
			return bootDir
		}
		return ""
	}
	err := run(context.Background(), []string{"-m", "pyflink.fn_execution.beam.beam_boot", "--id=1-1"}, envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "provision_endpoint") {
		t.Fatalf("got %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(bootDir, bootLogName))
	if !strings.Contains(string(log), "provision_endpoint") {
		t.Fatalf("boot log does not explain the failure: %q", log)
	}
}

func TestWorkerUnreachableEndpointNamesIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runWorkerWithTimeout(ctx, []string{"--id=7-1", "--provision_endpoint=127.0.0.1:1", "--unknown=x"}, noEnv, &stderr)
	}()
	err := <-done
	var ee exitError
	if !errors.As(err, &ee) || !strings.Contains(ee.msg, "127.0.0.1:1") || !strings.Contains(ee.msg, "7-1") {
		t.Fatalf("got %v", err)
	}
}

func TestWorkerBadDrainTimeoutSaysWhatToWrite(t *testing.T) {
	env := func(k string) string {
		if k == "FLINKFN_DRAIN_TIMEOUT" {
			return "ten seconds"
		}
		return ""
	}
	var stderr bytes.Buffer
	err := runWorkerWithTimeout(context.Background(), []string{"--id=7-1", "--provision_endpoint=127.0.0.1:1"}, envFunc(env), &stderr)
	var ee exitError
	if !errors.As(err, &ee) || !strings.Contains(ee.msg, `FLINKFN_DRAIN_TIMEOUT="ten seconds" (env): not a duration; use e.g. 30s`) {
		t.Fatalf("got %v", err)
	}
}

func TestParseKnown(t *testing.T) {
	var id, ep string
	parseKnown([]string{"--semi_persist_dir=/x", "--id", "3-4", "-junk", "--provision_endpoint=localhost:99"},
		map[string]*string{"id": &id, "provision_endpoint": &ep})
	if id != "3-4" || ep != "localhost:99" {
		t.Fatalf("id=%q endpoint=%q", id, ep)
	}
}

func TestFunctionsListsBuiltins(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"functions"}, noEnv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"udfs.builtin.upper(s CHAR | VARCHAR)", "udfs.builtin.split_words", "table", "udfs.builtin.id_decimal"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("functions output lacks %q:\n%s", want, out.String())
		}
	}
}

func runWorkerWithTimeout(ctx context.Context, args []string, env procEnv, stderr *bytes.Buffer) error {
	return runWorkerTimeout(ctx, args, env, stderr, 2*time.Second)
}

// TestSubcommandArguments: --help prints the command's usage and ends with
// no error; a bad flag or a positional argument is exit status 2, the latter
// naming the argument (and where texts come from, for the stdin commands).
func TestSubcommandArguments(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int    // 0: no error
		msg    string // in the exit message
		stderr string // in what was printed
	}{
		{args: []string{"serve", "--help"}, stderr: "Usage: flinkfn serve"},
		{args: []string{"pool", "-h"}, stderr: "Usage: flinkfn pool"},
		{args: []string{"embed", "--help"}, stderr: "Usage: flinkfn embed"},
		{args: []string{"config", "--help"}, stderr: "flinkfn config"},
		{args: []string{"models", "--help"}, stderr: "flinkfn models"},
		{args: []string{"tokenize", "--help"}, stderr: "flinkfn tokenize"},
		{args: []string{"serve", "--no-such-flag"}, code: 2, stderr: "flag provided but not defined: -no-such-flag"},
		{args: []string{"models", "--no-such-flag"}, code: 2, stderr: "flag provided but not defined: -no-such-flag"},
		{args: []string{"serve", "extra"}, code: 2, msg: `flinkfn serve: unexpected argument "extra"`},
		{args: []string{"embed", "texts.txt"}, code: 2, msg: `flinkfn embed: unexpected argument "texts.txt" (texts come on stdin)`},
		{args: []string{"tokenize", "a text"}, code: 2, msg: `flinkfn tokenize: unexpected argument "a text" (texts come on stdin)`},
		{args: []string{"config", "pool", "extra"}, code: 2, msg: `flinkfn config: unexpected argument "extra"`},
		{args: []string{"models", "extra"}, code: 2, msg: `flinkfn models: unexpected argument "extra"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), c.args, noEnv, &stdout, &stderr)
			if c.code == 0 {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
			} else {
				var ee exitError
				if !errors.As(err, &ee) || ee.code != c.code {
					t.Fatalf("err = %v, want exit status %d", err, c.code)
				}
				if !strings.Contains(ee.msg, c.msg) {
					t.Fatalf("message %q does not say %q", ee.msg, c.msg)
				}
			}
			if !strings.Contains(stderr.String()+stdout.String(), c.stderr) {
				t.Fatalf("output does not say %q:\n%s%s", c.stderr, stdout.String(), stderr.String())
			}
		})
	}
}
