package coder

import (
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// MaxTypeDepth is the deepest nesting of ARRAY, MAP and ROW types a
// RowCoder accepts (the top-level row is depth 0).
const MaxTypeDepth = 64

// maxDecimalPrecision is Flink's DecimalType.MAX_PRECISION.
const maxDecimalPrecision = 38

// node is a compiled field type.
type node struct {
	typ       fn.Type
	name      fn.TypeName
	nullable  bool
	precision int
	scale     int
	elem      *node
	key, val  *node
	fields    []node
	maskLen   int // ROW: mask bytes
	minSize   int // fewest bytes a non-NULL value of this type occupies
}

func maskLen(n int) int { return (n + 2 + 7) / 8 }

func compileType(t fn.Type, depth int) (node, error) {
	if depth > MaxTypeDepth {
		return node{}, fmt.Errorf("type nested deeper than %d levels", MaxTypeDepth)
	}
	nd := node{typ: t, name: t.Name, nullable: t.Nullable, precision: t.Precision, scale: t.Scale}
	switch t.Name {
	case fn.BOOLEAN, fn.TINYINT:
		nd.minSize = 1
	case fn.SMALLINT:
		nd.minSize = 2
	case fn.INT, fn.FLOAT, fn.DATE:
		nd.minSize = 4
	case fn.BIGINT, fn.DOUBLE:
		nd.minSize = 8
	case fn.CHAR, fn.VARCHAR, fn.BINARY, fn.VARBINARY:
		nd.minSize = 4
	case fn.DECIMAL:
		if t.Precision < 1 || t.Precision > maxDecimalPrecision {
			return node{}, fmt.Errorf("%s: precision must be between 1 and %d", t, maxDecimalPrecision)
		}
		if t.Scale < 0 || t.Scale > t.Precision {
			return node{}, fmt.Errorf("%s: scale must be between 0 and the precision", t)
		}
		nd.minSize = 5
	case fn.TIME:
		if t.Precision < 0 || t.Precision > 9 {
			return node{}, fmt.Errorf("%s: precision must be between 0 and 9", t)
		}
		nd.minSize = 4
	case fn.TIMESTAMP, fn.LOCAL_ZONED_TIMESTAMP:
		if t.Precision < 0 || t.Precision > 9 {
			return node{}, fmt.Errorf("%s: precision must be between 0 and 9", t)
		}
		nd.minSize = 8
		if t.Precision > 3 {
			nd.minSize = 12
		}
	case fn.ARRAY:
		if t.Elem == nil {
			return node{}, fmt.Errorf("ARRAY without element type")
		}
		e, err := compileType(*t.Elem, depth+1)
		if err != nil {
			return node{}, fmt.Errorf("array element: %w", err)
		}
		nd.elem = &e
		nd.minSize = 4
	case fn.MAP:
		if t.Key == nil || t.Value == nil {
			return node{}, fmt.Errorf("MAP without key or value type")
		}
		k, err := compileType(*t.Key, depth+1)
		if err != nil {
			return node{}, fmt.Errorf("map key: %w", err)
		}
		v, err := compileType(*t.Value, depth+1)
		if err != nil {
			return node{}, fmt.Errorf("map value: %w", err)
		}
		nd.key, nd.val = &k, &v
		nd.minSize = 4
	case fn.ROW:
		nd.fields = make([]node, len(t.Fields))
		for i, f := range t.Fields {
			fnd, err := compileType(f.Type, depth+1)
			if err != nil {
				return node{}, fmt.Errorf("row field %d (%s): %w", i, f.Name, err)
			}
			nd.fields[i] = fnd
		}
		nd.maskLen = maskLen(len(t.Fields))
		nd.minSize = nd.maskLen
	case fn.MULTISET, fn.ZONED_TIMESTAMP, fn.NULL:
		return node{}, fmt.Errorf("type %s is not supported by Flink's Python coders", t.Name)
	default:
		return node{}, fmt.Errorf("unknown type %s", t.Name)
	}
	return nd, nil
}

// RowCoder encodes and decodes the rows of one ROW schema. It is immutable
// and safe for concurrent use.
type RowCoder struct {
	row node
}

// NewRowCoder returns a coder for rows whose fields have the given types.
// Unsupported types (MULTISET, NULL, TIMESTAMP WITH TIME ZONE), invalid
// parameters and types nested deeper than MaxTypeDepth are an error.
func NewRowCoder(fields []fn.Type) (*RowCoder, error) {
	row := fn.Type{Name: fn.ROW, Fields: make([]fn.Field, len(fields))}
	for i, t := range fields {
		row.Fields[i] = fn.Field{Name: fmt.Sprintf("f%d", i), Type: t}
	}
	return NewRowCoderFromRow(row)
}

// NewRowCoderFromRow returns a coder for rows of the ROW type row.
func NewRowCoderFromRow(row fn.Type) (*RowCoder, error) {
	if row.Name != fn.ROW {
		return nil, fmt.Errorf("new row coder: %s is not a ROW type", row)
	}
	nd, err := compileType(row, 0)
	if err != nil {
		return nil, fmt.Errorf("new row coder: %w", err)
	}
	return &RowCoder{row: nd}, nil
}

// NumFields returns the number of fields of a row.
func (c *RowCoder) NumFields() int { return len(c.row.fields) }

// Type returns the ROW type the coder was built for.
func (c *RowCoder) Type() fn.Type { return c.row.typ }
