package embedder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/tokenizer"
)

// CheckOptions configures CheckModel.
type CheckOptions struct {
	// RuntimeLib is ONNX Runtime's shared library; "" looks it up as Open
	// does (Locations, Executable).
	RuntimeLib string
	Locations  inference.Locations
	Executable string
	// Variants restricts the engine checks and the self-test to these
	// variants; nil checks every variant of the manifest.
	Variants []string
	// SkipLongest leaves out the run of one max_seq_length sequence. That
	// run proves the graph accepts the manifest's max_seq_length (a
	// position table shorter than it fails there), but for a model of
	// 8,192 tokens it needs the memory of one full-length batch.
	SkipLongest bool
	// Engine tunes the sessions (PadID is set from the tokenizer).
	Engine inference.EngineOptions
	// Logger receives the engines' log lines; nil discards them.
	Logger *slog.Logger
}

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	CheckOK      CheckStatus = "ok"
	CheckFailed  CheckStatus = "FAIL"
	CheckSkipped CheckStatus = "skip"
)

// CheckResult is one check of a model folder.
type CheckResult struct {
	Name   string      // "manifest", "files", "checksums", "tokenizer", "runtime", "graph fp32", "self-test fp32"
	Status CheckStatus //
	Detail string      // what was found (ok, skip) or what is wrong and what to do (FAIL)
}

// CheckReport is what CheckModel found.
type CheckReport struct {
	Dir     string
	Info    inference.ModelInfo // zero when the manifest could not be loaded
	Results []CheckResult
}

// OK says whether no check failed.
func (r *CheckReport) OK() bool {
	return !slices.ContainsFunc(r.Results, func(c CheckResult) bool { return c.Status == CheckFailed })
}

// Err joins the failed checks, nil when none failed.
func (r *CheckReport) Err() error {
	var errs []error
	for _, c := range r.Results {
		if c.Status == CheckFailed {
			errs = append(errs, fmt.Errorf("%s: %s", c.Name, c.Detail))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("model folder %s: %w", r.Dir, errors.Join(errs...))
}

// WriteTo writes the report, one line per check and a verdict.
func (r *CheckReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if r.Info.Name != "" {
		fmt.Fprintf(&b, "%s\n", r.Info)
	}
	fmt.Fprintf(&b, "folder %s\n", r.Dir)
	for _, c := range r.Results {
		fmt.Fprintf(&b, "%-4s  %-16s %s\n", c.Status, c.Name, c.Detail)
	}
	if r.OK() {
		b.WriteString("model OK\n")
	} else {
		b.WriteString("model NOT usable: fix the FAIL lines above\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// selfTestTexts are embedded by the self-test: several scripts, emoji, an
// empty text (only the special tokens), lengths from 2 to ~30 tokens.
var selfTestTexts = [...]string{
	"The quick brown fox jumps over the lazy dog.",
	"José Müller paid 49.15 EUR at REWE, Łódź",
	"北京市朝阳区 東京都渋谷区 서울특별시",
	"",
	"payment 💳 for coffee ☕",
	"Москва, Красная площадь; Ελληνικά γράμματα; مرحبا بالعالم",
}

// CheckModel checks the model folder dir before it is installed or used:
// the manifest, that its files exist and match their checksums (where it
// lists them), the tokenizer (kind, pad id, truncation to max_seq_length),
// each variant's ONNX graph against the manifest (inputs, output, dims),
// and a self-test per variant that embeds a few texts: vectors of the
// manifest's dims, finite, of unit norm when the manifest normalises,
// different for different texts, the same alone and padded in a batch
// (which is where a wrong pad id shows for RoBERTa-style graphs), and one
// sequence of max_seq_length tokens. The report lists every check; the
// error joins the failed ones (nil when the model is usable).
func CheckModel(ctx context.Context, dir string, o CheckOptions) (*CheckReport, error) {
	r := &CheckReport{Dir: dir}
	add := func(name string, st CheckStatus, format string, args ...any) {
		r.Results = append(r.Results, CheckResult{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
	}
	m, err := inference.LoadManifest(dir)
	if err != nil {
		add("manifest", CheckFailed, "%v; write %s as inference/README.md describes (\"Bringing your own model\")", err, inference.ManifestFile)
		return r, r.Err()
	}
	r.Dir = m.Dir
	r.Info = m.Describe()
	add("manifest", CheckOK, "%s", inference.ManifestFile)

	// Files and checksums.
	var missing []string
	tokPath, err := m.TokenizerPath()
	if err != nil {
		missing = append(missing, err.Error())
	}
	variants := o.Variants
	if variants == nil {
		variants = m.VariantNames()
	}
	for _, v := range variants {
		if _, err := m.VariantPath(v); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) > 0 {
		add("files", CheckFailed, "%s; put the files in the folder under the names the manifest gives", strings.Join(missing, "; "))
		return r, r.Err()
	}
	add("files", CheckOK, "tokenizer %s, variants %s", m.Tokenizer, strings.Join(variants, ", "))
	if len(m.Artifacts) == 0 {
		add("checksums", CheckSkipped, "the manifest lists no artifacts (add {\"file\", \"sha256\"} entries to have the files checked)")
	} else if err := m.VerifyChecksums(); err != nil {
		add("checksums", CheckFailed, "%v; a file changed or is not the one the manifest names: replace it, or correct sha256 (sha256sum FILE)", err)
	} else {
		add("checksums", CheckOK, "%d files match their SHA-256", len(m.Artifacts))
	}

	// Tokenizer.
	tok, err := tokenizer.Load(tokPath, tokenizer.Options{MaxLen: m.MaxSeqLength})
	if err != nil {
		add("tokenizer", CheckFailed, "%v; flinkfn reads HuggingFace tokenizer.json files of BERT WordPiece and XLM-R (sentencepiece Unigram) models", err)
		return r, r.Err()
	}
	pad := tok.PadID()
	add("tokenizer", CheckOK, "%s, pad id %d, truncates at %d tokens", tok.Kind(), pad, m.MaxSeqLength)

	// Runtime.
	lib := o.RuntimeLib
	if lib == "" {
		exe := o.Executable
		if exe == "" {
			exe = inference.Executable()
		}
		if lib, err = inference.FindRuntimeLibrary(o.Locations, exe); err != nil {
			add("runtime", CheckFailed, "%v", err)
			return r, r.Err()
		}
	}
	rt, err := inference.OpenRuntime(lib)
	if err != nil {
		add("runtime", CheckFailed, "%v", err)
		return r, r.Err()
	}
	defer rt.Close()
	add("runtime", CheckOK, "ONNX Runtime %s (%s)", rt.Version(), lib)

	seqs, err := selfTestSeqs(tok, m.MaxSeqLength, !o.SkipLongest)
	if err != nil {
		add("tokenizer", CheckFailed, "%v", err)
		return r, r.Err()
	}
	eo := o.Engine
	eo.PadID = pad
	if eo.Logger == nil {
		eo.Logger = o.Logger
	}
	if eo.Logger == nil {
		eo.Logger = slog.New(slog.DiscardHandler)
	}
	for _, v := range variants {
		if err := ctx.Err(); err != nil {
			return r, errors.Join(r.Err(), err)
		}
		eng, err := inference.NewEngine(rt, m, v, eo)
		if err != nil {
			add("graph "+v, CheckFailed, "%v; correct the manifest's inputs/output/dims to the graph's, or export the graph with those names", err)
			continue
		}
		add("graph "+v, CheckOK, "inputs and output match the manifest")
		detail, err := selfTest(ctx, eng, m, seqs)
		if err != nil {
			add("self-test "+v, CheckFailed, "%v", err)
		} else {
			add("self-test "+v, CheckOK, "%s", detail)
		}
		if err := eng.Close(); err != nil {
			add("self-test "+v, CheckFailed, "%v", err)
		}
	}
	return r, r.Err()
}

// selfTestSeqs tokenizes the self-test texts; with longest, the last
// sequence is a text truncated to exactly maxLen tokens.
func selfTestSeqs(tok *tokenizer.Tokenizer, maxLen int, longest bool) ([][]int64, error) {
	var seqs [][]int64
	for _, t := range selfTestTexts {
		enc, err := tok.Encode(t)
		if err != nil {
			return nil, fmt.Errorf("tokenize %q: %w", t, err)
		}
		seqs = append(seqs, enc.IDs)
	}
	if longest {
		enc, err := tok.Encode(strings.Repeat("transaction ", maxLen+8))
		if err != nil {
			return nil, fmt.Errorf("tokenize a long text: %w", err)
		}
		if !enc.Truncated || len(enc.IDs) != maxLen {
			return nil, fmt.Errorf("a text of %d words gave %d tokens (truncated %t), want exactly max_seq_length %d", maxLen+8, len(enc.IDs), enc.Truncated, maxLen)
		}
		seqs = append(seqs, enc.IDs)
	}
	return seqs, nil
}

// batchTolerance is how far (1 - cosine) a vector computed in a padded
// batch may be from the same sequence alone. Float variants ("fp32",
// "fp16", ...) agree to float noise (fp32 graphs of all-MiniLM-L6-v2,
// bge-small-en-v1.5 and the tiny XLM-R: bit-identical). Dynamically
// quantised (int8) graphs quantise activations with one scale per batch,
// so their vectors depend on the batch: all-MiniLM-L6-v2's int8
// (LangChain4j's) gave 1 - cosine up to 0.032 beside a 256-token sequence;
// for them only a gross leak is caught.
func batchTolerance(variant string) float64 {
	if strings.HasPrefix(variant, "fp") {
		return 1e-5
	}
	return 0.1
}

// selfTest embeds seqs alone and together, and checks the vectors.
func selfTest(ctx context.Context, eng *inference.Engine, m *inference.Manifest, seqs [][]int64) (string, error) {
	short := seqs[:len(selfTestTexts)]
	alone := make([][]float32, len(seqs))
	for i, s := range seqs {
		vs, err := eng.Run(ctx, [][]int64{s})
		if err != nil {
			if len(s) == m.MaxSeqLength && i >= len(selfTestTexts) {
				return "", fmt.Errorf("one sequence of max_seq_length %d tokens fails: %w; the graph accepts fewer positions: lower max_seq_length to the model's (e.g. config.json max_position_embeddings, minus 2 for XLM-R)", len(s), err)
			}
			return "", fmt.Errorf("embedding %d tokens: %w", len(s), err)
		}
		alone[i] = vs[0]
	}
	for i, v := range alone {
		if len(v) != m.Dims {
			return "", fmt.Errorf("vector of %d dims, manifest says %d", len(v), m.Dims)
		}
		var ss float64
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return "", fmt.Errorf("sequence %d (%d tokens): component %d is %v; the graph or this variant is broken", i, len(seqs[i]), j, x)
			}
			ss += float64(x) * float64(x)
		}
		if n := math.Sqrt(ss); m.Normalize && math.Abs(n-1) > 1e-3 {
			return "", fmt.Errorf("sequence %d: norm %.6f, want 1 (the manifest normalises)", i, n)
		} else if n == 0 {
			return "", fmt.Errorf("sequence %d (%d tokens): zero vector; check output (the last hidden state) and pooling", i, len(seqs[i]))
		}
	}
	// Different texts, different vectors.
	minSim := 1.0
	for i := range short {
		for j := i + 1; j < len(short); j++ {
			minSim = min(minSim, cosine(alone[i], alone[j]))
		}
	}
	if minSim > 0.9999 {
		return "", fmt.Errorf("all %d texts give the same vector (min cosine between them %.6f): check output (the last hidden state per token, not a pooled output) and pooling", len(short), minSim)
	}
	// Padded, in reverse order, beside the longest sequence: as alone.
	batch := slices.Clone(seqs)
	slices.Reverse(batch)
	vs, err := eng.Run(ctx, batch)
	if err != nil {
		return "", fmt.Errorf("batch of %d sequences: %w", len(batch), err)
	}
	worst := 0.0
	for j, v := range vs {
		i := len(seqs) - 1 - j
		d := 1 - cosine(v, alone[i])
		worst = max(worst, d)
		if d > batchTolerance(eng.Variant()) {
			return "", fmt.Errorf("sequence %d (%d tokens) padded to %d in a batch: cosine %.6f to the same sequence alone; padding leaks into the vector: the pad id (%d) or the attention mask is not what the graph expects",
				i, len(seqs[i]), len(seqs[len(seqs)-1]), 1-d, eng.PadID())
		}
	}
	longest := "longest run skipped"
	if len(seqs) > len(selfTestTexts) {
		longest = fmt.Sprintf("one sequence of %d tokens runs", len(seqs[len(seqs)-1]))
	}
	unit := ""
	if m.Normalize {
		unit = ", unit norm"
	}
	return fmt.Sprintf("%d texts: %d dims, finite%s, distinct (min cosine between texts %.3f), padded in a batch = alone (1 - cosine %.1e, tolerance %.0e); %s",
		len(seqs), m.Dims, unit, minSim, worst, batchTolerance(eng.Variant()), longest), nil
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
