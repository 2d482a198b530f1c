package flinkconf

import (
	"math"
	"strconv"
)

// ValueType is the Java type Flink holds a configuration value as.
type ValueType string

// The Java types a value read from config.yaml (snakeyaml-engine, YAML 1.2
// core schema) or from a legacy file / dynamic property (always String) has.
const (
	TypeString     ValueType = "String"
	TypeInteger    ValueType = "Integer"
	TypeLong       ValueType = "Long"
	TypeBigInteger ValueType = "BigInteger"
	TypeDouble     ValueType = "Double"
	TypeBoolean    ValueType = "Boolean"
)

// Value is one configuration value with the Java type Flink would hold.
type Value struct {
	Type ValueType
	// Text is the value as Java's toString renders it ("6", "0.1", "true",
	// "12gb"); it is what Flink parses for memory sizes, ints and floats
	// held as text.
	Text string
	// Float is set for TypeDouble.
	Float float64
	// Int is set for TypeInteger and TypeLong.
	Int int64
}

// StringValue is a value given as text (legacy file, -D property, quoted YAML).
func StringValue(s string) Value { return Value{Type: TypeString, Text: s} }

func intValue(v int64) Value {
	t := TypeLong
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		t = TypeInteger
	}
	return Value{Type: t, Text: strconv.FormatInt(v, 10), Int: v}
}

func doubleValue(f float64) Value {
	return Value{Type: TypeDouble, Text: javaDouble(f), Float: f}
}

func boolValue(b bool) Value {
	return Value{Type: TypeBoolean, Text: strconv.FormatBool(b)}
}
