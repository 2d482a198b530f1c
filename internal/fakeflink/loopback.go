package fakeflink

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
)

// LoopbackPool stands in for the worker pool a local `python job.py`
// starts in PyFlink's client (PYTHON_LOOPBACK_SERVER_ADDRESS): Beam's
// BeamFnExternalWorkerPool and nothing else. Every StartWorker it gets
// would run the job's functions in Python; Started receives their ids.
type LoopbackPool struct {
	fnpb.UnimplementedBeamFnExternalWorkerPoolServer
	// Addr is unix:///path of its socket.
	Addr    string
	Started chan string
}

// NewLoopbackPool serves a LoopbackPool on a unix socket until the test ends.
func NewLoopbackPool(t testing.TB) *LoopbackPool {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loopback.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &LoopbackPool{Addr: "unix://" + path, Started: make(chan string, 16)}
	g := grpc.NewServer()
	fnpb.RegisterBeamFnExternalWorkerPoolServer(g, p)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return p
}

// StartWorker records the worker and reports success, as PyFlink's does.
func (p *LoopbackPool) StartWorker(_ context.Context, req *fnpb.StartWorkerRequest) (*fnpb.StartWorkerResponse, error) {
	p.Started <- req.GetWorkerId()
	return &fnpb.StartWorkerResponse{}, nil
}

// AssertNoWorker fails the test if a worker was handed to the pool.
func (p *LoopbackPool) AssertNoWorker(t testing.TB) {
	t.Helper()
	select {
	case id := <-p.Started:
		t.Fatalf("worker %s was handed to PyFlink's loopback pool", id)
	default:
	}
}
