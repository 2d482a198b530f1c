package flinkconf

import "fmt"

// rangeFraction is Flink's RangeFraction: a fraction of some base, capped
// to [min, max].
type rangeFraction struct {
	min, max MemorySize
	fraction float64 // a Java float widened to double
}

// getRangeFraction is ProcessMemoryUtils.getRangeFraction.
func (c *Config) getRangeFraction(min, max MemorySize, o floatOption) (rangeFraction, error) {
	f, err := c.floatValue(o)
	if err != nil {
		return rangeFraction{}, err
	}
	var cause error
	switch {
	case min > max:
		cause = argErr("min value must be less or equal to max value")
	case !(f >= 0 && f < 1):
		cause = argErr("fraction must be in range [0, 1)")
	}
	if cause != nil {
		return rangeFraction{}, configErr(fmt.Sprintf("Inconsistently configured %s (%s) and its min (%s), max (%s) value",
			o, javaDouble(f), min.HumanReadable(), max.HumanReadable()), cause)
	}
	return rangeFraction{min: min, max: max, fraction: f}, nil
}

// deriveWithFraction caps base×fraction to the range.
func deriveWithFraction(base MemorySize, rf rangeFraction) (MemorySize, error) {
	rel, err := base.Multiply(rf.fraction)
	if err != nil {
		return 0, err
	}
	return capToMinMax(rel, rf), nil
}

// deriveWithInverseFraction caps base×fraction/(1−fraction) to the range.
func deriveWithInverseFraction(base MemorySize, rf rangeFraction) (MemorySize, error) {
	rel, err := base.Multiply(rf.fraction / (1 - rf.fraction))
	if err != nil {
		return 0, err
	}
	return capToMinMax(rel, rf), nil
}

func capToMinMax(v MemorySize, rf rangeFraction) MemorySize {
	if v > rf.max {
		return rf.max
	}
	if v < rf.min {
		return rf.min
	}
	return v
}

// sum adds sizes with Math.addExact semantics.
func sum(parts ...MemorySize) (MemorySize, error) {
	var total MemorySize
	for _, p := range parts {
		var err error
		if total, err = total.Add(p); err != nil {
			return 0, err
		}
	}
	return total, nil
}
