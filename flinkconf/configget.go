package flinkconf

import (
	"fmt"
	"math"
	"strings"
)

// Typed reads of options, reproducing Configuration.get/getOptional and
// ConfigurationUtils.convert*: a conversion failure is reported as
// "Could not parse value '<raw>' for key '<option key>'." with the cause.

func parseFailure(raw Value, key string, cause error) error {
	return newErr(ClassIllegalArgument, fmt.Sprintf("Could not parse value '%s' for key '%s'.", raw.Text, key), cause)
}

func (c *Config) contains(key string, fallbacks ...string) bool {
	_, ok := c.lookup(key, fallbacks, false)
	return ok
}

func (c *Config) containsMem(o memOption) bool { return c.contains(o.key, o.fallbacks...) }

func (c *Config) containsFloat(o floatOption) bool { return c.contains(o.key, o.fallbacks...) }

// memory returns the option's value; set is false when neither the key nor
// a fallback key is present.
func (c *Config) memory(o memOption) (m MemorySize, set bool, err error) {
	k, ok := c.lookup(o.key, o.fallbacks, false)
	if !ok {
		return 0, false, nil
	}
	raw := c.data[k]
	m, err = ParseMemorySize(raw.Text)
	if err != nil {
		return 0, true, parseFailure(raw, o.key, err)
	}
	return m, true, nil
}

// memorySizeFromConfig is ProcessMemoryUtils.getMemorySizeFromConfig.
func (c *Config) memorySizeFromConfig(o memOption) (MemorySize, error) {
	m, set, err := c.memory(o)
	if err == nil && !set {
		if o.hasDefault {
			return o.def, nil
		}
		err = newErr(ClassNullPointer, "The memory option is not set and has no default value.", nil)
	}
	if err != nil {
		return 0, configErr("Cannot read memory size from config option '"+o.key+"'.", err)
	}
	return m, nil
}

// floatValue reads a Float option, widened to double as Flink uses it.
func (c *Config) floatValue(o floatOption) (float64, error) {
	k, ok := c.lookup(o.key, o.fallbacks, false)
	if !ok {
		return float64(o.def), nil
	}
	raw := c.data[k]
	f, err := convertToFloat(raw)
	if err != nil {
		return 0, parseFailure(raw, o.key, err)
	}
	return float64(f), nil
}

func convertToFloat(v Value) (float32, error) {
	if v.Type == TypeDouble {
		d := v.Float
		const minF, maxF = math.SmallestNonzeroFloat32, math.MaxFloat32
		if d == 0 || (d >= minF && d <= maxF) || (d >= -maxF && d <= -minF) {
			return float32(d), nil
		}
		return 0, argErr(fmt.Sprintf("Configuration value %s overflows/underflows the float type.", javaDouble(d)))
	}
	f, err := parseJavaFloating(v.Text, 32)
	return float32(f), err
}

// doubleValue reads a Double option; ok is false when absent.
func (c *Config) doubleOption(key string) (d float64, ok bool, err error) {
	raw, ok := c.data[key]
	if !ok {
		return 0, false, nil
	}
	if raw.Type == TypeDouble {
		return raw.Float, true, nil
	}
	d, err = parseJavaFloating(raw.Text, 64)
	if err != nil {
		return 0, true, parseFailure(raw, key, err)
	}
	return d, true, nil
}

// intOption reads an Integer option with its default.
func (c *Config) intOption(key string, def int32) (int32, error) {
	raw, ok := c.data[key]
	if !ok {
		return def, nil
	}
	switch raw.Type {
	case TypeInteger:
		return int32(raw.Int), nil
	case TypeLong:
		return 0, parseFailure(raw, key, argErr(fmt.Sprintf("Configuration value %d overflows/underflows the integer type.", raw.Int)))
	}
	i, err := parseJavaInt(raw.Text)
	if err != nil {
		return 0, parseFailure(raw, key, err)
	}
	return i, nil
}

// boolOption reads a Boolean option with its default.
func (c *Config) boolOption(key string, def bool) (bool, error) {
	raw, ok := c.data[key]
	if !ok {
		return def, nil
	}
	if raw.Type == TypeBoolean {
		return raw.Text == "true", nil
	}
	switch strings.ToUpper(raw.Text) {
	case "TRUE":
		return true, nil
	case "FALSE":
		return false, nil
	}
	return false, parseFailure(raw, key, argErr(fmt.Sprintf(
		"Unrecognized option for boolean: %s. Expected either true or false(case insensitive)", raw.Text)))
}

// memoryOr reads an optional MemorySize option that is not part of Flink's
// process model (e.g. flinkfn's Python options), with a default.
func (c *Config) memoryOr(key string, def MemorySize) (MemorySize, error) {
	m, set, err := c.memory(memOption{key: key})
	if err != nil {
		return 0, err
	}
	if !set {
		return def, nil
	}
	return m, nil
}
