package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flinkfn/flinkfn/flinkconf"
	"github.com/flinkfn/flinkfn/httpapi"
	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/memory"
	"github.com/flinkfn/flinkfn/udfs"
)

// The configuration: every setting of the commands that run a worker, a
// pool, the HTTP server or the embedder, read in one place. Each value
// comes from, in order of precedence: the command line (--name), the
// environment (the setting's variables, first set wins), the Flink
// configuration (--flink-conf, FLINKFN_FLINK_CONF or FLINK_CONF_DIR) for
// the settings Flink has a key for, else the default. The packages below
// cmd read no environment: they get these values in their options.

// sourceKind is where a value came from.
type sourceKind string

const (
	fromFlag     sourceKind = "flag"
	fromEnv      sourceKind = "env"
	fromFlink    sourceKind = "flink config"
	fromDefault  sourceKind = "default"
	fromDetected sourceKind = "detected"
)

// source says where a value came from: the flag, the variable or the
// Flink key (Name), and for the Flink configuration its file.
type source struct {
	Kind sourceKind
	Name string // "--memory-limit", "FLINKFN_MEMORY_LIMIT", a Flink key; "" for a default
	File string // the Flink configuration's file (fromFlink)
}

func (s source) String() string {
	switch {
	case s.Kind == fromFlink:
		return fmt.Sprintf("flink config %s: %s", s.File, s.Name)
	case s.Name == "":
		return string(s.Kind)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Name)
}

// where is the source as an error message names it: `NAME="v" (env)`.
func (s source) where() string {
	if s.Kind == fromFlink {
		return "flink config " + s.File
	}
	return string(s.Kind)
}

// The commands a setting belongs to.
const (
	cmdWorker = "worker" // the worker Flink starts (-m ...beam_boot): environment only
	cmdPool   = "pool"
	cmdServe  = "serve"
	cmdEmbed  = "embed"
	cmdTools  = "tools" // functions, models, tokenize: environment only
)

// configCommands are the commands `flinkfn config` describes.
var configCommands = []string{cmdWorker, cmdPool, cmdServe, cmdEmbed}

// setting is one configuration setting of one or more commands.
type setting struct {
	name     string   // the setting's name, and its flag's name when flag
	commands []string // the commands it belongs to
	flag     bool     // set by --name on the commands that parse flags
	boolFlag bool     // --name alone means true
	repeat   bool     // the flag may be given several times
	env      []string // its variables, first set wins
	flinkKey string   // its Flink configuration key ("" none)
	def      string   // the default, as text
	usage    string
	secret   bool // shown as "(set)" by flinkfn config
	// envOK rejects a variable's value as a source (it is skipped, as if
	// unset): FLINK_CONF_DIR counts only when it exists.
	envOK func(name, v string) bool
	// bind parses the value into c; its errors say what is wrong and the
	// fix, and the loader adds the setting, the value and its source.
	bind func(c *config, v value) error
}

// value is one resolved value.
type value struct {
	raw  string
	list []string // a repeated flag's values
	src  source
}

// config is the effective configuration of one command.
type config struct {
	command string

	// Listen is the pool's gRPC address.
	Listen string
	// HTTP is the probes/metrics/API listener ("" or "off": none).
	HTTP string
	// API is the pool's embedding API mode (on, off, auto).
	API                                 string
	APIKey                              string
	MaxInputs, MaxConcurrent, MaxQueued int
	MaxBody                             int64
	RequestTimeout                      time.Duration
	StrictLength                        bool

	// FlinkConf is the Flink configuration file or folder ("" none).
	FlinkConf   string
	flink       *flinkconf.Config
	flinkMemory memory.Settings // the Python memory settings of flink
	// MemoryLimit is the budget (0: none); MemoryLimitSource names it as
	// the budget reports it.
	MemoryLimit       int64
	MemoryLimitSource string
	memoryLimitSet    bool   // given by a flag or FLINKFN_MEMORY_LIMIT
	workerLimit       string // _PYTHON_WORKER_MEMORY_LIMIT as Flink set it
	FrameworkMemory   int64
	BufferMemory      int64
	MemoryPolicy      memory.Policy
	GoMemLimitSet     bool

	// Models are the --model references (the first is the default);
	// empty: the default model from Locations.
	Models    []string
	int8      bool
	Variant   string
	Templates string
	// TemplatesFrom names the setting Templates came from.
	TemplatesFrom string
	Locations     inference.Locations

	DrainTimeout time.Duration
	LogLevel     slog.Level

	// The worker Flink starts.
	Pool         string // the pool's address ("": serve in this process)
	PoolFrom     string // the variable Pool came from
	PoolFallback string // "local": serve in-process when the pool is unreachable
	MarkerFile   string
	BootLogDir   string
	HTTPFrom     string

	// Device is where the models run; GPUMemoryFraction the share of a
	// GPU's memory their ONNX Runtime arenas may take (--device cuda).
	Device            inference.Device
	GPUMemoryFraction float64
	gpuFractionFlag   bool // --gpu-memory-fraction was given

	// MaxBatchTokens caps a model batch's padded tokens (0: the batcher's
	// default for the device); embed also sets Batch and MaxBatchRows.
	Batch, MaxBatchRows, MaxBatchTokens int

	values []shownValue // every setting of the command, in table order
}

// shownValue is a resolved setting as `flinkfn config` prints it.
type shownValue struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Flag   string `json:"flag,omitempty"`
	Env    string `json:"env,omitempty"`
	Flink  string `json:"flink_key,omitempty"`
}

// settings is the table of every setting (a new slice each call: the
// table is not shared state).
func settings() []setting {
	all := []string{cmdWorker, cmdPool, cmdServe, cmdEmbed, cmdTools}
	services := []string{cmdWorker, cmdPool, cmdServe}
	api := []string{cmdPool, cmdServe}
	str := func(dst func(*config) *string) func(*config, value) error {
		return func(c *config, v value) error { *dst(c) = v.raw; return nil }
	}
	posInt := func(dst func(*config) *int, min int) func(*config, value) error {
		return func(c *config, v value) error {
			n, err := strconv.Atoi(strings.TrimSpace(v.raw))
			if err != nil || n < min {
				return fmt.Errorf("not a whole number of at least %d; use e.g. %d", min, max(min, 16))
			}
			*dst(c) = n
			return nil
		}
	}
	size := func(dst func(*config) *int64) func(*config, value) error {
		return func(c *config, v value) error {
			n, err := memory.ParseSize(v.raw)
			if err != nil {
				return fmt.Errorf("not a memory size (%w); use Flink's syntax, e.g. 512mb or 2gb", errors.Unwrap(err))
			}
			*dst(c) = n
			return nil
		}
	}
	duration := func(dst func(*config) *time.Duration, positive bool) func(*config, value) error {
		return func(c *config, v value) error {
			d, err := time.ParseDuration(strings.TrimSpace(v.raw))
			if err != nil || d < 0 || (positive && d == 0) {
				return errors.New("not a duration; use e.g. 30s or 2m")
			}
			*dst(c) = d
			return nil
		}
	}
	// flinkSize is size, but a value from the Flink configuration is read
	// as Flink reads it (memory.SettingsFromConfig).
	flinkSize := func(dst func(*config) *int64, from func(memory.Settings) int64) func(*config, value) error {
		return func(c *config, v value) error {
			if v.src.Kind == fromFlink {
				*dst(c) = from(c.flinkMemory)
				return nil
			}
			return size(dst)(c, v)
		}
	}
	boolean := func(dst func(*config) *bool) func(*config, value) error {
		return func(c *config, v value) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v.raw))
			if err != nil {
				return errors.New("not a boolean; use true or false")
			}
			*dst(c) = b
			return nil
		}
	}
	return []setting{
		{name: "listen", commands: []string{cmdPool}, flag: true, def: "127.0.0.1:50051",
			usage: "the pool's address: unix:///path/to.sock or a loopback host:port",
			bind:  str(func(c *config) *string { return &c.Listen })},
		{name: "http", commands: []string{cmdPool}, flag: true, def: "127.0.0.1:9464",
			usage: `/healthz, /readyz, /metrics and the embedding API; "off" disables`,
			bind:  str(func(c *config) *string { return &c.HTTP })},
		{name: "http", commands: []string{cmdServe}, flag: true, def: "127.0.0.1:8080",
			usage: "listen address of the embedding API, probes and metrics",
			bind:  str(func(c *config) *string { return &c.HTTP })},
		{name: "http", commands: []string{cmdWorker}, env: []string{"FLINKFN_HTTP"},
			usage: "the worker's /metrics address (default: none)",
			bind:  str(func(c *config) *string { return &c.HTTP })},
		{name: "api", commands: []string{cmdPool}, flag: true, def: "auto",
			usage: "the embedding API on --http: on, off, auto (on for a loopback address or with --api-key)",
			bind: func(c *config, v value) error {
				switch v.raw {
				case "on", "off", "auto":
					c.API = v.raw
					return nil
				}
				return errors.New("want on, off or auto")
			}},
		{name: "api-key", commands: api, flag: true, env: []string{"FLINKFN_API_KEY"}, secret: true,
			usage: "bearer token the embedding API requires; needed on a non-loopback address",
			bind:  str(func(c *config) *string { return &c.APIKey })},
		{name: "max-inputs", commands: api, flag: true, def: strconv.Itoa(httpapi.DefaultMaxInputs),
			usage: "texts per request", bind: posInt(func(c *config) *int { return &c.MaxInputs }, 1)},
		{name: "max-body", commands: api, flag: true, def: "2mb",
			usage: "request body limit", bind: size(func(c *config) *int64 { return &c.MaxBody })},
		{name: "max-concurrent", commands: api, flag: true, def: strconv.Itoa(httpapi.DefaultMaxConcurrent),
			usage: "requests in the model's gate and batcher at once", bind: posInt(func(c *config) *int { return &c.MaxConcurrent }, 1)},
		{name: "max-queued", commands: api, flag: true, def: strconv.Itoa(httpapi.DefaultMaxQueued),
			usage: "requests waiting for those; beyond: 429", bind: posInt(func(c *config) *int { return &c.MaxQueued }, 1)},
		{name: "request-timeout", commands: api, flag: true, def: httpapi.DefaultTimeout.String(),
			usage: "a request's deadline; past it: 504", bind: duration(func(c *config) *time.Duration { return &c.RequestTimeout }, true)},
		{name: "strict-length", commands: api, flag: true, boolFlag: true, def: "false",
			usage: `a text over the model's maximum is a 422 unless the request sends "truncate": true`,
			bind:  boolean(func(c *config) *bool { return &c.StrictLength })},

		{name: "flink-conf", commands: []string{cmdWorker, cmdPool}, flag: true,
			env: []string{"FLINKFN_FLINK_CONF", "FLINK_CONF_DIR"}, envOK: confDirExists,
			usage: "Flink's config.yaml / flink-conf.yaml or conf folder (FLINK_CONF_DIR counts when it exists)",
			bind:  str(func(c *config) *string { return &c.FlinkConf })},
		{name: "memory-limit", commands: services, flag: true, env: []string{"FLINKFN_MEMORY_LIMIT"},
			usage: "the memory budget (default: _PYTHON_WORKER_MEMORY_LIMIT, else the cgroup limit, else none)",
			bind: func(c *config, v value) error {
				n, err := memory.ParseSize(v.raw)
				if err != nil {
					return fmt.Errorf("not a memory size (%w); use Flink's syntax, e.g. 512mb or 2gb", errors.Unwrap(err))
				}
				c.MemoryLimit, c.memoryLimitSet, c.MemoryLimitSource = n, true, v.src.Name
				return nil
			}},
		{name: "python-worker-memory-limit", commands: services, env: []string{memory.EnvWorkerLimit},
			usage: "bytes of managed memory Flink gives a Python worker (Flink sets it)",
			bind: func(c *config, v value) error {
				if _, err := strconv.ParseInt(strings.TrimSpace(v.raw), 10, 64); err != nil {
					return errors.New("not a decimal number of bytes (Flink sets it; unset it)")
				}
				c.workerLimit = v.raw
				return nil
			}},
		{name: "framework-memory", commands: []string{cmdWorker, cmdPool}, flag: true, env: []string{"FLINKFN_FRAMEWORK_MEMORY"},
			flinkKey: flinkconf.KeyPythonFrameworkMemory, def: "64mb",
			usage: "framework memory, reserved once per process",
			bind:  flinkSize(func(c *config) *int64 { return &c.FrameworkMemory }, func(s memory.Settings) int64 { return s.Framework })},
		{name: "buffer-memory", commands: []string{cmdWorker, cmdPool}, flag: true, env: []string{"FLINKFN_BUFFER_MEMORY"},
			flinkKey: flinkconf.KeyPythonBufferMemory, def: "15mb",
			usage: "buffer memory, reserved per session",
			bind:  flinkSize(func(c *config) *int64 { return &c.BufferMemory }, func(s memory.Settings) int64 { return s.Buffer })},
		{name: "memory-policy", commands: []string{cmdWorker}, env: []string{memory.EnvPolicy}, def: string(memory.PolicyWarn),
			usage: "a worker whose budget is short: warn (go on, as Flink does) or strict (refuse)",
			bind: func(c *config, v value) error {
				switch memory.Policy(v.raw) {
				case memory.PolicyWarn, memory.PolicyStrict:
					c.MemoryPolicy = memory.Policy(v.raw)
					return nil
				}
				return errors.New("want warn (log a warning and go on, as Flink does) or strict (refuse)")
			}},
		{name: "gomemlimit", commands: services, env: []string{memory.EnvGoMemLimit},
			usage: "the Go runtime's memory limit; when set, flinkfn leaves it alone (default: the budget less the models)",
			bind:  func(c *config, v value) error { c.GoMemLimitSet = v.raw != ""; return nil }},

		{name: "model", commands: all, flag: true, repeat: true, env: []string{inference.EnvModel}, def: inference.DefaultModelName,
			usage: "the default model: an installed model's name, or (flag) a model folder; repeat the flag to load more",
			bind: func(c *config, v value) error {
				switch v.src.Kind {
				case fromFlag:
					c.Models = v.list
				case fromEnv:
					c.Locations.Model = v.raw
				}
				return nil
			}},
		{name: "model-dir", commands: all, env: []string{inference.EnvModelDir},
			usage: "the default model's folder (beats FLINKFN_MODEL; a --model flag beats both)",
			bind:  str(func(c *config) *string { return &c.Locations.ModelDir })},
		{name: "int8", commands: []string{cmdPool, cmdServe, cmdEmbed}, flag: true, boolFlag: true, def: "false",
			usage: "the int8 variant of every model (same as --variant int8)",
			bind:  boolean(func(c *config) *bool { return &c.int8 })},
		{name: "variant", commands: all, flag: true, env: []string{"FLINKFN_MODEL_VARIANT"},
			usage: "the model variant of every model (default: each manifest's default)",
			bind:  str(func(c *config) *string { return &c.Variant })},
		{name: "templates", commands: []string{cmdWorker, cmdPool, cmdServe, cmdTools}, flag: true, env: []string{udfs.TemplatesEnv},
			usage: "a template file replacing the built-in udfs/templates.json",
			bind: func(c *config, v value) error {
				c.Templates, c.TemplatesFrom = v.raw, v.src.Name
				return nil
			}},
		{name: "home", commands: all, env: []string{inference.EnvHome},
			usage: "an installation folder holding lib/ and models/",
			bind:  str(func(c *config) *string { return &c.Locations.Home })},
		{name: "ort-lib", commands: all, env: []string{inference.EnvORTLib},
			usage: "ONNX Runtime's shared library file",
			bind:  str(func(c *config) *string { return &c.Locations.ORTLib })},
		{name: "device", commands: []string{cmdWorker, cmdPool, cmdServe, cmdEmbed}, flag: true, env: []string{inference.EnvDevice}, def: "cpu",
			usage: "where the models run: cpu, or cuda:N (GPU N; ONNX Runtime's GPU build, make setup-gpu)",
			bind: func(c *config, v value) error {
				d, err := inference.ParseDevice(v.raw)
				if err != nil {
					return errors.New("want cpu, cuda or cuda:N (N: the GPU's CUDA index, 0 for the first; nvidia-smi -L lists them)")
				}
				c.Device = d
				return nil
			}},
		{name: "gpu-memory-fraction", commands: []string{cmdWorker, cmdPool, cmdServe, cmdEmbed}, flag: true,
			env: []string{"FLINKFN_GPU_MEMORY_FRACTION"}, def: "0.4",
			usage: "with --device cuda:N: the share of the GPU's memory the models' ONNX Runtime arenas may take (0 < F <= 1), split evenly between the models",
			bind: func(c *config, v value) error {
				f, err := strconv.ParseFloat(strings.TrimSpace(v.raw), 64)
				if err != nil || !(f > 0 && f <= 1) {
					return errors.New("want a fraction 0 < F <= 1, e.g. 0.4 (40 % of the GPU's memory)")
				}
				c.GPUMemoryFraction, c.gpuFractionFlag = f, v.src.Kind == fromFlag
				return nil
			}},
		{name: "cuda-lib-dir", commands: all, env: []string{inference.EnvCUDALibDir},
			usage: "folders (separated by :) holding the CUDA and cuDNN libraries for --device cuda (default: beside ONNX Runtime's GPU build, then the dynamic linker's path)",
			bind: func(c *config, v value) error {
				c.Locations.CUDALibDirs = nil
				for _, d := range strings.Split(v.raw, ":") {
					if d = strings.TrimSpace(d); d != "" {
						c.Locations.CUDALibDirs = append(c.Locations.CUDALibDirs, d)
					}
				}
				return nil
			}},

		{name: "drain-timeout", commands: services, flag: true, env: []string{"FLINKFN_DRAIN_TIMEOUT"}, def: defaultDrainTimeout.String(),
			usage: "on SIGTERM, how long in-flight bundles and requests may finish",
			bind:  duration(func(c *config) *time.Duration { return &c.DrainTimeout }, false)},
		{name: "log-level", commands: services, flag: true, env: []string{"FLINKFN_LOG_LEVEL"}, def: "info",
			usage: "debug, info, warn, error",
			bind: func(c *config, v value) error {
				if err := c.LogLevel.UnmarshalText([]byte(v.raw)); err != nil {
					return errors.New("not a log level; use debug, info, warn or error")
				}
				return nil
			}},

		{name: "pool", commands: []string{cmdWorker}, env: []string{"FLINKFN_POOL", "PYTHON_LOOPBACK_SERVER_ADDRESS"},
			usage: "the flinkfn pool serving this worker (PYTHON_LOOPBACK_SERVER_ADDRESS: Flink's python.loopback-server.address); default: serve in this process",
			bind: func(c *config, v value) error {
				c.Pool, c.PoolFrom = strings.TrimSpace(v.raw), v.src.Name
				return nil
			}},
		{name: "pool-fallback", commands: []string{cmdWorker}, env: []string{fallbackEnv},
			usage: "local: serve in this process when the pool cannot be reached (default: fail)",
			bind: func(c *config, v value) error {
				if v.raw != "local" {
					return errors.New(`want "local" (or unset it to fail when the pool is unreachable)`)
				}
				c.PoolFallback = v.raw
				return nil
			}},
		{name: "boot-log-dir", commands: []string{cmdWorker}, env: []string{"BOOT_LOG_DIR"},
			usage: "where the worker writes " + bootLogName + " (Flink sets it)",
			bind:  str(func(c *config) *string { return &c.BootLogDir })},
		{name: "marker-file", commands: []string{cmdWorker}, env: []string{"FLINKFN_MARKER_FILE"},
			usage: "a file each worker start appends its pid and id to (to count worker starts)",
			bind:  str(func(c *config) *string { return &c.MarkerFile })},

		{name: "batch", commands: []string{cmdEmbed}, flag: true, def: "256",
			usage: "lines per request to the batcher", bind: posInt(func(c *config) *int { return &c.Batch }, 1)},
		{name: "max-batch-rows", commands: []string{cmdEmbed}, flag: true, def: "0",
			usage: "rows per model batch (0: the batcher's default)", bind: posInt(func(c *config) *int { return &c.MaxBatchRows }, 0)},
		{name: "max-batch-tokens", commands: []string{cmdWorker, cmdPool, cmdServe, cmdEmbed}, flag: true, env: []string{"FLINKFN_MAX_BATCH_TOKENS"}, def: "0",
			usage: "padded tokens per model batch (0: the default, 1024 on the CPU, 16384 on a GPU)", bind: posInt(func(c *config) *int { return &c.MaxBatchTokens }, 0)},
	}
}

// commandSettings are the settings of one command, in table order.
func commandSettings(command string) []setting {
	var out []setting
	for _, s := range settings() {
		for _, c := range s.commands {
			if c == command {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// flagValue is a setting's flag: it records whether it was given.
type flagValue struct {
	s    *setting
	set  bool
	raw  string
	list []string
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.raw
}

func (f *flagValue) Set(v string) error {
	if f.s.repeat {
		if v == "" {
			return errors.New("empty value")
		}
		f.list = append(f.list, v)
	}
	f.raw, f.set = v, true
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.s.boolFlag }

// configFlags are a command's flags, bound to its settings.
type configFlags struct {
	command string
	byName  map[string]*flagValue
}

// addConfigFlags defines the command's setting flags on fs.
func addConfigFlags(fs *flag.FlagSet, command string) *configFlags {
	cf := &configFlags{command: command, byName: map[string]*flagValue{}}
	for _, s := range commandSettings(command) {
		if !s.flag {
			continue
		}
		s := s
		fv := &flagValue{s: &s}
		cf.byName[s.name] = fv
		fs.Var(fv, s.name, s.usage)
	}
	return cf
}

// loadConfig resolves the command's settings: flags (cf, nil for a
// command without flags) over the environment over the Flink
// configuration over the defaults. An error names the setting, its value,
// its source and the fix, for every bad value at once; the configuration
// returned with it holds the good ones (a worker still finds its boot log).
func loadConfig(command string, cf *configFlags, getenv func(string) string) (*config, error) {
	c := &config{command: command, LogLevel: slog.LevelInfo, MemoryPolicy: memory.PolicyWarn}
	set := commandSettings(command)
	resolve := func(s setting) (value, bool) {
		if cf != nil {
			if fv := cf.byName[s.name]; fv != nil && fv.set {
				return value{raw: fv.raw, list: fv.list, src: source{Kind: fromFlag, Name: "--" + s.name}}, true
			}
		}
		for _, e := range s.env {
			if v := getenv(e); v != "" && (s.envOK == nil || s.envOK(e, v)) {
				return value{raw: v, src: source{Kind: fromEnv, Name: e}}, true
			}
		}
		if s.flinkKey != "" && c.flink != nil {
			if v, ok := c.flink.Get(s.flinkKey); ok {
				return value{raw: v.Text, src: source{Kind: fromFlink, Name: s.flinkKey, File: c.flink.Source}}, true
			}
		}
		if s.def != "" {
			return value{raw: s.def, src: source{Kind: fromDefault}}, true
		}
		return value{src: source{Kind: fromDefault}}, false
	}
	bind := func(s setting, v value) error {
		if err := s.bind(c, v); err != nil {
			return fmt.Errorf("%s=%q (%s): %w", configName(s, v.src), v.raw, v.src.where(), err)
		}
		return nil
	}
	// The Flink configuration first: other settings read it.
	for _, s := range set {
		if s.name != "flink-conf" {
			continue
		}
		if v, ok := resolve(s); ok {
			if err := bind(s, v); err != nil {
				return c, err
			}
			fc, err := flinkconf.LoadPath(c.FlinkConf)
			if err != nil {
				return c, fmt.Errorf("%s=%q (%s): %w; point it at a config.yaml, flink-conf.yaml or conf folder", configName(s, v.src), v.raw, v.src.where(), err)
			}
			if c.flinkMemory, err = memory.SettingsFromConfig(fc); err != nil {
				return c, fmt.Errorf("%s=%q (%s): %w", configName(s, v.src), v.raw, v.src.where(), err)
			}
			c.flink = fc
		}
	}
	var errs []error
	for _, s := range set {
		v, ok := resolve(s)
		if ok && s.name != "flink-conf" {
			if err := bind(s, v); err != nil {
				errs = append(errs, err)
			}
		}
		shown := v.raw
		if len(v.list) > 0 {
			shown = strings.Join(v.list, ",")
		}
		if s.secret && shown != "" {
			shown = "(set)"
		}
		sv := shownValue{Name: s.name, Value: shown, Source: v.src.String(), Env: strings.Join(s.env, ","), Flink: s.flinkKey}
		if !ok {
			sv.Source = "unset"
		}
		if s.flag && cf != nil {
			sv.Flag = "--" + s.name
		}
		c.values = append(c.values, sv)
	}
	if c.int8 {
		if c.Variant != "" && c.Variant != "int8" && cf != nil && cf.byName["variant"] != nil && cf.byName["variant"].set {
			errs = append(errs, fmt.Errorf("--int8 and --variant %s disagree; give one of them", c.Variant))
		}
		c.Variant = "int8"
		c.show("variant", "int8", source{Kind: fromFlag, Name: "--int8"})
	}
	if c.gpuFractionFlag && !c.Device.CUDA {
		errs = append(errs, fmt.Errorf("--gpu-memory-fraction applies to a GPU: give --device cuda:N too (the device is %s, from %s)", c.Device, c.sourceOf("device")))
	}
	if c.Locations.ModelDir != "" && len(c.Models) == 0 {
		c.show("model", c.Locations.ModelDir, source{Kind: fromEnv, Name: inference.EnvModelDir})
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if !c.memoryLimitSet && contains(set, "memory-limit") {
		n, src, err := memory.DetectLimit(c.workerLimit, "")
		if err != nil {
			return c, err
		}
		c.MemoryLimit, c.MemoryLimitSource = n, src
		shown := "none"
		if n > 0 {
			shown = memory.MiB(n)
		}
		if src == memory.SourceNone {
			src = "(no " + memory.EnvWorkerLimit + ", no cgroup limit)"
		}
		c.show("memory-limit", shown, source{Kind: fromDetected, Name: src})
	}
	return c, nil
}

// show replaces a printed value.
func (c *config) show(name, v string, src source) {
	for i := range c.values {
		if c.values[i].Name == name {
			c.values[i].Value, c.values[i].Source = v, src.String()
		}
	}
}

// sourceOf is where the named setting's value came from.
func (c *config) sourceOf(name string) string {
	for _, v := range c.values {
		if v.Name == name {
			return v.Source
		}
	}
	return string(fromDefault)
}

// modelOptions are the model settings of the configuration; the caller
// adds the budget, the reservation policy and the metrics.
func (c *config) modelOptions(templates []*udfs.Template, log *slog.Logger) modelOptions {
	mo := modelOptions{Variant: c.Variant, Templates: templates, Log: log, Locations: c.Locations, GoMemLimitSet: c.GoMemLimitSet,
		Device: c.Device, GPUMemoryFraction: c.GPUMemoryFraction}
	mo.Batcher.MaxBatchTokens = c.MaxBatchTokens
	if len(c.Models) > 0 {
		mo.Default, mo.Extra = c.Models[0], c.Models[1:]
	}
	return mo
}

// configName is how an error names the setting: the flag or variable the
// value came from, else the Flink key or the setting.
func configName(s setting, src source) string {
	if src.Name != "" {
		return src.Name
	}
	return s.name
}

func contains(set []setting, name string) bool {
	for _, s := range set {
		if s.name == name {
			return true
		}
	}
	return false
}

// confDirExists accepts FLINKFN_FLINK_CONF always (a wrong path is an
// error) and FLINK_CONF_DIR when it exists (Flink's scripts export it).
func confDirExists(name, v string) bool {
	if name != "FLINK_CONF_DIR" {
		return true
	}
	_, err := os.Stat(v)
	return err == nil
}

// parseArgs parses a command's flags: --help is flag.ErrHelp (run ends
// with status 0 on it), a bad flag exit status 2 (the flag package has
// printed why and the usage), and a positional argument exit status 2 naming
// it, with hint in parentheses when there is one.
func parseArgs(fs *flag.FlagSet, args []string, hint string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		msg := fmt.Sprintf("flinkfn %s: unexpected argument %q", fs.Name(), fs.Arg(0))
		if hint != "" {
			msg += " (" + hint + ")"
		}
		return exitError{code: 2, msg: msg}
	}
	return nil
}

// parseConfigFlags parses a command's flags into its configuration.
// usage is printed for --help and after a bad flag; hint follows the
// message of a positional argument.
func parseConfigFlags(command string, args []string, getenv func(string) string, stderr io.Writer, usage, hint string) (*config, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cf := addConfigFlags(fs, command)
	if err := parseArgs(fs, args, hint); err != nil {
		return nil, err
	}
	c, err := loadConfig(command, cf, getenv)
	if err != nil {
		return nil, exitError{code: 2, msg: fmt.Sprintf("flinkfn %s: %v", command, err)}
	}
	return c, nil
}
