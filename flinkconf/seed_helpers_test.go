package flinkconf

import (
	"path/filepath"
	"testing"
)

func seedPlan(t *testing.T, mode WorkerMode) *Plan {
	t.Helper()
	cfg, err := LoadFile(filepath.Join("testdata", "seed", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadComposeLimit(filepath.Join("testdata", "seed", "docker-compose.yaml"), "taskmanager")
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(PlanInput{Config: cfg, Container: c, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
