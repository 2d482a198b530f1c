// Package memory plans and enforces the worker's memory budget.
//
// # What Flink reserves
//
// Flink sizes the memory of a Python worker from two options and hands the
// worker a limit:
//
//   - python.fn-execution.framework.memory.size (default 64mb) is the
//     worker's runtime: reserved once per worker process (KindFramework).
//   - python.fn-execution.buffer.memory.size (default 15mb) is in-flight
//     input and output: reserved once per Python operator, which is one Fn
//     API session in this worker (KindBuffer).
//
// Stock PyFlink knows nothing of the model a UDF loads. This worker adds the
// model's measured footprint (weights plus the inference session's own
// memory) as a third kind of reservation (KindModel), so that the plan the
// worker starts with says, in bytes, what it needs.
//
// # Where the budget comes from
//
// The limit is, in order: an explicit flag (--memory-limit); the
// _PYTHON_WORKER_MEMORY_LIMIT environment variable, which Flink exports to
// every worker from the slot's managed memory for Python (PyFlink itself
// never enforces it); the cgroup limit of the container (cgroup v2
// memory.max, else cgroup v1 memory.limit_in_bytes). DetectLimit covers the
// last two; with none of them the budget is unlimited but still tracked.
//
// # Enforcement
//
// A Budget refuses a reservation that does not fit with a *RefusedError
// whose message states every number: what was asked for and which Flink
// option asked for it, what is free, the limit and where it came from, and
// what is already reserved. The worker checks this at start-up (model and
// framework) and when a session opens (buffer), instead of growing until the
// container's OOM killer ends it.
//
// A Limiter bounds the bytes in flight at run time: a reader acquires the
// size of a message before decoding it and releases it once the results
// are written, so a burst blocks the reader (backpressure towards Flink)
// instead of growing the heap. Waiters are served first come, first served,
// and a message larger than the whole capacity waits until nothing else is
// in flight rather than deadlocking.
//
// GoLimit gives the Go runtime a soft memory limit of the budget less the
// memory outside the Go heap (the ONNX model), so the garbage collector
// works harder before the process reaches the budget. RSS reports what the
// process actually holds, for comparing the plan with reality.
package memory
