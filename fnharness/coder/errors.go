package coder

import (
	"errors"
	"fmt"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// DecodeError reports malformed input: what was wrong, where in the value
// and at which byte offset of the decoded buffer.
type DecodeError struct {
	// Offset is the byte offset in the input at which the problem was found.
	Offset int
	// Path locates the value inside the row: the top-level field index
	// followed by "[i]" for array elements, "{key i}" / "{value i}" for map
	// entries and ".i" for nested row fields, e.g. "2[3].0". Empty for
	// problems outside any field (the mask, framing).
	Path string
	// Type is the declared type being decoded, or "" outside any field.
	Type string
	// Reason says what was wrong.
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("decode at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("decode field %s (%s) at offset %d: %s", e.Path, e.Type, e.Offset, e.Reason)
}

// EncodeError reports a value that does not fit its declared field type.
type EncodeError struct {
	// Field is the index of the top-level field.
	Field int
	// Path locates the value inside the field ("" for the field itself),
	// with the same notation as DecodeError.Path, e.g. "[3]" or ".1{key 0}".
	Path string
	// Expected is the declared type of the value.
	Expected fn.Type
	// Actual is the kind of the offending value.
	Actual fn.Kind
	// Reason says why the value does not fit.
	Reason string
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("encode field %d%s: expected %s, got %s: %s", e.Field, e.Path, e.Expected, e.Actual, e.Reason)
}

func decodeErr(nd *node, off int, format string, args ...any) error {
	e := &DecodeError{Offset: off, Reason: fmt.Sprintf(format, args...)}
	if nd != nil {
		e.Type = nd.typ.String()
	}
	return e
}

// prefixPath prepends a path component to a DecodeError or EncodeError on
// its way up.
func prefixPath(err error, p string) error {
	var de *DecodeError
	if errors.As(err, &de) {
		de.Path = p + de.Path
		return err
	}
	var ee *EncodeError
	if errors.As(err, &ee) {
		ee.Path = p + ee.Path
	}
	return err
}

func encodeErr(nd *node, v fn.Value, format string, args ...any) error {
	return &EncodeError{Expected: nd.typ, Actual: v.Kind(), Reason: fmt.Sprintf(format, args...)}
}
