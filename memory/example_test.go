package memory_test

import (
	"errors"
	"fmt"

	"github.com/flinkfn/flinkfn/memory"
)

func ExampleBudget_Reserve() {
	const mib = 1 << 20
	b := memory.NewBudget(400*mib, "--memory-limit")
	s := memory.DefaultSettings()
	b.Reserve(memory.KindModel, "all-MiniLM-L6-v2/fp32", 262459392)
	b.Reserve(memory.KindFramework, "", s.Framework)
	for i := 1; i <= 5; i++ {
		b.Reserve(memory.KindBuffer, fmt.Sprintf("w-%d", i), s.Buffer)
	}
	_, err := b.Reserve(memory.KindBuffer, "w-6", s.Buffer)
	var refused *memory.RefusedError
	fmt.Println(errors.As(err, &refused))
	fmt.Println(err)
	// Output:
	// true
	// cannot reserve 15.0 MiB buffer memory for session w-6 (python.fn-execution.buffer.memory.size): 10.7 MiB of the 400.0 MiB budget (--memory-limit) is free; reserved: model all-MiniLM-L6-v2/fp32 250.3 MiB, framework 64.0 MiB, buffer 5 sessions × 15.0 MiB = 75.0 MiB (names: w-1, w-2, w-3, w-4, w-5)
}
