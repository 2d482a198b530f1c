package fnharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// controlStream is the part of the generated control client we use.
type controlStream interface {
	Send(*fnpb.InstructionResponse) error
	Recv() (*fnpb.InstructionRequest, error)
	CloseSend() error
}

var _ controlStream = (fnpb.BeamFnControl_ControlClient)(nil)

// session serves one control stream.
type session struct {
	log      *slog.Logger
	registry *fn.Registry
	control  fnpb.BeamFnControlClient
	data     *dataManager
	plans    *planCache
	observer Observer
}

func (s *session) serve(ctx context.Context, connectTimeout time.Duration, onConnected func(), drain <-chan struct{}) error {
	// The control stream has its own context so that a drain can end it
	// after the last in-flight bundle.
	ctx, endStream := context.WithCancel(ctx)
	defer endStream()
	stream, err := s.control.Control(ctx, grpc.WaitForReady(true))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("open control stream: %w", err)
	}
	s.log.Info("control stream open")
	if onConnected != nil {
		onConnected()
	}

	out := make(chan *fnpb.InstructionResponse, 64)
	sendErr := make(chan error, 1)
	halfClosed := make(chan struct{})
	// sendLoop is the only goroutine that calls stream.Send and CloseSend:
	// gRPC forbids concurrent senders on one stream. A nil response asks it
	// to half-close after everything queued before it (the drain); it ends
	// when out is closed.
	go func() {
		var err error
		closed := false
		halfClose := func() {
			if !closed {
				closed = true
				if err == nil {
					err = stream.CloseSend()
				}
				close(halfClosed)
			}
		}
		for resp := range out {
			switch {
			case resp == nil:
				halfClose()
			case err == nil && !closed:
				if e := stream.Send(resp); e != nil {
					err = fmt.Errorf("control send: %w", e)
				}
			}
		}
		halfClose()
		sendErr <- err
	}()

	// Bundles run under their own context: when the control stream ends
	// (Flink closed the environment, possibly with bundles outstanding),
	// they are cancelled so the worker exits promptly.
	bundleCtx, cancelBundles := context.WithCancel(ctx)
	defer cancelBundles()
	bundles := &inFlight{}
	drained := make(chan struct{})
	if drain != nil {
		go func() {
			defer close(drained)
			select {
			case <-drain:
			case <-ctx.Done():
				return
			}
			n := bundles.closeAndCount()
			s.log.Info("draining: refusing new bundles", "in_flight", n)
			bundles.closeAndWait(ctx)
			// Deliver what the last bundles produced: their output on the
			// data streams, then their responses, then half-close and give
			// Flink a moment to close its side before ending the stream.
			s.data.waitIdle(ctx, 10*time.Second)
			select {
			case out <- nil:
			case <-ctx.Done():
				return
			}
			select {
			case <-halfClosed:
			case <-ctx.Done():
				return
			}
			s.log.Info("drained: control stream half-closed")
			select {
			case <-ctx.Done(): // Flink closed its side (recvLoop returned) or the caller stopped
			case <-time.After(5 * time.Second):
			}
			endStream()
		}()
	} else {
		close(drained)
	}
	recvErr := s.recvLoop(bundleCtx, stream, out, bundles)
	draining := bundles.isClosed() // a drain ends the stream itself
	cancelBundles()
	bundles.closeAndWait(context.Background())
	endStream()
	<-drained
	close(out)
	sendFailed := <-sendErr
	switch {
	case recvErr != nil && !draining:
		// The runner's side broke (not an end Flink asked for): the session
		// failed, and the worker's exit status and the pool's session
		// record say so.
		s.log.Error("control stream broke", "err", recvErr)
		return fmt.Errorf("control stream broke: %w", recvErr)
	case sendFailed != nil && recvErr == nil && ctx.Err() == nil:
		s.log.Error("control stream send failed", "err", sendFailed)
		return fmt.Errorf("control stream: %w", sendFailed)
	}
	s.log.Info("control stream ended")
	return nil
}

// recvLoop reads instructions until the stream ends; every process_bundle
// runs in its own goroutine, tracked by bundles.
func (s *session) recvLoop(ctx context.Context, stream controlStream, out chan<- *fnpb.InstructionResponse, bundles *inFlight) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		id := req.GetInstructionId()
		switch r := req.GetRequest().(type) {
		case *fnpb.InstructionRequest_ProcessBundle:
			if !bundles.add() {
				s.data.End(id) // drop its input: it must not hold the stream or the buffer
				out <- &fnpb.InstructionResponse{InstructionId: id, Error: "flinkfn: the worker is shutting down (drain); bundle " + id + " refused"}
				continue
			}
			go func() {
				defer bundles.done()
				out <- s.processBundle(ctx, id, r.ProcessBundle)
			}()
		case *fnpb.InstructionRequest_Register:
			for _, d := range r.Register.GetProcessBundleDescriptor() {
				s.plans.offer(d)
			}
			out <- &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_Register{Register: &fnpb.RegisterResponse{}}}
		case *fnpb.InstructionRequest_ProcessBundleProgress:
			out <- &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_ProcessBundleProgress{ProcessBundleProgress: &fnpb.ProcessBundleProgressResponse{}}}
		case *fnpb.InstructionRequest_ProcessBundleSplit:
			out <- &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_ProcessBundleSplit{ProcessBundleSplit: &fnpb.ProcessBundleSplitResponse{}}}
		case *fnpb.InstructionRequest_FinalizeBundle:
			out <- &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_FinalizeBundle{FinalizeBundle: &fnpb.FinalizeBundleResponse{}}}
		default:
			out <- &fnpb.InstructionResponse{InstructionId: id, Error: fmt.Sprintf("flinkfn: unsupported instruction %T", req.GetRequest())}
		}
	}
}

// processBundle runs one bundle and converts every failure, panics
// included, into an error response: a failing bundle never kills the worker.
func (s *session) processBundle(ctx context.Context, id string, req *fnpb.ProcessBundleRequest) (resp *fnpb.InstructionResponse) {
	start := time.Now()
	log := s.log.With("instruction_id", id, "descriptor_id", req.GetProcessBundleDescriptorId())
	var (
		p     *plan
		stats bundleStats
		kind  string
	)
	counters := fn.NewCounters()
	defer func() {
		if r := recover(); r != nil {
			log.Error("bundle panicked", "panic", r, "stack", string(debug.Stack()))
			resp = &fnpb.InstructionResponse{InstructionId: id, Error: fmt.Sprintf("flinkfn: internal error while processing bundle %s: %v", id, r)}
			kind = ErrInternal
		}
		s.data.End(id)
		if s.observer != nil {
			var names []string
			if p != nil {
				names = p.fullNames()
			}
			s.observer.BundleDone(names, stats.rowsIn, time.Since(start), kind)
		}
	}()
	p, urls, err := s.plans.get(ctx, s.control, s.registry, req.GetProcessBundleDescriptorId())
	if err != nil {
		// Connect the data plane anyway: Flink waits for a data client
		// before it reads our error response (else it times out after
		// minutes with "No client connected within timeout").
		for _, u := range urls {
			if _, cerr := s.data.conn(u); cerr != nil {
				log.Warn("cannot open data stream", "url", u, "err", cerr)
			}
		}
		log.Error("bundle setup failed", "err", err)
		kind = ErrSetup
		return &fnpb.InstructionResponse{InstructionId: id, Error: err.Error()}
	}
	stats, err = p.run(fn.WithCounters(ctx, counters), s.data, id)
	if err != nil {
		kind = errKind(err)
		log.Error("bundle failed", "err", err, "kind", kind)
		return &fnpb.InstructionResponse{InstructionId: id, Error: err.Error()}
	}
	log.Debug("bundle done", "rows_in", stats.rowsIn, "rows_out", stats.rowsOut, "elapsed", time.Since(start))
	return &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_ProcessBundle{ProcessBundle: &fnpb.ProcessBundleResponse{
		MonitoringInfos: userMetrics(p.metricTransform(), counters.Values()),
	}}}
}

// inFlight counts running bundles; once closed it admits no more. Unlike a
// sync.WaitGroup it may be waited on while bundles are still being added.
type inFlight struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{} // closed when n drops to 0 after close
}

func (f *inFlight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inFlight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

func (f *inFlight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// closeAndCount admits no more bundles and returns how many run.
func (f *inFlight) closeAndCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return f.n
}

func (f *inFlight) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// closeAndWait admits no more bundles and waits until none runs (or ctx is
// done).
func (f *inFlight) closeAndWait(ctx context.Context) {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	zero := f.zero
	f.mu.Unlock()
	select {
	case <-zero:
	case <-ctx.Done():
	}
}
