package flinkconf

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ContainerLimit is a service's memory limit from a docker-compose file.
type ContainerLimit struct {
	File    string `json:"file"`
	Service string `json:"service"`
	// Set is false when the service has no memory limit at all.
	Set bool `json:"set"`
	// Raw is the limit as written ("12G"); Bytes its value in compose units.
	Raw   string     `json:"raw,omitempty"`
	Bytes MemorySize `json:"bytes,omitempty"`
	// Source is "deploy.resources.limits.memory" or "mem_limit".
	Source   string   `json:"source,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// composeSize is docker/go-units RAMInBytes, which compose uses for byte
// values: binary units b, k, m, g, t, p, optional "i" and "b", any case,
// decimals allowed ("1.5g"), truncated to whole bytes. Note that compose's
// "12G" is 12 GiB, like Flink's "12g", while Kubernetes' "12G" is 12×10⁹.
var composeSize = regexp.MustCompile(`^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`)

// ParseComposeMemory parses a compose byte value.
func ParseComposeMemory(s string) (MemorySize, error) {
	m := composeSize.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid compose memory size %q", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid compose memory size %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[strings.ToLower(m[2])]
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("compose memory size %q overflows", s)
	}
	return MemorySize(int64(v)), nil
}

// LoadComposeLimit reads service's memory limit from a docker-compose file:
// deploy.resources.limits.memory, else mem_limit. A service without either
// is returned with Set false (and a warning); an unknown service is an error.
func LoadComposeLimit(path, service string) (*ContainerLimit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	return ParseComposeLimit(data, path, service)
}

// ParseComposeLimit is LoadComposeLimit on file contents.
func ParseComposeLimit(data []byte, file, service string) (*ContainerLimit, error) {
	var doc struct {
		Services map[string]struct {
			MemLimit any `yaml:"mem_limit"`
			Deploy   struct {
				Resources struct {
					Limits struct {
						Memory any `yaml:"memory"`
					} `yaml:"limits"`
				} `yaml:"resources"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse compose file %s: %w", file, err)
	}
	svc, ok := doc.Services[service]
	if !ok {
		names := make([]string, 0, len(doc.Services))
		for n := range doc.Services {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("compose file %s has no service %q (services: %s)", file, service, strings.Join(names, ", "))
	}
	out := &ContainerLimit{File: file, Service: service}
	deploy, hasDeploy := composeScalar(svc.Deploy.Resources.Limits.Memory)
	memLimit, hasMemLimit := composeScalar(svc.MemLimit)
	switch {
	case hasDeploy:
		out.Raw, out.Source = deploy, "deploy.resources.limits.memory"
	case hasMemLimit:
		out.Raw, out.Source = memLimit, "mem_limit"
	default:
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"service %q has no memory limit (deploy.resources.limits.memory or mem_limit): the TaskManager and its workers can use all of the host's memory, and the host's OOM killer, not Flink's plan, decides what dies", service))
		return out, nil
	}
	b, err := ParseComposeMemory(out.Raw)
	if err != nil {
		return nil, fmt.Errorf("service %q %s: %w", service, out.Source, err)
	}
	out.Set, out.Bytes = true, b
	if hasDeploy && hasMemLimit {
		if mb, err := ParseComposeMemory(memLimit); err == nil && mb != b {
			out.Warnings = append(out.Warnings, fmt.Sprintf("service %q sets both mem_limit (%s) and deploy.resources.limits.memory (%s); using the latter", service, memLimit, deploy))
		}
	}
	return out, nil
}

func composeScalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, x != ""
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return fmt.Sprint(v), true
}
