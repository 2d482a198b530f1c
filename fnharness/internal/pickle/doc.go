// Package pickle reads the two kinds of Python pickles Flink hands a Python UDF worker, without
// ever executing or importing Python:
//
//   - UserDefinedFunction.payload, a cloudpickle of the UDF object (a PyFlink delegate wrapper
//     around a plain function, or the user's ScalarFunction/TableFunction instance). Identify
//     says which function or class it is and returns a class-based UDF's constructor state.
//     ByReference builds the smallest such payload for a function in an importable module.
//   - Input.inputConstant, a type tag byte plus a Pyrolite (Java) pickle of a SQL literal.
//     Constant decodes it.
//
// Both rest on Unpickle, a pickle virtual machine for protocols 0-5 in which names loaded by
// GLOBAL/STACK_GLOBAL/INST are inert Global values, REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ build Call
// values that record the callable and its arguments, and BUILD records the state on the Call.
// Calls of cloudpickle's _function_setstate and _class_setstate are treated like BUILD on
// their first argument. Persistent IDs, the extension registry (EXT1/2/4) and out-of-band
// buffers (NEXT_BUFFER, READONLY_BUFFER) are refused.
//
// The unpickler never panics: malformed input yields an *OpError naming the opcode and its
// offset and wrapping one of ErrTruncated, ErrMalformed, ErrUnsupported or ErrLimit. Memory
// use is linear in the input size and bounded further by Limits.
//
// Fixtures under testdata/ are real: payloads made by PyFlink 2.3.0's own pickling code path
// with cloudpickle 2.2.1 (what PyFlink 2.3.0 installs) and 3.1.2 (scripts/fixtures/gen_pickle_fixtures.py),
// constants made by Flink 2.3.0's PythonBridgeUtils.pickleValue
// (scripts/fixtures/gen_pyrolite_fixtures.java), and CPython pickles of plain values at every protocol
// with the result of CPython's own unpickler as the expectation.
package pickle
