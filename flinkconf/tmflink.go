package flinkconf

import "fmt"

// TMFlinkMemory is the Flink-internal part of a TaskManager
// (TaskExecutorFlinkMemory).
type TMFlinkMemory struct {
	FrameworkHeap    MemorySize `json:"framework_heap"`
	FrameworkOffHeap MemorySize `json:"framework_off_heap"`
	TaskHeap         MemorySize `json:"task_heap"`
	TaskOffHeap      MemorySize `json:"task_off_heap"`
	Network          MemorySize `json:"network"`
	Managed          MemorySize `json:"managed"`
}

// Total is the Total Flink Memory.
func (m TMFlinkMemory) Total() (MemorySize, error) {
	return sum(m.FrameworkHeap, m.FrameworkOffHeap, m.TaskHeap, m.TaskOffHeap, m.Network, m.Managed)
}

// tmFlinkDeriver is TaskExecutorFlinkMemoryUtils.
type tmFlinkDeriver struct{}

type tmFixed struct{ fwHeap, fwOff, taskOff MemorySize }

func readTMFixed(c *Config) (tmFixed, error) {
	var f tmFixed
	var err error
	if f.fwHeap, err = c.memorySizeFromConfig(tmFwHeap); err != nil {
		return f, err
	}
	if f.fwOff, err = c.memorySizeFromConfig(tmFwOffHeap); err != nil {
		return f, err
	}
	f.taskOff, err = c.memorySizeFromConfig(tmTaskOff)
	return f, err
}

func (tmFlinkDeriver) fromFineGrained(c *Config) (TMFlinkMemory, MemorySize, error) {
	var m TMFlinkMemory
	var err error
	if m.TaskHeap, err = c.memorySizeFromConfig(tmTaskHeap); err != nil {
		return m, 0, err
	}
	if m.Managed, err = c.memorySizeFromConfig(tmManaged); err != nil {
		return m, 0, err
	}
	fixed, err := readTMFixed(c)
	if err != nil {
		return m, 0, err
	}
	m.FrameworkHeap, m.FrameworkOffHeap, m.TaskOffHeap = fixed.fwHeap, fixed.fwOff, fixed.taskOff
	rest, err := sum(m.FrameworkHeap, m.FrameworkOffHeap, m.TaskHeap, m.TaskOffHeap, m.Managed)
	if err != nil {
		return m, 0, err
	}
	if c.containsMem(tmFlink) {
		totalFlink, err := c.memorySizeFromConfig(tmFlink)
		if err != nil {
			return m, 0, err
		}
		if rest > totalFlink {
			return m, 0, errExceedWithTaskHeap(m, totalFlink)
		}
		m.Network = totalFlink - rest
		if err := checkNetworkRemainder(c, m.Network); err != nil {
			return m, 0, err
		}
	} else {
		rf, err := networkRangeFraction(c)
		if err != nil {
			return m, 0, err
		}
		if m.Network, err = deriveWithInverseFraction(rest, rf); err != nil {
			return m, 0, err
		}
	}
	total, err := m.Total()
	if err != nil {
		return m, 0, err
	}
	if err := checkTotalFlink(c, m, total); err != nil {
		return m, 0, err
	}
	return m, total, nil
}

func (tmFlinkDeriver) fromTotalFlink(c *Config, totalFlink MemorySize) (TMFlinkMemory, error) {
	var m TMFlinkMemory
	fixed, err := readTMFixed(c)
	if err != nil {
		return m, err
	}
	m.FrameworkHeap, m.FrameworkOffHeap, m.TaskOffHeap = fixed.fwHeap, fixed.fwOff, fixed.taskOff
	if c.containsMem(tmTaskHeap) {
		if m.TaskHeap, err = c.memorySizeFromConfig(tmTaskHeap); err != nil {
			return m, err
		}
		if m.Managed, err = managedAbsoluteOrFraction(c, totalFlink); err != nil {
			return m, err
		}
		rest, err := sum(m.FrameworkHeap, m.FrameworkOffHeap, m.TaskHeap, m.TaskOffHeap, m.Managed)
		if err != nil {
			return m, err
		}
		if rest > totalFlink {
			return m, errExceedWithTaskHeap(m, totalFlink)
		}
		m.Network = totalFlink - rest
		if err := checkNetworkRemainder(c, m.Network); err != nil {
			return m, err
		}
	} else {
		if m.Managed, err = managedAbsoluteOrFraction(c, totalFlink); err != nil {
			return m, err
		}
		rf, err := networkRangeFraction(c)
		if err != nil {
			return m, err
		}
		if m.Network, err = deriveWithFraction(totalFlink, rf); err != nil {
			return m, err
		}
		rest, err := sum(m.FrameworkHeap, m.FrameworkOffHeap, m.TaskOffHeap, m.Managed, m.Network)
		if err != nil {
			return m, err
		}
		if rest > totalFlink {
			return m, configErr(fmt.Sprintf(
				"Sum of configured Framework Heap Memory (%s), Framework Off-Heap Memory (%s), Task Off-Heap Memory (%s), Managed Memory (%s) and Network Memory (%s) exceed configured Total Flink Memory (%s).",
				m.FrameworkHeap.HumanReadable(), m.FrameworkOffHeap.HumanReadable(), m.TaskOffHeap.HumanReadable(),
				m.Managed.HumanReadable(), m.Network.HumanReadable(), totalFlink.HumanReadable()), nil)
		}
		m.TaskHeap = totalFlink - rest
	}
	total, err := m.Total()
	if err != nil {
		return m, err
	}
	return m, checkTotalFlink(c, m, total)
}

func errExceedWithTaskHeap(m TMFlinkMemory, totalFlink MemorySize) error {
	return configErr(fmt.Sprintf(
		"Sum of configured Framework Heap Memory (%s), Framework Off-Heap Memory (%s), Task Heap Memory (%s), Task Off-Heap Memory (%s) and Managed Memory (%s) exceed configured Total Flink Memory (%s).",
		m.FrameworkHeap.HumanReadable(), m.FrameworkOffHeap.HumanReadable(), m.TaskHeap.HumanReadable(),
		m.TaskOffHeap.HumanReadable(), m.Managed.HumanReadable(), totalFlink.HumanReadable()), nil)
}

func managedAbsoluteOrFraction(c *Config, base MemorySize) (MemorySize, error) {
	if c.containsMem(tmManaged) {
		return c.memorySizeFromConfig(tmManaged)
	}
	rf, err := c.getRangeFraction(0, MaxMemorySize, tmManagedFraction)
	if err != nil {
		return 0, err
	}
	return deriveWithFraction(base, rf)
}

func networkRangeFraction(c *Config) (rangeFraction, error) {
	min, err := c.memorySizeFromConfig(tmNetMin)
	if err != nil {
		return rangeFraction{}, err
	}
	max, err := c.memorySizeFromConfig(tmNetMax)
	if err != nil {
		return rangeFraction{}, err
	}
	return c.getRangeFraction(min, max, tmNetFraction)
}

// checkNetworkRemainder is sanityCheckNetworkMemoryWithExplicitlySetTotalFlinkAndHeapMemory:
// configuration errors of the network check are wrapped.
func checkNetworkRemainder(c *Config, network MemorySize) error {
	err := checkNetwork(c, network)
	if err != nil && IsConfigError(err) {
		if fe, ok := err.(*FlinkError); ok && fe.Class == ClassIllegalConfiguration {
			return configErr("If Total Flink, Task Heap and (or) Managed Memory sizes are explicitly configured then "+
				"the Network Memory size is the rest of the Total Flink memory after subtracting all other "+
				"configured types of memory, but the derived Network Memory is inconsistent with its configuration.", err)
		}
	}
	return err
}

func checkNetwork(c *Config, network MemorySize) error {
	rf, err := networkRangeFraction(c)
	if err != nil {
		return err
	}
	if network > rf.max || network < rf.min {
		return configErr(fmt.Sprintf("Derived Network Memory size (%s) is not in configured Network Memory range [%s, %s].",
			network.HumanReadable(), rf.min.HumanReadable(), rf.max.HumanReadable()), nil)
	}
	return nil
}

func checkTotalFlink(c *Config, m TMFlinkMemory, total MemorySize) error {
	if !c.containsMem(tmFlink) {
		return nil
	}
	configured, err := c.memorySizeFromConfig(tmFlink)
	if err != nil {
		return err
	}
	if configured == total {
		return nil
	}
	return configErr(fmt.Sprintf(
		"Configured and Derived Flink internal memory sizes (total %s) do not add up to the configured Total Flink Memory size (%s). "+
			"Configured and Derived Flink internal memory sizes are: Framework Heap Memory (%s), Framework Off-Heap Memory (%s), "+
			"Task Heap Memory (%s), Task Off-Heap Memory (%s), Network Memory (%s), Managed Memory (%s).",
		total.HumanReadable(), configured.HumanReadable(), m.FrameworkHeap.HumanReadable(), m.FrameworkOffHeap.HumanReadable(),
		m.TaskHeap.HumanReadable(), m.TaskOffHeap.HumanReadable(), m.Network.HumanReadable(), m.Managed.HumanReadable()), nil)
}
