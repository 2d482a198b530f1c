// Package coder implements Flink's Python-worker row serialization, both
// directions, byte for byte: the "flink:coder:v1" row and field coders that
// the JVM side (PythonTypeUtils.toInternalSerializer: RowDataSerializer,
// ArrayDataSerializer, MapDataSerializer, DecimalDataSerializer and Flink's
// base serializers) and PyFlink's coder_impl_slow.py agree on, plus the
// Beam data-plane framing around them.
//
// # Framing
//
// A Data chunk is a sequence of elements varint(len) ‖ row bytes, where
// varint is Beam's VarInt (unsigned LEB128 of the 64-bit value). Elements
// iterates over a chunk; AppendElement and RowCoder.AppendElement build
// one. A table function marks the end of the results for one input row
// with the element 0x01 0x00 (AppendEndMarker, IsEndMarker).
//
// # Row layout
//
//	row  := mask field_0 … field_{n-1}      (NULL fields are omitted)
//	mask := ceil((n+2)/8) bytes, flag j in bit 7-(j%8) of byte j/8:
//	        flag 0 = kind&1, flag 1 = kind&2, flag 2+i = field i is NULL
//
// Field encodings (all integers big-endian):
//
//	BOOLEAN            1 byte 0x00/0x01 (decode: non-zero is true)
//	TINYINT…BIGINT     1/2/4/8 bytes two's complement
//	FLOAT, DOUBLE      IEEE-754 bits, 4/8 bytes (this package keeps NaN payloads;
//	                   Java writes the canonical NaN, floatToIntBits)
//	DECIMAL(p,s)       int32 length ‖ Java BigDecimal.toString() text
//	CHAR/VARCHAR       int32 byte length ‖ bytes (UTF-8, not validated)
//	BINARY/VARBINARY   int32 length ‖ bytes
//	DATE               int32 days since 1970-01-01
//	TIME(p)            int32 milliseconds of the day
//	TIMESTAMP(p)       int64 epoch millis, and for p > 3 int32 nano-of-milli
//	TIMESTAMP_LTZ(p)   same as TIMESTAMP(p)
//	ARRAY<T>           int32 count, per element 0x00 (NULL) or 0x01 ‖ element
//	MAP<K,V>           int32 count, per entry key ‖ (0x01 (NULL value) or 0x00 ‖ value)
//	ROW<…>             the row layout, recursively (own mask and kind bits)
//
// # Decisions where Flink's two sides differ or are silent
//
//   - DECIMAL: Encode rounds HALF_UP to the column scale, which is what
//     Flink's Java side does when it reads the text
//     (DecimalData.fromBigDecimal), and fails with an error where Java would
//     silently turn the value into NULL (more digits than the precision).
//     It writes Java's BigDecimal.toString() form of the rounded value,
//     which is also what Python's str(Decimal) prints after quantize, e.g.
//     "12.30", "0E-18", "1.000000000E-9". (PyFlink's own coder rounds
//     HALF_EVEN and can print "-0.00"; Java reads both the same way.)
//     Decode accepts any Java BigDecimal text, rounds HALF_UP to the column
//     scale and fails if the precision overflows (PyFlink fails too).
//   - CHAR/VARCHAR: neither direction validates UTF-8 nor the declared
//     length. Flink's StringDataSerializer stores whatever bytes it reads
//     (StringData.fromBytes) and never checks lengths; the bytes pass
//     through unchanged.
//   - TIME(p), TIMESTAMP(p), TIMESTAMP_LTZ(p): values pass through as they
//     are, without truncation to the declared precision (Flink's
//     serializers do not truncate either), except that TIMESTAMP(p ≤ 3) has
//     no room for sub-millisecond digits and Encode drops them, as Flink's
//     TimestampDataSerializer does (PyFlink asserts they are zero). TIME
//     must lie in [0, 86400000) ms and nano-of-millisecond in [0, 999999]
//     in both directions (Flink's TimestampData rejects other values).
//   - NULL in a NOT NULL position is accepted by Decode and rejected by
//     Encode. MAP keys are never NULL on the wire; Encode rejects them like
//     Java's MapDataSerializer does.
//   - Nested ROW values keep their own row kind in their mask (both Flink
//     sides write the nested row's kind; in practice it is INSERT).
//
// Decoding never panics on malformed input: every length is checked
// against the bytes left, element counts are bounded by the input size
// before anything is allocated, and errors (*DecodeError) say what was
// wrong, where in the value and at which byte offset.
package coder
