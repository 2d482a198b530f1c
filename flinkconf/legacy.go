package flinkconf

import (
	"fmt"
	"strings"
)

// ParseLegacyConfig reads a legacy flat flink-conf.yaml the way Flink's
// legacy parser does (ConfigurationFileMigrationUtils.loadLegacyYAMLResource,
// GlobalConfiguration before 2.0): line by line, everything after the first
// '#' is a comment, key and value split at the first ": ", both trimmed and
// kept as strings (quotes are not removed), the last duplicate wins. Lines
// it cannot split are skipped with a warning, so nested YAML is silently
// mis-keyed, as in Flink.
func ParseLegacyConfig(data []byte, name string) *Config {
	cfg := NewConfig()
	lines := splitJavaLines(string(data))
	for i, line := range lines {
		lineNo := i + 1
		conf, _, _ := strings.Cut(line, "#")
		conf = javaTrim(conf)
		if conf == "" {
			continue
		}
		key, value, ok := strings.Cut(conf, ": ")
		if !ok {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf(
				"Error while trying to split key and value in configuration file %s:%d: Line is not a key-value pair (missing space after ':'?)", name, lineNo))
			continue
		}
		key, value = javaTrim(key), javaTrim(value)
		if key == "" || value == "" {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf(
				"Error after splitting key and value in configuration file %s:%d: Key or value was empty", name, lineNo))
			continue
		}
		cfg.Set(key, value)
	}
	return cfg
}

// splitJavaLines splits like BufferedReader.readLine: "\n", "\r" or "\r\n".
func splitJavaLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}
