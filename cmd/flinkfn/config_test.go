package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/internal/testfix"
	"github.com/flinkfn/flinkfn/memory"
)

// loadWith parses args as the command's flags and loads its configuration
// from env.
func loadWith(t *testing.T, command string, args []string, env map[string]string) (*config, error) {
	t.Helper()
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf := addConfigFlags(fs, command)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return loadConfig(command, cf, func(k string) string { return env[k] })
}

func shown(t *testing.T, c *config, name string) shownValue {
	t.Helper()
	for _, v := range c.values {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no setting %q in %+v", name, c.values)
	return shownValue{}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Each source beats the next: flag > env > Flink config > default, on the
// settings that have all four.
func TestConfigPrecedence(t *testing.T) {
	conf := writeFile(t, t.TempDir(), "config.yaml",
		"python.fn-execution.framework.memory.size: 100mb\npython.fn-execution.buffer.memory.size: 20mb\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want int64
		src  string
	}{
		{"default", nil, nil, 64 << 20, "default"},
		{"flink config beats the default", []string{"--flink-conf", conf}, nil, 100 << 20,
			"flink config " + conf + ": python.fn-execution.framework.memory.size"},
		{"env beats flink config", []string{"--flink-conf", conf}, map[string]string{"FLINKFN_FRAMEWORK_MEMORY": "200mb"}, 200 << 20,
			"env FLINKFN_FRAMEWORK_MEMORY"},
		{"flag beats env", []string{"--flink-conf", conf, "--framework-memory", "300mb"}, map[string]string{"FLINKFN_FRAMEWORK_MEMORY": "200mb"}, 300 << 20,
			"flag --framework-memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, cmdPool, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.FrameworkMemory != tc.want || shown(t, c, "framework-memory").Source != tc.src {
				t.Errorf("framework memory %d from %q, want %d from %q", c.FrameworkMemory, shown(t, c, "framework-memory").Source, tc.want, tc.src)
			}
			budget, set := memoryPlan(c)
			if set.Framework != tc.want || set.FrameworkSource != tc.src || budget == nil {
				t.Errorf("memory plan: %+v", set)
			}
		})
	}
	// The worker (no flags): env > Flink config (FLINKFN_FLINK_CONF, else an
	// existing FLINK_CONF_DIR) > default.
	dir := filepath.Dir(conf)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"FLINK_CONF_DIR", map[string]string{"FLINK_CONF_DIR": dir}, 20 << 20},
		{"FLINK_CONF_DIR missing is no source", map[string]string{"FLINK_CONF_DIR": filepath.Join(dir, "nope")}, 15 << 20},
		{"FLINKFN_FLINK_CONF beats FLINK_CONF_DIR", map[string]string{"FLINKFN_FLINK_CONF": writeFile(t, t.TempDir(), "flink-conf.yaml",
			"python.fn-execution.buffer.memory.size: 40mb\n"), "FLINK_CONF_DIR": dir}, 40 << 20},
		{"env beats both", map[string]string{"FLINK_CONF_DIR": dir, "FLINKFN_BUFFER_MEMORY": "1mb"}, 1 << 20},
	} {
		t.Run("worker "+tc.name, func(t *testing.T) {
			c, err := loadConfig(cmdWorker, nil, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if c.BufferMemory != tc.want {
				t.Errorf("buffer %d (%s), want %d", c.BufferMemory, shown(t, c, "buffer-memory").Source, tc.want)
			}
		})
	}
}

// The memory limit: flag > FLINKFN_MEMORY_LIMIT > _PYTHON_WORKER_MEMORY_LIMIT
// (detected, with the cgroup) ; the budget names its source as before.
func TestConfigMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int64
		src  string
	}{
		{[]string{"--memory-limit", "1g"}, map[string]string{"FLINKFN_MEMORY_LIMIT": "2g", memory.EnvWorkerLimit: "123456789"}, 1 << 30, "--memory-limit"},
		{nil, map[string]string{"FLINKFN_MEMORY_LIMIT": "2g", memory.EnvWorkerLimit: "123456789"}, 2 << 30, "FLINKFN_MEMORY_LIMIT"},
		{nil, map[string]string{memory.EnvWorkerLimit: "123456789"}, 123456789, memory.SourceFlink},
	} {
		c, err := loadWith(t, cmdPool, tc.args, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := memoryPlan(c)
		if b.Limit() != tc.want || b.Source() != tc.src {
			t.Errorf("%v %v: limit %d from %q, want %d from %q", tc.args, tc.env, b.Limit(), b.Source(), tc.want, tc.src)
		}
	}
}

// Every bad value is an error naming the setting, the value, its source
// and the fix; all of them at once.
func TestConfigErrorsNameSettingSourceAndFix(t *testing.T) {
	badConf := writeFile(t, t.TempDir(), "config.yaml", "python.fn-execution.buffer.memory.size: lots\n")
	for _, tc := range []struct {
		command string
		args    []string
		env     map[string]string
		want    string
	}{
		{cmdWorker, nil, map[string]string{"FLINKFN_DRAIN_TIMEOUT": "abc"}, `FLINKFN_DRAIN_TIMEOUT="abc" (env): not a duration; use e.g. 30s`},
		{cmdPool, []string{"--drain-timeout", "-1s"}, nil, `--drain-timeout="-1s" (flag): not a duration; use e.g. 30s`},
		{cmdWorker, nil, map[string]string{"FLINKFN_LOG_LEVEL": "loud"}, `FLINKFN_LOG_LEVEL="loud" (env): not a log level; use debug, info, warn or error`},
		{cmdServe, []string{"--memory-limit", "lots"}, nil, `--memory-limit="lots" (flag): not a memory size`},
		{cmdWorker, nil, map[string]string{"FLINKFN_MEMORY_LIMIT": "12 parsecs"}, `FLINKFN_MEMORY_LIMIT="12 parsecs" (env): not a memory size`},
		{cmdWorker, nil, map[string]string{memory.EnvWorkerLimit: "400mb"}, `_PYTHON_WORKER_MEMORY_LIMIT="400mb" (env): not a decimal number of bytes`},
		{cmdPool, []string{"--buffer-memory", "x"}, nil, `--buffer-memory="x" (flag): not a memory size`},
		{cmdPool, []string{"--flink-conf", badConf}, nil, `--flink-conf="` + badConf + `" (flag): memory settings from ` + badConf},
		{cmdWorker, nil, map[string]string{"FLINKFN_FLINK_CONF": "/nonexistent/conf"}, `FLINKFN_FLINK_CONF="/nonexistent/conf" (env): Flink configuration: stat /nonexistent/conf`},
		{cmdWorker, nil, map[string]string{memory.EnvPolicy: "lenient"}, `FLINKFN_MEMORY_POLICY="lenient" (env): want warn`},
		{cmdWorker, nil, map[string]string{fallbackEnv: "yes"}, `FLINKFN_POOL_FALLBACK="yes" (env): want "local"`},
		{cmdPool, []string{"--api", "maybe"}, nil, `--api="maybe" (flag): want on, off or auto`},
		{cmdServe, []string{"--max-inputs", "0"}, nil, `--max-inputs="0" (flag): not a whole number of at least 1`},
		{cmdServe, []string{"--max-body", "big"}, nil, `--max-body="big" (flag): not a memory size`},
		{cmdServe, []string{"--request-timeout", "0s"}, nil, `--request-timeout="0s" (flag): not a duration`},
		{cmdServe, []string{"--strict-length=maybe"}, nil, `--strict-length="maybe" (flag): not a boolean`},
		{cmdEmbed, []string{"--batch", "0"}, nil, `--batch="0" (flag): not a whole number of at least 1`},
		{cmdPool, []string{"--int8", "--variant", "fp32"}, nil, `--int8 and --variant fp32 disagree`},
		{cmdServe, []string{"--int8", "--variant", "int8-fast"}, nil, `--int8 and --variant int8-fast disagree`},
	} {
		_, err := loadWith(t, tc.command, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v %v: got %v, want %q", tc.command, tc.args, tc.env, err, tc.want)
		}
	}
	// Several bad values: each is named.
	_, err := loadWith(t, cmdWorker, nil, map[string]string{"FLINKFN_DRAIN_TIMEOUT": "abc", "FLINKFN_LOG_LEVEL": "loud"})
	if err == nil || !strings.Contains(err.Error(), "FLINKFN_DRAIN_TIMEOUT") || !strings.Contains(err.Error(), "FLINKFN_LOG_LEVEL") {
		t.Errorf("two bad values: %v", err)
	}
	// --int8 over a variant from the environment is the flag winning.
	c, err := loadWith(t, cmdPool, []string{"--int8"}, map[string]string{"FLINKFN_MODEL_VARIANT": "fp32"})
	if err != nil || c.Variant != "int8" || shown(t, c, "variant").Source != "flag --int8" {
		t.Errorf("--int8 over FLINKFN_MODEL_VARIANT: %v %+v", err, c)
	}
}

// The worker Flink starts: its environment reaches the configuration, and
// the pool gets that environment (workerParams) and nothing else.
func TestWorkerConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"FLINKFN_POOL": " unix:///tmp/p.sock ", "PYTHON_LOOPBACK_SERVER_ADDRESS": "127.0.0.1:1",
		"FLINKFN_TEMPLATES": "/t.json", "FLINKFN_HOME": "/h", "FLINKFN_MODEL": "bge-small-en-v1.5",
		"FLINKFN_MODEL_VARIANT": "int8", "GOMEMLIMIT": "1GiB", "BOOT_LOG_DIR": "/boot",
	}
	c, err := loadConfig(cmdWorker, nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Pool != "unix:///tmp/p.sock" || c.PoolFrom != "FLINKFN_POOL" || c.Templates != "/t.json" || c.TemplatesFrom != "FLINKFN_TEMPLATES" ||
		c.Locations.Home != "/h" || c.Locations.Model != "bge-small-en-v1.5" || c.Variant != "int8" || !c.GoMemLimitSet ||
		c.DrainTimeout != defaultDrainTimeout || c.BootLogDir != "/boot" {
		t.Errorf("%+v", c)
	}
	// The start-up line names what is not a default, with its source.
	var line bytes.Buffer
	slog.New(slog.NewJSONHandler(&line, nil)).Info("start", c.logSettings())
	if !regexp.MustCompile(`"pool":" ?unix:///tmp/p.sock ? \(env FLINKFN_POOL\)"`).MatchString(line.String()) || strings.Contains(line.String(), "drain-timeout") {
		t.Errorf("start-up line %s", line.String())
	}
	delete(env, "FLINKFN_POOL")
	c, _ = loadConfig(cmdWorker, nil, func(k string) string { return env[k] })
	if c.Pool != "127.0.0.1:1" || c.PoolFrom != "PYTHON_LOOPBACK_SERVER_ADDRESS" {
		t.Errorf("loopback: %q from %q", c.Pool, c.PoolFrom)
	}
	params := workerParams(mapEnv(env))
	if params["FLINKFN_HOME"] != "/h" || params["SEMI_PERSISTENT_DIRECTORY"] != "/boot" || len(params) != len(env)+1 {
		t.Errorf("params %v", params)
	}
	if _, ok := params["PATH"]; ok {
		t.Errorf("params hold the test process's own environment: %v", params)
	}
}

// `flinkfn config`, the real binary: a flag, a variable and a Flink
// configuration file, each printed with its source.
func TestConfigCommandPrintsSources(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "flinkfn")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf := writeFile(t, t.TempDir(), "config.yaml", "python.fn-execution.buffer.memory.size: 32mb\n")
	cmd := exec.Command(bin, "config", "--json", "pool", "--flink-conf", conf, "--log-level", "debug")
	cmd.Env = []string{"FLINKFN_DRAIN_TIMEOUT=45s", "FLINKFN_FRAMEWORK_MEMORY=100mb", "FLINKFN_API_KEY=secret", "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var got struct {
		Command  string       `json:"command"`
		Settings []shownValue `json:"settings"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string][2]string{
		"log-level":        {"debug", "flag --log-level"},
		"drain-timeout":    {"45s", "env FLINKFN_DRAIN_TIMEOUT"},
		"framework-memory": {"100mb", "env FLINKFN_FRAMEWORK_MEMORY"},
		"buffer-memory":    {"32mb", "flink config " + conf + ": python.fn-execution.buffer.memory.size"},
		"listen":           {"127.0.0.1:50051", "default"},
		"api-key":          {"(set)", "env FLINKFN_API_KEY"},
	}
	for _, s := range got.Settings {
		if w, ok := want[s.Name]; ok {
			if s.Value != w[0] || s.Source != w[1] {
				t.Errorf("%s = %q from %q, want %q from %q", s.Name, s.Value, s.Source, w[0], w[1])
			}
			delete(want, s.Name)
		}
	}
	if got.Command != "pool" || len(want) > 0 {
		t.Errorf("command %q; missing %v", got.Command, want)
	}
	if strings.Contains(string(out), "secret") {
		t.Errorf("the API key is printed: %s", out)
	}

	// The text form, and a bad value: exit 2 naming the setting, source and fix.
	cmd = exec.Command(bin, "config", "worker")
	cmd.Env = []string{"FLINKFN_DRAIN_TIMEOUT=abc"}
	stderr.Reset()
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), `FLINKFN_DRAIN_TIMEOUT="abc" (env): not a duration; use e.g. 30s`) {
		t.Errorf("bad value: %v %q", err, stderr.String())
	}
	cmd = exec.Command(bin, "config", "worker")
	cmd.Env = []string{"FLINKFN_POOL=127.0.0.1:5", "FLINKFN_MEMORY_LIMIT=1g"}
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^pool\s+127\.0\.0\.1:5\s+env FLINKFN_POOL$`, `(?m)^memory-limit\s+1g\s+env FLINKFN_MEMORY_LIMIT$`, `(?m)^drain-timeout\s+30s\s+default$`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("no line %s in\n%s", re, out)
		}
	}
}

// No package below cmd reads the environment: the configuration does, and
// hands the values down in options structs.
func TestOnlyCmdReadsTheEnvironment(t *testing.T) {
	root := testfix.Root(t)
	// Allowed: a file (every line) or, after "|", only lines holding the text.
	allowed := map[string]string{
		"internal/testfix/testfix.go": "",                       // test support (FLINKFN_GOLDEN)
		"inference/cuda.go":           `"CUDA_VISIBLE_DEVICES"`, // the CUDA runtime's own variable, not a flinkfn setting
	}
	reads := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ)\(|\bsyscall\.Getenv\(|getenv\s+func\(string\)\s*string|Getenv\s+func\(string\)\s*string`)
	var bad []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "cmd" || rel == "third_party" || rel == "integration" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		only, ok := allowed[rel]
		if ok && only == "" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if reads.MatchString(line) && !(ok && strings.Contains(line, only)) {
				bad = append(bad, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		t.Errorf("these read the environment outside cmd; add a setting to cmd/flinkfn/config.go and pass the value in the package's options:\n  %s",
			strings.Join(bad, "\n  "))
	}
}

// README.md's table of settings is the one the code writes
// (flinkfn config --markdown).
func TestREADMEListsEverySetting(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testfix.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(data), "<!-- settings:begin -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- settings:end -->")
	var want bytes.Buffer
	writeSettingsMarkdown(&want)
	if !ok1 || !ok2 || table != want.String() {
		t.Errorf("README.md's Configuration table differs from the settings: replace it with the output of `flinkfn config --markdown`:\n%s", want.String())
	}
}
