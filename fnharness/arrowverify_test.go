package fnharness

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// foreignElement writes a one-column BIGINT batch (3 rows) with arrow-go's
// own writer, with record batch custom metadata and writer options.
func foreignElement(t *testing.T, opts ...ipc.Option) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	sch := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewInt64Builder(mem)
	b.AppendValues([]int64{1, 2, 3}, nil)
	col := b.NewArray()
	rec := array.NewRecordBatchWithMetadata(sch, []arrow.Array{col}, 3, arrow.NewMetadata([]string{"k"}, []string{"v"}))
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(sch)}, opts...)...)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recordBatchCustomMetadataLength returns the byte offset (in elem) of the
// length word of the record batch message's custom_metadata vector.
func recordBatchCustomMetadataLength(t *testing.T, elem []byte) int {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(elem[4:]))
	at := 8 + n // the record batch message
	v := fbVerifier{buf: elem[at+8 : at+8+int(binary.LittleEndian.Uint32(elem[at+4:]))]}
	root, err := v.deref(0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.table(root, 5)
	if err != nil || m[4] == 0 {
		t.Fatalf("no custom_metadata in the record batch message: %v", err)
	}
	p, err := v.deref(m[4])
	if err != nil {
		t.Fatal(err)
	}
	return at + 8 + int(p)
}

// The fuzz stall: arrow-go sizes the record batch's custom metadata by the
// flatbuffer's vector length (make([]string, n) twice) before reading any
// entry, so a corrupt length made one decode allocate up to 2 × 2^32 × 16
// bytes. The element is refused before arrow-go reads it, without
// allocating more than the element's size.
func TestArrowDecodeRefusesCorruptRecordBatchMetadataWithoutAllocating(t *testing.T) {
	elem := foreignElement(t)
	c, err := newArrowCodec([]fn.Field{{Name: "n", Type: fn.Simple(fn.BIGINT)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := c.decode(elem, nil); err != nil || n != 3 {
		t.Fatalf("intact element: %d rows, %v", n, err)
	}
	at := recordBatchCustomMetadataLength(t, elem)
	for _, length := range []uint32{0x7fffffff, 0xffffffff, 1 << 24} {
		bad := append([]byte{}, elem...)
		binary.LittleEndian.PutUint32(bad[at:], length)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := c.decode(bad, nil)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "corrupt Arrow record batch message") {
			t.Errorf("length %d: %v, want the corrupt record batch message named", length, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("length %d: decoding allocated %d bytes for a %d-byte element", length, d, len(bad))
		}
	}
}

// Compressed bodies (which Flink never writes) are refused with the reason;
// a decompressor would size its output by a length inside the body.
func TestArrowDecodeRefusesCompressedBatches(t *testing.T) {
	c, err := newArrowCodec([]fn.Field{{Name: "n", Type: fn.Simple(fn.BIGINT)}})
	if err != nil {
		t.Fatal(err)
	}
	for name, opt := range map[string]ipc.Option{"zstd": ipc.WithZstd(), "lz4": ipc.WithLZ4()} {
		_, _, err := c.decode(foreignElement(t, opt), nil)
		if err == nil || !strings.Contains(err.Error(), "compressed record batch body (Flink's Arrow batches are not compressed)") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A record batch whose body would lie past the element, and bytes after the
// record batch that are not an end-of-stream marker, are refused before
// arrow-go reads them.
func TestArrowDecodeRefusesBadFraming(t *testing.T) {
	elem := foreignElement(t)
	c, _ := newArrowCodec([]fn.Field{{Name: "n", Type: fn.Simple(fn.BIGINT)}})
	for _, tc := range []struct {
		name string
		elem []byte
		want string
	}{
		{"truncated body", elem[:len(elem)-8], "Arrow record batch message with a body of"},
		{"trailing bytes", append(append([]byte{}, elem...), 1, 2, 3), "3 bytes after the Arrow record batch"},
		{"no record batch", elem[:8+int(binary.LittleEndian.Uint32(elem[4:]))], "no Arrow IPC record batch message"},
	} {
		if _, _, err := c.decode(tc.elem, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
