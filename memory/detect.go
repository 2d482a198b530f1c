package memory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Environment variables this package's inputs come from (the command's
// configuration reads them; this package reads no environment).
const (
	// EnvWorkerLimit is the limit Flink exports to each Python worker: the
	// slot's managed memory for Python, in bytes.
	EnvWorkerLimit = "_PYTHON_WORKER_MEMORY_LIMIT"
	// EnvGoMemLimit is the Go runtime's own soft memory limit setting.
	EnvGoMemLimit = "GOMEMLIMIT"
)

// Sources DetectLimit reports.
const (
	SourceFlink = EnvWorkerLimit + " (Flink managed memory for Python)"
	SourceNone  = "none"
)

// cgroup v1 reports "no limit" as a huge page-aligned number.
const v1Unlimited = 1 << 60

// minGoLimit is the lowest soft limit GoLimit sets.
const minGoLimit = 32 << 20

// DetectLimit finds the budget when no explicit limit is given: first
// workerLimit, the value of _PYTHON_WORKER_MEMORY_LIMIT ("" when unset;
// decimal bytes; <= 0 means none), then the
// cgroup limit: v2 memory.max of the process's own cgroup and its
// ancestors below <root>/sys/fs/cgroup (the smallest wins; "max" is none),
// then v1 memory.limit_in_bytes likewise below
// <root>/sys/fs/cgroup/memory (values >= 2^60 are none). A cgroup limit at
// or above the physical memory (<root>/proc/meminfo) is none too. It
// returns 0, "none" when nothing limits the worker. root "" means "/".
func DetectLimit(workerLimit, root string) (int64, string, error) {
	if root == "" {
		root = "/"
	}
	if v := strings.TrimSpace(workerLimit); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("memory: %s=%q is not a decimal number of bytes: %w", EnvWorkerLimit, v, err)
		}
		if n > 0 {
			return n, SourceFlink, nil
		}
	}
	phys := physicalMemory(root)
	own := ownCgroups(root)
	for _, h := range []struct {
		base, file, controller string
	}{
		{"sys/fs/cgroup", "memory.max", ""},
		{"sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory"},
	} {
		n, src, err := cgroupLimit(root, h.base, h.file, own[h.controller], phys)
		if err != nil || n > 0 {
			return n, src, err
		}
	}
	return 0, SourceNone, nil
}

// ownCgroups reads <root>/proc/self/cgroup: the v2 path under key "" and
// the v1 memory controller's path under "memory".
func ownCgroups(root string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			out[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				out["memory"] = f[2]
			}
		}
	}
	return out
}

// cgroupLimit reads file in the cgroup directory own (relative to
// root/base) and in each ancestor up to root/base, returning the smallest
// limit found and a source naming its file.
func cgroupLimit(root, base, file, own string, phys int64) (int64, string, error) {
	top := filepath.Join(root, base)
	dir := filepath.Join(top, filepath.FromSlash(own))
	if dir != top && !strings.HasPrefix(dir, top+string(filepath.Separator)) {
		dir = top // a path escaping the hierarchy: use the root file only
	}
	var best int64
	var bestFile string
	for {
		p := filepath.Join(dir, file)
		n, err := readCgroupValue(p, phys)
		if err != nil {
			return 0, "", err
		}
		if n > 0 && (best == 0 || n < best) {
			best, bestFile = n, p
		}
		if dir == top {
			break
		}
		dir = filepath.Dir(dir)
	}
	if best == 0 {
		return 0, "", nil
	}
	shown := bestFile
	if rel, err := filepath.Rel(root, bestFile); err == nil {
		shown = "/" + filepath.ToSlash(rel)
	}
	return best, fmt.Sprintf("cgroup %s (%s)", file, shown), nil
}

// readCgroupValue reads one limit file: 0 when it is missing or says
// there is no limit.
func readCgroupValue(p string, phys int64) (int64, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memory: cgroup limit: %w", err)
	}
	v := strings.TrimSpace(string(data))
	if v == "max" || v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory: cgroup limit %s: %q is not a number of bytes: %w", p, v, err)
	}
	if n <= 0 || n >= v1Unlimited || (phys > 0 && n >= phys) {
		return 0, nil
	}
	return n, nil
}

// physicalMemory is MemTotal from <root>/proc/meminfo, 0 if unknown.
func physicalMemory(root string) int64 {
	data, err := os.ReadFile(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// RSS is this process's resident set size from /proc/self/statm.
func RSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("memory: resident set size: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, fmt.Errorf("memory: resident set size: /proc/self/statm is %q", data)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory: resident set size: /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// GoLimit sets the Go runtime's soft memory limit to budget - native
// (native is memory outside the Go heap, e.g. the ONNX model), never below
// 32 MiB. It leaves the limit alone when userSet (GOMEMLIMIT is set: the
// runtime already follows it) or budget <= 0. It returns the runtime's
// limit afterwards and whether GoLimit set it.
func GoLimit(userSet bool, budget, native int64) (int64, bool) {
	if budget <= 0 || userSet {
		return debug.SetMemoryLimit(-1), false
	}
	limit := budget - max(native, 0)
	if limit < minGoLimit {
		limit = minGoLimit
	}
	debug.SetMemoryLimit(limit)
	return limit, true
}

// ResetPeakRSS starts a new peak: the kernel's high-water mark of this
// process's RSS (VmHWM) is set to the current RSS. It fails where
// /proc/self/clear_refs is not writable; PeakRSS then reports the peak
// since the process started.
func ResetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("memory: reset the RSS high-water mark: %w", err)
	}
	return nil
}

// PeakRSS is this process's RSS high-water mark (VmHWM in
// /proc/self/status) since it started or since the last ResetPeakRSS.
func PeakRSS() (int64, error) {
	return statusKB("/proc/self/status", "VmHWM:")
}

// ProcessPeakRSS is PeakRSS of another process.
func ProcessPeakRSS(pid int) (int64, error) {
	return statusKB(fmt.Sprintf("/proc/%d/status", pid), "VmHWM:")
}

func statusKB(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("memory: %s %s: %w", path, key, err)
				}
				return kb << 10, nil
			}
		}
	}
	return 0, fmt.Errorf("memory: %s has no %s line", path, key)
}
