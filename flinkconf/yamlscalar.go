package flinkconf

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Scalar resolution of snakeyaml-engine 2.6's YAML 1.2 core schema, which is
// what Flink's YamlParserUtils loads config.yaml with. The regular
// expressions are the engine's; like the engine, the bool resolver is only
// tried for a first char in "tfTF", int for "-+0-9", float for "-+0-9.",
// and null is tried last for every value.
var (
	coreBool  = regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`)
	coreInt   = regexp.MustCompile(`^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$`)
	coreFloat = regexp.MustCompile(`^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	coreNull  = regexp.MustCompile(`^(?:~|null|Null|NULL| |)$`)
)

type scalarKind int

const (
	kindStr scalarKind = iota
	kindBool
	kindInt
	kindFloat
	kindNull
)

func resolvePlain(v string) scalarKind {
	first := byte(0)
	if v != "" {
		first = v[0]
	}
	if strings.IndexByte("tfTF", first) >= 0 && first != 0 && coreBool.MatchString(v) {
		return kindBool
	}
	if first != 0 && strings.IndexByte("-+0123456789", first) >= 0 && coreInt.MatchString(v) {
		return kindInt
	}
	if first != 0 && strings.IndexByte("-+0123456789.", first) >= 0 && coreFloat.MatchString(v) {
		return kindFloat
	}
	if coreNull.MatchString(v) {
		return kindNull
	}
	return kindStr
}

// constructInt mirrors ConstructYamlCoreInt: Integer when the digits are
// short enough and fit, Long when they fit in 64 bits, else BigInteger.
func constructInt(v string) Value {
	sign := ""
	switch v[0] {
	case '-':
		sign, v = "-", v[1:]
	case '+':
		v = v[1:]
	}
	if v == "0" {
		return intValue(0)
	}
	base, maxInt, maxLong := 10, 10, 19
	switch {
	case strings.HasPrefix(v, "0x"):
		v, base, maxInt, maxLong = v[2:], 16, 8, 16
	case strings.HasPrefix(v, "0o"):
		v, base, maxInt, maxLong = v[2:], 8, 11, 21
	}
	n := len(v)
	num := sign + v
	if n > maxInt {
		if n > maxLong {
			return bigValue(num, base)
		}
		if l, err := strconv.ParseInt(num, base, 64); err == nil {
			return Value{Type: TypeLong, Text: strconv.FormatInt(l, 10), Int: l}
		}
		return bigValue(num, base)
	}
	if i, err := strconv.ParseInt(num, base, 32); err == nil {
		return Value{Type: TypeInteger, Text: strconv.FormatInt(i, 10), Int: i}
	}
	if l, err := strconv.ParseInt(num, base, 64); err == nil {
		return Value{Type: TypeLong, Text: strconv.FormatInt(l, 10), Int: l}
	}
	return bigValue(num, base)
}

func bigValue(num string, base int) Value {
	b, _ := new(big.Int).SetString(num, base)
	return Value{Type: TypeBigInteger, Text: b.String()}
}

// constructFloat mirrors ConstructYamlCoreFloat (lower-cased, ".inf",
// "-.inf", ".nan", else sign + Double.valueOf). "+.inf" is not accepted by
// the engine, which then fails like Java's Double.valueOf(".inf").
func constructFloat(v string) (Value, bool) {
	v = strings.ToLower(v)
	switch v {
	case ".inf":
		return doubleValue(math.Inf(1)), true
	case "-.inf":
		return doubleValue(math.Inf(-1)), true
	case ".nan":
		return doubleValue(math.NaN()), true
	}
	neg := false
	switch v[0] {
	case '-':
		neg, v = true, v[1:]
	case '+':
		v = v[1:]
	}
	if strings.Contains(v, "inf") || strings.Contains(v, "nan") {
		return Value{}, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && !isRangeErr(err) {
		return Value{}, false
	}
	if neg {
		f = -f
	}
	return doubleValue(f), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
