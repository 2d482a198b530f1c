package memory

import (
	"fmt"

	"github.com/flinkfn/flinkfn/flinkconf"
)

// Settings are the Flink memory settings the worker reserves: Framework
// once per worker process, Buffer once per session. The sources say where
// each came from ("default" or "<file>: <key>").
type Settings struct {
	Framework, Buffer             int64
	FrameworkSource, BufferSource string
}

// SourceDefault is the source of a setting left at Flink's default.
const SourceDefault = "default"

// DefaultSettings are Flink's defaults: 64 MiB framework, 15 MiB buffer.
func DefaultSettings() Settings {
	return Settings{
		Framework:       flinkconf.DefaultFrameworkMemory.Bytes(),
		Buffer:          flinkconf.DefaultBufferMemory.Bytes(),
		FrameworkSource: SourceDefault,
		BufferSource:    SourceDefault,
	}
}

// SettingsFromConfig reads python.fn-execution.framework.memory.size and
// python.fn-execution.buffer.memory.size from a Flink configuration (a
// config.yaml or flink-conf.yaml file or a conf directory, loaded with
// flinkconf.LoadPath as Flink 2.x reads it, or built from -D properties).
// Missing keys keep their defaults; sources name cfg.Source.
func SettingsFromConfig(cfg *flinkconf.Config) (Settings, error) {
	ws, err := flinkconf.ReadWorkerSettings(cfg)
	if err != nil {
		return Settings{}, fmt.Errorf("memory settings from %s: %w", cfg.Source, err)
	}
	s := DefaultSettings()
	s.Framework, s.Buffer = ws.Framework.Bytes(), ws.Buffer.Bytes()
	if _, ok := cfg.Get(flinkconf.KeyPythonFrameworkMemory); ok {
		s.FrameworkSource = cfg.Source + ": " + flinkconf.KeyPythonFrameworkMemory
	}
	if _, ok := cfg.Get(flinkconf.KeyPythonBufferMemory); ok {
		s.BufferSource = cfg.Source + ": " + flinkconf.KeyPythonBufferMemory
	}
	return s, nil
}

// ParseSize parses a size given as a flag or environment value with Flink's
// syntax ("400mb", "1 g", "1073741824").
func ParseSize(s string) (int64, error) {
	m, err := flinkconf.ParseMemorySize(s)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: %w", s, err)
	}
	return m.Bytes(), nil
}
