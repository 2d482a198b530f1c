package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// EngineOptions tunes an Engine's ONNX Runtime session.
type EngineOptions struct {
	// IntraOpThreads is the size of the session's thread pool used inside
	// an operator (matrix multiplications). 0 means runtime.GOMAXPROCS(0),
	// which the Go runtime (1.25+) derives from the cgroup CPU limit.
	IntraOpThreads int
	// InterOpThreads is the number of threads running independent graph
	// nodes in parallel. 0 means 1 (the session runs nodes sequentially).
	InterOpThreads int
	// Spin lets idle intra-op threads busy-wait for the next piece of
	// work. It buys a little latency at the cost of burning CPU between
	// operators and between batches, which on a worker sharing its cores
	// with the JVM and with tokenization is usually a bad trade, so it is
	// off by default.
	Spin bool
	// PadID is the token id that fills a batch's sequences up to its
	// longest one: the tokenizer's pad id (tokenizer.PadID(), e.g. 0 for
	// BERT's [PAD], 1 for XLM-R's <pad>). Padded positions have attention
	// mask 0, so for BERT graphs the id does not change any vector; but
	// RoBERTa-style graphs (XLM-R and its descendants) compute position ids
	// from input_ids != padding_idx, and must see their own pad id there.
	// The embedder sets it from the tokenizer.
	PadID int64
	// Device is where the graph runs: the CPU (the zero value) or a CUDA
	// GPU through ONNX Runtime's CUDA execution provider, which needs the
	// GPU build of ONNX Runtime (make setup-gpu) and, loaded first,
	// the CUDA libraries (OpenCUDA). Operators the provider lacks run on
	// the CPU.
	Device Device
	// CUDA tunes the CUDA provider; ignored on the CPU.
	CUDA CUDAOptions
	// Logger receives the engine's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Engine runs one variant of an embedding model in one ONNX Runtime
// session. Run may be called from many goroutines at once: ONNX Runtime
// sessions are safe for concurrent Run calls, and each call has its own
// input and output buffers.
type Engine struct {
	rt        *Runtime // the engine's own handle, released by Close
	model     string
	variant   string
	path      string
	dims      int
	maxLen    int
	pooling   Pooling
	normalize bool
	tokenType bool  // the graph has a token_type_ids input
	inputs    int   // number of graph inputs fed
	padID     int64 // fills sequences up to the batch's longest
	device    Device
	gpuLimit  int64 // the session's gpu_mem_limit (0: none or CPU)

	mu     sync.RWMutex // Run holds it for reading, Close for writing
	closed bool
	sess   *ort.DynamicAdvancedSession
}

// NewEngine loads variant ("" for the manifest's default) of the model m
// into a new session on rt. It checks the graph's inputs and output
// against the manifest.
func NewEngine(rt *Runtime, m *Manifest, variant string, o EngineOptions) (*Engine, error) {
	if variant == "" {
		variant = m.DefaultVariant
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	path, err := m.VariantPath(variant)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("model %s variant %s (%s)", m.Name, variant, path)
	if o.IntraOpThreads < 0 || o.InterOpThreads < 0 {
		return nil, fmt.Errorf("%s: negative thread count in %+v", where, o)
	}
	if o.PadID < 0 {
		return nil, fmt.Errorf("%s: negative pad id %d (use the tokenizer's PadID())", where, o.PadID)
	}
	intra := o.IntraOpThreads
	if intra == 0 {
		intra = runtime.GOMAXPROCS(0)
	}
	inter := o.InterOpThreads
	if inter == 0 {
		inter = 1
	}
	h, err := rt.retain()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	ok := false
	defer func() {
		if !ok {
			h.Close()
		}
	}()

	start := time.Now()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("%s: session options: %w", where, err)
	}
	defer opts.Destroy()
	spin := "0"
	if o.Spin {
		spin = "1"
	}
	for _, step := range []struct {
		what string
		err  error
	}{
		{"intra-op threads", opts.SetIntraOpNumThreads(intra)},
		{"inter-op threads", opts.SetInterOpNumThreads(inter)},
		{"execution mode", opts.SetExecutionMode(ort.ExecutionModeSequential)},
		{"graph optimization level", opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll)},
		// The CPU arena keeps the largest batch's activations for reuse.
		// The batcher's token budget bounds that batch, and the model's
		// footprint is measured after a warm-up on the worst one, so the
		// arena stays inside what is reserved. Without the arena every run
		// maps and faults its activations anew: measured 1.9× slower
		// (`flinkfn embed`, 1,024-token batches: 69 vs 134 rows/s) for
		// 1 MiB less footprint.
		{"CPU memory arena", opts.SetCpuMemArena(true)},
		{"intra-op spinning", opts.AddSessionConfigEntry("session.intra_op.allow_spinning", spin)},
		{"inter-op spinning", opts.AddSessionConfigEntry("session.inter_op.allow_spinning", spin)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("%s: session option %s: %w", where, step.what, step.err)
		}
	}

	if o.Device.CUDA {
		if err := appendCUDA(opts, o.Device, o.CUDA, rt.LibraryPath()); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}

	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: reading graph inputs and outputs: %w", where, err)
	}
	if err := checkGraph(m, ins, outs); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	names := []string{m.Inputs.InputIDs, m.Inputs.AttentionMask}
	if m.Inputs.TokenTypeIDs != "" {
		names = append(names, m.Inputs.TokenTypeIDs)
	}
	sess, err := ort.NewDynamicAdvancedSession(path, names, []string{m.Output}, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: creating session: %w", where, err)
	}
	ok = true
	e := &Engine{
		rt:        h,
		model:     m.Name,
		variant:   variant,
		path:      path,
		dims:      m.Dims,
		maxLen:    m.MaxSeqLength,
		pooling:   m.Pooling,
		normalize: m.Normalize,
		tokenType: m.Inputs.TokenTypeIDs != "",
		inputs:    len(names),
		padID:     o.PadID,
		device:    o.Device,
		sess:      sess,
	}
	if o.Device.CUDA {
		e.gpuLimit = o.CUDA.MemLimit
	}
	log.Info("inference engine ready", "model", m.Name, "variant", variant, "file", path,
		"onnxruntime", rt.Version(), "intra_op_threads", intra, "inter_op_threads", inter,
		"spin", o.Spin, "device", o.Device.String(), "dims", m.Dims, "max_seq_length", m.MaxSeqLength, "pooling", m.Pooling, "pad_id", o.PadID,
		"load_time", time.Since(start).Round(time.Millisecond))
	return e, nil
}

// checkGraph compares the graph's declared inputs and output with the
// manifest: every named input must exist and be int64 [batch, sequence];
// every graph input must be fed; the output must be float32 [batch,
// sequence, dims].
func checkGraph(m *Manifest, ins, outs []ort.InputOutputInfo) error {
	byName := map[string]ort.InputOutputInfo{}
	for _, in := range ins {
		byName[in.Name] = in
	}
	want := map[string]string{
		m.Inputs.InputIDs:      "inputs.input_ids",
		m.Inputs.AttentionMask: "inputs.attention_mask",
	}
	if m.Inputs.TokenTypeIDs != "" {
		want[m.Inputs.TokenTypeIDs] = "inputs.token_type_ids"
	}
	var errs []error
	for name, field := range want {
		in, ok := byName[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("manifest %s names graph input %q, which the graph lacks (graph inputs: %v)", field, name, ioNames(ins)))
		case in.DataType != ort.TensorElementDataTypeInt64 || len(in.Dimensions) != 2:
			errs = append(errs, fmt.Errorf("graph input %q is %v %v, want int64 [batch, sequence]", name, in.DataType, in.Dimensions))
		}
	}
	for _, in := range ins {
		if _, ok := want[in.Name]; !ok {
			errs = append(errs, fmt.Errorf("graph input %q is not named in the manifest's inputs", in.Name))
		}
	}
	found := false
	for _, out := range outs {
		if out.Name != m.Output {
			continue
		}
		found = true
		d := out.Dimensions
		if out.DataType != ort.TensorElementDataTypeFloat || len(d) != 3 || (d[2] > 0 && d[2] != int64(m.Dims)) {
			errs = append(errs, fmt.Errorf("graph output %q is %v %v, want float32 [batch, sequence, %d] (manifest dims)", m.Output, out.DataType, d, m.Dims))
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("manifest output %q is not a graph output (graph outputs: %v)", m.Output, ioNames(outs)))
	}
	return errors.Join(errs...)
}

func ioNames(l []ort.InputOutputInfo) []string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = x.Name
	}
	return s
}

// Dims returns the embedding size.
func (e *Engine) Dims() int { return e.dims }

// MaxSeqLen returns the longest sequence Run accepts, special tokens
// included.
func (e *Engine) MaxSeqLen() int { return e.maxLen }

// PadID returns the id that pads sequences in a batch.
func (e *Engine) PadID() int64 { return e.padID }

// Pooling returns how token states become the sentence vector.
func (e *Engine) Pooling() Pooling { return e.pooling }

// Model returns the model's name.
func (e *Engine) Model() string { return e.model }

// Variant returns the variant name.
func (e *Engine) Variant() string { return e.variant }

// Device returns where the graph runs.
func (e *Engine) Device() Device { return e.device }

// GPUMemLimit is the session's GPU memory arena limit in bytes (0 on the
// CPU, or on a GPU without a limit).
func (e *Engine) GPUMemLimit() int64 { return e.gpuLimit }

// Run embeds a batch of token id sequences (each already holding the
// special tokens, e.g. [CLS] ... [SEP], unpadded, 1 to MaxSeqLen ids) and
// returns one vector of Dims float32 per sequence, in order. The batch is
// padded to its longest sequence (EngineOptions.PadID, attention mask 0,
// token type 0),
// run through the graph, pooled as the manifest says (mean over the tokens
// whose mask is 1, or the first token) and, if the manifest says so,
// L2-normalised: the same computation as sentence-transformers' Pooling
// and Normalize modules. Run is safe for concurrent use. A cancelled ctx
// stops a Run before it starts and interrupts one in progress.
func (e *Engine) Run(ctx context.Context, seqs [][]int64) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("model %s variant %s: %w", e.model, e.variant, err)
	}
	if len(seqs) == 0 {
		return [][]float32{}, nil
	}
	batch, seqLen := len(seqs), 0
	for i, s := range seqs {
		switch {
		case len(s) == 0:
			return nil, fmt.Errorf("model %s variant %s: sequence %d of %d is empty", e.model, e.variant, i, batch)
		case len(s) > e.maxLen:
			return nil, fmt.Errorf("model %s variant %s: sequence %d of %d has %d tokens, more than max_seq_length %d", e.model, e.variant, i, batch, len(s), e.maxLen)
		}
		if j := slices.IndexFunc(s, func(id int64) bool { return id < 0 }); j >= 0 {
			// ONNX Gather would read negative ids from the end of the
			// vocabulary instead of failing.
			return nil, fmt.Errorf("model %s variant %s: sequence %d of %d has a negative token id at %d", e.model, e.variant, i, batch, j)
		}
		seqLen = max(seqLen, len(s))
	}
	n := batch * seqLen
	// One allocation for ids, mask and token types; the token types stay 0.
	buf := make([]int64, 3*n)
	ids, mask, types := buf[:n:n], buf[n:2*n:2*n], buf[2*n:]
	for i, s := range seqs {
		copy(ids[i*seqLen:], s)
		if e.padID != 0 {
			pad := ids[i*seqLen+len(s) : (i+1)*seqLen]
			for j := range pad {
				pad[j] = e.padID
			}
		}
		m := mask[i*seqLen : i*seqLen+len(s)]
		for j := range m {
			m[j] = 1
		}
	}
	hidden := make([]float32, n*e.dims)
	if err := e.run(ctx, batch, seqLen, ids, mask, types, hidden); err != nil {
		return nil, e.runError(ctx, batch, seqLen, err)
	}
	out := make([][]float32, batch)
	vecs := make([]float32, batch*e.dims)
	for i, s := range seqs {
		v := vecs[i*e.dims : (i+1)*e.dims : (i+1)*e.dims]
		rows := hidden[i*seqLen*e.dims : (i*seqLen+len(s))*e.dims]
		switch e.pooling {
		case PoolingCLS:
			copy(v, rows[:e.dims])
		default:
			meanPool(v, rows, e.dims)
		}
		if e.normalize {
			l2Normalize(v)
		}
		out[i] = v
	}
	return out, nil
}

// runError names the failed batch; on a GPU an allocation failure becomes
// ErrDeviceOutOfMemory with the session's limit and the fix.
func (e *Engine) runError(ctx context.Context, batch, seqLen int, err error) error {
	if e.device.CUDA && ctx.Err() == nil && isDeviceOOM(err.Error()) {
		limit := "no limit"
		if e.gpuLimit > 0 {
			limit = "its limit " + GiB(e.gpuLimit)
		}
		return fmt.Errorf("model %s variant %s on %s: batch of %d x %d tokens: %w (%s): %v. The engine goes on with "+
			"later batches; give the model more GPU memory (--gpu-memory-fraction) or make batches smaller (--max-batch-tokens)",
			e.model, e.variant, e.device, batch, seqLen, ErrDeviceOutOfMemory, limit, err)
	}
	return fmt.Errorf("model %s variant %s: batch of %d x %d tokens: %w", e.model, e.variant, batch, seqLen, err)
}

// run feeds the graph. hidden receives the output, [batch, seqLen, dims].
func (e *Engine) run(ctx context.Context, batch, seqLen int, ids, mask, types []int64, hidden []float32) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return errors.New("engine closed")
	}
	shape := ort.NewShape(int64(batch), int64(seqLen))
	var values []ort.Value
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, data := range [][]int64{ids, mask, types}[:e.inputs] {
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return fmt.Errorf("input tensor: %w", err)
		}
		values = append(values, t)
	}
	out, err := ort.NewTensor(ort.NewShape(int64(batch), int64(seqLen), int64(e.dims)), hidden)
	if err != nil {
		return fmt.Errorf("output tensor: %w", err)
	}
	values = append(values, out)

	var runOpts *ort.RunOptions
	if ctx.Done() != nil {
		// Let a cancellation interrupt the session between operators.
		runOpts, err = ort.NewRunOptions()
		if err != nil {
			return fmt.Errorf("run options: %w", err)
		}
		defer runOpts.Destroy()
		terminated := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(terminated)
			runOpts.Terminate()
		})
		defer func() {
			if !stop() {
				<-terminated // Terminate has been called: wait before Destroy
			}
		}()
	}
	if err := e.sess.RunWithOptions(values[:e.inputs], values[e.inputs:], runOpts); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return err
	}
	return nil
}

// meanPool sets v to the mean of the rows (each dims long) of hidden: the
// hidden states of a sequence's real tokens, whose attention mask is 1.
// Sums are accumulated in float64 and divided by max(count, 1e-9), as
// sentence-transformers' mean pooling does (it sums in float32; float64
// is closer to the exact mean and within 1e-7 of it).
func meanPool(v, hidden []float32, dims int) {
	acc := make([]float64, dims)
	count := len(hidden) / dims
	for t := range count {
		row := hidden[t*dims : (t+1)*dims]
		for j, x := range row {
			acc[j] += float64(x)
		}
	}
	div := max(float64(count), 1e-9)
	for j := range v {
		v[j] = float32(acc[j] / div)
	}
}

// l2Normalize divides v by max(‖v‖₂, 1e-12), as
// torch.nn.functional.normalize does.
func l2Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	norm := max(math.Sqrt(ss), 1e-12)
	for j, x := range v {
		v[j] = float32(float64(x) / norm)
	}
}

// Close releases the session and the engine's runtime handle. It waits for
// Runs in progress; later Runs fail. Closing twice is a no-op.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	if err := e.sess.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("model %s variant %s: destroying session: %w", e.model, e.variant, err))
	}
	if err := e.rt.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
