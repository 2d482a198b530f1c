package flinkconf

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Java's number parsing as Flink's ConfigurationUtils relies on it.

var (
	javaDecimalFloat = regexp.MustCompile(`^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)$`)
	javaHexFloat     = regexp.MustCompile(`^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?$`)
)

func forInputString(s string) *FlinkError {
	return numberFormatErr(fmt.Sprintf("For input string: \"%s\"", s))
}

// parseJavaFloating is Float.parseFloat / Double.parseDouble (bits 32/64).
func parseJavaFloating(s string, bits int) (float64, error) {
	in := javaTrim(s)
	if in == "" {
		return 0, numberFormatErr("empty String")
	}
	if !javaDecimalFloat.MatchString(in) && !javaHexFloat.MatchString(in) {
		return 0, forInputString(in)
	}
	neg := strings.HasPrefix(in, "-")
	body := strings.TrimLeft(in, "+-")
	switch body {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		if neg {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	body = strings.TrimRight(body, "fFdD")
	if strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X") {
		// Go needs a mantissa digit before the point only in forms Java also accepts.
		body = "0x" + body[2:]
		if strings.HasPrefix(body[2:], ".") {
			body = "0x0" + body[2:]
		}
	}
	f, err := strconv.ParseFloat(body, bits)
	if err != nil && !isRangeErr(err) {
		return 0, forInputString(in)
	}
	if neg {
		f = -f
	}
	return f, nil
}

// parseJavaInt is Integer.parseInt(s) (radix 10).
func parseJavaInt(s string) (int32, error) {
	if s == "" {
		return 0, forInputString(s)
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if body == "" || strings.TrimLeft(body, "0123456789") != "" {
		return 0, forInputString(s)
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, forInputString(s)
	}
	return int32(v), nil
}
