package flinkconf

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a java.time.Duration: Flink durations may exceed the ±292
// years of time.Duration, so the full range is kept.
type Duration struct {
	Seconds int64 // may be any int64
	Nanos   int32 // 0 ≤ Nanos < 1e9
}

// Std converts d to a time.Duration; ok is false when it does not fit.
func (d Duration) Std() (time.Duration, bool) {
	const maxSec = math.MaxInt64 / int64(time.Second)
	if d.Seconds > maxSec || d.Seconds < -maxSec-1 {
		return 0, false
	}
	ns := d.Seconds*int64(time.Second) + int64(d.Nanos)
	if d.Seconds >= 0 && ns < 0 {
		return 0, false
	}
	return time.Duration(ns), true
}

const allDurationUnits = "DAYS: (d | day | days), HOURS: (h | hour | hours), " +
	"MINUTES: (min | m | minute | minutes), SECONDS: (s | sec | secs | second | seconds), " +
	"MILLISECONDS: (ms | milli | millis | millisecond | milliseconds), " +
	"MICROSECONDS: (µs | micro | micros | microsecond | microseconds), " +
	"NANOSECONDS: (ns | nano | nanos | nanosecond | nanoseconds)"

func durationUnit(label string) (int64, bool) {
	switch label {
	case "d", "day", "days":
		return 86400 * 1e9, true
	case "h", "hour", "hours":
		return 3600 * 1e9, true
	case "min", "m", "minute", "minutes":
		return 60 * 1e9, true
	case "s", "sec", "secs", "second", "seconds":
		return 1e9, true
	case "ms", "milli", "millis", "millisecond", "milliseconds":
		return 1e6, true
	case "µs", "micro", "micros", "microsecond", "microseconds":
		return 1e3, true
	case "ns", "nano", "nanos", "nanosecond", "nanoseconds":
		return 1, true
	}
	return 0, false
}

// ParseDuration parses text exactly like Flink's TimeUtils.parseDuration:
// a non-negative integer with an optional unit label (no label means
// milliseconds; "m" is minutes), or, when the text does not start with a
// digit, an ISO-8601 duration such as "PT1H30M" (negative ones rejected).
func ParseDuration(text string) (Duration, error) {
	trimmed := javaTrim(text)
	if trimmed == "" {
		return Duration{}, argErr("argument is an empty- or whitespace-only string")
	}
	pos := 0
	for pos < len(trimmed) && trimmed[pos] >= '0' && trimmed[pos] <= '9' {
		pos++
	}
	number := trimmed[:pos]
	label := strings.ToLower(javaTrim(trimmed[pos:]))
	if number == "" {
		d, ok := parseISODuration(trimmed)
		if !ok {
			return Duration{}, numberFormatErr("text does not start with a number, and is not a valid ISO-8601 duration format: " + trimmed)
		}
		if d.Seconds < 0 {
			return Duration{}, numberFormatErr("negative duration is not supported")
		}
		return d, nil
	}
	value, _ := new(big.Int).SetString(number, 10)
	unit := int64(1e6)
	if label != "" {
		u, ok := durationUnit(label)
		if !ok {
			return Duration{}, argErr("Time interval unit label '" + label +
				"' does not match any of the recognized units: " + allDurationUnits)
		}
		unit = u
	}
	nanos := value.Mul(value, big.NewInt(unit))
	sec, rem := new(big.Int).QuoRem(nanos, big.NewInt(1e9), new(big.Int))
	if !sec.IsInt64() {
		return Duration{}, newErr(ClassIllegalArgument, "The value '"+number+"' cannot be represented as Duration (numeric overflow).",
			newErr(ClassArithmetic, "BigInteger out of long range", nil))
	}
	return Duration{Seconds: sec.Int64(), Nanos: int32(rem.Int64())}, nil
}

// isoDurationPattern is java.time.Duration's parse pattern (ASCII
// case-insensitive letters, optional signs on every number).
var isoDurationPattern = regexp.MustCompile(`^([-+]?)[Pp](?:([-+]?[0-9]+)[Dd])?` +
	`([Tt](?:([-+]?[0-9]+)[Hh])?(?:([-+]?[0-9]+)[Mm])?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?[Ss])?)?$`)

// parseISODuration follows java.time.Duration.parse; ok is false wherever
// Java throws DateTimeParseException (bad syntax, a bare "T", overflow).
func parseISODuration(text string) (Duration, bool) {
	m := isoDurationPattern.FindStringSubmatchIndex(text)
	if m == nil {
		return Duration{}, false
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return text[m[2*i]:m[2*i+1]], true
	}
	if t, ok := group(3); ok && (t == "T" || t == "t") {
		return Duration{}, false
	}
	_, hasD := group(2)
	_, hasH := group(4)
	_, hasM := group(5)
	_, hasS := group(6)
	if !hasD && !hasH && !hasM && !hasS {
		return Duration{}, false
	}
	total := new(big.Int)
	for _, part := range []struct {
		group int
		mul   int64
	}{{2, 86400}, {4, 3600}, {5, 60}, {6, 1}} {
		s, ok := group(part.group)
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Duration{}, false
		}
		p := new(big.Int).Mul(big.NewInt(v), big.NewInt(part.mul))
		if !p.IsInt64() {
			return Duration{}, false
		}
		total.Add(total, p)
		if !total.IsInt64() { // Math.addExact
			return Duration{}, false
		}
	}
	var nanos int64
	if f, ok := group(7); ok && f != "" {
		v, _ := strconv.ParseInt(f, 10, 64)
		for i := len(f); i < 9; i++ {
			v *= 10
		}
		if s, _ := group(6); strings.HasPrefix(s, "-") {
			v = -v
		}
		nanos = v
	}
	// total seconds + nanos, then negate if the leading sign is '-'.
	exact := new(big.Int).Mul(total, big.NewInt(1e9))
	exact.Add(exact, big.NewInt(nanos))
	if sign, _ := group(1); sign == "-" {
		exact.Neg(exact)
	}
	sec, rem := new(big.Int).DivMod(exact, big.NewInt(1e9), new(big.Int))
	if !sec.IsInt64() {
		return Duration{}, false
	}
	return Duration{Seconds: sec.Int64(), Nanos: int32(rem.Int64())}, true
}
