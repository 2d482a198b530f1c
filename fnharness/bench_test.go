package fnharness

import (
	"fmt"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
	"github.com/flinkfn/flinkfn/fnharness/internal/flinkpb"
)

// BenchmarkBundleRoundTrip measures one Flink-sized bundle (1000 rows of
// BIGINT, VARCHAR through an identity-like scalar function) from the
// process_bundle request to the response and the output's is_last, over
// loopback gRPC against the in-process fake runner: the worker's share of
// the per-bundle latency Flink sees.
func BenchmarkBundleRoundTrip(b *testing.B) {
	t := &testing.T{}
	r := newFakeRunner(t)
	r.descriptor(t, "d", urnScalarFunction,
		&flinkpb.UserDefinedFunctions{Udfs: []*flinkpb.UserDefinedFunction{udf(testModule, "twice", false, col(1))}},
		rowCoderDesc(flinkpb.CoderInfoDescriptor_MULTIPLE, false, protoField("n", pbBigint), protoField("s", pbString)),
		rowCoderDesc(flinkpb.CoderInfoDescriptor_SINGLE, false, protoField("f0", pbString)),
	)
	startWorker(t, r)
	const rows = 1000
	var in [][]fn.Value
	for i := 0; i < rows; i++ {
		in = append(in, []fn.Value{fn.Int(int64(i)), fn.Str("abcdefghijklmnop")})
	}
	data := encodeRows(t, inTypes, in...)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("b%d", i)
		r.Requests <- bundleRequest(id, "d")
		if i == 0 {
			<-r.DataReady
		}
		r.SendData(inputData(id, data, true))
		if resp := r.AwaitResponse(t); resp.GetError() != "" {
			b.Fatal(resp.GetError())
		}
		if _, ok := r.Output(id); !ok {
			b.Fatal("no output")
		}
		r.Forget(id)
	}
	b.ReportMetric(float64(b.N*rows)/time.Since(start).Seconds(), "rows/s")
}
