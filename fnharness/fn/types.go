// Package fn is the contract between the Fn API harness and user-defined
// functions: SQL types, SQL values and function signatures, as plain Go.
//
// It is a leaf package: it imports nothing of ours and nothing of Beam or
// Flink. Package udfs imports only this package; the wire format (Beam
// protos, Flink's payload protos, Flink's coders) stays in fnharness.
package fn

import (
	"fmt"
	"strings"
)

// TypeName is a Flink logical type root as it appears on the Python worker
// wire (Flink's Schema.TypeName).
type TypeName int

// The type names a worker can see. Values follow Flink's Schema.TypeName.
const (
	ROW                   TypeName = 0
	TINYINT               TypeName = 1
	SMALLINT              TypeName = 2
	INT                   TypeName = 3
	BIGINT                TypeName = 4
	DECIMAL               TypeName = 5
	FLOAT                 TypeName = 6
	DOUBLE                TypeName = 7
	DATE                  TypeName = 8
	TIME                  TypeName = 9
	TIMESTAMP             TypeName = 10
	BOOLEAN               TypeName = 11
	BINARY                TypeName = 12
	VARBINARY             TypeName = 13
	CHAR                  TypeName = 14
	VARCHAR               TypeName = 15
	ARRAY                 TypeName = 16 // Flink's BASIC_ARRAY
	MAP                   TypeName = 17
	MULTISET              TypeName = 18
	LOCAL_ZONED_TIMESTAMP TypeName = 19
	ZONED_TIMESTAMP       TypeName = 20
	NULL                  TypeName = 21
)

var typeNames = map[TypeName]string{
	ROW: "ROW", TINYINT: "TINYINT", SMALLINT: "SMALLINT", INT: "INT", BIGINT: "BIGINT",
	DECIMAL: "DECIMAL", FLOAT: "FLOAT", DOUBLE: "DOUBLE", DATE: "DATE", TIME: "TIME",
	TIMESTAMP: "TIMESTAMP", BOOLEAN: "BOOLEAN", BINARY: "BINARY", VARBINARY: "VARBINARY",
	CHAR: "CHAR", VARCHAR: "VARCHAR", ARRAY: "ARRAY", MAP: "MAP", MULTISET: "MULTISET",
	LOCAL_ZONED_TIMESTAMP: "TIMESTAMP_LTZ", ZONED_TIMESTAMP: "TIMESTAMP_TZ", NULL: "NULL",
}

func (n TypeName) String() string {
	if s, ok := typeNames[n]; ok {
		return s
	}
	return fmt.Sprintf("TypeName(%d)", int(n))
}

// MaxLength is the length of STRING (VARCHAR(2147483647)) and BYTES.
const MaxLength = 2147483647

// Type is a SQL type as the worker sees it.
type Type struct {
	Name     TypeName
	Nullable bool
	// Precision: DECIMAL precision; fractional-second precision of TIME,
	// TIMESTAMP and TIMESTAMP_LTZ.
	Precision int
	// Scale: DECIMAL scale.
	Scale int
	// Length: CHAR, VARCHAR, BINARY, VARBINARY length.
	Length int
	// Elem: ARRAY element type.
	Elem *Type
	// Key, Value: MAP key and value types.
	Key, Value *Type
	// Fields: ROW fields.
	Fields []Field
}

// Field is one named field of a ROW type.
type Field struct {
	Name string
	Type Type
}

// String renders the type in Flink SQL syntax, e.g. "DECIMAL(38, 18) NOT NULL".
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Name {
	case DECIMAL:
		fmt.Fprintf(b, "DECIMAL(%d, %d)", t.Precision, t.Scale)
	case CHAR, VARCHAR, BINARY, VARBINARY:
		if t.Name == VARCHAR && t.Length == MaxLength {
			b.WriteString("STRING")
		} else if t.Name == VARBINARY && t.Length == MaxLength {
			b.WriteString("BYTES")
		} else {
			fmt.Fprintf(b, "%s(%d)", t.Name, t.Length)
		}
	case TIME, TIMESTAMP, LOCAL_ZONED_TIMESTAMP:
		fmt.Fprintf(b, "%s(%d)", t.Name, t.Precision)
	case ARRAY:
		b.WriteString("ARRAY<")
		if t.Elem != nil {
			t.Elem.write(b)
		}
		b.WriteString(">")
	case MAP:
		b.WriteString("MAP<")
		if t.Key != nil {
			t.Key.write(b)
		}
		b.WriteString(", ")
		if t.Value != nil {
			t.Value.write(b)
		}
		b.WriteString(">")
	case ROW:
		b.WriteString("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			if f.Name != "" {
				b.WriteString("`" + strings.ReplaceAll(f.Name, "`", "``") + "` ")
			}
			f.Type.write(b)
		}
		b.WriteString(">")
	default:
		b.WriteString(t.Name.String())
	}
	if !t.Nullable {
		b.WriteString(" NOT NULL")
	}
}

// Equal reports whether two types are the same, ignoring nullability at
// every level and ROW field names.
func (t Type) Equal(u Type) bool {
	if t.Name != u.Name {
		return false
	}
	switch t.Name {
	case DECIMAL:
		return t.Precision == u.Precision && t.Scale == u.Scale
	case CHAR, VARCHAR, BINARY, VARBINARY:
		return t.Length == u.Length
	case TIME, TIMESTAMP, LOCAL_ZONED_TIMESTAMP:
		return t.Precision == u.Precision
	case ARRAY:
		return t.Elem != nil && u.Elem != nil && t.Elem.Equal(*u.Elem)
	case MAP:
		return t.Key != nil && u.Key != nil && t.Value != nil && u.Value != nil &&
			t.Key.Equal(*u.Key) && t.Value.Equal(*u.Value)
	case ROW:
		if len(t.Fields) != len(u.Fields) {
			return false
		}
		for i := range t.Fields {
			if !t.Fields[i].Type.Equal(u.Fields[i].Type) {
				return false
			}
		}
	}
	return true
}

// Convenience constructors for nullable types.

func Simple(n TypeName) Type { return Type{Name: n, Nullable: true} }
func String() Type           { return Type{Name: VARCHAR, Nullable: true, Length: MaxLength} }
func Bytes() Type            { return Type{Name: VARBINARY, Nullable: true, Length: MaxLength} }
func Decimal(p, s int) Type  { return Type{Name: DECIMAL, Nullable: true, Precision: p, Scale: s} }
func ArrayOf(e Type) Type    { return Type{Name: ARRAY, Nullable: true, Elem: &e} }
func MapOf(k, v Type) Type   { return Type{Name: MAP, Nullable: true, Key: &k, Value: &v} }
func RowOf(fields ...Field) Type {
	return Type{Name: ROW, Nullable: true, Fields: fields}
}
