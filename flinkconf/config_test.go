package flinkconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustYAML(t *testing.T, text string) *Config {
	t.Helper()
	c, err := ParseConfigYAML([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseConfigYAMLFlattensAndTypes(t *testing.T) {
	c := mustYAML(t, `
taskmanager:
  numberOfTaskSlots: 6
  memory.process:
    size: 12gb   # comment
  memory:
    managed: {fraction: 0.1}
pipeline.jars: [a.jar, b.jar]
a: {b: '7', c: 0x10, d: true, e: .5}
`)
	for key, want := range map[string]Value{
		"taskmanager.numberOfTaskSlots":       {Type: TypeInteger, Text: "6", Int: 6},
		"taskmanager.memory.process.size":     {Type: TypeString, Text: "12gb"},
		"taskmanager.memory.managed.fraction": {Type: TypeDouble, Text: "0.1", Float: 0.1},
		"pipeline.jars":                       {Type: TypeString, Text: "[a.jar, b.jar]"},
		"a.b":                                 {Type: TypeString, Text: "7"},
		"a.c":                                 {Type: TypeInteger, Text: "16", Int: 16},
		"a.d":                                 {Type: TypeBoolean, Text: "true"},
		"a.e":                                 {Type: TypeDouble, Text: "0.5", Float: 0.5},
	} {
		got, ok := c.Get(key)
		if !ok || got != want {
			t.Errorf("%s = %+v (%v), want %+v", key, got, ok, want)
		}
	}
}

func TestParseConfigYAMLLaterSpellingWins(t *testing.T) {
	c := mustYAML(t, "taskmanager:\n  memory:\n    process:\n      size: 4g\ntaskmanager.memory.process.size: 8g\n")
	if v, _ := c.Get(KeyTMProcessSize); v.Text != "8g" {
		t.Errorf("process.size = %q, want the later 8g", v.Text)
	}
}

func TestParseConfigYAMLErrors(t *testing.T) {
	for name, text := range map[string]string{
		"duplicate key": "a: 1\na: 2\n",
		"null value":    "taskmanager.memory.managed.size:\n",
		"scalar doc":    "hello\n",
		"list doc":      "- a\n",
		"bad yaml":      "a: [1, 2\n",
	} {
		if _, err := ParseConfigYAML([]byte(text)); err == nil || !strings.HasPrefix(err.Error(), "Error parsing YAML configuration.") {
			t.Errorf("%s: error %v, want Flink's \"Error parsing YAML configuration.\"", name, err)
		}
	}
	if c, err := ParseConfigYAML(nil); err != nil || c.Len() != 0 {
		t.Errorf("empty file: %v, %v", c, err)
	}
}

func TestParseLegacyConfig(t *testing.T) {
	c := ParseLegacyConfig([]byte("a: 1 # c\nb: \"q\"\nbad:line\ntaskmanager:\n  size: 12gb\nd: x#y\r\nd: z\n"), "flink-conf.yaml")
	for key, want := range map[string]string{"a": "1", "b": `"q"`, "size": "12gb", "d": "z"} {
		if v, ok := c.Get(key); !ok || v.Text != want || v.Type != TypeString {
			t.Errorf("%s = %+v, want string %q", key, v, want)
		}
	}
	if _, ok := c.Get("taskmanager.size"); ok {
		t.Error("legacy parser must not understand nesting")
	}
	if len(c.Warnings) != 2 { // "bad:line" and "taskmanager:"
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestLoadDirPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(StandardConfigFile, "taskmanager.memory.process.size: 4g\n")
	write(LegacyConfigFile, "taskmanager.memory.process.size: 8g\n")
	for _, tc := range []struct {
		v    Version
		want string
	}{{Version{2, 3}, "4g"}, {Version{1, 20}, "8g"}, {Version{1, 18}, "8g"}} {
		c, err := LoadDir(dir, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := c.Get(KeyTMProcessSize); v.Text != tc.want {
			t.Errorf("Flink %d.%d reads %q, want %q", tc.v.Major, tc.v.Minor, v.Text, tc.want)
		}
	}
	c, _ := LoadDir(dir, Version{2, 0})
	if len(c.Warnings) == 0 {
		t.Error("no warning about the ignored flink-conf.yaml")
	}
	empty := t.TempDir()
	if _, err := LoadDir(empty, Version{2, 3}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing config.yaml: %v", err)
	}
}

func TestConsumerWeightsForms(t *testing.T) {
	for text, want := range map[string]ConsumerWeights{
		"": {UseCaseOperator: 70, UseCaseStateBackend: 70, UseCasePython: 30},
		"taskmanager.memory.managed.consumer-weights: OPERATOR:70,PYTHON:30\n":              {UseCaseOperator: 70, UseCasePython: 30},
		"taskmanager.memory.managed.consumer-weights: {PYTHON: 100}\n":                      {UseCasePython: 100},
		"taskmanager.memory.managed.consumer-weights:\n  PYTHON: 40\n  STATE_BACKEND: 60\n": {UseCasePython: 40, UseCaseStateBackend: 60},
	} {
		w, err := ManagedConsumerWeights(mustYAML(t, text))
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != len(want) {
			t.Errorf("%q: %v, want %v", text, w, want)
		}
		for k, v := range want {
			if w[k] != v {
				t.Errorf("%q: %v, want %v", text, w, want)
			}
		}
	}
	if _, err := ManagedConsumerWeights(mustYAML(t, "taskmanager.memory.managed.consumer-weights: PYTHON:-1\n")); err == nil {
		t.Error("negative weight accepted")
	}
}
