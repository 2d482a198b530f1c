package flinkconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names in $FLINK_CONF_DIR.
const (
	StandardConfigFile = "config.yaml"
	LegacyConfigFile   = "flink-conf.yaml"
)

// Version is a Flink release (major.minor); it decides which configuration
// file Flink reads.
type Version struct{ Major, Minor int }

// DefaultVersion is the Flink release this package derives memory for.
func DefaultVersion() Version { return Version{2, 3} }

func (v Version) atLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// LoadFile reads one configuration file. A file named flink-conf.yaml is
// read with the legacy flat parser, anything else as standard config.yaml.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Flink configuration: %w", err)
	}
	var cfg *Config
	if filepath.Base(path) == LegacyConfigFile {
		cfg = ParseLegacyConfig(data, path)
	} else if cfg, err = ParseConfigYAML(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Source = path
	return cfg, nil
}

// LoadDir reads $FLINK_CONF_DIR with the precedence of Flink version v:
//   - 2.0 and later: only config.yaml (a flink-conf.yaml next to it is
//     ignored by Flink; a warning says so);
//   - 1.19 and 1.20: flink-conf.yaml wins when it exists, else config.yaml;
//   - up to 1.18: only flink-conf.yaml.
//
// A missing file is Flink's "The Flink config file ... does not exist".
func LoadDir(dir string, v Version) (*Config, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, configErr(fmt.Sprintf("The given configuration directory name '%s' (%s) does not describe an existing directory.", dir, abs(dir)), err)
	}
	std := filepath.Join(dir, StandardConfigFile)
	legacy := filepath.Join(dir, LegacyConfigFile)
	hasStd, hasLegacy := exists(std), exists(legacy)
	var chosen string
	var warnings []string
	switch {
	case v.atLeast(2, 0):
		chosen = std
		if hasLegacy {
			warnings = append(warnings, fmt.Sprintf("%s is ignored by Flink %d.%d, which reads only %s", legacy, v.Major, v.Minor, StandardConfigFile))
		}
	case v.atLeast(1, 19):
		chosen = std
		if hasLegacy {
			chosen = legacy
			if hasStd {
				warnings = append(warnings, fmt.Sprintf("%s is ignored: Flink %d.%d reads %s when it exists", std, v.Major, v.Minor, LegacyConfigFile))
			}
		}
	default:
		chosen = legacy
	}
	if !exists(chosen) {
		return nil, configErr(fmt.Sprintf("The Flink config file '%s' (%s) does not exist.", chosen, abs(chosen)), nil)
	}
	cfg, err := LoadFile(chosen)
	if err != nil {
		return nil, err
	}
	cfg.Warnings = append(warnings, cfg.Warnings...)
	return cfg, nil
}

// LoadPath loads a file with LoadFile or a directory with LoadDir (DefaultVersion).
func LoadPath(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("Flink configuration: %w", err)
	}
	if st.IsDir() {
		return LoadDir(path, DefaultVersion())
	}
	return LoadFile(path)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
