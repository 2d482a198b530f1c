package pool

import (
	"context"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/grpc"
)

// The pool's own service, flinkfn.pool.v1.Pool, reuses Beam's StopWorker
// messages, so no extra proto is needed:
//   - Wait lets the shim stay alive exactly as long as its session: it
//     returns when the session with the request's worker_id ends (error
//     says why, empty when Flink closed it).
//   - Hello answers only on a flinkfn pool. PyFlink's own loopback worker
//     pool (started by a local `python job.py`) serves Beam's
//     BeamFnExternalWorkerPool too, at the same environment variable, and
//     answers Hello with UNIMPLEMENTED; the shim tells the two apart by it.
const (
	waitService = "flinkfn.pool.v1.Pool"
	waitMethod  = "/" + waitService + "/Wait"
	helloMethod = "/" + waitService + "/Hello"
)

type waiter interface {
	wait(ctx context.Context, id string) (bool, error)
}

func registerWait(g *grpc.Server, s *Server) {
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: waitService,
		HandlerType: (*waiter)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Hello",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				req := new(fnpb.StopWorkerRequest)
				if err := dec(req); err != nil {
					return nil, err
				}
				handle := func(context.Context, any) (any, error) { return &fnpb.StopWorkerResponse{}, nil }
				if interceptor == nil {
					return handle(ctx, req)
				}
				return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: helloMethod}, handle)
			},
		}, {
			MethodName: "Wait",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				req := new(fnpb.StopWorkerRequest)
				if err := dec(req); err != nil {
					return nil, err
				}
				handle := func(ctx context.Context, req any) (any, error) {
					id := req.(*fnpb.StopWorkerRequest).GetWorkerId()
					found, err := srv.(waiter).wait(ctx, id)
					resp := &fnpb.StopWorkerResponse{}
					switch {
					case !found:
						resp.Error = "no session for worker " + id
					case err != nil:
						resp.Error = err.Error()
					}
					return resp, nil
				}
				if interceptor == nil {
					return handle(ctx, req)
				}
				return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: waitMethod}, handle)
			},
		}},
		Metadata: "flinkfn/pool/wait.go",
	}, s)
}

// callWait calls Wait on a pool connection.
func callWait(ctx context.Context, cc grpc.ClientConnInterface, id string) (*fnpb.StopWorkerResponse, error) {
	resp := new(fnpb.StopWorkerResponse)
	err := cc.Invoke(ctx, waitMethod, &fnpb.StopWorkerRequest{WorkerId: id}, resp)
	return resp, err
}

// callHello asks whether the server at cc is a flinkfn pool.
func callHello(ctx context.Context, cc grpc.ClientConnInterface) error {
	return cc.Invoke(ctx, helloMethod, &fnpb.StopWorkerRequest{}, new(fnpb.StopWorkerResponse))
}
