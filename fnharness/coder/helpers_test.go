package coder

import (
	"errors"
	"math/big"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// sameValue is Value.Equal except that DECIMALs compare by numeric value
// (the decoder returns Java's canonical text, which may differ from the text
// a value was built from).
func sameValue(a, b fn.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case fn.KindDecimal:
		ua, sa, errA := fn.ParseDecimal(a.DecimalString())
		ub, sb, errB := fn.ParseDecimal(b.DecimalString())
		if errA != nil || errB != nil {
			return false
		}
		ua.Mul(ua, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sb)), nil))
		ub.Mul(ub, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sa)), nil))
		return ua.Cmp(ub) == 0
	case fn.KindArray:
		return sameValues(a.Elems(), b.Elems())
	case fn.KindMap:
		ka, va := a.MapEntries()
		kb, vb := b.MapEntries()
		return sameValues(ka, kb) && sameValues(va, vb)
	case fn.KindRow:
		return a.RowKind() == b.RowKind() && sameValues(a.Fields(), b.Fields())
	}
	return a.Equal(b)
}

func sameValues(a, b []fn.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
