package memory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/flinkconf"
)

func writeConf(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultSettings(t *testing.T) {
	s := DefaultSettings()
	if s.Framework != 64*mib || s.Buffer != 15*mib || s.FrameworkSource != "default" || s.BufferSource != "default" {
		t.Errorf("DefaultSettings = %+v", s)
	}
}

// loadSettings is SettingsFromConfig of the configuration at path.
func loadSettings(path string) (Settings, error) {
	cfg, err := flinkconf.LoadPath(path)
	if err != nil {
		return Settings{}, err
	}
	return SettingsFromConfig(cfg)
}

func TestLoadSettings(t *testing.T) {
	fwKey := "python.fn-execution.framework.memory.size"
	bufKey := "python.fn-execution.buffer.memory.size"
	tests := []struct {
		name, file, content string
		fw, buf             int64
		fwSrc, bufSrc       string // "" means default, "file" means "<file>: key"
	}{
		{"both keys", "config.yaml",
			fwKey + ": 128mb\n" + bufKey + ": 32 m\n",
			128 * mib, 32 * mib, "file", "file"},
		{"one key", "config.yaml",
			bufKey + ": 20mb\ntaskmanager.numberOfTaskSlots: 2\n",
			64 * mib, 20 * mib, "", "file"},
		{"no keys", "config.yaml",
			"taskmanager.memory.process.size: 4g\n",
			64 * mib, 15 * mib, "", ""},
		{"nested yaml", "config.yaml",
			"python:\n  fn-execution:\n    framework:\n      memory:\n        size: 100mb\n    buffer:\n      memory:\n        size: 1gb\n",
			100 * mib, 1024 * mib, "file", "file"},
		{"plain bytes", "config.yaml",
			fwKey + ": 1048576\n",
			mib, 15 * mib, "file", ""},
		{"legacy flink-conf.yaml", "flink-conf.yaml",
			"# comment\n" + fwKey + ": 96mb\n",
			96 * mib, 15 * mib, "file", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConf(t, tc.file, tc.content)
			s, err := loadSettings(p)
			if err != nil {
				t.Fatal(err)
			}
			src := func(kind, key string) string {
				if kind == "file" {
					return p + ": " + key
				}
				return "default"
			}
			want := Settings{tc.fw, tc.buf, src(tc.fwSrc, fwKey), src(tc.bufSrc, bufKey)}
			if s != want {
				t.Errorf("LoadSettings =\n  %+v\nwant\n  %+v", s, want)
			}
		})
	}
}

func TestLoadSettingsDir(t *testing.T) {
	p := writeConf(t, "config.yaml", "python.fn-execution.buffer.memory.size: 5mb\n")
	s, err := loadSettings(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if s.Buffer != 5*mib || s.BufferSource != p+": python.fn-execution.buffer.memory.size" || s.Framework != 64*mib {
		t.Errorf("loadSettings(dir) = %+v", s)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	p := writeConf(t, "config.yaml", "python.fn-execution.buffer.memory.size: 15 MiB\n")
	_, err := loadSettings(p)
	if err == nil {
		t.Fatal("bad value accepted")
	}
	for _, w := range []string{p, "python.fn-execution.buffer.memory.size", "15 MiB"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if _, err := loadSettings(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"400mb", 400 * mib, false},
		{"15 m", 15 * mib, false},
		{"1g", 1 << 30, false},
		{"1073741824", 1 << 30, false},
		{"2 kibibytes", 2048, false},
		{"1.5g", 0, true},
		{"-1", 0, true},
		{"1GiB", 0, true},
		{"", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "memory size") {
				t.Errorf("ParseSize(%q) = %d, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
