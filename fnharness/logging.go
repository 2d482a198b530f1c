package fnharness

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// logForwarder sends log records to Flink's logging service, where they
// land in the TaskManager log (logger "PythonWorker" in Flink 1.20/2.x).
// Sending never blocks a caller: when the queue is full the entry is
// dropped and counted (the local handler still has it).
type logForwarder struct {
	local  slog.Handler
	queue  chan *fnpb.LogEntry
	cancel context.CancelFunc
	done   chan struct{}
	cc     *grpc.ClientConn

	mu      sync.Mutex
	closed  bool
	dropped int
}

func openLogForwarder(ctx context.Context, url string, local slog.Handler) (*logForwarder, error) {
	cc, err := dial(url)
	if err != nil {
		return nil, fmt.Errorf("dial logging endpoint %s: %w", url, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := fnpb.NewBeamFnLoggingClient(cc).Logging(ctx, grpc.WaitForReady(true))
	if err != nil {
		cancel()
		cc.Close()
		return nil, fmt.Errorf("open logging stream %s: %w", url, err)
	}
	f := &logForwarder{local: local, queue: make(chan *fnpb.LogEntry, 1024), cancel: cancel, done: make(chan struct{}), cc: cc}
	// The JVM answers with LogControl messages we do not need; drain them
	// so flow control never stalls the stream. Ends with the stream.
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	// sendLoop is the only goroutine that calls stream.Send. It batches
	// whatever is queued into one LogEntry.List.
	go func() {
		defer close(f.done)
		for {
			select {
			case e, ok := <-f.queue:
				if !ok {
					_ = stream.CloseSend()
					return
				}
				batch := []*fnpb.LogEntry{e}
			more:
				for len(batch) < 256 {
					select {
					case e2, ok := <-f.queue:
						if !ok {
							break more
						}
						batch = append(batch, e2)
					default:
						break more
					}
				}
				if err := stream.Send(&fnpb.LogEntry_List{LogEntries: batch}); err != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return f, nil
}

// Handler returns a slog handler writing to the local handler and Flink.
func (f *logForwarder) Handler() slog.Handler { return &forwardHandler{f: f, local: f.local} }

// RemoteHandler returns a slog handler writing to Flink only.
func (f *logForwarder) RemoteHandler() slog.Handler {
	return &forwardHandler{f: f, local: slog.DiscardHandler}
}

// Close flushes queued entries (bounded wait) and closes the stream.
func (f *logForwarder) Close() {
	f.mu.Lock()
	f.closed = true
	close(f.queue)
	f.mu.Unlock()
	select {
	case <-f.done:
	case <-time.After(2 * time.Second):
	}
	f.cancel()
	f.cc.Close()
}

func (f *logForwarder) enqueue(e *fnpb.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	select {
	case f.queue <- e:
	default:
		f.dropped++
	}
}

type forwardHandler struct {
	f      *logForwarder
	local  slog.Handler
	attrs  []slog.Attr
	groups []string
}

func (h *forwardHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.local.Enabled(ctx, l)
}

func (h *forwardHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.local.Enabled(ctx, r.Level) {
		_ = h.local.Handle(ctx, r.Clone())
	}
	var b strings.Builder
	b.WriteString(r.Message)
	instr := ""
	write := func(a slog.Attr) {
		if a.Key == "instruction_id" {
			instr = a.Value.String()
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	h.f.enqueue(&fnpb.LogEntry{
		Severity:      severity(r.Level),
		Timestamp:     timestamppb.New(r.Time),
		Message:       b.String(),
		InstructionId: instr,
		LogLocation:   "flinkfn",
	})
	return nil
}

func (h *forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.local = h.local.WithAttrs(as)
	n.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &n
}

func (h *forwardHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.local = h.local.WithGroup(name)
	n.groups = append(append([]string{}, h.groups...), name)
	return &n
}

func severity(l slog.Level) fnpb.LogEntry_Severity_Enum {
	switch {
	case l >= slog.LevelError:
		return fnpb.LogEntry_Severity_ERROR
	case l >= slog.LevelWarn:
		return fnpb.LogEntry_Severity_WARN
	case l >= slog.LevelInfo:
		return fnpb.LogEntry_Severity_INFO
	default:
		return fnpb.LogEntry_Severity_DEBUG
	}
}
