// Command flinkfn stands in for Apache Flink's Python UDF worker.
//
// Point Flink's python.executable at this binary. Flink first runs it as
// `flinkfn -c "...import pyflink..."` to find the runner script directory,
// then starts the runner, which runs
// `flinkfn -m pyflink.fn_execution.beam.beam_boot --id=ID --provision_endpoint=HOST:PORT`.
//
// Other commands: `flinkfn functions` lists the registered functions and
// their signatures; `flinkfn version` prints the version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, os.Args[1:], procEnv{getenvFn: os.Getenv, environFn: os.Environ}, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			fmt.Fprintf(os.Stderr, "flinkfn: %v\n", err)
			os.Exit(ec.ExitCode())
		}
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintf(os.Stderr, "flinkfn: error: %v\n", err)
		os.Exit(1)
	}
}

// procEnv is the process environment as run sees it: os.Getenv and
// os.Environ in main, a map in tests. Only the configuration (config.go)
// reads it, and workerParams hands it to a pool as Beam's boot does.
type procEnv struct {
	getenvFn  func(string) string
	environFn func() []string
}

func (e procEnv) getenv(k string) string {
	if e.getenvFn == nil {
		return ""
	}
	return e.getenvFn(k)
}

func (e procEnv) environ() []string {
	if e.environFn == nil {
		return nil
	}
	return e.environFn()
}

// exitError carries an exit status (and an optional message already
// formatted for the user).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.msg) }

const usage = `flinkfn: a Go worker for Apache Flink Python UDFs

Usage:
  flinkfn functions            list registered functions and their signatures
  flinkfn embed [--model NAME|DIR] [--int8] < texts
                               embed one text per line, print one JSON array per line
  flinkfn tokenize [--model NAME|DIR] < texts
                               print the token ids of one text per line
  flinkfn models [--measure]   list the installed models (dims, pooling, max tokens, variants)
  flinkfn models check DIR     check a model folder you bring (manifest, graph, tokenizer, self-test)
  flinkfn pool [--listen ADDR] [--http ADDR] [--memory-limit SIZE] ...
                               run the worker pool: one shared model per TaskManager
                               (workers use it when FLINKFN_POOL=ADDR is set)
  flinkfn serve [--http ADDR] [--model NAME|DIR]... [--api-key KEY] ...
                               serve the models over HTTP without Flink: POST /embed (TEI),
                               POST /v1/embeddings (OpenAI), GET /info, GET /health
  flinkfn config [--json] [worker|pool|serve|embed] [FLAGS]
                               print the effective configuration: each setting, its value and
                               where it came from (flag, env, Flink config, default)
  flinkfn version              print the version
  flinkfn plan --config FILE [--compose FILE --service NAME] [--model DIR] [--mode process|pool] [--json]
                               check TaskManager memory before deploying
  flinkfn -m pyflink.fn_execution.beam.beam_boot --id=ID --provision_endpoint=HOST:PORT
                               run as Flink's worker (Flink starts this)
  flinkfn -c CODE              answer Flink's runner-script probe (Flink runs this)

Use it by setting Flink's python.executable to the absolute path of this binary.
`

// run runs the command args name. A --help that printed a command's usage
// ends it with no error (exit status 0).
func run(ctx context.Context, args []string, env procEnv, stdout, stderr io.Writer) error {
	if err := dispatch(ctx, args, env, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, env procEnv, stdout, stderr io.Writer) error {
	getenv := env.getenv
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{code: 2}
	}
	switch args[0] {
	case "-c":
		return runProbe(args[1:], stdout)
	case "-m":
		if len(args) < 2 {
			return errors.New("-m needs a module name")
		}
		return runModule(ctx, args[1], args[2:], env, stderr)
	case "worker":
		return runWorker(ctx, args[1:], env, stderr)
	case "pool":
		return runPool(ctx, args[1:], getenv, stderr)
	case "serve":
		return runServe(ctx, args[1:], getenv, stderr)
	case "embed":
		return runEmbed(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "functions":
		return runFunctions(getenv, stdout)
	case "models":
		return runModels(ctx, args[1:], getenv, stdout, stderr)
	case "tokenize":
		return runTokenize(args[1:], getenv, os.Stdin, stdout, stderr)
	case "plan":
		return runPlan(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		return runConfig(args[1:], getenv, stdout, stderr)
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "flinkfn %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return exitError{code: 2, msg: fmt.Sprintf("flinkfn: unknown command %q", args[0])}
}

func runModule(ctx context.Context, module string, args []string, env procEnv, stderr io.Writer) error {
	switch module {
	case "pyflink.fn_execution.beam.beam_boot", "pyflink.fn_execution.boot":
		return runWorker(ctx, args, env, stderr)
	case "pip":
		return exitError{code: 1, msg: "flinkfn: Flink asked to pip-install Python requirements (python.requirements is set). " +
			"flinkfn runs Go functions and installs nothing: remove python.requirements from the job configuration."}
	}
	return exitError{code: 1, msg: fmt.Sprintf("flinkfn: cannot run Python module %q: flinkfn is not a Python interpreter; "+
		"it only serves as Flink's UDF worker (python.executable). Use a real Python for python.client.executable.", module)}
}
