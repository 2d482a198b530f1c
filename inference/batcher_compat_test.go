package inference

import "github.com/flinkfn/flinkfn/inference/batcher"

// An Engine is what the batcher batches for.
var _ batcher.Model = (*Engine)(nil)
