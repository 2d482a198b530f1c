package memory

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// fakeRoot writes files (path relative to the root → content) under a
// temporary directory.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDetectLimit(t *testing.T) {
	const gib = 1 << 30
	v2own := map[string]string{
		"proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
		"sys/fs/cgroup/memory.max":                   "max\n",
		"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "1073741824\n",
		"sys/fs/cgroup/kubepods/pod1/memory.max":     "2147483648\n",
		"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n", // v1 ignored when v2 has a limit
	}
	tests := []struct {
		name    string
		env     map[string]string
		files   map[string]string
		limit   int64
		source  string
		wantErr string
	}{
		{name: "nothing", limit: 0, source: "none"},
		{name: "v2 own cgroup", files: v2own, limit: gib, source: "cgroup memory.max (/sys/fs/cgroup/kubepods/pod1/ctr/memory.max)"},
		{name: "v2 parent smaller", files: map[string]string{
			"proc/self/cgroup":             "0::/a/b\n",
			"sys/fs/cgroup/a/b/memory.max": "max\n",
			"sys/fs/cgroup/a/memory.max":   "300000000\n",
			"sys/fs/cgroup/memory.max":     "400000000\n",
		}, limit: 300000000, source: "cgroup memory.max (/sys/fs/cgroup/a/memory.max)"},
		{name: "v2 root fallback (cgroup path not visible)", files: map[string]string{
			"proc/self/cgroup":         "0::/docker/abcdef\n",
			"sys/fs/cgroup/memory.max": "419430400\n",
		}, limit: 400 << 20, source: "cgroup memory.max (/sys/fs/cgroup/memory.max)"},
		{name: "v2 namespaced root", files: map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "419430400",
		}, limit: 400 << 20, source: "cgroup memory.max (/sys/fs/cgroup/memory.max)"},
		{name: "v2 escaping path uses root", files: map[string]string{
			"proc/self/cgroup":         "0::/../../etc\n",
			"sys/fs/cgroup/memory.max": "419430400",
		}, limit: 400 << 20, source: "cgroup memory.max (/sys/fs/cgroup/memory.max)"},
		{name: "v2 max everywhere", files: map[string]string{
			"proc/self/cgroup":           "0::/x\n",
			"sys/fs/cgroup/x/memory.max": "max\n",
			"sys/fs/cgroup/memory.max":   "max\n",
		}, limit: 0, source: "none"},
		{name: "v1", files: map[string]string{
			"proc/self/cgroup":                           "12:cpu,cpuacct:/x\n11:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n",
		}, limit: 512 << 20, source: "cgroup memory.limit_in_bytes (/sys/fs/cgroup/memory/memory.limit_in_bytes)"},
		{name: "v1 own cgroup", files: map[string]string{
			"proc/self/cgroup": "11:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		}, limit: 256 << 20, source: "cgroup memory.limit_in_bytes (/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes)"},
		{name: "v1 unlimited", files: map[string]string{
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, limit: 0, source: "none"},
		{name: "v1 above physical memory", files: map[string]string{
			"proc/meminfo": "MemTotal:        8000000 kB\nMemFree:  1 kB\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "17179869184\n",
		}, limit: 0, source: "none"},
		{name: "v1 below physical memory", files: map[string]string{
			"proc/meminfo": "MemTotal:        8000000 kB\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n",
		}, limit: gib, source: "cgroup memory.limit_in_bytes (/sys/fs/cgroup/memory/memory.limit_in_bytes)"},
		{name: "env wins over cgroup", env: map[string]string{EnvWorkerLimit: "123456789"}, files: v2own,
			limit: 123456789, source: "_PYTHON_WORKER_MEMORY_LIMIT (Flink managed memory for Python)"},
		{name: "env -1 falls through", env: map[string]string{EnvWorkerLimit: "-1"}, files: v2own,
			limit: gib, source: "cgroup memory.max (/sys/fs/cgroup/kubepods/pod1/ctr/memory.max)"},
		{name: "env 0 falls through", env: map[string]string{EnvWorkerLimit: " 0 "}, limit: 0, source: "none"},
		{name: "bad env", env: map[string]string{EnvWorkerLimit: "400mb"}, files: v2own,
			wantErr: `_PYTHON_WORKER_MEMORY_LIMIT="400mb"`},
		{name: "garbage memory.max", files: map[string]string{
			"sys/fs/cgroup/memory.max": "lots\n",
		}, wantErr: `"lots" is not a number of bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeRoot(t, tc.files)
			limit, source, err := DetectLimit(tc.env[EnvWorkerLimit], root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if limit != tc.limit || source != tc.source {
				t.Errorf("DetectLimit = %d, %q; want %d, %q", limit, source, tc.limit, tc.source)
			}
		})
	}
}

func TestDetectLimitRealRoot(t *testing.T) {
	// The real machine: whatever it finds, it must not fail.
	limit, source, err := DetectLimit("", "")
	if err != nil {
		t.Fatal(err)
	}
	if (limit == 0) != (source == "none") {
		t.Errorf("limit %d with source %q", limit, source)
	}
	t.Logf("this machine: %d (%s)", limit, source)
}

func TestRSS(t *testing.T) {
	n, err := RSS()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if n < 1<<20 || n > 1<<40 {
		t.Errorf("RSS = %d, implausible", n)
	}
}

func TestGoLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	debug.SetMemoryLimit(math.MaxInt64)

	// GOMEMLIMIT set: left alone.
	got, set := GoLimit(true, 1<<30, 100<<20)
	if set || got != math.MaxInt64 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT: %d, %v; runtime %d", got, set, debug.SetMemoryLimit(-1))
	}
	// No budget: left alone.
	if got, set := GoLimit(false, 0, 0); set || got != math.MaxInt64 {
		t.Errorf("no budget: %d, %v", got, set)
	}
	// Budget less native.
	got, set = GoLimit(false, 1<<30, 300<<20)
	if !set || got != 1<<30-300<<20 || debug.SetMemoryLimit(-1) != got {
		t.Errorf("budget: %d, %v; runtime %d", got, set, debug.SetMemoryLimit(-1))
	}
	// Never below 32 MiB.
	got, set = GoLimit(false, 100<<20, 90<<20)
	if !set || got != 32<<20 || debug.SetMemoryLimit(-1) != 32<<20 {
		t.Errorf("floor: %d, %v; runtime %d", got, set, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(math.MaxInt64)
}

// The peak follows a large allocation and starts anew after a reset.
func TestPeakRSS(t *testing.T) {
	if err := ResetPeakRSS(); err != nil {
		t.Skip(err)
	}
	base, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	peak, _ := PeakRSS()
	if peak < base+60<<20 {
		t.Fatalf("peak %d after touching 64 MiB, base %d", peak, base)
	}
	runtime.KeepAlive(buf)
	if p, err := ProcessPeakRSS(os.Getpid()); err != nil || p < peak {
		t.Fatalf("ProcessPeakRSS = %d, %v; PeakRSS %d", p, err, peak)
	}
}
