package fnharness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/fnharness/internal/pickle"
)

// URNs Flink uses for the operations and coders a Table API worker runs.
const (
	urnScalarFunction      = "flink:transform:scalar_function:v1"
	urnTableFunction       = "flink:transform:table_function:v1"
	urnAsyncScalarFunction = "flink:transform:async_scalar_function:v1"
	urnSource              = "beam:runner:source:v1"
	urnSink                = "beam:runner:sink:v1"
	urnFlinkCoder          = "flink:coder:v1"
	urnLengthPrefix        = "beam:coder:length_prefix:v1"
	urnParamWindowedValue  = "beam:coder:param_windowed_value:v1"
	urnWindowedValue       = "beam:coder:windowed_value:v1"
)

// planCache builds each descriptor's plan once; concurrent bundles of the
// same descriptor wait for the first build.
type planCache struct {
	mu      sync.Mutex
	entries map[string]*planEntry
	offered map[string]*fnpb.ProcessBundleDescriptor // from Register requests
}

type planEntry struct {
	done chan struct{}
	p    *plan
	err  error
	// urls are the data endpoints the descriptor names, known even when
	// building the plan failed: the worker must still connect to them,
	// because Flink waits for a data client before it sends any input.
	urls []string
}

func newPlanCache() *planCache {
	return &planCache{entries: map[string]*planEntry{}, offered: map[string]*fnpb.ProcessBundleDescriptor{}}
}

func (c *planCache) offer(d *fnpb.ProcessBundleDescriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offered[d.GetId()] = d
}

func (c *planCache) get(ctx context.Context, control fnpb.BeamFnControlClient, reg *fn.Registry, id string) (*plan, []string, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if ok {
		c.mu.Unlock()
		select {
		case <-e.done:
			if e.err != nil {
				return nil, e.urls, e.err
			}
			return e.p, e.urls, e.p.open(ctx)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	e = &planEntry{done: make(chan struct{})}
	c.entries[id] = e
	d := c.offered[id]
	c.mu.Unlock()

	var fetchErr error
	if d == nil {
		d, fetchErr = control.GetProcessBundleDescriptor(ctx, &fnpb.GetProcessBundleDescriptorRequest{ProcessBundleDescriptorId: id})
		if fetchErr != nil {
			fetchErr = fmt.Errorf("fetch process bundle descriptor %s: %w", id, fetchErr)
		}
	}
	if fetchErr != nil {
		// Not cached: a later bundle may fetch it successfully.
		c.mu.Lock()
		delete(c.entries, id)
		c.mu.Unlock()
		e.err = fetchErr
		close(e.done)
		return nil, nil, fetchErr
	}
	e.urls = dataURLs(d)
	e.p, e.err = buildPlan(d, reg)
	close(e.done)
	if e.err != nil {
		return nil, e.urls, e.err
	}
	return e.p, e.urls, e.p.open(ctx)
}

// close releases what the plans' functions opened (the session ended).
func (c *planCache) close() {
	c.mu.Lock()
	entries := c.entries
	c.entries = map[string]*planEntry{}
	c.mu.Unlock()
	for _, e := range entries {
		<-e.done
		if e.p != nil {
			e.p.close()
		}
	}
}

// dataURLs lists the distinct data endpoints of a descriptor's gRPC read
// and write transforms.
func dataURLs(d *fnpb.ProcessBundleDescriptor) []string {
	seen := map[string]bool{}
	var urls []string
	for _, t := range d.GetTransforms() {
		if u := t.GetSpec().GetUrn(); u != urnSource && u != urnSink {
			continue
		}
		var rp fnpb.RemoteGrpcPort
		if proto.Unmarshal(t.GetSpec().GetPayload(), &rp) != nil {
			continue
		}
		if u := rp.GetApiServiceDescriptor().GetUrl(); u != "" && !seen[u] {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	sort.Strings(urls)
	return urls
}

// port is one end of the data plane: a gRPC read or write transform.
type port struct {
	transformID string
	url         string
}

// plan is the executable form of one ProcessBundleDescriptor.
type plan struct {
	descriptorID string
	transform    string // the user transform's id
	table        bool   // table function (else scalar)

	source, sink port
	in, out      *rowCodec // fields only (rc nil) for a pandas operator
	// arrowIn and arrowOut are set for a pandas (Arrow batch) operator.
	arrowIn, arrowOut *arrowCodec
	calls             []*call
	inSchema          []fn.Field

	// all is every call of the tree, nested ones included.
	all []*call
	// openMu guards opened and closers: functions with an Open hook are
	// opened by the first bundle that gets the plan (again after a failed
	// open) and closed with the session.
	openMu  sync.Mutex
	opened  bool
	closers []func()
}

// open runs the Open hooks of the plan's functions once; a failure leaves
// the plan unopened, so that the next bundle tries again (a cancelled
// bundle must not fail the operator for good).
func (p *plan) open(ctx context.Context) error {
	p.openMu.Lock()
	defer p.openMu.Unlock()
	if p.opened {
		return nil
	}
	var closers []func()
	for _, c := range p.all {
		if c.f.Open == nil {
			continue
		}
		o, err := c.f.Open(ctx)
		if err != nil {
			for _, cl := range closers {
				cl()
			}
			return fmt.Errorf("%s: %w", c.f.FullName(), err)
		}
		if o.EvalBatch == nil {
			for _, cl := range closers {
				cl()
			}
			if o.Close != nil {
				o.Close()
			}
			return fmt.Errorf("%s: Open returned no EvalBatch (a bug in the function's registration)", c.f.FullName())
		}
		c.batch = o.EvalBatch
		if o.Close != nil {
			closers = append(closers, o.Close)
		}
	}
	p.closers, p.opened = closers, true
	return nil
}

func (p *plan) close() {
	p.openMu.Lock()
	defer p.openMu.Unlock()
	for _, cl := range p.closers {
		cl()
	}
	p.closers, p.opened = nil, false
}

// call is one function application in the (possibly chained) call tree.
type call struct {
	f        *fn.Function
	batch    fn.ScalarBatchFunc // f.EvalBatch, or what f.Open bound
	args     []arg
	takesRow bool
	index    int    // position in the plan's flattened list of calls
	path     string // e.g. "udf 0" or "udf 0, argument 1" for messages
}

type argKind int

const (
	argColumn argKind = iota
	argConst
	argCall
)

type arg struct {
	kind  argKind
	col   int
	val   fn.Value
	call  *call
	typ   *fn.Type // nil when unknown to the worker
	label string   // for messages: column name or constant text
}

func buildPlan(d *fnpb.ProcessBundleDescriptor, reg *fn.Registry) (*plan, error) {
	p := &plan{descriptorID: d.GetId()}
	var user *pipepb.PTransform
	var others []string
	ids := make([]string, 0, len(d.GetTransforms()))
	for id := range d.GetTransforms() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := d.GetTransforms()[id]
		switch urn := t.GetSpec().GetUrn(); urn {
		case urnSource, urnSink:
		case urnScalarFunction, urnTableFunction:
			user, p.transform = t, id
			p.table = urn == urnTableFunction
		default:
			others = append(others, id)
		}
	}
	if user == nil {
		return nil, unsupportedTransforms(d, others)
	}
	if len(user.GetInputs()) != 1 || len(user.GetOutputs()) != 1 {
		return nil, fmt.Errorf("transform %s: expected one input and one output, got %d and %d", p.transform, len(user.GetInputs()), len(user.GetOutputs()))
	}
	inPC, outPC := only(user.GetInputs()), only(user.GetOutputs())

	var err error
	var inCoder, outCoder *flinkpb.CoderInfoDescriptor
	p.source, inCoder, err = findPort(d, urnSource, inPC)
	if err != nil {
		return nil, err
	}
	p.sink, outCoder, err = findPort(d, urnSink, outPC)
	if err != nil {
		return nil, err
	}

	var udfs flinkpb.UserDefinedFunctions
	if err := proto.Unmarshal(user.GetSpec().GetPayload(), &udfs); err != nil {
		return nil, fmt.Errorf("transform %s: decode UserDefinedFunctions payload: %w", p.transform, err)
	}
	if len(udfs.GetUdfs()) == 0 {
		return nil, fmt.Errorf("transform %s: no functions in the payload", p.transform)
	}
	if p.table && len(udfs.GetUdfs()) != 1 {
		return nil, fmt.Errorf("transform %s: a table function operator carries exactly one function, got %d", p.transform, len(udfs.GetUdfs()))
	}

	// Pandas functions first: their coders (Arrow batches) are not row coders.
	if names, pandas := pandasFunctions(&udfs, isArrow(inCoder)); pandas {
		if p.table || !isArrowBatch(inCoder) || !isArrowBatch(outCoder) {
			return nil, pandasError(names, reg)
		}
		if p.in, p.arrowIn, err = newArrowSide(inCoder, "input", names); err != nil {
			return nil, fmt.Errorf("transform %s: %w", p.transform, err)
		}
		if p.out, p.arrowOut, err = newArrowSide(outCoder, "output", names); err != nil {
			return nil, fmt.Errorf("transform %s: %w", p.transform, err)
		}
	} else {
		if p.in, err = newRowCodec(inCoder, "input"); err != nil {
			return nil, fmt.Errorf("transform %s: %w", p.transform, err)
		}
		if p.out, err = newRowCodec(outCoder, "output"); err != nil {
			return nil, fmt.Errorf("transform %s: %w", p.transform, err)
		}
	}
	op := opScalar
	switch {
	case p.arrowIn != nil:
		op = opPandas
	case p.table:
		op = opTable
	}
	if err := checkFraming(op, p.in.framing, p.out.framing); err != nil {
		return nil, fmt.Errorf("transform %s: %w", p.transform, err)
	}
	p.inSchema = p.in.fields

	b := &builder{reg: reg, inSchema: p.inSchema}
	for i, u := range udfs.GetUdfs() {
		c, err := b.build(u, fmt.Sprintf("udf %d", i))
		if err != nil {
			if !errors.Is(err, errUnknownFunction) {
				b.errs = append(b.errs, err)
			}
			continue
		}
		p.calls = append(p.calls, c)
	}
	if len(b.unknown) > 0 {
		// One message for all of them: the registered list appears once.
		b.errs = append([]error{errors.New(fn.UnknownFunctions(b.unknown))}, b.errs...)
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	if err := p.checkResults(); err != nil {
		return nil, err
	}
	p.all = b.all
	return p, nil
}

// checkResults compares each top-level function's declared result rule
// with the type Flink declared for its output column(s).
func (p *plan) checkResults() error {
	var errs []error
	if p.table {
		c := p.calls[0]
		res := fn.RowOf(p.out.fields...)
		if err := c.f.Result.Check(c.argTypes(), res); err != nil {
			errs = append(errs, fmt.Errorf("%s: result: %w", c.f.FullName(), err))
		}
		if c.f.Kind != fn.Table {
			errs = append(errs, fmt.Errorf("%s is a scalar function but Flink calls it as a table function", c.f.FullName()))
		}
		return errors.Join(errs...)
	}
	if len(p.out.fields) != len(p.calls) {
		return fmt.Errorf("transform %s: %d functions but the output row has %d fields", p.transform, len(p.calls), len(p.out.fields))
	}
	for i, c := range p.calls {
		if c.f.Kind != fn.Scalar {
			errs = append(errs, fmt.Errorf("%s is a table function but Flink calls it as a scalar function", c.f.FullName()))
			continue
		}
		if err := c.f.Result.Check(c.argTypes(), p.out.fields[i].Type); err != nil {
			errs = append(errs, fmt.Errorf("%s: result: %w", c.f.FullName(), err))
		}
	}
	return errors.Join(errs...)
}

func (c *call) argTypes() []*fn.Type {
	ts := make([]*fn.Type, len(c.args))
	for i, a := range c.args {
		ts[i] = a.typ
	}
	return ts
}

type builder struct {
	reg      *fn.Registry
	inSchema []fn.Field
	n        int
	all      []*call
	errs     []error
	unknown  []*fn.UnknownFunctionError // reported together, see buildPlan
}

// errUnknownFunction marks a call whose function is in builder.unknown.
var errUnknownFunction = errors.New("unknown function")

func (b *builder) build(u *flinkpb.UserDefinedFunction, path string) (*call, error) {
	ref, err := pickle.Identify(u.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("%s: cannot identify the Python function in its payload: %w", path, err)
	}
	f, err := b.reg.Lookup(ref.Module, ref.QualName)
	if err != nil {
		var unknown *fn.UnknownFunctionError
		if errors.As(err, &unknown) {
			b.unknown = append(b.unknown, unknown)
			return nil, errUnknownFunction
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &call{f: f, batch: f.EvalBatch, takesRow: u.GetTakesRowAsInput(), index: b.n, path: path}
	b.n++
	b.all = append(b.all, c)
	if c.takesRow {
		rt := fn.RowOf(b.inSchema...)
		c.args = []arg{{kind: argColumn, col: -1, typ: &rt, label: "the input row"}}
	} else {
		for i, in := range u.GetInputs() {
			a, err := b.buildArg(in, fmt.Sprintf("%s, argument %d", path, i))
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
		}
	}
	if err := f.CheckArgs(c.argTypes()); err != nil {
		return nil, err
	}
	var errs []error
	for i, a := range c.args {
		prm, _ := f.ParamFor(i)
		if a.typ != nil && !prm.Accepts.Match(*a.typ) {
			errs = append(errs, fmt.Errorf("%s: argument %d (%s): expected %s, got %s (%s)",
				f.FullName(), i, prm.Name, prm.Accepts.Desc, a.typ, a.label))
		}
	}
	return c, errors.Join(errs...)
}

func (b *builder) buildArg(in *flinkpb.Input, path string) (arg, error) {
	switch v := in.GetInput().(type) {
	case *flinkpb.Input_InputOffset:
		off := int(v.InputOffset)
		if off < 0 || off >= len(b.inSchema) {
			return arg{}, fmt.Errorf("%s: input offset %d outside the input row of %d fields", path, off, len(b.inSchema))
		}
		f := b.inSchema[off]
		t := f.Type
		label := "column " + f.Name
		if f.Name == "" {
			label = fmt.Sprintf("column %d", off)
		}
		return arg{kind: argColumn, col: off, typ: &t, label: label}, nil
	case *flinkpb.Input_InputConstant:
		val, err := constantValue(v.InputConstant)
		if err != nil {
			return arg{}, fmt.Errorf("%s: constant: %w", path, err)
		}
		return arg{kind: argConst, val: val, label: "constant " + val.String()}, nil
	case *flinkpb.Input_Udf:
		c, err := b.build(v.Udf, path)
		if err != nil {
			return arg{}, err
		}
		return arg{kind: argCall, call: c, typ: c.f.Result.Infer(c.argTypes()), label: "result of " + c.f.FullName()}, nil
	}
	return arg{}, fmt.Errorf("%s: empty input", path)
}

func only(m map[string]string) string {
	for _, v := range m {
		return v
	}
	return ""
}

// findPort finds the gRPC read (source) or write (sink) transform attached
// to a PCollection and the Flink coder of its wire coder.
func findPort(d *fnpb.ProcessBundleDescriptor, urn, pcoll string) (port, *flinkpb.CoderInfoDescriptor, error) {
	for id, t := range d.GetTransforms() {
		if t.GetSpec().GetUrn() != urn {
			continue
		}
		pcs := t.GetOutputs()
		if urn == urnSink {
			pcs = t.GetInputs()
		}
		match := false
		for _, pc := range pcs {
			match = match || pc == pcoll
		}
		if !match {
			continue
		}
		var rp fnpb.RemoteGrpcPort
		if err := proto.Unmarshal(t.GetSpec().GetPayload(), &rp); err != nil {
			return port{}, nil, fmt.Errorf("transform %s: decode RemoteGrpcPort: %w", id, err)
		}
		url := rp.GetApiServiceDescriptor().GetUrl()
		if url == "" {
			return port{}, nil, fmt.Errorf("transform %s: no data endpoint", id)
		}
		cd, err := flinkCoder(d.GetCoders(), rp.GetCoderId())
		if err != nil {
			return port{}, nil, fmt.Errorf("transform %s: %w", id, err)
		}
		return port{transformID: id, url: url}, cd, nil
	}
	return port{}, nil, fmt.Errorf("descriptor %s: no %s transform for PCollection %q", d.GetId(), urn, pcoll)
}

// flinkCoder unwraps param_windowed_value / length_prefix coders down to
// the flink:coder:v1 coder and decodes its CoderInfoDescriptor.
func flinkCoder(coders map[string]*pipepb.Coder, id string) (*flinkpb.CoderInfoDescriptor, error) {
	seen := map[string]bool{}
	for depth := 0; depth < 8; depth++ {
		c, ok := coders[id]
		if !ok {
			return nil, fmt.Errorf("coder %q not in the descriptor", id)
		}
		if seen[id] {
			return nil, fmt.Errorf("coder %q refers to itself", id)
		}
		seen[id] = true
		switch urn := c.GetSpec().GetUrn(); urn {
		case urnFlinkCoder:
			var cd flinkpb.CoderInfoDescriptor
			if err := proto.Unmarshal(c.GetSpec().GetPayload(), &cd); err != nil {
				return nil, fmt.Errorf("coder %q: decode CoderInfoDescriptor: %w", id, err)
			}
			return &cd, nil
		case urnLengthPrefix, urnParamWindowedValue, urnWindowedValue:
			if len(c.GetComponentCoderIds()) == 0 {
				return nil, fmt.Errorf("coder %q (%s) has no component", id, urn)
			}
			id = c.GetComponentCoderIds()[0]
		default:
			return nil, fmt.Errorf("coder %q has URN %s; flinkfn expects Flink's %s", id, urn, urnFlinkCoder)
		}
	}
	return nil, fmt.Errorf("coder %q nests too deeply", id)
}
