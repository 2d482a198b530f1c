package flinkconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseConfigYAML reads a standard Flink config.yaml (Flink 1.19+ / 2.x) the
// way GlobalConfiguration.loadYAMLResource does: YAML 1.2 core schema typing,
// nested mappings flattened with "." (keys may themselves contain dots; when
// two spellings produce the same key the later one in the document wins),
// lists kept as their YAML flow string, null values and duplicate keys
// within one mapping rejected.
func ParseConfigYAML(data []byte) (*Config, error) {
	data, restore, err := prepareYAML(data)
	if err != nil {
		return nil, yamlLoadErr(err)
	}
	root, err := decodeSingleDocument(data)
	if err != nil {
		return nil, yamlLoadErr(newErr(ClassYAML, err.Error(), nil))
	}
	if restore != nil {
		restoreScalars(root, restore, map[*yaml.Node]bool{})
	}
	cfg := NewConfig()
	if root == nil {
		return cfg, nil
	}
	switch root.Kind {
	case yaml.MappingNode:
	case yaml.ScalarNode:
		v, err := scalarValue(root)
		if err != nil {
			return nil, yamlLoadErr(err)
		}
		if v == nil {
			return cfg, nil // an empty / null document is an empty configuration
		}
		return nil, yamlLoadErr(classCastErr("java.lang." + string(v.Type)))
	default:
		return nil, yamlLoadErr(classCastErr("java.util.ArrayList"))
	}
	var flat []flatEntry
	if err := flatten(root, "", &flat); err != nil {
		return nil, yamlLoadErr(err)
	}
	for _, e := range flat {
		if e.value == nil {
			return nil, yamlLoadErr(newErr(ClassNullPointer, "Value must not be null.", nil))
		}
		cfg.setValue(e.key, *e.value)
	}
	return cfg, nil
}

func classCastErr(class string) error { return castErr(class, "java.util.Map") }

// castErr is the JVM's message for a failed cast; Flink's loader casts the
// document to a Map and every key to a String.
func castErr(class, to string) error {
	return newErr("ClassCastException", fmt.Sprintf(
		"class %s cannot be cast to class %s (%s and %s are in module java.base of loader 'bootstrap')", class, to, class, to), nil)
}

func yamlLoadErr(cause error) error {
	return newErr(ClassRuntime, "Error parsing YAML configuration.", cause)
}

func decodeSingleDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, errors.New("expected a single document in the stream")
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return deref(doc.Content[0]), nil
	}
	return deref(&doc), nil
}

// restoreScalars puts back what prepareYAML hid in the scalars' text.
func restoreScalars(n *yaml.Node, r *strings.Replacer, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	n.Value = r.Replace(n.Value)
	for _, c := range n.Content {
		restoreScalars(c, r, seen)
	}
	restoreScalars(n.Alias, r, seen)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

type flatEntry struct {
	key   string
	value *Value // nil: a YAML null
}

func flatten(m *yaml.Node, prefix string, out *[]flatEntry) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := deref(m.Content[i]), deref(m.Content[i+1])
		key, err := keyString(kn)
		if err != nil {
			return err
		}
		if seen[key] {
			return newErr(ClassYAML, fmt.Sprintf("found duplicate key %s (line %d)", key, kn.Line), nil)
		}
		seen[key] = true
		full := prefix + key
		switch vn.Kind {
		case yaml.MappingNode:
			if err := flatten(vn, full+".", out); err != nil {
				return err
			}
		case yaml.SequenceNode:
			s, err := flowString(vn)
			if err != nil {
				return err
			}
			v := StringValue(s)
			*out = append(*out, flatEntry{full, &v})
		default:
			v, err := scalarValue(vn)
			if err != nil {
				return err
			}
			*out = append(*out, flatEntry{full, v})
		}
	}
	return nil
}

// keyString renders a mapping key as Java's string concatenation would.
func keyString(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.MappingNode:
		return "", castErr("java.util.LinkedHashMap", "java.lang.String")
	case yaml.SequenceNode:
		return "", castErr("java.util.ArrayList", "java.lang.String")
	}
	v, err := scalarValue(n)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "null", nil
	}
	return v.Text, nil
}

// scalarValue types a scalar like snakeyaml-engine's core schema; nil means null.
func scalarValue(n *yaml.Node) (*Value, error) {
	text := n.Value
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		if n.Style&yaml.TaggedStyle == 0 {
			v := StringValue(text)
			return &v, nil
		}
	}
	kind := resolvePlain(text)
	if n.Style&yaml.TaggedStyle != 0 {
		switch n.ShortTag() {
		case "!!str":
			kind = kindStr
		case "!!int":
			kind = kindInt
		case "!!float":
			kind = kindFloat
		case "!!bool":
			kind = kindBool
		case "!!null":
			kind = kindNull
		default:
			return nil, newErr(ClassYAML, "could not determine a constructor for the tag "+n.Tag, nil)
		}
	} else if n.Style != 0 && n.Style&yaml.FlowStyle == 0 {
		kind = kindStr
	}
	switch kind {
	case kindBool:
		b := strings.EqualFold(text, "true")
		v := boolValue(b)
		return &v, nil
	case kindInt:
		if !coreInt.MatchString(text) {
			return nil, newErr(ClassNumberFormat, fmt.Sprintf("For input string: %q", text), nil)
		}
		v := constructInt(text)
		return &v, nil
	case kindFloat:
		v, ok := constructFloat(text)
		if !ok {
			return nil, newErr(ClassNumberFormat, fmt.Sprintf("For input string: %q", text), nil)
		}
		return &v, nil
	case kindNull:
		return nil, nil
	}
	v := StringValue(text)
	return &v, nil
}
