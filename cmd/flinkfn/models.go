package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/embedder"
	"github.com/flinkfn/flinkfn/inference/tokenizer"
	"github.com/flinkfn/flinkfn/memory"
)

const modelsUsage = `Usage: flinkfn models [--measure] [--json]
       flinkfn models check DIR

Lists the installed models (every folder with a manifest.json under
$FLINKFN_HOME/models, <this binary>/../models, /usr/local/share/flinkfn/models
and /usr/share/flinkfn/models): name, dims, pooling, maximum tokens, tokenizer,
variants with their file sizes, and the folder. A template names a model by
its name ("model": "bge-small-en-v1.5"); flinkfn pool --model NAME loads it.

  --measure   load each model's default variant here, warm it with its worst
              batch and report the footprint the pool and the worker reserve
              for it (takes a few seconds per model)
  --json      one JSON object per model

check DIR checks a model folder you bring before you install it: its manifest,
files and checksums, the ONNX graph's inputs and outputs against the manifest,
the tokenizer, and a self-test that embeds a few texts.
`

// listedModel is one installed model, as `flinkfn models --json` prints it.
type listedModel struct {
	inference.ModelInfo
	Footprint int64  `json:"footprint_bytes,omitempty"`
	Err       string `json:"error,omitempty"`
}

func runModels(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(cmdTools, nil, getenv)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "check" {
		return runModelsCheck(ctx, args[1:], cfg.Locations, stdout, stderr)
	}
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, modelsUsage) }
	measure := fs.Bool("measure", false, "measure each model's footprint")
	asJSON := fs.Bool("json", false, "JSON lines")
	if err := parseArgs(fs, args, ""); err != nil {
		return err
	}
	roots := inference.ModelRoots(cfg.Locations, inference.Executable())
	infos := installedModels(roots)
	if len(infos) == 0 {
		return exitError{code: 1, msg: fmt.Sprintf("flinkfn models: no model installed under %s; run `make setup`, or install a model folder (see inference/README.md)",
			strings.Join(roots, ", "))}
	}
	if *measure {
		quiet := slog.New(slog.DiscardHandler)
		for i := range infos {
			if infos[i].Err != "" {
				continue
			}
			e, fp, _, err := loadMeasured(ctx, embedder.Config{ModelDir: infos[i].Dir, Variant: cfg.Variant, Locations: cfg.Locations, Logger: quiet}, quiet)
			if err != nil {
				infos[i].Err = err.Error()
				continue
			}
			e.Close()
			infos[i].Footprint = fp
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, m := range infos {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	head := "NAME\tDIMS\tPOOLING\tMAX TOKENS\tTOKENIZER\tVARIANTS"
	if *measure {
		head += "\tFOOTPRINT"
	}
	fmt.Fprintln(w, head+"\tFOLDER")
	for _, m := range infos {
		if m.Err != "" && m.Dims == 0 {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\t%s (%s)\n", m.Name, m.Dir, m.Err)
			continue
		}
		kind := m.TokenizerKind
		if kind == "" {
			kind = "?"
		}
		line := fmt.Sprintf("%s\t%d\t%s\t%d\t%s\t%s", m.Name, m.Dims, m.Pooling, m.MaxSeqLength, kind, variantList(m.ModelInfo))
		if *measure {
			fp := "-"
			if m.Footprint > 0 {
				fp = memory.MiB(m.Footprint)
			}
			line += "\t" + fp
		}
		if m.Err != "" {
			line += "\t" + m.Dir + " (" + m.Err + ")"
		} else {
			line += "\t" + m.Dir
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

func variantList(m inference.ModelInfo) string {
	parts := make([]string, len(m.Variants))
	for i, v := range m.Variants {
		size := "missing"
		if v.Size >= 0 {
			size = memory.MiB(v.Size)
		}
		def := ""
		if v.Name == m.DefaultVariant {
			def = "*"
		}
		parts[i] = fmt.Sprintf("%s%s (%s)", v.Name, def, size)
	}
	return strings.Join(parts, ", ")
}

// installedModels lists the model folders under roots; a name found in
// several roots is listed once, from the first (the one a name resolves to).
func installedModels(roots []string) []listedModel {
	var out []listedModel
	seen := map[string]bool{}
	for _, root := range roots {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if !e.IsDir() || seen[e.Name()] {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, inference.ManifestFile)); err != nil {
				continue
			}
			seen[e.Name()] = true
			info, err := inference.DescribeModel(dir)
			l := listedModel{ModelInfo: info}
			if err != nil {
				l.Name, l.Dir, l.Err = e.Name(), dir, err.Error()
			}
			out = append(out, l)
		}
	}
	return out
}

const tokenizeUsage = `Usage: flinkfn tokenize [--model NAME|DIR] [--max-len N] < texts

Reads one text per line on stdin and writes the model's token ids for it, one
line of space-separated ids per input line, special tokens included and
truncated to the model's maximum length as the embedding functions do.

  --model NAME|DIR  an installed model's name or a model folder (default: as embed finds it)
  --max-len N       truncate to N tokens instead of the model's max_seq_length
`

func runTokenize(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenizeUsage) }
	model := fs.String("model", "", "model name or folder")
	maxLen := fs.Int("max-len", 0, "maximum tokens")
	if err := parseArgs(fs, args, "texts come on stdin"); err != nil {
		return err
	}
	cfg, err := loadConfig(cmdTools, nil, getenv)
	if err != nil {
		return err
	}
	dir, err := modelDir(*model, cfg.Locations)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = inference.FindModelDir("", cfg.Locations, inference.Executable()); err != nil {
			return err
		}
	}
	m, err := inference.LoadManifest(dir)
	if err != nil {
		return err
	}
	p, err := m.TokenizerPath()
	if err != nil {
		return err
	}
	n := m.MaxSeqLength
	if *maxLen > 0 {
		n = *maxLen
	}
	tok, err := tokenizer.Load(p, tokenizer.Options{MaxLen: n})
	if err != nil {
		return fmt.Errorf("model %s: %w", dir, err)
	}
	in := bufio.NewReaderSize(stdin, 1<<16)
	out := bufio.NewWriterSize(stdout, 1<<16)
	defer out.Flush()
	var buf []byte
	for line := 1; ; line++ {
		s, rerr := in.ReadString('\n')
		if len(s) == 0 && rerr != nil {
			if rerr == io.EOF {
				break
			}
			return fmt.Errorf("read stdin: %w", rerr)
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		enc, err := tok.Encode(s)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		buf = buf[:0]
		for i, id := range enc.IDs {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = strconv.AppendInt(buf, id, 10)
		}
		buf = append(buf, '\n')
		if _, err := out.Write(buf); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		if rerr == io.EOF {
			break
		}
	}
	return out.Flush()
}

// runModelsCheck is `flinkfn models check DIR`.
func runModelsCheck(ctx context.Context, args []string, loc inference.Locations, stdout, stderr io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, modelsUsage)
		return exitError{code: 2}
	}
	return checkModelDir(ctx, args[0], loc, stdout)
}
