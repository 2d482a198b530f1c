package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// ErrUnreachable marks a pool that could not be reached.
var ErrUnreachable = errors.New("pool unreachable")

// ErrNotFlinkfnPool marks a worker pool that is not flinkfn's: PyFlink's
// own loopback pool (a local `python job.py` starts one in the client and
// sets PYTHON_LOOPBACK_SERVER_ADDRESS) would run the functions in Python.
var ErrNotFlinkfnPool = errors.New("not a flinkfn pool")

// ShimConfig says which pool serves which Flink worker.
type ShimConfig struct {
	// Address is the pool: unix:///path/to.sock or host:port.
	Address string
	// WorkerID and ProvisionEndpoint are Flink's --id and
	// --provision_endpoint.
	WorkerID, ProvisionEndpoint string
	// Params is sent as StartWorkerRequest.params: like PyFlink's boot, the
	// worker's whole environment.
	Params map[string]string
	Logger *slog.Logger
	// StartTimeout bounds reaching the pool and its answer (default 30 s).
	StartTimeout time.Duration
}

// Shim asks the pool to serve the worker (StartWorker, the request shape of
// PyFlink's beam_boot), then waits until the session ends. When ctx is
// cancelled (Flink terminates the worker with SIGTERM) it calls StopWorker
// and returns nil. It fails when the pool is unreachable, refuses the
// worker, or goes away while serving it; the error names the address.
func Shim(ctx context.Context, cfg ShimConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	target, err := DialTarget(cfg.Address)
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("flinkfn pool at %s: %w", cfg.Address, err)
	}
	defer cc.Close()
	client := fnpb.NewBeamFnExternalWorkerPoolClient(cc)

	startCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := callHello(startCtx, cc); err != nil {
		switch {
		case ctx.Err() != nil:
			return nil
		case status.Code(err) == codes.Unimplemented:
			return fmt.Errorf("%w: the worker pool at %s answers Beam's worker-pool service but not flinkfn's handshake (PyFlink's own loopback pool, or another SDK's): %v",
				ErrNotFlinkfnPool, cfg.Address, err)
		case status.Code(err) == codes.Unavailable:
			return fmt.Errorf("%w: flinkfn pool at %s (set by FLINKFN_POOL or PYTHON_LOOPBACK_SERVER_ADDRESS) cannot be reached to start worker %s; is `flinkfn pool --listen %s` running on this host? %v",
				ErrUnreachable, cfg.Address, cfg.WorkerID, cfg.Address, err)
		}
		return fmt.Errorf("flinkfn pool at %s: handshake for worker %s failed: %w", cfg.Address, cfg.WorkerID, err)
	}
	resp, err := client.StartWorker(startCtx, &fnpb.StartWorkerRequest{
		WorkerId:          cfg.WorkerID,
		ProvisionEndpoint: &pipepb.ApiServiceDescriptor{Url: cfg.ProvisionEndpoint},
		Params:            cfg.Params,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if status.Code(err) == codes.Unavailable {
			return fmt.Errorf("%w: flinkfn pool at %s (set by FLINKFN_POOL or PYTHON_LOOPBACK_SERVER_ADDRESS) cannot be reached to start worker %s; is `flinkfn pool --listen %s` running on this host? %v",
				ErrUnreachable, cfg.Address, cfg.WorkerID, cfg.Address, err)
		}
		// Not a connection failure (e.g. no answer within the timeout): the
		// pool may have admitted the worker, so never fall back to a local one.
		return fmt.Errorf("flinkfn pool at %s: StartWorker for worker %s failed: %w", cfg.Address, cfg.WorkerID, err)
	}
	if resp.GetError() != "" {
		return errors.New(resp.GetError())
	}
	cfg.Logger.Info("pool serves the worker", "pool", cfg.Address, "worker_id", cfg.WorkerID)

	wresp, err := callWait(ctx, cc, cfg.WorkerID)
	if ctx.Err() != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := client.StopWorker(stopCtx, &fnpb.StopWorkerRequest{WorkerId: cfg.WorkerID}); err != nil {
			cfg.Logger.Warn("StopWorker failed", "pool", cfg.Address, "worker_id", cfg.WorkerID, "err", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("flinkfn pool at %s went away while serving worker %s: %w", cfg.Address, cfg.WorkerID, err)
	}
	if msg := wresp.GetError(); msg != "" {
		return fmt.Errorf("flinkfn pool at %s: worker %s: %s", cfg.Address, cfg.WorkerID, msg)
	}
	cfg.Logger.Info("session ended", "pool", cfg.Address, "worker_id", cfg.WorkerID)
	return nil
}

// DialTarget turns a pool address into a gRPC target: unix:///abs/path
// stays as it is, host:port becomes passthrough (no DNS resolver).
func DialTarget(addr string) (string, error) {
	switch {
	case addr == "":
		return "", errors.New("flinkfn pool: empty address")
	case strings.HasPrefix(addr, "unix://"), strings.HasPrefix(addr, "unix:"):
		return addr, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("flinkfn pool address %q: want unix:///path or host:port: %w", addr, err)
	}
	return "passthrough:///" + addr, nil
}

// Listen opens the pool's listener: a unix socket (an existing stale
// socket file is replaced) or TCP on a loopback address only, since the
// BeamFnExternalWorkerPool has no authentication.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		return listenUnix(path)
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pool address %q: want unix:///path or a loopback host:port: %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("pool address %q is not a loopback address: the worker pool has no authentication, so it listens only on a unix socket or on 127.0.0.1/::1/localhost", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("pool address unix:// has no path")
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// A socket left by a killed pool: remove it unless a pool answers.
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another process already serves %s", path)
		}
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
	}
	return l, nil
}
