// Package inference computes sentence embeddings with ONNX Runtime: the
// vectors sentence-transformers gives for a model such as
// all-MiniLM-L6-v2, from token id sequences.
//
// A model is a folder described by a Manifest (manifest.json: dimensions,
// pooling, graph input and output names, ONNX variants and the registry
// artifacts they come from). OpenRuntime loads the ONNX Runtime shared
// library once per process; NewEngine opens one session on one variant of
// a model; Engine.Run pads a batch, runs it, pools and normalises. An
// *Engine is the Model of package inference/batcher.
//
// FindRuntimeLibrary and FindModelDir find the library and the model from
// Locations (the command fills them from FLINKFN_ORT_LIB, FLINKFN_HOME,
// FLINKFN_MODEL_DIR and FLINKFN_MODEL; this package reads no environment);
// see inference/README.md for the lookup order and the manifest format.
package inference
