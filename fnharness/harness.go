// Package fnharness is flinkfn's Beam Fn API client: it provisions, opens
// the control, data and logging streams to Flink's Python operator, turns
// each ProcessBundleDescriptor into a plan of Go functions and runs bundles.
// framing.go records which coder flags (mode, separated_with_end_message,
// row kind) Flink's operators send, what each means to PyFlink's worker,
// and how flinkfn acts on them.
//
// Dependencies: Beam's generated protos, Flink's payload protos
// (internal/flinkpb), Flink's coders (coder), the pickle reader
// (internal/pickle) and the function contract (fn). It never imports
// udfs or inference: functions arrive through an *fn.Registry.
package fnharness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Options configures one worker session (one Flink environment).
type Options struct {
	// WorkerID is Flink's --id; sent as worker_id metadata on every call.
	WorkerID string
	// ProvisionEndpoint is Flink's --provision_endpoint (host:port).
	ProvisionEndpoint string
	// Registry holds the functions this worker can run.
	Registry *fn.Registry
	// Logger receives the worker's own logs; Run adds a handler that also
	// forwards them to Flink's logging stream once it is open.
	Logger *slog.Logger
	// ConnectTimeout bounds provisioning and the first control connection.
	ConnectTimeout time.Duration
	// OnConnected, if set, is called once the control stream is open.
	OnConnected func()
	// OnLogStream, if set, is called with a handler that sends records to
	// Flink's logging stream (the TaskManager's log) once that stream is
	// open, and with nil before it closes: the caller can route logs of
	// its own (a model load, a memory warning) there too.
	OnLogStream func(slog.Handler)
	// InputLimiter and OutputLimiter bound the session's in-flight input
	// and output bytes (its share of python.fn-execution.buffer.memory.size);
	// nil means unbounded (beyond the fixed per-stream message queues).
	InputLimiter, OutputLimiter ByteLimiter
	// Observer, if set, hears about every bundle.
	Observer Observer
	// Drain, when closed, makes the session refuse new bundles, wait for
	// those in flight and then end (Run returns nil). Cancelling ctx stops
	// it at once instead, cancelling in-flight bundles.
	Drain <-chan struct{}
}

// Observer receives bundle events for the worker's metrics. It must be
// safe for concurrent use: bundles run concurrently.
type Observer interface {
	// BundleDone reports a finished bundle: the full names of the functions
	// its plan calls, the input rows it read, its duration and, when it
	// failed, the kind of failure (ErrSetup, ErrFunction, ErrDecode, ErrData,
	// ErrInternal); "" on success.
	BundleDone(functions []string, rowsIn int64, took time.Duration, errKind string)
}

// Failure kinds reported to Observer.BundleDone.
const (
	ErrSetup    = "setup"    // the descriptor could not be planned (unknown function, signature mismatch, bad payload)
	ErrFunction = "function" // a function failed on a row or a batch
	ErrDecode   = "decode"   // malformed input bytes
	ErrData     = "data"     // the data stream broke or the bundle was cancelled
	ErrInternal = "internal" // a panic in flinkfn
)

// Run provisions and serves one worker session until the control stream
// ends (returns nil) or ctx is cancelled (returns nil after closing the
// streams). Errors are returned only for failures to start.
func Run(ctx context.Context, opts Options) error {
	if opts.WorkerID == "" {
		return errors.New("worker id is empty (Flink passes --id=<id>)")
	}
	if opts.ProvisionEndpoint == "" {
		return errors.New("provision endpoint is empty (Flink passes --provision_endpoint=<host:port>)")
	}
	if opts.Registry == nil {
		return errors.New("no function registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 60 * time.Second
	}
	log := opts.Logger.With("worker_id", opts.WorkerID)

	ctx = metadata.AppendToOutgoingContext(ctx, "worker_id", opts.WorkerID)
	info, err := provision(ctx, opts.ProvisionEndpoint, opts.ConnectTimeout)
	if err != nil {
		return err
	}
	controlURL := info.GetControlEndpoint().GetUrl()
	if controlURL == "" {
		return fmt.Errorf("provision info from %s has no control endpoint", opts.ProvisionEndpoint)
	}
	log.Info("provisioned", "control", controlURL, "logging", info.GetLoggingEndpoint().GetUrl())

	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Logging stream: best effort. A worker without it still works.
	var logs *logForwarder
	if url := info.GetLoggingEndpoint().GetUrl(); url != "" {
		logs, err = openLogForwarder(sessCtx, url, log.Handler())
		if err != nil {
			log.Warn("logging stream unavailable; logs stay local", "err", err)
		} else {
			defer logs.Close()
			log = slog.New(logs.Handler()).With("worker_id", opts.WorkerID)
			if opts.OnLogStream != nil {
				opts.OnLogStream(logs.RemoteHandler().WithAttrs([]slog.Attr{slog.String("worker_id", opts.WorkerID)}))
				defer opts.OnLogStream(nil)
			}
		}
	}

	conn, err := dial(controlURL)
	if err != nil {
		return fmt.Errorf("dial control endpoint %s: %w", controlURL, err)
	}
	defer conn.Close()

	data := newDataManager(sessCtx, log, opts.InputLimiter, opts.OutputLimiter)
	defer data.Close()

	s := &session{
		log:      log,
		registry: opts.Registry,
		control:  fnpb.NewBeamFnControlClient(conn),
		data:     data,
		plans:    newPlanCache(),
		observer: opts.Observer,
	}
	defer s.plans.close()
	return s.serve(sessCtx, opts.ConnectTimeout, opts.OnConnected, opts.Drain)
}

// dial opens an insecure HTTP/2 connection with Flink-compatible settings:
// no message size limits (Flink's servers allow Integer.MAX_VALUE) and
// keep-alive pings no more often than Flink's servers permit (every 20 s at
// most, and only while a call is active).
func dial(target string) (*grpc.ClientConn, error) {
	return grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(math.MaxInt32),
			grpc.MaxCallSendMsgSize(math.MaxInt32),
		),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                60 * time.Second,
			Timeout:             20 * time.Second,
			PermitWithoutStream: false,
		}),
	)
}

func provision(ctx context.Context, endpoint string, timeout time.Duration) (*fnpb.ProvisionInfo, error) {
	conn, err := dial(endpoint)
	if err != nil {
		return nil, fmt.Errorf("dial provision endpoint %s: %w", endpoint, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := fnpb.NewProvisionServiceClient(conn).GetProvisionInfo(ctx, &fnpb.GetProvisionInfoRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return nil, fmt.Errorf("get provision info from %s: %w", endpoint, err)
	}
	return resp.GetInfo(), nil
}
