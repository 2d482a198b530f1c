package flinkconf

import (
	"sort"
	"strings"
)

// Config is a flattened Flink configuration: keys as Flink stores them
// ("taskmanager.memory.process.size") with values typed as Flink holds them.
type Config struct {
	data  map[string]Value
	order []string
	// Source describes where the configuration came from (file path).
	Source string
	// Warnings are the messages Flink would log while reading the file
	// (skipped legacy lines, an ignored flink-conf.yaml, ...).
	Warnings []string
}

// NewConfig returns an empty configuration.
func NewConfig() *Config { return &Config{data: map[string]Value{}} }

func (c *Config) setValue(key string, v Value) {
	if _, ok := c.data[key]; !ok {
		c.order = append(c.order, key)
	}
	c.data[key] = v
}

// Set stores a string value, like a dynamic property -Dkey=value or
// Configuration.setString.
func (c *Config) Set(key, value string) { c.setValue(key, StringValue(value)) }

// SetValue stores a typed value.
func (c *Config) SetValue(key string, v Value) { c.setValue(key, v) }

// Remove deletes key (and nothing else).
func (c *Config) Remove(key string) {
	if _, ok := c.data[key]; !ok {
		return
	}
	delete(c.data, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
}

// Clone returns an independent copy.
func (c *Config) Clone() *Config {
	n := NewConfig()
	n.Source = c.Source
	n.Warnings = append([]string(nil), c.Warnings...)
	for _, k := range c.order {
		n.setValue(k, c.data[k])
	}
	return n
}

// AddAll copies every entry of o into c, o winning (Configuration.addAll).
func (c *Config) AddAll(o *Config) {
	for _, k := range o.order {
		c.setValue(k, o.data[k])
	}
}

// Get returns the raw value stored under exactly key.
func (c *Config) Get(key string) (Value, bool) {
	v, ok := c.data[key]
	return v, ok
}

// Keys returns the keys in sorted order.
func (c *Config) Keys() []string {
	keys := append([]string(nil), c.order...)
	sort.Strings(keys)
	return keys
}

// Len is the number of entries.
func (c *Config) Len() int { return len(c.data) }

func (c *Config) hasPrefix(key string) bool {
	p := key + "."
	for k := range c.data {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// lookup finds the key an option is read from: its own key, then its
// fallback keys in order (Configuration.applyWithOption). prefixMap makes
// "<key>.<sub>" entries count for map options.
func (c *Config) lookup(key string, fallbacks []string, prefixMap bool) (string, bool) {
	for _, k := range append([]string{key}, fallbacks...) {
		if _, ok := c.data[k]; ok {
			return k, true
		}
		if prefixMap && c.hasPrefix(k) {
			return k, true
		}
	}
	return "", false
}

// prefixed collects "<key>.<sub>" entries as a map sub → value text.
func (c *Config) prefixed(key string) map[string]string {
	out := map[string]string{}
	p := key + "."
	for k, v := range c.data {
		if strings.HasPrefix(k, p) {
			out[k[len(p):]] = v.Text
		}
	}
	return out
}
