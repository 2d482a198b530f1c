package flinkconf

import (
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// flowString renders a YAML node as Flink's YamlParserUtils.toYAMLString
// does for list values (flow style, core schema). Plain scalars are kept
// plain when the emitter would; other strings are single-quoted. This is an
// approximation of snakeyaml-engine's emitter good for the simple lists
// configurations hold; memory options never use lists.
func flowString(n *yaml.Node) (string, error) {
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			s, err := flowString(c)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := flowString(n.Content[i])
			if err != nil {
				return "", err
			}
			v, err := flowString(n.Content[i+1])
			if err != nil {
				return "", err
			}
			parts = append(parts, k+": "+v)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	v, err := scalarValue(n)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "null", nil
	}
	switch v.Type {
	case TypeString:
		return flowScalar(v.Text), nil
	case TypeDouble:
		switch {
		case math.IsNaN(v.Float):
			return ".nan", nil
		case math.IsInf(v.Float, 1):
			return ".inf", nil
		case math.IsInf(v.Float, -1):
			return "-.inf", nil
		}
	}
	return v.Text, nil
}

func flowScalar(s string) string {
	plain := s != "" && resolvePlain(s) == kindStr &&
		strings.TrimSpace(s) == s &&
		!strings.ContainsAny(s[:1], ",[]{}#&*!|>'\"%@`") &&
		!(strings.ContainsAny(s[:1], "-?:") && (len(s) == 1 || s[1] == ' ')) &&
		!strings.ContainsAny(s, ",[]{}\n\t") &&
		!strings.Contains(s, ": ") && !strings.Contains(s, " #") && !strings.HasSuffix(s, ":")
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
