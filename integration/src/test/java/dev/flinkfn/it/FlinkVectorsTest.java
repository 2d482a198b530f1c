package dev.flinkfn.it;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.runtime.typeutils.PythonTypeUtils;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;
import org.apache.flink.types.RowKind;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Golden vectors for the Go row coder (fnharness/coder): rows serialized by Flink's own
 * Python-worker serializers, {@code PythonTypeUtils.toInternalSerializer(rowType)}.
 *
 * <p>Writes {@code fnharness/coder/testdata/flink-vectors.jsonl} with {@code
 * -Dflinkfn.updateVectors=true}; otherwise asserts the committed file equals what Flink produces
 * now. Format: one JSON object per line, {@code {"schema": "<asSerializableString of the ROW>",
 * "rows": ["<hex of row bytes>", ...]}}. The Go test decodes and re-encodes every row and expects
 * identical bytes; it also rebuilds some rows from values and compares, so keep the corpus order
 * in sync with fnharness/coder/vectors_test.go.
 */
class FlinkVectorsTest {

    private static final String VECTORS = "fnharness/coder/testdata/flink-vectors.jsonl";

    @Test
    void vectorsMatchFlinkSerializers() throws IOException {
        String generated = generate();
        Path file = root().resolve(VECTORS);
        if (Boolean.getBoolean("flinkfn.updateVectors")) {
            Files.createDirectories(file.getParent());
            Files.writeString(file, generated, StandardCharsets.UTF_8);
            return;
        }
        assertThat(file)
                .as("%s missing: run mvn test -Dtest=FlinkVectorsTest -Dflinkfn.updateVectors=true", file)
                .exists();
        assertThat(Files.readString(file, StandardCharsets.UTF_8))
                .as("%s is stale: run with -Dflinkfn.updateVectors=true and commit it", VECTORS)
                .isEqualTo(generated);
    }

    private static Path root() {
        String p = System.getProperty("flinkfn.root");
        Path r = (p != null && !p.isBlank()) ? Paths.get(p) : Paths.get(System.getProperty("user.dir")).resolve("..");
        return r.toAbsolutePath().normalize();
    }

    // ------------------------------------------------------------------------------------------
    // Corpus. Order matters: vectors_test.go refers to rows by schema index and row index.
    // ------------------------------------------------------------------------------------------

    private static String generate() throws IOException {
        StringBuilder out = new StringBuilder();
        line(out, SCALARS, scalarRows());
        line(out, DECIMALS_TIMES, decimalTimeRows());
        line(out, NESTED, nestedRows());
        line(out, WIDE, wideRows());
        line(out, NOT_NULL, notNullRows());
        line(out, "ROW<>", List.of(kind(RowKind.INSERT, new GenericRowData(0)), kind(RowKind.DELETE, new GenericRowData(0))));
        return out.toString();
    }

    static final String SCALARS =
            "ROW<b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, s STRING, "
                    + "c CHAR(3), vc VARCHAR(10), bin BINARY(2), vb BYTES, dt DATE, t0 TIME(0), t3 TIME(3)>";

    private static List<RowData> scalarRows() {
        List<RowData> rows = new ArrayList<>();
        // 0: ordinary values.
        rows.add(kind(RowKind.INSERT, GenericRowData.of(
                true, (byte) 1, (short) 2, 3, 4L, 1.5f, 2.25, str("ab"), str("xyz"), str("héllo"),
                new byte[] {1, 2}, new byte[] {}, 0, 3_600_000, 45_296_789)));
        // 1: minimum values.
        rows.add(kind(RowKind.UPDATE_BEFORE, GenericRowData.of(
                false, Byte.MIN_VALUE, Short.MIN_VALUE, Integer.MIN_VALUE, Long.MIN_VALUE,
                -Float.MAX_VALUE, -Double.MAX_VALUE, str(""), str(""), str(""),
                new byte[] {0, 0}, new byte[] {(byte) 0xff}, -719_162, 0, 0)));
        // 2: maximum values, 4-byte UTF-8, every byte value.
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        rows.add(kind(RowKind.UPDATE_AFTER, GenericRowData.of(
                true, Byte.MAX_VALUE, Short.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE,
                Float.MIN_VALUE, Double.MIN_VALUE, str("\uD83D\uDE00\uD834\uDD1E"), str("a\uD83D\uDE00"), str("\u00fc"),
                new byte[] {(byte) 0xff, (byte) 0xff}, all, 2_932_896, 86_399_000, 86_399_999)));
        // 3: NaN (with payload; Java writes the canonical NaN), -0.0, empty string vs NULL.
        rows.add(kind(RowKind.DELETE, GenericRowData.of(
                null, null, null, null, null,
                Float.intBitsToFloat(0x7f800001), -0.0, str(""), null, null,
                null, new byte[] {}, null, null, null)));
        // 4: -0.0f, +Inf, -Inf.
        rows.add(GenericRowData.of(
                false, (byte) -1, (short) -1, -1, -1L, -0.0f, Double.POSITIVE_INFINITY, str(" "), str("  a"), null,
                null, null, -1, 1, 999));
        // 5: -Inf, NaN with payload, invalid UTF-8 passed through as raw bytes.
        rows.add(GenericRowData.of(
                null, null, null, null, null, Float.NEGATIVE_INFINITY, Double.longBitsToDouble(0x7ff0000000000001L),
                StringData.fromBytes(new byte[] {(byte) 0xff, (byte) 0xfe, 'x'}), null, null, null, null, null, null, null));
        // 6: all NULL.
        rows.add(new GenericRowData(15));
        return rows;
    }

    static final String DECIMALS_TIMES =
            "ROW<d1 DECIMAL(10, 2), d2 DECIMAL(38, 18), d3 DECIMAL(38, 0), d4 DECIMAL(5, 5), d5 DECIMAL(18, 0), "
                    + "ts0 TIMESTAMP(0), ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), "
                    + "ltz3 TIMESTAMP_LTZ(3), ltz9 TIMESTAMP_LTZ(9)>";

    private static List<RowData> decimalTimeRows() {
        List<RowData> rows = new ArrayList<>();
        // 0: ordinary values; 1E-9 at scale 18 prints in scientific notation.
        rows.add(GenericRowData.of(
                dec("12.30", 10, 2), dec("0.000000001", 38, 18), dec("0", 38, 0), dec("0.12345", 5, 5),
                dec("123456789012345678", 18, 0),
                ts("2020-01-01T00:00:00"), ts("2020-01-01T12:34:56.123"), ts("2020-01-01T12:34:56.123456"),
                ts("2020-01-01T12:34:56.123456789"), ts("2020-01-01T12:34:56.123"), ts("2020-01-01T12:34:56.123456789")));
        // 1: maximum values.
        String nines38 = "9".repeat(38);
        rows.add(GenericRowData.of(
                dec("99999999.99", 10, 2), dec("9".repeat(20) + "." + "9".repeat(18), 38, 18), dec(nines38, 38, 0),
                dec("0.99999", 5, 5), dec("9".repeat(18), 18, 0),
                ts("9999-12-31T23:59:59"), ts("9999-12-31T23:59:59.999"), ts("9999-12-31T23:59:59.999999"),
                ts("9999-12-31T23:59:59.999999999"), ts("9999-12-31T23:59:59.999"), ts("9999-12-31T23:59:59.999999999")));
        // 2: minimum values and times before 1970.
        rows.add(GenericRowData.of(
                dec("-99999999.99", 10, 2), dec("-" + "9".repeat(20) + "." + "9".repeat(18), 38, 18), dec("-" + nines38, 38, 0),
                dec("-0.99999", 5, 5), dec("-" + "9".repeat(18), 18, 0),
                ts("0001-01-01T00:00:00"), ts("1969-12-31T23:59:59.999"), ts("1900-01-01T00:00:00.000001"),
                ts("1969-12-31T23:59:59.999999999"), ts("1969-12-31T23:59:59.999"), ts("0001-01-01T00:00:00.000000001")));
        // 3: zeros ("0E-18" at scale 18) and the epoch.
        rows.add(GenericRowData.of(
                dec("0", 10, 2), dec("0", 38, 18), dec("0", 38, 0), dec("0", 5, 5), dec("0", 18, 0),
                ts("1970-01-01T00:00:00"), ts("1970-01-01T00:00:00"), ts("1970-01-01T00:00:00"),
                ts("1970-01-01T00:00:00"), ts("1970-01-01T00:00:00"), ts("1970-01-01T00:00:00")));
        // 4: small magnitudes around the plain/scientific switch (adjusted exponent -6 / -7).
        rows.add(GenericRowData.of(
                dec("0.01", 10, 2), dec("1E-18", 38, 18), dec("1", 38, 0), dec("0.00001", 5, 5), dec("-1", 18, 0),
                null, null, null, ts("1970-01-01T00:00:00.000000001"), null, ts("1969-12-31T23:59:59.999999999")));
        rows.add(GenericRowData.of(
                dec("-0.01", 10, 2), dec("0.000001", 38, 18), dec("-1", 38, 0), dec("-0.00001", 5, 5), null,
                null, null, null, null, null, null));
        rows.add(GenericRowData.of(
                null, dec("-0.0000001", 38, 18), null, null, null, null, null, null, null, null, null));
        // 7: all NULL.
        rows.add(new GenericRowData(11));
        return rows;
    }

    static final String NESTED =
            "ROW<a ARRAY<INT>, af ARRAY<FLOAT>, ast ARRAY<STRING>, aa ARRAY<ARRAY<BIGINT>>, m MAP<STRING, INT>, "
                    + "md MAP<INT, DECIMAL(10, 2)>, r ROW<x INT, y STRING, z ARRAY<TIMESTAMP(9)>>, "
                    + "ar ARRAY<ROW<p DOUBLE, q MAP<BIGINT, BOOLEAN>>>, mr MAP<STRING, ARRAY<ROW<k DATE>>>>";

    private static List<RowData> nestedRows() {
        List<RowData> rows = new ArrayList<>();
        Map<Object, Object> m = new LinkedHashMap<>();
        m.put(str("a"), 1);
        m.put(str("b"), null);
        Map<Object, Object> md = new LinkedHashMap<>();
        md.put(1, dec("1.50", 10, 2));
        md.put(2, null);
        Map<Object, Object> q = new LinkedHashMap<>();
        q.put(1L, true);
        q.put(2L, null);
        Map<Object, Object> mr = new LinkedHashMap<>();
        mr.put(str("k"), arr(GenericRowData.of(19_000), null));
        // 0: everything present, with NULL elements and values inside.
        rows.add(GenericRowData.of(
                arr(1, 2, 3), arr(1.0f, 2.0f), arr(str("a"), null, str("")),
                arr(arr(1L), arr(), null, arr(2L, 3L)), new GenericMapData(m), new GenericMapData(md),
                GenericRowData.of(1, str("x"), arr(ts("2020-01-01T00:00:00.000000001"), null)),
                arr(GenericRowData.of(1.5, new GenericMapData(q)), null), new GenericMapData(mr)));
        // 1: empty containers.
        rows.add(kind(RowKind.UPDATE_AFTER, GenericRowData.of(
                arr(), arr(), arr(), arr(), new GenericMapData(Map.of()), new GenericMapData(Map.of()),
                new GenericRowData(3), arr(), new GenericMapData(Map.of()))));
        // 2: containers holding only NULLs; a nested row with its own row kind.
        Map<Object, Object> nullVal = new LinkedHashMap<>();
        nullVal.put(str("x"), null);
        Map<Object, Object> nullRow = new LinkedHashMap<>();
        nullRow.put(str(""), arr((Object) null));
        GenericRowData nested = GenericRowData.of(null, null, arr((Object) null));
        nested.setRowKind(RowKind.UPDATE_BEFORE);
        rows.add(kind(RowKind.DELETE, GenericRowData.of(
                arr(null, null), arr((Object) null), arr((Object) null), arr(arr((Object) null), null),
                new GenericMapData(nullVal), new GenericMapData(Map.of(7, dec("-0.01", 10, 2))), nested,
                arr(GenericRowData.of(null, null), GenericRowData.of(Double.NaN, new GenericMapData(Map.of()))),
                new GenericMapData(nullRow))));
        // 3: all NULL.
        rows.add(new GenericRowData(9));
        return rows;
    }

    static final String WIDE =
            "ROW<c0 INT, c1 INT, c2 INT, c3 INT, c4 INT, c5 INT, c6 INT, c7 INT, c8 INT, c9 INT, "
                    + "c10 INT, c11 INT, c12 INT, c13 INT, c14 INT>";

    private static List<RowData> wideRows() {
        List<RowData> rows = new ArrayList<>();
        rows.add(new GenericRowData(15));
        GenericRowData r = new GenericRowData(15);
        for (int i = 0; i < 15; i++) {
            r.setField(i, i % 3 == 0 ? null : i);
        }
        rows.add(r);
        GenericRowData full = new GenericRowData(RowKind.DELETE, 15);
        for (int i = 0; i < 15; i++) {
            full.setField(i, -i);
        }
        rows.add(full);
        GenericRowData last = new GenericRowData(15);
        for (int i = 0; i < 14; i++) {
            last.setField(i, 1 << i);
        }
        rows.add(last);
        return rows;
    }

    static final String NOT_NULL = "ROW<a INT NOT NULL, b STRING NOT NULL, c ARRAY<INT NOT NULL> NOT NULL>";

    private static List<RowData> notNullRows() {
        return List.of(GenericRowData.of(42, str("forty-two"), arr(4, 2)), GenericRowData.of(0, str(""), arr()));
    }

    // ------------------------------------------------------------------------------------------

    private static void line(StringBuilder out, String schema, List<RowData> rows) throws IOException {
        LogicalType type = LogicalTypeParser.parse(schema, FlinkVectorsTest.class.getClassLoader());
        assertThat(type).isInstanceOf(RowType.class);
        @SuppressWarnings("unchecked")
        TypeSerializer<RowData> ser = (TypeSerializer<RowData>) PythonTypeUtils.toInternalSerializer(type);
        out.append("{\"schema\": ").append(jsonString(type.asSerializableString())).append(", \"rows\": [");
        for (int i = 0; i < rows.size(); i++) {
            DataOutputSerializer buf = new DataOutputSerializer(64);
            ser.serialize(rows.get(i), buf);
            if (i > 0) {
                out.append(", ");
            }
            out.append('"').append(HexFormat.of().formatHex(buf.getCopyOfBuffer())).append('"');
        }
        out.append("]}\n");
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static RowData kind(RowKind kind, GenericRowData row) {
        row.setRowKind(kind);
        return row;
    }

    private static StringData str(String s) {
        return StringData.fromString(s);
    }

    private static DecimalData dec(String s, int precision, int scale) {
        DecimalData d = DecimalData.fromBigDecimal(new BigDecimal(s), precision, scale);
        assertThat(d).as("decimal %s fits DECIMAL(%d, %d)", s, precision, scale).isNotNull();
        return d;
    }

    private static TimestampData ts(String localDateTime) {
        return TimestampData.fromLocalDateTime(LocalDateTime.parse(localDateTime));
    }

    private static GenericArrayData arr(Object... elems) {
        return new GenericArrayData(elems);
    }
}
