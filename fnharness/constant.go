package fnharness

import (
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/pickle"
)

// constantValue turns Input.inputConstant (type tag + Pyrolite pickle)
// into the value a function receives.
func constantValue(b []byte) (fn.Value, error) {
	c, err := pickle.Constant(b)
	if err != nil {
		return fn.Value{}, err
	}
	switch c.Kind {
	case pickle.ConstNull:
		return fn.Null(), nil
	case pickle.ConstBool:
		return fn.Bool(c.Bool), nil
	case pickle.ConstInt:
		if c.Big != nil {
			return fn.Value{}, fmt.Errorf("integer constant %s is outside the BIGINT range", c.Big)
		}
		return fn.Int(c.Int), nil
	case pickle.ConstFloat:
		return fn.Float64(c.Float), nil
	case pickle.ConstDecimal:
		return fn.DecimalText(c.Str)
	case pickle.ConstString:
		return fn.Str(c.Str), nil
	case pickle.ConstDate:
		return fn.Date(int32(c.Int)), nil
	case pickle.ConstTime:
		return fn.TimeOfDay(int32(c.Int)), nil
	case pickle.ConstTimestamp:
		return fn.Timestamp(c.Int, 0), nil
	}
	return fn.Value{}, fmt.Errorf("unsupported constant kind %s", c.Kind)
}
