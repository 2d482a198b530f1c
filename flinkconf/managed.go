package flinkconf

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// UseCase is a managed-memory consumer kind (ManagedMemoryUseCase).
type UseCase string

// The managed memory use cases of Flink 2.x and their weight names in
// taskmanager.memory.managed.consumer-weights.
const (
	UseCaseOperator     UseCase = "OPERATOR"
	UseCaseStateBackend UseCase = "STATE_BACKEND"
	UseCasePython       UseCase = "PYTHON"
)

// ConsumerWeights are the effective weights; a use case missing from a
// configured map has weight 0 (a partial map does not merge with defaults).
type ConsumerWeights map[UseCase]int

// DefaultConsumerWeights is Flink's default OPERATOR:70, STATE_BACKEND:70, PYTHON:30.
func DefaultConsumerWeights() ConsumerWeights {
	return ConsumerWeights{UseCaseOperator: 70, UseCaseStateBackend: 70, UseCasePython: 30}
}

// consumerWeightsMap reads the map option as Configuration.get does: the
// exact key (a YAML flow map string, else the legacy "K:V,K:V" form), else
// the "<key>.<NAME>" entries, else the default.
func (c *Config) consumerWeightsMap() (map[string]string, error) {
	if raw, ok := c.data[KeyTMConsumerWeights]; ok {
		m, err := convertToProperties(raw.Text)
		if err != nil {
			return nil, parseFailure(raw, KeyTMConsumerWeights, err)
		}
		return m, nil
	}
	if c.hasPrefix(KeyTMConsumerWeights) {
		return c.prefixed(KeyTMConsumerWeights), nil
	}
	return map[string]string{"OPERATOR": "70", "STATE_BACKEND": "70", "PYTHON": "30"}, nil
}

func convertToProperties(s string) (map[string]string, error) {
	if m, ok := yamlStringMap(s); ok {
		return m, nil
	}
	items, err := splitEscaped(s, ',')
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, item := range items {
		kv, err := splitEscaped(item, ':')
		if err != nil {
			return nil, err
		}
		if len(kv) != 2 {
			return nil, argErr("Map item is not a key-value pair (missing ':'?)")
		}
		if _, dup := out[kv[0]]; dup {
			return nil, newErr("IllegalStateException", fmt.Sprintf("Duplicate key %s (attempted merging values %s and %s)", kv[0], out[kv[0]], kv[1]), nil)
		}
		out[kv[0]] = kv[1]
	}
	return out, nil
}

// yamlStringMap parses s as a YAML mapping of scalars (keys and values as
// Flink's convertToString renders them); ok is false where Flink falls back
// to the legacy pattern.
func yamlStringMap(s string) (map[string]string, bool) {
	root, err := decodeSingleDocument([]byte(s))
	if err != nil || root == nil || root.Kind != yaml.MappingNode {
		return nil, false
	}
	out := map[string]string{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, err := keyString(deref(root.Content[i]))
		if err != nil {
			return nil, false
		}
		vn := deref(root.Content[i+1])
		var text string
		if vn.Kind == yaml.ScalarNode {
			v, err := scalarValue(vn)
			if err != nil || v == nil {
				return nil, false
			}
			text = v.Text
		} else if text, err = flowString(vn); err != nil {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false
		}
		out[k] = text
	}
	return out, true
}

// ManagedConsumerWeights reads taskmanager.memory.managed.consumer-weights
// like ManagedMemoryUtils.getManagedMemoryUseCaseWeightsFromConfig.
func ManagedConsumerWeights(c *Config) (ConsumerWeights, error) {
	m, err := c.consumerWeightsMap()
	if err != nil {
		return nil, err
	}
	w := ConsumerWeights{}
	for _, uc := range []UseCase{UseCaseOperator, UseCaseStateBackend, UseCasePython} {
		s, ok := m[string(uc)]
		if !ok {
			continue
		}
		v, err := parseJavaInt(s)
		if err != nil {
			return nil, err
		}
		if v < 0 {
			return nil, configErr(fmt.Sprintf("Managed memory weight should not be negative. Configured weight for %s is %d.", uc, v), nil)
		}
		w[uc] = int(v)
	}
	return w, nil
}

// JobShape is what shares a slot with the Python workers: it decides the
// PYTHON consumer's share of the slot's managed memory.
type JobShape struct {
	// Operators: batch operators that use managed memory (sort, hash join).
	Operators bool `json:"operators"`
	// StateBackend: keyed state in the slot.
	StateBackend bool `json:"state_backend"`
	// StateBackendManaged: the state backend uses managed memory (RocksDB,
	// ForSt; not HashMap).
	StateBackendManaged bool `json:"state_backend_managed"`
}

// Name is a short label ("python", "python+rocksdb", ...).
func (j JobShape) Name() string {
	n := "python"
	if j.Operators {
		n += "+operators"
	}
	if j.StateBackend {
		if j.StateBackendManaged {
			n += "+rocksdb"
		} else {
			n += "+hashmap"
		}
	}
	return n
}

// FractionOfSlot is ManagedMemoryUtils.convertToFractionOfSlot for a
// slot-scope use case declared by the operator (fractionOfUseCase 1.0).
func FractionOfSlot(uc UseCase, w ConsumerWeights, shape JobShape) float64 {
	if uc == UseCaseStateBackend && !shape.StateBackendManaged {
		return 0
	}
	present := []UseCase{UseCasePython}
	if shape.Operators {
		present = append(present, UseCaseOperator)
	}
	if shape.StateBackend && shape.StateBackendManaged {
		present = append(present, UseCaseStateBackend)
	}
	total := 0
	for _, p := range present {
		total += w[p]
	}
	if total <= 0 {
		return 0
	}
	return fractionRoundedDown(int64(w[uc]), int64(total))
}

// fractionRoundedDown is BigDecimal(dividend/divisor, 16 places, ROUND_DOWN).doubleValue().
func fractionRoundedDown(dividend, divisor int64) float64 {
	r := new(big.Rat).SetFrac64(dividend, divisor)
	f, _ := strconv.ParseFloat(truncDecimal(r, 16), 64)
	return f
}

func truncDecimal(r *big.Rat, places int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := new(big.Int).Mul(r.Num(), scale)
	n.Quo(n, r.Denom())
	s := n.String()
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for len(s) <= places {
		s = "0" + s
	}
	out := s[:len(s)-places] + "." + s[len(s)-places:]
	if neg {
		out = "-" + out
	}
	return out
}

// memoryManagerPageSize is MemoryManager.DEFAULT_PAGE_SIZE (32 KiB).
const memoryManagerPageSize = 32 * 1024

// PythonWorkerLimit is what a PyFlink Python worker of a slot is given:
// Bytes is _PYTHON_WORKER_MEMORY_LIMIT as BeamPythonFunctionRunner exports
// it (floor(slot managed × fraction), or -1 when the worker gets no managed
// memory), Fraction the PYTHON share of the slot.
type PythonWorkerLimit struct {
	Shape    JobShape `json:"shape"`
	Fraction float64  `json:"fraction"`
	Bytes    int64    `json:"bytes"`
	// Warning is Flink's log line when the worker falls back to off-heap.
	Warning string `json:"warning,omitempty"`
}

// PythonWorkerMemoryLimit computes _PYTHON_WORKER_MEMORY_LIMIT for a slot of
// spec running the given job shape. Flink only exports the number: PyFlink
// 2.3 does not enforce it (nothing reads the variable); the container limit
// is the only hard limit.
func PythonWorkerMemoryLimit(c *Config, spec *TaskManagerSpec, shape JobShape) (PythonWorkerLimit, error) {
	w, err := ManagedConsumerWeights(c)
	if err != nil {
		return PythonWorkerLimit{}, err
	}
	managed, err := c.boolOption(KeyPythonManaged, true)
	if err != nil {
		return PythonWorkerLimit{}, err
	}
	f := FractionOfSlot(UseCasePython, w, shape)
	out := PythonWorkerLimit{Shape: shape, Fraction: f, Bytes: -1}
	if !managed {
		return out, nil
	}
	if f > 0 && f <= 1 {
		slot := spec.Managed.Divide(int64(spec.Slots))
		if pages := int64(slot) / memoryManagerPageSize; pages > math.MaxInt32 {
			// MemoryManager.verifyIntTotalNumberOfPages (Preconditions leaves %d unformatted).
			return PythonWorkerLimit{}, argErr(fmt.Sprintf(
				"The given number of memory bytes (%%d) corresponds to more than MAX_INT pages (%%d > %%d). [%d, %d, %d]",
				slot, pages, math.MaxInt32))
		}
		out.Bytes = int64(math.Floor(float64(slot) * f))
		return out, nil
	}
	out.Warning = fmt.Sprintf("The configured managed memory fraction for Python worker process must be within (0, 1], was: %s, use off-heap memory instead.", javaDouble(f))
	return out, nil
}

// SortedUseCases lists the weights in a stable order for display.
func (w ConsumerWeights) SortedUseCases() []UseCase {
	out := make([]UseCase, 0, len(w))
	for uc := range w {
		out = append(out, uc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// AllJobShapes lists the slot contents flinkconf reports Python budgets for.
func AllJobShapes() []JobShape {
	return []JobShape{
		{},
		{Operators: true},
		{StateBackend: true},
		{StateBackend: true, StateBackendManaged: true},
		{Operators: true, StateBackend: true, StateBackendManaged: true},
	}
}

// ParseJobShape parses a JobShape name: "python", "python+operators",
// "python+hashmap", "python+rocksdb", "python+operators+rocksdb" (any order
// after "python").
func ParseJobShape(s string) (JobShape, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "+")
	if len(parts) == 0 || parts[0] != "python" {
		return JobShape{}, fmt.Errorf("job shape %q: must start with \"python\"", s)
	}
	var j JobShape
	for _, p := range parts[1:] {
		switch p {
		case "operators":
			j.Operators = true
		case "rocksdb", "forst":
			j.StateBackend, j.StateBackendManaged = true, true
		case "hashmap":
			j.StateBackend = true
		default:
			return JobShape{}, fmt.Errorf("job shape %q: unknown part %q (want operators, rocksdb or hashmap)", s, p)
		}
	}
	return j, nil
}
