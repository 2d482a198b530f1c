// Package fakeflink is an in-process stand-in for Flink's side of the Beam
// Fn API, for tests: provision, control, data and logging services on one
// loopback listener, the way Flink's Python operator serves them to its
// worker. The fnharness tests drive one worker session against it; the
// pool tests drive one Runner per pool session.
//
// It cannot import fnharness/internal (Go's internal rule), so it takes
// Flink's payloads as bytes: fnharness tests marshal their own flinkpb
// messages, other tests use FlinkPayload and PickledFunction.
package fakeflink

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flinkfn/flinkfn/fnharness/coder"
	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// URNs and transform ids of the descriptors Descriptor builds.
const (
	ScalarFunctionURN = "flink:transform:scalar_function:v1"
	TableFunctionURN  = "flink:transform:table_function:v1"

	// SourceTransform is the gRPC read transform: input Data messages carry
	// it as their transform id.
	SourceTransform = "fn/read/input:0"
	// UDFTransform is the user transform (the PTRANSFORM of user metrics).
	UDFTransform = "transform"
	// SinkTransform is the gRPC write transform of the output.
	SinkTransform = "fn/write/output:0"

	urnSource             = "beam:runner:source:v1"
	urnSink               = "beam:runner:sink:v1"
	urnFlinkCoder         = "flink:coder:v1"
	urnLengthPrefix       = "beam:coder:length_prefix:v1"
	urnParamWindowedValue = "beam:coder:param_windowed_value:v1"
	urnGlobalWindow       = "beam:coder:global_window:v1"
)

// Runner serves one worker session.
//
// Requests feeds the control stream (closing it ends the control stream, as
// Flink does when it closes the environment); every InstructionResponse the
// worker sends arrives on Responses. SendData and TrySendData write input on
// the data stream, which the worker opens with its first bundle.
type Runner struct {
	fnpb.UnimplementedProvisionServiceServer
	fnpb.UnimplementedBeamFnControlServer
	fnpb.UnimplementedBeamFnDataServer
	fnpb.UnimplementedBeamFnLoggingServer

	// Addr is the host:port of every service (provision, control, data,
	// logging).
	Addr string

	Requests  chan *fnpb.InstructionRequest
	Responses chan *fnpb.InstructionResponse
	// Connected is closed when the worker opens the control stream.
	Connected chan struct{}
	// DataReady is closed when the worker opens the data stream.
	DataReady chan struct{}
	// ControlClosed is closed when the worker's side of the control stream
	// ended (it half-closed or cancelled it, or the connection broke).
	ControlClosed chan struct{}

	t        testing.TB
	workerID string
	srv      *grpc.Server

	connectedOnce, dataOnce, controlClosedOnce, breakOnce, breakControlOnce sync.Once
	breakData, breakControl                                                 chan struct{}

	mu          sync.Mutex
	descriptors map[string]*fnpb.ProcessBundleDescriptor
	fetches     map[string]int
	workerIDs   map[string]int // method → calls without the right worker_id
	dataStream  fnpb.BeamFnData_DataServer
	outputs     map[string][]byte // instruction → concatenated output data
	lastSeen    map[string]bool   // instruction → is_last received
	logs        []*fnpb.LogEntry
	dataMsgs    map[string][][]byte
	lastNotify  chan struct{} // signalled (non-blocking) on every is_last
}

// New starts a Runner on a loopback port for a worker whose id (Flink's
// --id, sent as worker_id metadata) is workerID. It stops with the test.
func New(t testing.TB, workerID string) *Runner {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := Detached(lis.Addr().String())
	r.t, r.workerID = t, workerID
	r.srv = grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			r.checkWorkerID(ctx, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			r.checkWorkerID(ss.Context(), info.FullMethod)
			return h(srv, ss)
		}),
	)
	fnpb.RegisterProvisionServiceServer(r.srv, r)
	fnpb.RegisterBeamFnControlServer(r.srv, r)
	fnpb.RegisterBeamFnDataServer(r.srv, r)
	fnpb.RegisterBeamFnLoggingServer(r.srv, r)
	go r.srv.Serve(lis)
	t.Cleanup(r.srv.Stop)
	return r
}

// Detached returns a Runner that serves nothing, for building descriptors
// whose data endpoints name addr.
func Detached(addr string) *Runner {
	return &Runner{
		Addr:          addr,
		Requests:      make(chan *fnpb.InstructionRequest, 16),
		Responses:     make(chan *fnpb.InstructionResponse, 16),
		Connected:     make(chan struct{}),
		DataReady:     make(chan struct{}),
		ControlClosed: make(chan struct{}),
		breakData:     make(chan struct{}),
		breakControl:  make(chan struct{}),
		descriptors:   map[string]*fnpb.ProcessBundleDescriptor{},
		fetches:       map[string]int{},
		workerIDs:     map[string]int{},
		outputs:       map[string][]byte{},
		lastSeen:      map[string]bool{},
		dataMsgs:      map[string][][]byte{},
		lastNotify:    make(chan struct{}, 1),
	}
}

// Stop stops the server at once: every stream of the worker breaks.
func (r *Runner) Stop() { r.srv.Stop() }

func (r *Runner) checkWorkerID(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	if ids := md.Get("worker_id"); len(ids) != 1 || ids[0] != r.workerID {
		r.mu.Lock()
		r.workerIDs[method]++
		r.mu.Unlock()
	}
}

// GetProvisionInfo points the worker at this Runner for control and logging.
func (r *Runner) GetProvisionInfo(context.Context, *fnpb.GetProvisionInfoRequest) (*fnpb.GetProvisionInfoResponse, error) {
	return &fnpb.GetProvisionInfoResponse{Info: &fnpb.ProvisionInfo{
		ControlEndpoint: &pipepb.ApiServiceDescriptor{Url: r.Addr},
		LoggingEndpoint: &pipepb.ApiServiceDescriptor{Url: r.Addr},
	}}, nil
}

// Control sends Requests to the worker until Requests is closed and
// forwards the worker's responses to Responses.
func (r *Runner) Control(stream fnpb.BeamFnControl_ControlServer) error {
	r.connectedOnce.Do(func() { close(r.Connected) })
	go func() {
		defer r.controlClosedOnce.Do(func() { close(r.ControlClosed) })
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			r.Responses <- resp
		}
	}()
	for {
		select {
		case req, ok := <-r.Requests:
			if !ok {
				return nil // closing Requests ends the control stream, as Flink does
			}
			if err := stream.Send(req); err != nil {
				return err
			}
		case <-r.breakControl:
			return status.Error(codes.Internal, "fakeflink: control stream broken on purpose")
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// BreakControl ends the control stream with an error, as a TaskManager
// that fails mid-session would.
func (r *Runner) BreakControl() { r.breakControlOnce.Do(func() { close(r.breakControl) }) }

// GetProcessBundleDescriptor serves the descriptors added with Descriptor
// or AddDescriptor.
func (r *Runner) GetProcessBundleDescriptor(_ context.Context, req *fnpb.GetProcessBundleDescriptorRequest) (*fnpb.ProcessBundleDescriptor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.descriptors[req.GetProcessBundleDescriptorId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no descriptor %s", req.GetProcessBundleDescriptorId())
	}
	r.fetches[d.GetId()]++
	return d, nil
}

// Data records the worker's output per instruction. BreakData ends it
// with an error.
func (r *Runner) Data(stream fnpb.BeamFnData_DataServer) error {
	r.mu.Lock()
	r.dataStream = stream
	r.mu.Unlock()
	r.dataOnce.Do(func() { close(r.DataReady) })
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			msg, err := stream.Recv()
			if err != nil {
				return
			}
			r.mu.Lock()
			for _, d := range msg.GetData() {
				if len(d.GetData()) > 0 {
					r.outputs[d.GetInstructionId()] = append(r.outputs[d.GetInstructionId()], d.GetData()...)
					r.dataMsgs[d.GetInstructionId()] = append(r.dataMsgs[d.GetInstructionId()], d.GetData())
				}
				if d.GetIsLast() {
					r.lastSeen[d.GetInstructionId()] = true
					select {
					case r.lastNotify <- struct{}{}:
					default:
					}
				}
			}
			r.mu.Unlock()
		}
	}()
	select {
	case <-recvDone:
		return nil
	case <-r.breakData:
		return status.Error(codes.Internal, "fakeflink: data stream broken on purpose")
	}
}

// BreakData ends the data stream with an error, as a failing Flink
// operator would.
func (r *Runner) BreakData() { r.breakOnce.Do(func() { close(r.breakData) }) }

// Logging records the worker's log entries.
func (r *Runner) Logging(stream fnpb.BeamFnLogging_LoggingServer) error {
	for {
		l, err := stream.Recv()
		if err != nil {
			return nil
		}
		r.mu.Lock()
		r.logs = append(r.logs, l.GetLogEntries()...)
		r.mu.Unlock()
	}
}

// SendData sends input to the worker (the worker must have opened the
// data stream: it does so when it starts its first bundle), failing the
// test on error. Only one goroutine may send at a time.
func (r *Runner) SendData(d ...*fnpb.Elements_Data) {
	if err := r.TrySendData(d...); err != nil {
		r.t.Fatalf("send data: %v", err)
	}
}

// TrySendData is SendData returning the error. It blocks while the
// worker's flow control holds the stream back.
func (r *Runner) TrySendData(d ...*fnpb.Elements_Data) error {
	r.mu.Lock()
	s := r.dataStream
	r.mu.Unlock()
	if s == nil {
		return fmt.Errorf("fakeflink: the worker has not opened the data stream")
	}
	return s.Send(&fnpb.Elements{Data: d})
}

// AwaitResponse returns the next InstructionResponse (20 s at most).
func (r *Runner) AwaitResponse(t testing.TB) *fnpb.InstructionResponse {
	t.Helper()
	select {
	case resp := <-r.Responses:
		return resp
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for an instruction response")
		return nil
	}
}

// Output waits (10 s at most) for the is_last of an instruction's output
// and returns its concatenated data; false when it never came.
func (r *Runner) Output(id string) ([]byte, bool) {
	timeout := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		out, last := r.outputs[id], r.lastSeen[id]
		r.mu.Unlock()
		if last {
			return out, true
		}
		select {
		case <-r.lastNotify:
		case <-time.After(50 * time.Millisecond):
		case <-timeout:
			return nil, false
		}
	}
}

// DataMessages returns the non-empty output Data messages of an
// instruction, in arrival order.
func (r *Runner) DataMessages(id string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.dataMsgs[id]...)
}

// Forget drops what was recorded for an instruction.
func (r *Runner) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.outputs, id)
	delete(r.lastSeen, id)
	delete(r.dataMsgs, id)
}

// Fetches is how often the worker fetched a descriptor.
func (r *Runner) Fetches(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches[id]
}

// WorkerIDMismatches counts, per method, the calls that lacked the right
// worker_id metadata.
func (r *Runner) WorkerIDMismatches() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.workerIDs))
	for k, v := range r.workerIDs {
		out[k] = v
	}
	return out
}

// Logs returns the log entries the worker forwarded so far.
func (r *Runner) Logs() []*fnpb.LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fnpb.LogEntry(nil), r.logs...)
}

// AddDescriptor makes a descriptor available to the worker.
func (r *Runner) AddDescriptor(d *fnpb.ProcessBundleDescriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.descriptors[d.GetId()] = d
}

// Descriptors returns the descriptors added so far, by id.
func (r *Runner) Descriptors() map[string]*fnpb.ProcessBundleDescriptor {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]*fnpb.ProcessBundleDescriptor, len(r.descriptors))
	for k, v := range r.descriptors {
		out[k] = v
	}
	return out
}

// Descriptor builds (BuildDescriptor) and adds a descriptor whose data
// endpoints are this Runner.
func (r *Runner) Descriptor(id, urn string, udfs, inCoder, outCoder []byte) *fnpb.ProcessBundleDescriptor {
	d := BuildDescriptor(r.Addr, id, urn, udfs, inCoder, outCoder)
	r.AddDescriptor(d)
	return d
}

// BuildDescriptor builds a Flink-shaped descriptor: gRPC read → user
// transform → gRPC write, with Flink's coders wrapped as Flink's runner
// wraps them. udfs is the marshalled UserDefinedFunctions of the user
// transform, inCoder and outCoder the marshalled CoderInfoDescriptors.
func BuildDescriptor(addr, id, urn string, udfs, inCoder, outCoder []byte) *fnpb.ProcessBundleDescriptor {
	port := func(coderID string) []byte {
		b, err := proto.Marshal(&fnpb.RemoteGrpcPort{ApiServiceDescriptor: &pipepb.ApiServiceDescriptor{Url: addr}, CoderId: coderID})
		if err != nil {
			panic(err) // a RemoteGrpcPort always marshals
		}
		return b
	}
	coders := map[string]*pipepb.Coder{
		"input_coder":  {Spec: &pipepb.FunctionSpec{Urn: urnFlinkCoder, Payload: inCoder}},
		"output_coder": {Spec: &pipepb.FunctionSpec{Urn: urnFlinkCoder, Payload: outCoder}},
		"window_coder": {Spec: &pipepb.FunctionSpec{Urn: urnGlobalWindow}},
		"lp_in":        {Spec: &pipepb.FunctionSpec{Urn: urnLengthPrefix}, ComponentCoderIds: []string{"input_coder"}},
		"lp_out":       {Spec: &pipepb.FunctionSpec{Urn: urnLengthPrefix}, ComponentCoderIds: []string{"output_coder"}},
		"wire_in":      {Spec: &pipepb.FunctionSpec{Urn: urnParamWindowedValue}, ComponentCoderIds: []string{"lp_in", "window_coder"}},
		"wire_out":     {Spec: &pipepb.FunctionSpec{Urn: urnParamWindowedValue}, ComponentCoderIds: []string{"lp_out", "window_coder"}},
	}
	return &fnpb.ProcessBundleDescriptor{
		Id: id,
		Transforms: map[string]*pipepb.PTransform{
			SourceTransform: {Spec: &pipepb.FunctionSpec{Urn: urnSource, Payload: port("wire_in")}, Outputs: map[string]string{"local_output": "input"}},
			UDFTransform:    {UniqueName: UDFTransform, Spec: &pipepb.FunctionSpec{Urn: urn, Payload: udfs}, Inputs: map[string]string{"input": "input"}, Outputs: map[string]string{"output": "output"}},
			SinkTransform:   {Spec: &pipepb.FunctionSpec{Urn: urnSink, Payload: port("wire_out")}, Inputs: map[string]string{"local_input": "output"}},
		},
		Coders:                    coders,
		StateApiServiceDescriptor: &pipepb.ApiServiceDescriptor{Url: addr},
	}
}

// BundleRequest is a process_bundle instruction.
func BundleRequest(id, descriptor string) *fnpb.InstructionRequest {
	return &fnpb.InstructionRequest{InstructionId: id, Request: &fnpb.InstructionRequest_ProcessBundle{
		ProcessBundle: &fnpb.ProcessBundleRequest{ProcessBundleDescriptorId: descriptor}}}
}

// Input is one input Data message of an instruction.
func Input(instruction string, data []byte, last bool) *fnpb.Elements_Data {
	return &fnpb.Elements_Data{InstructionId: instruction, TransformId: SourceTransform, Data: data, IsLast: last}
}

// EncodeRows frames rows as Flink sends them: varint(len) ‖ row bytes.
func EncodeRows(t testing.TB, types []fn.Type, rows ...[]fn.Value) []byte {
	t.Helper()
	rc, err := coder.NewRowCoder(types)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, r := range rows {
		if out, err = rc.AppendElement(out, fn.Insert, r); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// DecodeRows splits framed output and decodes each element; a table
// function's end-of-results marker decodes as a nil row.
func DecodeRows(t testing.TB, types []fn.Type, data []byte) [][]fn.Value {
	t.Helper()
	rc, err := coder.NewRowCoder(types)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]fn.Value
	elems := coder.NewElements(data)
	for elems.Next() {
		elem := elems.Row()
		if coder.IsEndMarker(elem) {
			rows = append(rows, nil) // end-of-results marker
			continue
		}
		row := make([]fn.Value, len(types))
		if _, _, err := rc.Decode(elem, row); err != nil {
			t.Fatalf("decode output: %v", err)
		}
		rows = append(rows, row)
	}
	if err := elems.Err(); err != nil {
		t.Fatalf("bad element framing at byte %d: %v", elems.Offset(), err)
	}
	return rows
}

func (r *Runner) String() string { return fmt.Sprintf("fakeflink.Runner(%s)", r.Addr) }
