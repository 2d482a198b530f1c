package inference

/*
#include <malloc.h>

// flinkfn_fix_mmap_threshold pins glibc's mmap threshold so that every
// allocation of at least `bytes` is its own mapping, returned to the
// kernel by free(). Returns 0 where the C library has no such knob.
static int flinkfn_fix_mmap_threshold(int bytes) {
#ifdef M_MMAP_THRESHOLD
	return mallopt(M_MMAP_THRESHOLD, bytes);
#else
	return 0;
#endif
}
*/
import "C"

// mmapThreshold is the allocation size from which glibc maps memory on its
// own (its default before it starts adapting).
const mmapThreshold = 128 << 10

// returnFreedMemory makes the C heap give large blocks back to the kernel
// when they are freed. With ONNX Runtime's CPU arena off, a batch's
// activations are malloc'd and freed per run; glibc's default raises its
// mmap threshold after the first such free (up to 32 MiB), after which
// activations come from heap arenas that it keeps: RSS then grows run
// after run (measured: +240 MiB a round of 32 × 256-token batches). A
// fixed threshold keeps RSS at the weights plus the running batch's peak.
// It is process-wide and idempotent; OpenRuntime calls it before the first
// session exists. Reports whether the C library took it.
func returnFreedMemory() bool {
	return C.flinkfn_fix_mmap_threshold(C.int(mmapThreshold)) == 1
}
