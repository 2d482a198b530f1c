package fakeflink

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// flinkPackage is the proto package of Flink's payloads
// (fnharness/internal/flinkpb).
const flinkPackage = "org.apache.flink.fn_execution.v1."

// FlinkPayload marshals one of Flink's payload messages (e.g.
// "UserDefinedFunctions", "CoderInfoDescriptor") given as protojson. It
// looks the type up in the global registry, where fnharness registers it:
// the test binary must link fnharness (any test of fnharness or of a
// package using it does).
func FlinkPayload(t testing.TB, message, json string) []byte {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(flinkPackage + message))
	if err != nil {
		t.Fatalf("fakeflink: Flink payload type %s: %v (is fnharness linked into the test?)", message, err)
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal([]byte(json), m); err != nil {
		t.Fatalf("fakeflink: %s from %s: %v", message, json, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PickledFunction is the pickle PyFlink sends for a function defined by
// reference (pyflink.table.udf.DelegatingScalarFunction, or
// DelegationTableFunction, whose func is module.name). It is the same
// stream as fnharness/internal/pickle.ByReference, which a fnharness test
// checks.
func PickledFunction(module, name string, table bool) []byte {
	const (
		opStop            = '.'
		opBinUnicode      = 'X'
		opBuild           = 'b'
		opEmptyDict       = '}'
		opSetItem         = 's'
		opEmptyTuple      = ')'
		opProto           = 0x80
		opNewObj          = 0x81
		opShortBinUnicode = 0x8c
		opStackGlobal     = 0x93
		opMemoize         = 0x94
		opFrame           = 0x95
	)
	cls := "DelegatingScalarFunction"
	if table {
		cls = "DelegationTableFunction"
	}
	var body []byte
	str := func(s string) {
		if len(s) < 256 {
			body = append(body, opShortBinUnicode, byte(len(s)))
		} else {
			body = append(body, opBinUnicode)
			body = binary.LittleEndian.AppendUint32(body, uint32(len(s)))
		}
		body = append(body, s...)
		body = append(body, opMemoize)
	}
	str("pyflink.table.udf")
	str(cls)
	body = append(body, opStackGlobal, opMemoize, opEmptyTuple, opNewObj, opMemoize, opEmptyDict, opMemoize)
	str("func")
	str(module)
	str(name)
	body = append(body, opStackGlobal, opMemoize, opSetItem, opBuild, opStop)
	out := []byte{opProto, 5, opFrame}
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	return append(out, body...)
}

// StringTypes is the row type of StringDescriptor's input and output: one
// nullable VARCHAR(2147483647) column.
var StringTypes = []fn.Type{fn.String()}

// StringUDFs is the UserDefinedFunctions payload of module.name(s) over
// input column 0.
func StringUDFs(t testing.TB, module, name string) []byte {
	t.Helper()
	return FlinkPayload(t, "UserDefinedFunctions", fmt.Sprintf(`{"udfs":[{"payload":%q,"inputs":[{"inputOffset":0}]}]}`,
		base64.StdEncoding.EncodeToString(PickledFunction(module, name, false))))
}

// StringCoder is the CoderInfoDescriptor payload of a flattened row of one
// nullable STRING column called column; multiple is Flink's input mode
// (MULTIPLE), else SINGLE (a scalar function's output).
func StringCoder(t testing.TB, column string, multiple bool) []byte {
	t.Helper()
	mode := "SINGLE"
	if multiple {
		mode = "MULTIPLE"
	}
	return FlinkPayload(t, "CoderInfoDescriptor", fmt.Sprintf(
		`{"flattenRowType":{"schema":{"fields":[{"name":%q,"type":{"typeName":"VARCHAR","nullable":true,"varCharInfo":{"length":%d}}}]}},"mode":%q}`,
		column, fn.MaxLength, mode))
}

// StringDescriptor adds a descriptor whose user transform is the scalar
// function module.name(s): input rows (s STRING), output rows (f0 STRING),
// both StringTypes.
func (r *Runner) StringDescriptor(t testing.TB, id, module, name string) *fnpb.ProcessBundleDescriptor {
	t.Helper()
	return r.Descriptor(id, ScalarFunctionURN, StringUDFs(t, module, name), StringCoder(t, "s", true), StringCoder(t, "f0", false))
}

// EncodeStrings frames one-column STRING rows.
func EncodeStrings(t testing.TB, values ...string) []byte {
	t.Helper()
	rows := make([][]fn.Value, len(values))
	for i, v := range values {
		rows[i] = []fn.Value{fn.Str(v)}
	}
	return EncodeRows(t, StringTypes, rows...)
}

// DecodeStrings decodes framed one-column STRING rows (NULL decodes as
// "<null>").
func DecodeStrings(t testing.TB, data []byte) []string {
	t.Helper()
	rows := DecodeRows(t, StringTypes, data)
	out := make([]string, len(rows))
	for i, r := range rows {
		if r == nil || r[0].IsNull() {
			out[i] = "<null>"
			continue
		}
		out[i] = r[0].AsString()
	}
	return out
}
