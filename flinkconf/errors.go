package flinkconf

import (
	"errors"
	"strings"
)

// Java exception class names used by Flink for the errors this package
// reproduces. They are carried by *FlinkError so that callers (and the
// comparison against Flink) can tell a configuration error from a parse error.
const (
	ClassIllegalConfiguration = "IllegalConfigurationException"
	ClassIllegalArgument      = "IllegalArgumentException"
	ClassNumberFormat         = "NumberFormatException"
	ClassArithmetic           = "ArithmeticException"
	ClassRuntime              = "RuntimeException"
	ClassNullPointer          = "NullPointerException"
	ClassYAML                 = "YamlEngineException"
	ClassYAMLVersion          = "YamlVersionException"
)

// FlinkError is an error as Flink would raise it: the Java exception class,
// the message Flink builds (verbatim where this package can reproduce it) and
// the cause Flink chains to it.
type FlinkError struct {
	Class string
	Msg   string
	Cause error
}

// Error returns the message followed by the messages of its causes (a
// cause whose message the wrapper already repeats is skipped).
func (e *FlinkError) Error() string {
	cause := e.Cause
	if c, ok := cause.(*FlinkError); ok && strings.HasSuffix(e.Msg, c.Msg) {
		cause = c.Cause
	}
	if cause == nil {
		return e.Msg
	}
	return e.Msg + ": " + cause.Error()
}

// Unwrap returns the cause.
func (e *FlinkError) Unwrap() error { return e.Cause }

func newErr(class, msg string, cause error) *FlinkError {
	return &FlinkError{Class: class, Msg: msg, Cause: cause}
}

func configErr(msg string, cause error) *FlinkError {
	return newErr(ClassIllegalConfiguration, msg, cause)
}

func argErr(msg string) *FlinkError { return newErr(ClassIllegalArgument, msg, nil) }

func numberFormatErr(msg string) *FlinkError { return newErr(ClassNumberFormat, msg, nil) }

func overflowErr() *FlinkError { return newErr(ClassArithmetic, "long overflow", nil) }

// ChainEntry is one exception in a cause chain.
type ChainEntry struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

// ErrorChain flattens err and its causes, outermost first, the way a Java
// stack trace lists "Caused by:" entries. Errors that are not *FlinkError are
// listed with an empty class.
func ErrorChain(err error) []ChainEntry {
	var out []ChainEntry
	for err != nil {
		if fe, ok := err.(*FlinkError); ok {
			out = append(out, ChainEntry{Class: fe.Class, Message: fe.Msg})
			err = fe.Cause
			continue
		}
		out = append(out, ChainEntry{Message: err.Error()})
		err = errors.Unwrap(err)
	}
	return out
}

// IsConfigError reports whether err is (or wraps) an error Flink raises as
// IllegalConfigurationException, i.e. an inconsistent configuration.
func IsConfigError(err error) bool {
	var fe *FlinkError
	return errors.As(err, &fe) && fe.Class == ClassIllegalConfiguration
}
