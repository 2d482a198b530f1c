package flinkconf

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// MemorySize is a non-negative number of bytes, Flink's MemorySize.
type MemorySize int64

// Binary units as Flink uses them ("m" is MiB, "g" is GiB).
const (
	KiB MemorySize = 1 << 10
	MiB MemorySize = 1 << 20
	GiB MemorySize = 1 << 30
	TiB MemorySize = 1 << 40

	// MaxMemorySize is Flink's MemorySize.MAX_VALUE (Long.MAX_VALUE bytes).
	MaxMemorySize MemorySize = math.MaxInt64
)

type memoryUnit struct {
	labels     []string
	multiplier int64
}

var memoryUnits = [...]memoryUnit{
	{[]string{"b", "bytes"}, 1},
	{[]string{"k", "kb", "kibibytes"}, 1 << 10},
	{[]string{"m", "mb", "mebibytes"}, 1 << 20},
	{[]string{"g", "gb", "gibibytes"}, 1 << 30},
	{[]string{"t", "tb", "tebibytes"}, 1 << 40},
}

const allMemoryUnits = "(b | bytes) / (k | kb | kibibytes) / (m | mb | mebibytes) / " +
	"(g | gb | gibibytes) / (t | tb | tebibytes)"

// ParseMemorySize parses text exactly like Flink's MemorySize.parse: a
// non-negative integer, optional whitespace and an optional binary unit
// (b, k, m, g, t with their long forms, case-insensitive); no unit means
// bytes. Decimals, signs and SI/Kubernetes units (Gi, GiB) are rejected with
// Flink's messages.
func ParseMemorySize(text string) (MemorySize, error) {
	trimmed := javaTrim(text)
	if trimmed == "" {
		return 0, argErr("argument is an empty- or whitespace-only string")
	}
	pos := 0
	for pos < len(trimmed) && trimmed[pos] >= '0' && trimmed[pos] <= '9' {
		pos++
	}
	number := trimmed[:pos]
	unit := strings.ToLower(javaTrim(trimmed[pos:]))
	if number == "" {
		return 0, numberFormatErr("text does not start with a number")
	}
	value, err := strconv.ParseInt(number, 10, 64)
	if err != nil {
		return 0, argErr("The value '" + number +
			"' cannot be re represented as 64bit number (numeric overflow).")
	}
	multiplier := int64(1)
	if unit != "" {
		found := false
		for _, u := range memoryUnits {
			for _, l := range u.labels {
				if l == unit {
					multiplier, found = u.multiplier, true
				}
			}
		}
		if !found {
			return 0, argErr("Memory size unit '" + unit +
				"' does not match any of the recognized units: " + allMemoryUnits)
		}
	}
	result := value * multiplier // wraps like Java's long multiplication
	if result/multiplier != value {
		return 0, argErr("The value '" + text +
			"' cannot be re represented as 64bit number of bytes (numeric overflow).")
	}
	return MemorySize(result), nil
}

// MustParseMemorySize is ParseMemorySize for constants; it panics on error.
func MustParseMemorySize(text string) MemorySize {
	m, err := ParseMemorySize(text)
	if err != nil {
		panic(err)
	}
	return m
}

// Bytes returns the size in bytes.
func (m MemorySize) Bytes() int64 { return int64(m) }

// HumanReadable renders the size like Flink's toHumanReadableString, e.g.
// "1.200gb (1288490208 bytes)" or "512 bytes"; this is the form in Flink's
// log lines and error messages.
func (m MemorySize) HumanReadable() string {
	b := int64(m)
	idx := -1
	for i, u := range memoryUnits {
		if b > u.multiplier {
			idx = i
		}
	}
	if idx <= 0 {
		return fmt.Sprintf("%d bytes", b)
	}
	u := memoryUnits[idx]
	return fmt.Sprintf("%s%s (%d bytes)", javaFixed3(float64(b)/float64(u.multiplier)), u.labels[1], b)
}

// String renders the size like Flink's MemorySize.toString: the largest
// unit that divides it exactly, e.g. "128 mb", "0 bytes", "1 gb".
func (m MemorySize) String() string {
	b := int64(m)
	unit := memoryUnits[0]
	for i, u := range memoryUnits {
		if b%u.multiplier != 0 {
			if i > 0 {
				unit = memoryUnits[i-1]
			}
			break
		}
		if i == len(memoryUnits)-1 {
			unit = memoryUnits[0] // Flink's quirk: divisible by every unit → bytes
		}
	}
	return fmt.Sprintf("%d %s", b/unit.multiplier, unit.labels[1])
}

// FlinkString renders the size the way flinkfn suggests writing it in a
// Flink configuration: the largest exact binary unit, e.g. "512m", "3g",
// "4080218912b".
func (m MemorySize) FlinkString() string {
	b := int64(m)
	for i := len(memoryUnits) - 1; i >= 1; i-- {
		u := memoryUnits[i]
		if b != 0 && b%u.multiplier == 0 {
			return strconv.FormatInt(b/u.multiplier, 10) + u.labels[0]
		}
	}
	return strconv.FormatInt(b, 10) + "b"
}

// Add returns m+o; it fails with "long overflow" like Math.addExact.
func (m MemorySize) Add(o MemorySize) (MemorySize, error) {
	s := m + o
	if (s > m) != (o > 0) {
		return 0, overflowErr()
	}
	return s, nil
}

// Sub returns m-o; a negative result fails like Flink's constructor.
func (m MemorySize) Sub(o MemorySize) (MemorySize, error) {
	s := m - o
	if (s < m) != (o > 0) {
		return 0, overflowErr()
	}
	if s < 0 {
		return 0, argErr("bytes must be >= 0")
	}
	return s, nil
}

// Multiply returns m×f truncated toward zero, computed like Flink's
// MemorySize.multiply: BigDecimal.valueOf(bytes) × BigDecimal.valueOf(f),
// where BigDecimal.valueOf(double) uses the decimal string of the double.
func (m MemorySize) Multiply(f float64) (MemorySize, error) {
	if f < 0 {
		return 0, argErr("multiplier must be >= 0")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, numberFormatErr("Infinite or NaN")
	}
	r, ok := new(big.Rat).SetString(javaDouble(f))
	if !ok {
		return 0, numberFormatErr("Infinite or NaN")
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(m)))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if q.Cmp(big.NewInt(math.MaxInt64)) > 0 {
		return 0, overflowErr()
	}
	return MemorySize(q.Int64()), nil
}

// Divide returns m/n (integer division), as Flink divides a TaskManager's
// memory among its slots.
func (m MemorySize) Divide(n int64) MemorySize {
	if n <= 0 {
		return 0
	}
	return m / MemorySize(n)
}
