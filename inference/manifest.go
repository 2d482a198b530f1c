package inference

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// ManifestFile is the name of the file that describes a model inside its
// folder (inference/models/<name>/manifest.json in the source tree,
// <home>/models/<name>/manifest.json once installed).
const ManifestFile = "manifest.json"

// Pooling says how per-token hidden states become one sentence vector.
type Pooling string

const (
	// PoolingMean averages the hidden states of the tokens whose attention
	// mask is 1 (sentence-transformers' pooling_mode_mean_tokens).
	PoolingMean Pooling = "mean"
	// PoolingCLS takes the hidden state of the first token
	// (sentence-transformers' pooling_mode_cls_token).
	PoolingCLS Pooling = "cls"
)

// Manifest describes one embedding model: how to feed its ONNX graph, how
// to pool and normalise its output, which files make it up, and where the
// set-up script gets them from. It is the parsed form of a model folder's
// manifest.json; see inference/README.md for the format.
type Manifest struct {
	// Name is the model's name, e.g. "all-MiniLM-L6-v2"; installed models
	// live in models/<Name> (see FindModelDir).
	Name string `json:"name"`
	// Description is free text for people.
	Description string `json:"description,omitempty"`
	// Dims is the size of the hidden state, and so of every embedding.
	Dims int `json:"dims"`
	// Pooling is "mean" or "cls".
	Pooling Pooling `json:"pooling"`
	// Normalize says whether embeddings are L2-normalised after pooling.
	// Required in the file (a pointer while decoding so that a missing
	// field is an error rather than false).
	Normalize bool `json:"-"`
	// MaxSeqLength is the longest token sequence, [CLS] and [SEP]
	// included, that the model accepts; the tokenizer truncates to it.
	MaxSeqLength int `json:"max_seq_length"`
	// Tokenizer is the tokenizer.json file (HuggingFace tokenizers format),
	// relative to the model folder.
	Tokenizer string `json:"tokenizer"`
	// Inputs names the graph inputs.
	Inputs Inputs `json:"inputs"`
	// Output names the graph output holding the last hidden state,
	// float32 [batch, sequence, dims].
	Output string `json:"output"`
	// Variants maps a variant name ("fp32", "int8", ...) to its ONNX file,
	// relative to the model folder.
	Variants map[string]string `json:"variants"`
	// DefaultVariant is the variant used when none is asked for. Optional
	// in the file: it defaults to "fp32".
	DefaultVariant string `json:"default_variant,omitempty"`
	// Artifacts lists the model's files with their checksums and, for
	// models installed by set-up, the registry artifact each comes from
	// (scripts/setup/fetch_artifacts.py installs them). Optional: a model folder
	// put together by hand may list its files without a source, or none.
	// When it lists any, the tokenizer and every variant must be listed.
	Artifacts []Artifact `json:"artifacts"`

	// Dir is the folder the manifest was loaded from (absolute).
	Dir string `json:"-"`
}

// Inputs names the graph inputs of a BERT-style encoder. All are int64
// [batch, sequence].
type Inputs struct {
	// InputIDs is the token ids input (required).
	InputIDs string `json:"input_ids"`
	// AttentionMask is the attention mask input (required).
	AttentionMask string `json:"attention_mask"`
	// TokenTypeIDs is the segment ids input; empty when the graph has
	// none. It is fed zeros.
	TokenTypeIDs string `json:"token_type_ids,omitempty"`
}

// Artifact is one file of a model with its checksum and, for the models
// set-up installs, the registry artifact it is extracted from. A model
// folder a user puts together lists its files without a source (or not at
// all: then nothing is checksummed).
type Artifact struct {
	// File is the installed file name, relative to the model folder.
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of File.
	SHA256 string `json:"sha256"`
	// Maven is the Maven coordinate group:artifact:version of the jar
	// holding the file; empty for a file that is not installed from a jar
	// (then JarSHA256 and Entry are empty too).
	Maven string `json:"maven,omitempty"`
	// JarSHA256 is the hex SHA-256 of that jar.
	JarSHA256 string `json:"jar_sha256,omitempty"`
	// Entry is the file's path inside the jar.
	Entry string `json:"entry,omitempty"`
	// DerivedFrom, Tool and Recipe describe a file that set-up computes
	// from another artifact instead of downloading it (e.g. a quantised
	// variant): DerivedFrom is the input artifact's file, Tool the script
	// (a path relative to the source tree, e.g. "scripts/setup/quantize.py") and
	// Recipe the tool's recipe name. The tool must be deterministic: SHA256
	// pins its output. All three or none; a derived file has no Maven source.
	DerivedFrom string `json:"derived_from,omitempty"`
	Tool        string `json:"tool,omitempty"`
	Recipe      string `json:"recipe,omitempty"`
	// Setup "gpu" marks a derived file only make setup-gpu computes (the
	// fp16 variant, for --device cuda): make setup skips it, a model
	// folder without it is complete, and make setup-gpu adds Variant ->
	// File to the installed manifest's variants. "" is make setup's.
	Setup   string `json:"setup,omitempty"`
	Variant string `json:"variant,omitempty"`
}

// SetupGPU is Artifact.Setup of the files make setup-gpu computes.
const SetupGPU = "gpu"

// FromRegistry says whether set-up installs the file from a registry jar.
func (a Artifact) FromRegistry() bool { return a.Maven != "" }

// Derived says whether set-up computes the file from another artifact
// (DerivedFrom, with Tool and Recipe).
func (a Artifact) Derived() bool { return a.DerivedFrom != "" || a.Tool != "" || a.Recipe != "" }

// manifestJSON is the wire form; fields that must be present are pointers.
type manifestJSON struct {
	Manifest
	Normalize *bool `json:"normalize"`
}

var (
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mavenRe  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+$`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
)

// LoadManifest reads and validates dir/manifest.json. Every field is
// checked; errors name the file and the field. It does not check that the
// model files exist (the source tree's manifests have none): see
// VariantPath, TokenizerPath and VerifyChecksums for that.
func LoadManifest(dir string) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("model folder %s: %w", dir, err)
	}
	path := filepath.Join(abs, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("model manifest %s: %w", path, err)
	}
	m.Dir = abs
	return m, nil
}

// ParseManifest decodes and validates a manifest. Unknown fields are
// errors, so that a misspelt optional field is not silently ignored. The
// result's Dir is empty.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w manifestJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	m := w.Manifest
	if w.Normalize == nil {
		return nil, errors.New(`field "normalize": missing (true or false)`)
	}
	m.Normalize = *w.Normalize
	if m.DefaultVariant == "" {
		m.DefaultVariant = "fp32"
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("field %q: %s", field, fmt.Sprintf(format, args...)))
	}
	if m.Name == "" {
		bad("name", "missing")
	} else if !nameRe.MatchString(m.Name) {
		bad("name", "%q is not a plain folder name", m.Name)
	}
	if m.Dims <= 0 {
		bad("dims", "must be a positive integer, got %d", m.Dims)
	}
	switch m.Pooling {
	case PoolingMean, PoolingCLS:
	case "":
		bad("pooling", `missing ("mean" or "cls")`)
	default:
		bad("pooling", `%q is not supported ("mean" or "cls")`, m.Pooling)
	}
	if m.MaxSeqLength <= 0 {
		bad("max_seq_length", "must be a positive integer, got %d", m.MaxSeqLength)
	}
	if err := checkFileName(m.Tokenizer); err != nil {
		bad("tokenizer", "%v", err)
	}
	if m.Inputs.InputIDs == "" {
		bad("inputs.input_ids", "missing")
	}
	if m.Inputs.AttentionMask == "" {
		bad("inputs.attention_mask", "missing")
	}
	names := []string{m.Inputs.InputIDs, m.Inputs.AttentionMask, m.Inputs.TokenTypeIDs}
	if names[0] != "" && (names[0] == names[1] || names[0] == names[2]) ||
		names[1] != "" && names[1] == names[2] {
		bad("inputs", "input names must differ, got %v", names)
	}
	if m.Output == "" {
		bad("output", "missing")
	}
	if len(m.Variants) == 0 {
		bad("variants", "missing (at least one variant name -> ONNX file)")
	}
	for _, v := range slices.Sorted(maps.Keys(m.Variants)) {
		if !nameRe.MatchString(v) {
			bad("variants", "variant name %q is not a plain name", v)
		}
		if err := checkFileName(m.Variants[v]); err != nil {
			bad("variants."+v, "%v", err)
		}
	}
	if _, ok := m.Variants[m.DefaultVariant]; len(m.Variants) > 0 && !ok {
		bad("default_variant", "%q is not one of the variants %v", m.DefaultVariant, m.VariantNames())
	}
	listed := map[string]bool{}
	for i, a := range m.Artifacts {
		f := fmt.Sprintf("artifacts[%d]", i)
		if err := checkFileName(a.File); err != nil {
			bad(f+".file", "%v", err)
		} else if listed[a.File] {
			bad(f+".file", "%q listed twice", a.File)
		}
		listed[a.File] = true
		if !sha256Re.MatchString(a.SHA256) {
			bad(f+".sha256", "%q is not 64 lower-case hex digits (sha256sum FILE)", a.SHA256)
		}
		switch {
		case a.Setup == SetupGPU && (!a.Derived() || !nameRe.MatchString(a.Variant)):
			bad(f+".setup", `"gpu" is for a derived file with a "variant" name (make setup-gpu adds it to the installed variants)`)
		case a.Setup != "" && a.Setup != SetupGPU:
			bad(f+".setup", "%q: want \"gpu\" (make setup-gpu computes the file) or leave it out", a.Setup)
		case a.Setup == "" && a.Variant != "":
			bad(f+".variant", `only with "setup": "gpu"; list a variant under "variants"`)
		}
		if a.Derived() {
			checkDerived(bad, f, a, m.Artifacts[:i])
			continue
		}
		if !a.FromRegistry() && a.JarSHA256 == "" && a.Entry == "" {
			continue // a local file: checksum only
		}
		if !mavenRe.MatchString(a.Maven) {
			bad(f+".maven", "%q is not a Maven coordinate group:artifact:version (or leave maven, jar_sha256 and entry out for a file that is not installed from a jar)", a.Maven)
		}
		if !sha256Re.MatchString(a.JarSHA256) {
			bad(f+".jar_sha256", "%q is not 64 lower-case hex digits", a.JarSHA256)
		}
		if a.Entry == "" {
			bad(f+".entry", "missing (the file's path inside the jar)")
		}
	}
	if len(m.Artifacts) > 0 {
		if m.Tokenizer != "" && !listed[m.Tokenizer] {
			bad("tokenizer", "%q is not listed in artifacts", m.Tokenizer)
		}
		for _, v := range slices.Sorted(maps.Keys(m.Variants)) {
			if f := m.Variants[v]; f != "" && !listed[f] {
				bad("variants."+v, "%q is not listed in artifacts", f)
			}
		}
	}
	return errors.Join(errs...)
}

// checkDerived validates a derived artifact f: its input is an artifact
// listed before it (earlier ones are installed first) that is not derived
// itself, its tool is a relative path inside the source tree, and it has no
// Maven source.
func checkDerived(bad func(field, format string, args ...any), f string, a Artifact, earlier []Artifact) {
	var from *Artifact
	for i := range earlier {
		if earlier[i].File == a.DerivedFrom {
			from = &earlier[i]
		}
	}
	switch {
	case a.DerivedFrom == "":
		bad(f+".derived_from", "missing (the artifact file the tool reads; derived_from, tool and recipe go together)")
	case a.DerivedFrom == a.File:
		bad(f+".derived_from", "%q is the artifact itself", a.DerivedFrom)
	case from == nil:
		bad(f+".derived_from", "%q is not an artifact listed before this one", a.DerivedFrom)
	case from.Derived():
		bad(f+".derived_from", "%q is derived itself; derive from a downloaded artifact", a.DerivedFrom)
	}
	if a.Tool == "" {
		bad(f+".tool", "missing (the script that computes the file, relative to the source tree, e.g. scripts/setup/quantize.py)")
	} else if tool := filepath.ToSlash(a.Tool); strings.HasPrefix(tool, "/") || slices.Contains(strings.Split(tool, "/"), "..") {
		bad(f+".tool", "%q is not a path inside the source tree", a.Tool)
	}
	if a.Recipe == "" {
		bad(f+".recipe", "missing (the tool's recipe name)")
	} else if !nameRe.MatchString(a.Recipe) {
		bad(f+".recipe", "%q is not a plain name", a.Recipe)
	}
	if a.Maven != "" || a.JarSHA256 != "" || a.Entry != "" {
		bad(f+".maven", "a derived artifact has no Maven source (leave maven, jar_sha256 and entry out)")
	}
}

// checkFileName accepts a plain file name inside the model folder.
func checkFileName(f string) error {
	switch {
	case f == "":
		return errors.New("missing")
	case strings.ContainsAny(f, `/\`) || f == "." || f == ".." || f == ManifestFile:
		return fmt.Errorf("%q is not a plain file name inside the model folder", f)
	}
	return nil
}

// VariantNames returns the variant names, sorted.
func (m *Manifest) VariantNames() []string {
	return slices.Sorted(maps.Keys(m.Variants))
}

// VariantPath returns the absolute path of a variant's ONNX file ("" asks
// for DefaultVariant) and checks that it exists.
func (m *Manifest) VariantPath(variant string) (string, error) {
	if variant == "" {
		variant = m.DefaultVariant
	}
	f, ok := m.Variants[variant]
	if !ok {
		return "", fmt.Errorf("model %s: no variant %q (have %s)", m.Name, variant, strings.Join(m.VariantNames(), ", "))
	}
	return m.existing(filepath.Join(m.Dir, f), "variant "+variant)
}

// TokenizerPath returns the absolute path of the tokenizer file and checks
// that it exists.
func (m *Manifest) TokenizerPath() (string, error) {
	return m.existing(filepath.Join(m.Dir, m.Tokenizer), "tokenizer")
}

func (m *Manifest) existing(path, what string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("model %s %s: %w (run make setup, or scripts/setup/fetch_artifacts.py)", m.Name, what, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("model %s %s: %s is not a regular file", m.Name, what, path)
	}
	return path, nil
}

// VerifyChecksums checks every artifact of the model folder against its
// SHA-256. It reads all files (about 0.1 s per 100 MB).
func (m *Manifest) VerifyChecksums() error {
	var errs []error
	for _, a := range m.Artifacts {
		path := filepath.Join(m.Dir, a.File)
		if _, err := os.Stat(path); a.Setup == SetupGPU && errors.Is(err, os.ErrNotExist) {
			continue // computed by make setup-gpu only
		}
		got, err := fileSHA256(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", m.Name, err))
			continue
		}
		if got != a.SHA256 {
			hint := ""
			if a.Derived() {
				hint = fmt.Sprintf(" (computed by %s recipe %s from %s: run make setup to recompute it; if it still differs, "+
					"the tool's pinned package versions in scripts/setup/quant/requirements.txt are not the ones installed)", a.Tool, a.Recipe, a.DerivedFrom)
			}
			errs = append(errs, fmt.Errorf("model %s: %s: SHA-256 %s, manifest says %s%s", m.Name, path, got, a.SHA256, hint))
		}
	}
	return errors.Join(errs...)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
