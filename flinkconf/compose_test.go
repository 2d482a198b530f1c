package flinkconf

import (
	"strings"
	"testing"
)

func TestParseComposeMemory(t *testing.T) {
	for in, want := range map[string]MemorySize{
		"12G": 12 * GiB, "12g": 12 * GiB, "12GB": 12 * GiB, "12Gi": 12 * GiB, "12GiB": 12 * GiB,
		"1.5g": 1536 * MiB, "512m": 512 * MiB, "1024": 1024, "2 G": 2 * GiB,
	} {
		got, err := ParseComposeMemory(in)
		if err != nil || got != want {
			t.Errorf("ParseComposeMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12X", "-1g", "g"} {
		if _, err := ParseComposeMemory(bad); err == nil {
			t.Errorf("ParseComposeMemory(%q) accepted", bad)
		}
	}
}

func TestParseComposeLimit(t *testing.T) {
	doc := []byte(`
services:
  taskmanager:
    deploy:
      resources:
        limits:
          memory: 12G
  legacy:
    mem_limit: 1073741824
  nolimit:
    image: flink
`)
	c, err := ParseComposeLimit(doc, "compose.yaml", "taskmanager")
	if err != nil || !c.Set || c.Bytes != 12*GiB || c.Source != "deploy.resources.limits.memory" {
		t.Errorf("taskmanager: %+v, %v", c, err)
	}
	c, err = ParseComposeLimit(doc, "compose.yaml", "legacy")
	if err != nil || c.Bytes != GiB || c.Source != "mem_limit" {
		t.Errorf("mem_limit: %+v, %v", c, err)
	}
	c, err = ParseComposeLimit(doc, "compose.yaml", "nolimit")
	if err != nil || c.Set || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "no memory limit") {
		t.Errorf("no limit: %+v, %v", c, err)
	}
	if _, err := ParseComposeLimit(doc, "compose.yaml", "jobmanager"); err == nil || !strings.Contains(err.Error(), "legacy, nolimit, taskmanager") {
		t.Errorf("unknown service: %v", err)
	}
}
