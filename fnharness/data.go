package fnharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flinkfn/flinkfn/internal/recent"
)

// dataStream is the part of the generated data client we use.
type dataStream interface {
	Send(*fnpb.Elements) error
	Recv() (*fnpb.Elements, error)
	CloseSend() error
}

var _ dataStream = (fnpb.BeamFnData_DataClient)(nil)

const (
	// inboxCap bounds the Data messages buffered per (instruction,
	// transform). When a bundle's consumer is slow the reader blocks on
	// purpose: that is the backpressure Flink sees.
	inboxCap = 16
	// endedCap bounds the memory of finished instructions whose late data
	// is dropped.
	endedCap = 4096
)

type inboxKey struct{ instruction, transform string }

type inbox struct {
	ch   chan inItem
	done chan struct{} // closed when the instruction ended
}

// inItem is one Data message and the input bytes it holds in the session's
// limiter until its bundle has consumed it.
type inItem struct {
	d     *fnpb.Elements_Data
	taken int64
}

// ByteLimiter bounds the bytes a session has in flight (memory.Limiter).
// Acquire blocks until n bytes are free and returns the amount taken (a
// request over the capacity is clamped to it); Release gives them back.
type ByteLimiter interface {
	Acquire(ctx context.Context, n int64) (int64, error)
	Release(n int64)
}

// noLimit is the ByteLimiter of sessions without a buffer budget.
type noLimit struct{}

func (noLimit) Acquire(_ context.Context, n int64) (int64, error) { return n, nil }
func (noLimit) Release(int64)                                     {}

// dataManager owns one multiplexed Data stream per data endpoint URL.
//
// Input bytes are held in the input limiter from the moment the reader
// takes a message off the stream until its bundle has evaluated it; output
// bytes from the moment a bundle queues a message until it is sent. When a
// limiter is exhausted the reader stops reading (gRPC flow control pushes
// back on Flink) or the bundle waits: the session's buffer never grows
// beyond its reservation. Input and output have separate limiters so that
// a bundle waiting to send never waits on input it holds itself.
type dataManager struct {
	ctx    context.Context
	log    *slog.Logger
	inLim  ByteLimiter
	outLim ByteLimiter

	mu     sync.Mutex
	conns  map[string]*dataConn
	closed bool
	wg     sync.WaitGroup
}

func newDataManager(ctx context.Context, log *slog.Logger, in, out ByteLimiter) *dataManager {
	if in == nil {
		in = noLimit{}
	}
	if out == nil {
		out = noLimit{}
	}
	return &dataManager{ctx: ctx, log: log, inLim: in, outLim: out, conns: map[string]*dataConn{}}
}

// conn returns the stream for url, connecting on first use.
func (m *dataManager) conn(url string) (*dataConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("data manager closed")
	}
	if c, ok := m.conns[url]; ok {
		return c, nil
	}
	cc, err := dial(url)
	if err != nil {
		return nil, fmt.Errorf("dial data endpoint %s: %w", url, err)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	stream, err := fnpb.NewBeamFnDataClient(cc).Data(ctx, grpc.WaitForReady(true))
	if err != nil {
		cancel()
		cc.Close()
		return nil, fmt.Errorf("open data stream %s: %w", url, err)
	}
	c := &dataConn{
		url:     url,
		log:     m.log.With("data_endpoint", url),
		cc:      cc,
		cancel:  cancel,
		stream:  stream,
		inLim:   m.inLim,
		outLim:  m.outLim,
		out:     make(chan outItem, 16),
		inboxes: map[inboxKey]*inbox{},
		ended:   recent.New[string, struct{}](endedCap),
		broken:  make(chan struct{}),
		closing: make(chan struct{}),
		written: make(chan struct{}),
	}
	m.conns[url] = c
	m.wg.Add(2)
	go func() { defer m.wg.Done(); c.readLoop(ctx) }()
	go func() { defer m.wg.Done(); c.writeLoop(ctx) }()
	return c, nil
}

// End forgets an instruction on every stream; late data for it is dropped.
func (m *dataManager) End(instruction string) {
	m.mu.Lock()
	conns := make([]*dataConn, 0, len(m.conns))
	for _, c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		c.end(instruction)
	}
}

// waitIdle waits until every stream has sent what was queued (or ctx is
// done, or timeout passed).
func (m *dataManager) waitIdle(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		m.mu.Lock()
		busy := false
		for _, c := range m.conns {
			if c.pending.Load() > 0 {
				busy = true
			}
		}
		m.mu.Unlock()
		if !busy || ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops every stream and waits for their goroutines.
func (m *dataManager) Close() {
	m.mu.Lock()
	m.closed = true
	conns := m.conns
	m.conns = map[string]*dataConn{}
	m.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	m.wg.Wait()
}

type dataConn struct {
	url    string
	log    *slog.Logger
	cc     *grpc.ClientConn
	cancel context.CancelFunc
	stream dataStream
	inLim  ByteLimiter
	outLim ByteLimiter
	out    chan outItem

	pending atomic.Int64  // messages queued or being sent
	closing chan struct{} // closed by close: flush what is queued, half-close, stop
	written chan struct{} // closed when writeLoop returned

	mu      sync.Mutex
	inboxes map[inboxKey]*inbox
	ended   *recent.Map[string, struct{}]
	err     error
	broken  chan struct{} // closed when the stream failed
}

// inbox returns the queue for (instruction, transform), creating it: data
// may arrive before its bundle's request, so either side can create it.
func (c *dataConn) inbox(instruction, transform string) *inbox {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := inboxKey{instruction, transform}
	if ib, ok := c.inboxes[k]; ok {
		return ib
	}
	ib := &inbox{ch: make(chan inItem, inboxCap), done: make(chan struct{})}
	if c.ended.Has(instruction) {
		close(ib.done)
		return ib
	}
	c.inboxes[k] = ib
	return ib
}

func (c *dataConn) end(instruction string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended.Add(instruction, struct{}{})
	for k, ib := range c.inboxes {
		if k.instruction == instruction {
			close(ib.done)
			delete(c.inboxes, k)
			c.drain(ib)
		}
	}
}

// drain releases the input bytes of messages left in an ended inbox.
func (c *dataConn) drain(ib *inbox) {
	for {
		select {
		case it := <-ib.ch:
			c.inLim.Release(it.taken)
		default:
			return
		}
	}
}

func (c *dataConn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.broken)
	}
}

// streamErr is the error that broke the stream, if any.
func (c *dataConn) streamErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// readLoop is the only goroutine that calls stream.Recv. It hands each Data
// message to its inbox, blocking while that inbox is full or the session's
// input bytes are exhausted: then nothing is read and Flink is held back.
func (c *dataConn) readLoop(ctx context.Context) {
	for {
		msg, err := c.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				c.fail(fmt.Errorf("data stream %s closed", c.url))
			} else {
				c.fail(fmt.Errorf("data stream %s: %w", c.url, err))
			}
			return
		}
		for _, d := range msg.GetData() {
			taken, err := c.inLim.Acquire(ctx, int64(len(d.GetData())))
			if err != nil {
				c.fail(fmt.Errorf("data stream %s: %w", c.url, err))
				return
			}
			ib := c.inbox(d.GetInstructionId(), d.GetTransformId())
			select {
			case ib.ch <- inItem{d: d, taken: taken}:
				select {
				case <-ib.done: // ended meanwhile: nobody will take it
					c.drain(ib)
				default:
				}
			case <-ib.done: // instruction ended (failed or finished): drop
				c.inLim.Release(taken)
			case <-ctx.Done():
				c.inLim.Release(taken)
				return
			}
		}
		if len(msg.GetTimers()) > 0 {
			c.log.Warn("timers received but not supported; dropped", "count", len(msg.GetTimers()))
		}
	}
}

// writeLoop is the only goroutine that calls stream.Send and CloseSend.
// On close it sends what is still queued, then half-closes.
func (c *dataConn) writeLoop(ctx context.Context) {
	defer close(c.written)
	send := func(it outItem) bool {
		err := c.stream.Send(it.msg)
		c.outLim.Release(it.taken)
		c.pending.Add(-1)
		if err != nil {
			c.fail(fmt.Errorf("data stream %s send: %w", c.url, err))
			return false
		}
		return true
	}
	for {
		select {
		case it := <-c.out:
			if !send(it) {
				return
			}
		case <-c.closing:
			for {
				select {
				case it := <-c.out:
					if !send(it) {
						return
					}
				default:
					_ = c.stream.CloseSend()
					return
				}
			}
		case <-ctx.Done():
			return
		case <-c.broken:
			return
		}
	}
}

// outItem is one queued message and the output bytes it holds.
type outItem struct {
	msg   *fnpb.Elements
	taken int64
}

// send queues one Data message for sending, waiting while the session's
// output bytes are exhausted.
func (c *dataConn) send(ctx context.Context, d *fnpb.Elements_Data) error {
	taken, err := c.outLim.Acquire(ctx, int64(len(d.GetData())))
	if err != nil {
		return err
	}
	c.pending.Add(1)
	select {
	case c.out <- outItem{msg: &fnpb.Elements{Data: []*fnpb.Elements_Data{d}}, taken: taken}:
		return nil
	case <-c.broken:
		c.pending.Add(-1)
		c.outLim.Release(taken)
		return c.streamErr()
	case <-ctx.Done():
		c.pending.Add(-1)
		c.outLim.Release(taken)
		return ctx.Err()
	}
}

// receive returns the next Data message of an inbox. The caller releases
// its bytes (release) once it has consumed the message.
func (c *dataConn) receive(ctx context.Context, ib *inbox) (inItem, error) {
	select {
	case it := <-ib.ch:
		return it, nil
	default:
	}
	select {
	case it := <-ib.ch:
		return it, nil
	case <-c.broken:
		return inItem{}, c.streamErr()
	case <-ctx.Done():
		return inItem{}, ctx.Err()
	}
}

// release gives back the input bytes of a consumed message.
func (c *dataConn) release(it inItem) { c.inLim.Release(it.taken) }

// close lets the writer send what is queued (bounded), then stops the
// stream.
func (c *dataConn) close() {
	close(c.closing)
	select {
	case <-c.written:
	case <-c.broken:
	case <-time.After(5 * time.Second):
	}
	c.cancel()
	c.cc.Close()
}
