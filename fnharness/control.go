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
}

func (s *session) serve(ctx context.Context, connectTimeout time.Duration, onConnected func()) error {
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
	// sendLoop is the only goroutine that calls stream.Send: gRPC forbids
	// concurrent senders on one stream. It ends when out is closed.
	go func() {
		var err error
		for resp := range out {
			if err == nil {
				if e := stream.Send(resp); e != nil {
					err = fmt.Errorf("control send: %w", e)
				}
			}
		}
		if err == nil {
			err = stream.CloseSend()
		}
		sendErr <- err
	}()

	// Bundles run under their own context: when the control stream ends
	// (Flink closed the environment, possibly with bundles outstanding),
	// they are cancelled so the worker exits promptly.
	bundleCtx, cancelBundles := context.WithCancel(ctx)
	defer cancelBundles()
	var bundles sync.WaitGroup
	recvErr := s.recvLoop(bundleCtx, stream, out, &bundles)
	cancelBundles()
	bundles.Wait()
	close(out)
	if err := <-sendErr; err != nil && recvErr == nil && ctx.Err() == nil {
		s.log.Warn("control stream send failed", "err", err)
	}
	if recvErr != nil && ctx.Err() == nil {
		s.log.Warn("control stream ended with an error", "err", recvErr)
	} else {
		s.log.Info("control stream ended")
	}
	return nil
}

// recvLoop reads instructions until the stream ends; every process_bundle
// runs in its own goroutine, tracked by bundles.
func (s *session) recvLoop(ctx context.Context, stream controlStream, out chan<- *fnpb.InstructionResponse, bundles *sync.WaitGroup) error {
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
			bundles.Add(1)
			go func() {
				defer bundles.Done()
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
	defer func() {
		if p := recover(); p != nil {
			log.Error("bundle panicked", "panic", p, "stack", string(debug.Stack()))
			resp = &fnpb.InstructionResponse{InstructionId: id, Error: fmt.Sprintf("flinkfn: internal error while processing bundle %s: %v", id, p)}
		}
		s.data.End(id)
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
		return &fnpb.InstructionResponse{InstructionId: id, Error: err.Error()}
	}
	stats, err := p.run(ctx, s.data, id)
	if err != nil {
		log.Error("bundle failed", "err", err)
		return &fnpb.InstructionResponse{InstructionId: id, Error: err.Error()}
	}
	log.Debug("bundle done", "rows_in", stats.rowsIn, "rows_out", stats.rowsOut, "elapsed", time.Since(start))
	return &fnpb.InstructionResponse{InstructionId: id, Response: &fnpb.InstructionResponse_ProcessBundle{ProcessBundle: &fnpb.ProcessBundleResponse{}}}
}
