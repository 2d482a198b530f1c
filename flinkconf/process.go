package flinkconf

import "fmt"

// metaspaceAndOverhead is Flink's JvmMetaspaceAndOverhead.
type metaspaceAndOverhead struct {
	metaspace, overhead MemorySize
}

// flinkMemoryDeriver derives the Flink-internal part of a process (TM or JM).
type flinkMemoryDeriver[FM any] interface {
	fromFineGrained(c *Config) (FM, MemorySize, error)
	fromTotalFlink(c *Config, totalFlink MemorySize) (FM, error)
}

// Path tells which of Flink's three derivations applied.
type Path string

// The three derivation paths of ProcessMemoryUtils.memoryProcessSpecFromConfig.
const (
	PathFineGrained  Path = "fine-grained" // TM: task heap + managed; JM: heap
	PathTotalFlink   Path = "total-flink"
	PathTotalProcess Path = "total-process"
)

// deriveProcess is ProcessMemoryUtils.memoryProcessSpecFromConfig.
func deriveProcess[FM any](c *Config, o processOptions, d flinkMemoryDeriver[FM]) (FM, metaspaceAndOverhead, Path, error) {
	var zero FM
	fine := true
	for _, f := range o.fineGrained {
		fine = fine && c.containsMem(f)
	}
	switch {
	case fine:
		fm, totalFlink, err := d.fromFineGrained(c)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathFineGrained, err
		}
		mo, err := metaspaceOverheadFromTotalFlink(c, o, totalFlink)
		return fm, mo, PathFineGrained, err
	case c.containsMem(o.totalFlink):
		totalFlink, err := c.memorySizeFromConfig(o.totalFlink)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathTotalFlink, err
		}
		fm, err := d.fromTotalFlink(c, totalFlink)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathTotalFlink, err
		}
		mo, err := metaspaceOverheadFromTotalFlink(c, o, totalFlink)
		return fm, mo, PathTotalFlink, err
	case c.containsMem(o.totalProcess):
		process, err := c.memorySizeFromConfig(o.totalProcess)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathTotalProcess, err
		}
		mo, err := metaspaceOverheadFromTotalProcess(c, o, process)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathTotalProcess, err
		}
		totalFlink, err := process.Sub(mo.metaspace + mo.overhead)
		if err != nil {
			return zero, metaspaceAndOverhead{}, PathTotalProcess, err
		}
		fm, err := d.fromTotalFlink(c, totalFlink)
		return fm, mo, PathTotalProcess, err
	}
	keys := make([]string, len(o.fineGrained))
	for i, f := range o.fineGrained {
		keys[i] = f.key
	}
	return zero, metaspaceAndOverhead{}, "", configErr(fmt.Sprintf(
		"Either required fine-grained memory (%s), or Total Flink Memory size (%s), or Total Process Memory size (%s) need to be configured explicitly.",
		joinAnd(keys), o.totalFlink, o.totalProcess), nil)
}

func joinAnd(keys []string) string {
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " and "
		}
		s += k
	}
	return s
}

func overheadRangeFraction(c *Config, o processOptions) (rangeFraction, error) {
	min, err := c.memorySizeFromConfig(o.overheadMin)
	if err != nil {
		return rangeFraction{}, err
	}
	max, err := c.memorySizeFromConfig(o.overheadMax)
	if err != nil {
		return rangeFraction{}, err
	}
	return c.getRangeFraction(min, max, o.overheadFrac)
}

// metaspaceOverheadFromTotalProcess: overhead is a capped fraction of the
// total process memory.
func metaspaceOverheadFromTotalProcess(c *Config, o processOptions, process MemorySize) (metaspaceAndOverhead, error) {
	meta, err := c.memorySizeFromConfig(o.metaspace)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	rf, err := overheadRangeFraction(c, o)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	overhead, err := deriveWithFraction(process, rf)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	both, err := meta.Add(overhead)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	if both > process {
		return metaspaceAndOverhead{}, configErr(fmt.Sprintf(
			"Sum of configured JVM Metaspace (%s) and JVM Overhead (%s) exceed configured Total Process Memory (%s).",
			meta.HumanReadable(), overhead.HumanReadable(), process.HumanReadable()), nil)
	}
	return metaspaceAndOverhead{meta, overhead}, nil
}

// metaspaceOverheadFromTotalFlink: with process.size the overhead is the
// remainder (and must lie in its range); without, it is the inverse
// fraction of total Flink + metaspace.
func metaspaceOverheadFromTotalFlink(c *Config, o processOptions, totalFlink MemorySize) (metaspaceAndOverhead, error) {
	meta, err := c.memorySizeFromConfig(o.metaspace)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	flinkAndMeta, err := totalFlink.Add(meta)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	if c.containsMem(o.totalProcess) {
		process, err := c.memorySizeFromConfig(o.totalProcess)
		if err != nil {
			return metaspaceAndOverhead{}, err
		}
		meta2, err := c.memorySizeFromConfig(o.metaspace)
		if err != nil {
			return metaspaceAndOverhead{}, err
		}
		if process < flinkAndMeta {
			return metaspaceAndOverhead{}, configErr(fmt.Sprintf(
				"The configured Total Process Memory size (%s) is less than the sum of the derived Total Flink Memory size (%s) and the configured or default JVM Metaspace size  (%s).",
				process.HumanReadable(), totalFlink.HumanReadable(), meta2.HumanReadable()), nil)
		}
		overhead, err := process.Sub(flinkAndMeta)
		if err != nil {
			return metaspaceAndOverhead{}, err
		}
		rf, err := overheadRangeFraction(c, o)
		if err != nil {
			return metaspaceAndOverhead{}, err
		}
		if overhead > rf.max || overhead < rf.min {
			return metaspaceAndOverhead{}, configErr(fmt.Sprintf(
				"Derived JVM Overhead size (%s) is not in configured JVM Overhead range [%s, %s].",
				overhead.HumanReadable(), rf.min.HumanReadable(), rf.max.HumanReadable()), nil)
		}
		return metaspaceAndOverhead{meta, overhead}, nil
	}
	rf, err := overheadRangeFraction(c, o)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	overhead, err := deriveWithInverseFraction(flinkAndMeta, rf)
	if err != nil {
		return metaspaceAndOverhead{}, err
	}
	return metaspaceAndOverhead{meta, overhead}, nil
}
