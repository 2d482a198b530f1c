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
// when they are freed. glibc's default raises its mmap threshold after the
// first large free (up to 32 MiB), after which large blocks come from heap
// arenas that it keeps: the model's load (graph, initializers, optimised
// copies) then leaves RSS behind that nothing uses, and per-thread arenas
// fragment. A fixed threshold keeps RSS at what is live: measured, the
// pool's peak under mixed 1–256-token batches 222 MiB with it, 233 MiB
// without, at the same speed. It is process-wide and idempotent;
// OpenRuntime calls it before the first session exists. Reports whether
// the C library took it.
func returnFreedMemory() bool {
	return C.flinkfn_fix_mmap_threshold(C.int(mmapThreshold)) == 1
}
