package fnharness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/internal/text"
)

// flushBytes is the output size at which a bundle sends a Data message;
// Beam's own outbound aggregator uses the same 1,000,000-byte limit.
const flushBytes = 1_000_000

type bundleStats struct{ rowsIn, rowsOut int64 }

// bundle is the per-instruction state of one plan execution.
type bundle struct {
	p     *plan
	id    string
	sink  *dataConn
	out   []byte // encoded elements not yet sent
	stats bundleStats

	slab    []fn.Value   // decoded input fields of the current chunk
	rows    [][]fn.Value // views into slab
	kinds   []fn.RowKind
	results [][]fn.Value // per call index: results for the chunk
	argSlab [][]fn.Value // per call index: argument storage
	argRows [][][]fn.Value
	outRow  []fn.Value
}

func (p *plan) run(ctx context.Context, dm *dataManager, id string) (bundleStats, error) {
	src, err := dm.conn(p.source.url)
	if err != nil {
		return bundleStats{}, err
	}
	sink, err := dm.conn(p.sink.url)
	if err != nil {
		return bundleStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &bundle{p: p, id: id, sink: sink, outRow: make([]fn.Value, len(p.out.fields))}
	ib := src.inbox(id, p.source.transformID)
	for {
		it, err := src.receive(ctx, ib)
		if err != nil {
			return b.stats, kinded(ErrData, fmt.Errorf("bundle %s: receive input: %w", id, err))
		}
		d := it.d
		if len(d.GetData()) > 0 {
			err = b.chunk(ctx, d.GetData())
		}
		src.release(it)
		if err != nil {
			return b.stats, err
		}
		if d.GetIsLast() {
			break
		}
	}
	if err := b.flush(ctx, true); err != nil {
		return b.stats, err
	}
	return b.stats, nil
}

// chunk decodes every element of one Data message, evaluates the functions
// over them and encodes the results.
func (b *bundle) chunk(ctx context.Context, data []byte) error {
	p := b.p
	if p.arrowIn != nil {
		return b.arrowChunk(ctx, data)
	}
	nf := len(p.in.fields)
	b.slab, b.rows, b.kinds = b.slab[:0], b.rows[:0], b.kinds[:0]
	elems := coder.NewElements(data)
	for elems.Next() {
		elem := elems.Row()
		start := len(b.slab)
		b.slab = slices.Grow(b.slab, nf)[:start+nf]
		clear(b.slab[start:])
		kind, used, err := p.in.rc.Decode(elem, b.slab[start:start+nf])
		if err != nil {
			return kinded(ErrDecode, fmt.Errorf("bundle %s: decode input row %d: %w", b.id, b.stats.rowsIn+int64(len(b.kinds)), err))
		}
		if used != len(elem) {
			return kinded(ErrDecode, fmt.Errorf("bundle %s: input row %d has %d trailing bytes", b.id, b.stats.rowsIn+int64(len(b.kinds)), len(elem)-used))
		}
		if !p.in.rowKind() {
			// flatten_row_type: PyFlink's FlattenRowCoder skips the kind.
			kind = fn.Insert
		}
		b.kinds = append(b.kinds, kind)
	}
	if err := elems.Err(); err != nil {
		return kinded(ErrDecode, fmt.Errorf("bundle %s: malformed input element at byte %d of a %d-byte chunk: %w", b.id, elems.Offset(), len(data), err))
	}
	for i := range b.kinds {
		b.rows = append(b.rows, b.slab[i*nf:(i+1)*nf:(i+1)*nf])
	}
	var err error
	if p.table {
		err = b.evalTable(ctx)
	} else {
		err = b.evalScalar(ctx)
	}
	b.stats.rowsIn += int64(len(b.kinds))
	if err != nil {
		return err
	}
	return b.flush(ctx, false)
}

func (b *bundle) evalScalar(ctx context.Context) error {
	p := b.p
	res := make([][]fn.Value, len(p.calls))
	for i, c := range p.calls {
		r, err := b.eval(ctx, c)
		if err != nil {
			return err
		}
		res[i] = r
	}
	for r := range b.rows {
		for i := range p.calls {
			b.outRow[i] = res[i][r]
		}
		// One element per input row: the output coder is SINGLE
		// (checkFraming), a flattened row written as INSERT; Flink gives it
		// the input row's kind.
		if err := b.emit(fn.Insert, b.outRow, r); err != nil {
			return err
		}
	}
	return nil
}

func (b *bundle) evalTable(ctx context.Context) error {
	c := b.p.calls[0]
	args, err := b.args(ctx, c)
	if err != nil {
		return err
	}
	for r, a := range args {
		emit := func(row []fn.Value) error {
			if len(row) != len(b.p.out.fields) {
				return fmt.Errorf("%s emitted %d columns, the result row has %d", c.f.FullName(), len(row), len(b.p.out.fields))
			}
			return b.emit(fn.Insert, row, r)
		}
		if err := c.f.EvalTable(ctx, a, emit); err != nil {
			return b.rowError(c, r, a, err)
		}
		// End of this input row's results (MULTIPLE with
		// separated_with_end_message, the only output framing checkFraming
		// lets through for a table function): the element 0x00, which
		// Flink's table function operator reads as the end of one input's
		// results.
		if b.p.out.endOfInput() {
			b.out = coder.AppendEndMarker(b.out)
		}
	}
	return nil
}

// emit encodes one output row as an element (varint length ‖ row bytes).
func (b *bundle) emit(kind fn.RowKind, fields []fn.Value, inputRow int) error {
	out, err := b.p.out.rc.AppendElement(b.out, kind, fields)
	if err != nil {
		return fmt.Errorf("bundle %s: encode the result of input row %d: %w (function(s) %s)", b.id, b.stats.rowsIn+int64(inputRow), err, b.p.functionNames())
	}
	b.out = out
	b.stats.rowsOut++
	return nil
}

// flush sends buffered output as whole elements; with last it also sends
// the sink's is_last marker (always, even when nothing was produced).
func (b *bundle) flush(ctx context.Context, last bool) error {
	if len(b.out) >= flushBytes || (last && len(b.out) > 0) {
		d := &fnpb.Elements_Data{InstructionId: b.id, TransformId: b.p.sink.transformID, Data: b.out}
		if err := b.sink.send(ctx, d); err != nil {
			return kinded(ErrData, fmt.Errorf("bundle %s: send output: %w", b.id, err))
		}
		b.out = nil // the sent message owns the old buffer
	}
	if last {
		d := &fnpb.Elements_Data{InstructionId: b.id, TransformId: b.p.sink.transformID, IsLast: true}
		if err := b.sink.send(ctx, d); err != nil {
			return kinded(ErrData, fmt.Errorf("bundle %s: send end of output: %w", b.id, err))
		}
	}
	return nil
}

// eval computes one call's results for every row of the chunk.
func (b *bundle) eval(ctx context.Context, c *call) ([]fn.Value, error) {
	args, err := b.args(ctx, c)
	if err != nil {
		return nil, err
	}
	for len(b.results) <= c.index {
		b.results = append(b.results, nil)
	}
	out := b.results[c.index]
	if cap(out) < len(args) {
		out = make([]fn.Value, len(args))
	}
	out = out[:len(args)]
	b.results[c.index] = out
	if c.batch != nil {
		if err := c.batch(ctx, args, out); err != nil {
			var re *fn.RowError
			if errors.As(err, &re) && re.Row >= 0 && re.Row < len(args) {
				return nil, b.rowError(c, re.Row, args[re.Row], re.Err)
			}
			return nil, fmt.Errorf("bundle %s: %s failed on a batch of %d rows: %w", b.id, c.f.FullName(), len(args), err)
		}
		return out, nil
	}
	for r, a := range args {
		v, err := c.f.Eval(ctx, a)
		if err != nil {
			return nil, b.rowError(c, r, a, err)
		}
		out[r] = v
	}
	return out, nil
}

// args builds the argument rows of a call for the current chunk.
func (b *bundle) args(ctx context.Context, c *call) ([][]fn.Value, error) {
	n := len(b.rows)
	na := len(c.args)
	sub := make([][]fn.Value, na)
	for i, a := range c.args {
		if a.kind == argCall {
			r, err := b.eval(ctx, a.call)
			if err != nil {
				return nil, err
			}
			// r is this nested call's own results slice (indexed by its
			// call index), untouched until the next chunk: no copy needed.
			sub[i] = r
		}
	}
	for len(b.argSlab) <= c.index {
		b.argSlab = append(b.argSlab, nil)
		b.argRows = append(b.argRows, nil)
	}
	slab := b.argSlab[c.index]
	if cap(slab) < n*na {
		slab = make([]fn.Value, n*na)
	}
	slab = slab[:n*na]
	rows := b.argRows[c.index][:0]
	for r := 0; r < n; r++ {
		row := slab[r*na : (r+1)*na : (r+1)*na]
		for i, a := range c.args {
			switch a.kind {
			case argColumn:
				if a.col < 0 {
					row[i] = fn.Row(b.kinds[r], b.rows[r])
				} else {
					row[i] = b.rows[r][a.col]
				}
			case argConst:
				row[i] = a.val
			case argCall:
				row[i] = sub[i][r]
			}
		}
		rows = append(rows, row)
	}
	b.argSlab[c.index], b.argRows[c.index] = slab, rows
	return rows, nil
}

// rowError names the function, the row and its arguments.
func (b *bundle) rowError(c *call, r int, args []fn.Value, err error) error {
	var parts []string
	for i, a := range c.args {
		name := a.label
		if prm, ok := c.f.ParamFor(i); ok {
			name = prm.Name + " = " + a.label
		}
		v := "?"
		if i < len(args) {
			v = text.Truncate(args[i].String(), 200)
		}
		parts = append(parts, fmt.Sprintf("%s: %s", name, v))
	}
	return fmt.Errorf("%s failed on input row %d of bundle %s (%s): %w",
		c.f.FullName(), b.stats.rowsIn+int64(r), b.id, strings.Join(parts, "; "), err)
}

func (p *plan) functionNames() string { return strings.Join(p.fullNames(), ", ") }

// kindError tags an error with its failure kind for the Observer.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

func kinded(kind string, err error) error { return &kindError{kind: kind, err: err} }

// errKind is the failure kind of a bundle error: tagged kinds win;
// everything else comes from a function.
func errKind(err error) string {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return ErrFunction
}

// arrowChunk runs a pandas operator over one Data message: each element
// is one Arrow batch, answered by one Arrow batch of the same row count.
// Every function sees the whole batch at once (EvalBatch).
func (b *bundle) arrowChunk(ctx context.Context, data []byte) error {
	p := b.p
	nf := len(p.in.fields)
	elems := coder.NewElements(data)
	for elems.Next() {
		elem := elems.Row()
		slab, rows, err := p.arrowIn.decode(elem, b.slab[:0])
		if err != nil {
			return kinded(ErrDecode, fmt.Errorf("bundle %s: decode the Arrow batch from input row %d (function(s) %s): %w", b.id, b.stats.rowsIn, p.functionNames(), err))
		}
		b.slab = slab
		b.rows, b.kinds = b.rows[:0], b.kinds[:0]
		for i := 0; i < rows; i++ {
			b.rows = append(b.rows, b.slab[i*nf:(i+1)*nf:(i+1)*nf])
			b.kinds = append(b.kinds, fn.Insert)
		}
		cols := make([][]fn.Value, len(p.calls))
		for i, c := range p.calls {
			r, err := b.eval(ctx, c)
			if err != nil {
				b.stats.rowsIn += int64(rows)
				return err
			}
			cols[i] = r
		}
		out, err := p.arrowOut.encode(b.out, cols, rows)
		if err != nil {
			var ae *arrowEncodeError
			if errors.As(err, &ae) && ae.col < len(p.calls) {
				err = fmt.Errorf("bundle %s: %s: result of input row %d: %w", b.id, p.calls[ae.col].f.FullName(), b.stats.rowsIn+int64(ae.row), ae.err)
			} else {
				err = fmt.Errorf("bundle %s: encode the results of function(s) %s: %w", b.id, p.functionNames(), err)
			}
			return err
		}
		b.out = out
		b.stats.rowsIn += int64(rows)
		b.stats.rowsOut += int64(rows)
		if err := b.flush(ctx, false); err != nil {
			return err
		}
	}
	if err := elems.Err(); err != nil {
		return kinded(ErrDecode, fmt.Errorf("bundle %s: malformed input element at byte %d of a %d-byte chunk: %w", b.id, elems.Offset(), len(data), err))
	}
	return nil
}
