package inference

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModelInfo summarises a model folder for listings (`flinkfn models`):
// what its manifest says, the kind of its tokenizer and its variants'
// files.
type ModelInfo struct {
	Name           string        `json:"name"`
	Description    string        `json:"description,omitempty"`
	Dir            string        `json:"dir"`
	Dims           int           `json:"dims"`
	Pooling        Pooling       `json:"pooling"`
	Normalize      bool          `json:"normalize"`
	MaxSeqLength   int           `json:"max_seq_length"`
	TokenizerKind  string        `json:"tokenizer"` // tokenizer.json's model type: "WordPiece", "Unigram", ...; "" when unreadable
	DefaultVariant string        `json:"default_variant"`
	Variants       []VariantInfo `json:"variants"` // sorted by name
}

// VariantInfo is one variant's ONNX file.
type VariantInfo struct {
	Name string `json:"name"`
	File string `json:"file"` // absolute path
	Size int64  `json:"size"` // bytes; -1 when the file is missing
}

// DescribeModel reads the manifest of the model folder dir and stats its
// files. It fails only when the manifest cannot be loaded; a missing or
// unreadable tokenizer leaves TokenizerKind empty and a missing variant
// file has Size -1 (CheckModel in package embedder says what is wrong).
func DescribeModel(dir string) (ModelInfo, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return ModelInfo{}, err
	}
	return m.Describe(), nil
}

// Describe summarises the manifest and its folder's files.
func (m *Manifest) Describe() ModelInfo {
	info := ModelInfo{
		Name: m.Name, Description: m.Description, Dir: m.Dir, Dims: m.Dims, Pooling: m.Pooling,
		Normalize: m.Normalize, MaxSeqLength: m.MaxSeqLength, DefaultVariant: m.DefaultVariant,
	}
	if kind, err := TokenizerKind(filepath.Join(m.Dir, m.Tokenizer)); err == nil {
		info.TokenizerKind = kind
	}
	for _, v := range m.VariantNames() {
		vi := VariantInfo{Name: v, File: filepath.Join(m.Dir, m.Variants[v]), Size: -1}
		if st, err := os.Stat(vi.File); err == nil && st.Mode().IsRegular() {
			vi.Size = st.Size()
		}
		info.Variants = append(info.Variants, vi)
	}
	return info
}

// String is a one-line summary: "bge-small-en-v1.5: 384 dims, cls pooling,
// normalised, 512 tokens, WordPiece tokenizer, variants fp32* (127.0 MiB)".
func (i ModelInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d dims, %s pooling", i.Name, i.Dims, i.Pooling)
	if i.Normalize {
		b.WriteString(", normalised")
	}
	fmt.Fprintf(&b, ", %d tokens", i.MaxSeqLength)
	kind := i.TokenizerKind
	if kind == "" {
		kind = "unreadable"
	}
	fmt.Fprintf(&b, ", %s tokenizer, variants", kind)
	for j, v := range i.Variants {
		if j > 0 {
			b.WriteByte(',')
		}
		def := ""
		if v.Name == i.DefaultVariant {
			def = "*"
		}
		size := "missing"
		if v.Size >= 0 {
			size = fmt.Sprintf("%.1f MiB", float64(v.Size)/(1<<20))
		}
		fmt.Fprintf(&b, " %s%s (%s)", v.Name, def, size)
	}
	return b.String()
}

// TokenizerKind returns the model type of a HuggingFace tokenizer.json
// ("WordPiece", "Unigram", "BPE", ...).
func TokenizerKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	var t struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<16)).Decode(&t); err != nil {
		return "", fmt.Errorf("tokenizer %s: not a tokenizer.json: %w", path, err)
	}
	if t.Model.Type == "" {
		return "", fmt.Errorf("tokenizer %s: no model.type (not a HuggingFace tokenizer.json?)", path)
	}
	return t.Model.Type, nil
}
