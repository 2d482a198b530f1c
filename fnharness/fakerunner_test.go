package fnharness

import (
	"context"
	"encoding/binary"
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
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
	"github.com/flinkfn/flinkfn/fnharness/internal/pickle"
)

// fakeRunner is an in-process stand-in for Flink's side of the Fn API:
// provision, control, data and logging services on one loopback listener.
type fakeRunner struct {
	fnpb.UnimplementedProvisionServiceServer
	fnpb.UnimplementedBeamFnControlServer
	fnpb.UnimplementedBeamFnDataServer
	fnpb.UnimplementedBeamFnLoggingServer

	t    *testing.T
	addr string
	srv  *grpc.Server

	requests  chan *fnpb.InstructionRequest
	responses chan *fnpb.InstructionResponse
	connected chan struct{}

	mu          sync.Mutex
	descriptors map[string]*fnpb.ProcessBundleDescriptor
	fetches     map[string]int
	workerIDs   map[string]int // method → calls without the right worker_id
	dataStream  fnpb.BeamFnData_DataServer
	dataReady   chan struct{}
	outputs     map[string][]byte // instruction → concatenated output data
	lastSeen    map[string]bool   // instruction → is_last received
	logs        []*fnpb.LogEntry
	dataMsgs    map[string][][]byte
	lastNotify  chan struct{} // signalled (non-blocking) on every is_last
}

const testWorkerID = "1-1"

func newFakeRunner(t *testing.T) *fakeRunner {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{
		t: t, addr: lis.Addr().String(),
		requests:    make(chan *fnpb.InstructionRequest, 16),
		responses:   make(chan *fnpb.InstructionResponse, 16),
		connected:   make(chan struct{}),
		descriptors: map[string]*fnpb.ProcessBundleDescriptor{},
		fetches:     map[string]int{},
		workerIDs:   map[string]int{},
		dataReady:   make(chan struct{}),
		outputs:     map[string][]byte{},
		lastSeen:    map[string]bool{},
		dataMsgs:    map[string][][]byte{},
		lastNotify:  make(chan struct{}, 1),
	}
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

func (r *fakeRunner) checkWorkerID(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	if ids := md.Get("worker_id"); len(ids) != 1 || ids[0] != testWorkerID {
		r.mu.Lock()
		r.workerIDs[method]++
		r.mu.Unlock()
	}
}

func (r *fakeRunner) GetProvisionInfo(context.Context, *fnpb.GetProvisionInfoRequest) (*fnpb.GetProvisionInfoResponse, error) {
	return &fnpb.GetProvisionInfoResponse{Info: &fnpb.ProvisionInfo{
		ControlEndpoint: &pipepb.ApiServiceDescriptor{Url: r.addr},
		LoggingEndpoint: &pipepb.ApiServiceDescriptor{Url: r.addr},
	}}, nil
}

func (r *fakeRunner) Control(stream fnpb.BeamFnControl_ControlServer) error {
	close(r.connected)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			r.responses <- resp
		}
	}()
	for req := range r.requests {
		if err := stream.Send(req); err != nil {
			return err
		}
	}
	return nil // closing requests ends the control stream, as Flink does
}

func (r *fakeRunner) GetProcessBundleDescriptor(_ context.Context, req *fnpb.GetProcessBundleDescriptorRequest) (*fnpb.ProcessBundleDescriptor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.descriptors[req.GetProcessBundleDescriptorId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no descriptor %s", req.GetProcessBundleDescriptorId())
	}
	r.fetches[d.GetId()]++
	return d, nil
}

func (r *fakeRunner) Data(stream fnpb.BeamFnData_DataServer) error {
	r.mu.Lock()
	r.dataStream = stream
	r.mu.Unlock()
	close(r.dataReady)
	for {
		msg, err := stream.Recv()
		if err != nil {
			return nil
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
}

func (r *fakeRunner) Logging(stream fnpb.BeamFnLogging_LoggingServer) error {
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

// sendData sends input to the worker (the worker must have opened the
// data stream: it does so when it starts its first bundle).
func (r *fakeRunner) sendData(d ...*fnpb.Elements_Data) {
	r.mu.Lock()
	s := r.dataStream
	r.mu.Unlock()
	if err := s.Send(&fnpb.Elements{Data: d}); err != nil {
		r.t.Fatalf("send data: %v", err)
	}
}

func (r *fakeRunner) awaitResponse(t *testing.T) *fnpb.InstructionResponse {
	t.Helper()
	select {
	case resp := <-r.responses:
		return resp
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for an instruction response")
		return nil
	}
}

func (r *fakeRunner) output(id string) ([]byte, bool) {
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

// descriptor builds a Flink-shaped descriptor: gRPC read → user transform
// → gRPC write, with Flink's coder wrapped as Flink's runner wraps it.
func (r *fakeRunner) descriptor(t *testing.T, id, urn string, udfs *flinkpb.UserDefinedFunctions, in, out *flinkpb.CoderInfoDescriptor) {
	t.Helper()
	mustMarshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	port := func(coderID string) []byte {
		return mustMarshal(&fnpb.RemoteGrpcPort{ApiServiceDescriptor: &pipepb.ApiServiceDescriptor{Url: r.addr}, CoderId: coderID})
	}
	coders := map[string]*pipepb.Coder{
		"input_coder":  {Spec: &pipepb.FunctionSpec{Urn: urnFlinkCoder, Payload: mustMarshal(in)}},
		"output_coder": {Spec: &pipepb.FunctionSpec{Urn: urnFlinkCoder, Payload: mustMarshal(out)}},
		"window_coder": {Spec: &pipepb.FunctionSpec{Urn: "beam:coder:global_window:v1"}},
		"lp_in":        {Spec: &pipepb.FunctionSpec{Urn: urnLengthPrefix}, ComponentCoderIds: []string{"input_coder"}},
		"lp_out":       {Spec: &pipepb.FunctionSpec{Urn: urnLengthPrefix}, ComponentCoderIds: []string{"output_coder"}},
		"wire_in":      {Spec: &pipepb.FunctionSpec{Urn: urnParamWindowedValue}, ComponentCoderIds: []string{"lp_in", "window_coder"}},
		"wire_out":     {Spec: &pipepb.FunctionSpec{Urn: urnParamWindowedValue}, ComponentCoderIds: []string{"lp_out", "window_coder"}},
	}
	d := &fnpb.ProcessBundleDescriptor{
		Id: id,
		Transforms: map[string]*pipepb.PTransform{
			"fn/read/input:0":   {Spec: &pipepb.FunctionSpec{Urn: urnSource, Payload: port("wire_in")}, Outputs: map[string]string{"local_output": "input"}},
			"transform":         {UniqueName: "transform", Spec: &pipepb.FunctionSpec{Urn: urn, Payload: mustMarshal(udfs)}, Inputs: map[string]string{"input": "input"}, Outputs: map[string]string{"output": "output"}},
			"fn/write/output:0": {Spec: &pipepb.FunctionSpec{Urn: urnSink, Payload: port("wire_out")}, Inputs: map[string]string{"local_input": "output"}},
		},
		Coders:                    coders,
		StateApiServiceDescriptor: &pipepb.ApiServiceDescriptor{Url: r.addr},
	}
	r.mu.Lock()
	r.descriptors[id] = d
	r.mu.Unlock()
}

func protoField(name string, t *flinkpb.Schema_FieldType) *flinkpb.Schema_Field {
	return &flinkpb.Schema_Field{Name: name, Type: t}
}

var (
	pbBigint = &flinkpb.Schema_FieldType{TypeName: flinkpb.Schema_BIGINT, Nullable: true}
	pbString = &flinkpb.Schema_FieldType{TypeName: flinkpb.Schema_VARCHAR, Nullable: true,
		TypeInfo: &flinkpb.Schema_FieldType_VarCharInfo{VarCharInfo: &flinkpb.Schema_VarCharInfo{Length: fn.MaxLength}}}
)

func rowCoderDesc(mode flinkpb.CoderInfoDescriptor_Mode, sep bool, fields ...*flinkpb.Schema_Field) *flinkpb.CoderInfoDescriptor {
	return &flinkpb.CoderInfoDescriptor{
		DataType: &flinkpb.CoderInfoDescriptor_FlattenRowType_{FlattenRowType: &flinkpb.CoderInfoDescriptor_FlattenRowType{
			Schema: &flinkpb.Schema{Fields: fields}}},
		Mode:                    mode,
		SeparatedWithEndMessage: sep,
	}
}

func udf(module, name string, table bool, inputs ...*flinkpb.Input) *flinkpb.UserDefinedFunction {
	return &flinkpb.UserDefinedFunction{Payload: pickle.ByReference(module, name, table), Inputs: inputs}
}

func col(i int32) *flinkpb.Input {
	return &flinkpb.Input{Input: &flinkpb.Input_InputOffset{InputOffset: i}}
}

// encodeRows frames rows as Flink sends them: varint(len) ‖ row bytes.
func encodeRows(t *testing.T, types []fn.Type, rows ...[]fn.Value) []byte {
	t.Helper()
	rc, err := coder.NewRowCoder(types)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, r := range rows {
		b, err := rc.Encode(nil, fn.Insert, r)
		if err != nil {
			t.Fatal(err)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// decodeRows splits framed output and decodes each element.
func decodeRows(t *testing.T, types []fn.Type, data []byte) [][]fn.Value {
	t.Helper()
	rc, err := coder.NewRowCoder(types)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]fn.Value
	for off := 0; off < len(data); {
		l, n := binary.Uvarint(data[off:])
		if n <= 0 {
			t.Fatalf("bad varint at %d", off)
		}
		off += n
		elem := data[off : off+int(l)]
		off += int(l)
		if len(elem) == 1 && elem[0] == 0 {
			rows = append(rows, nil) // end-of-results marker
			continue
		}
		row := make([]fn.Value, len(types))
		if _, _, err := rc.Decode(elem, row); err != nil {
			t.Fatalf("decode output: %v", err)
		}
		rows = append(rows, row)
	}
	return rows
}

func (r *fakeRunner) String() string { return fmt.Sprintf("fakeRunner(%s)", r.addr) }
