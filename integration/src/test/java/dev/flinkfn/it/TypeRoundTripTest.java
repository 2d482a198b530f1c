package dev.flinkfn.it;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every supported SQL type round-trips through the worker's identity functions: 10,000 Java-generated rows
 * with NULLs and extremes, {@code SELECT i, x, id_xxx(x)}, compared per row with the generated input
 * (floats bit-exactly).
 */
@Tag("compat")
class TypeRoundTripTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final int ROWS = 10_000;
    static final long SEED = 20240102L;

    /** A source column: its type, its family (one query per family), identity function and values. */
    record Col(String name, DataType type, String family, String fn, List<Object> specials, Function<Random, Object> random) {}

    static final List<Col> COLS = new ArrayList<>();
    /** Extra calls of the generic {@code identity} on some columns. */
    static final List<String> GENERIC_IDENTITY = List.of(
            "c_int", "c_dec38", "c_string", "c_ts9", "c_ltz9", "c_arr_arr", "c_map_nested", "c_row");

    static final LocalDate MIN_DATE = LocalDate.of(1, 1, 1);
    static final LocalDate MAX_DATE = LocalDate.of(9999, 12, 31);
    static final BigInteger TEN_38 = BigInteger.TEN.pow(38);
    /** Code point ranges for random strings (ASCII weighted; 2-, 3- and 4-byte UTF-8; controls; private use). */
    static final int[][] CODE_POINT_RANGES = {
        {0x20, 0x7e}, {0x20, 0x7e}, {0x20, 0x7e}, {0xa0, 0x24f}, {0x370, 0x3ff}, {0x4e00, 0x9fff}, {0x1f300, 0x1faff},
        {0x10000, 0x10ffff}, {0x0, 0x1f}, {0xe000, 0xfffd}
    };

    static {
        col("c_bool", DataTypes.BOOLEAN(), "integers", "id_boolean", list(true, false, null), Random::nextBoolean);
        col("c_tinyint", DataTypes.TINYINT(), "integers", "id_tinyint",
                list(Byte.MIN_VALUE, Byte.MAX_VALUE, (byte) 0, (byte) -1, (byte) 1, null), r -> (byte) r.nextInt());
        col("c_smallint", DataTypes.SMALLINT(), "integers", "id_smallint",
                list(Short.MIN_VALUE, Short.MAX_VALUE, (short) 0, (short) -1, (short) 1, null), r -> (short) r.nextInt());
        col("c_int", DataTypes.INT(), "integers", "id_int",
                list(Integer.MIN_VALUE, Integer.MAX_VALUE, 0, -1, 1, null), Random::nextInt);
        col("c_bigint", DataTypes.BIGINT(), "integers", "id_bigint",
                list(Long.MIN_VALUE, Long.MAX_VALUE, 0L, -1L, 1L, 1L << 53, (1L << 53) + 1, null), Random::nextLong);

        col("c_float", DataTypes.FLOAT(), "floats", "id_float",
                list(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0.0f, Float.MIN_VALUE,
                        -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL, 1.5f, 0.1f, null),
                r -> {
                    float f = Float.intBitsToFloat(r.nextInt());
                    return Float.isNaN(f) ? Float.NaN : f;
                });
        col("c_double", DataTypes.DOUBLE(), "floats", "id_double",
                list(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0d, 0.0d, Double.MIN_VALUE,
                        -Double.MIN_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_NORMAL, 0.1d, 1e300, null),
                r -> {
                    double d = Double.longBitsToDouble(r.nextLong());
                    return Double.isNaN(d) ? Double.NaN : d;
                });

        col("c_dec38", DataTypes.DECIMAL(38, 18), "decimals", "id_decimal",
                list(dec("99999999999999999999.999999999999999999"), dec("-99999999999999999999.999999999999999999"),
                        dec("0.000000000000000001"), dec("-0.000000000000000001"), dec("0"), dec("1.5"),
                        dec("-1.25"), dec("0.0000001"), dec("12345678901234567890.123456789012345678"), null)
                        .stream().map(d -> d == null ? null : ((BigDecimal) d).setScale(18)).collect(toNullableList()),
                r -> randomDecimal(r, 38, 18));
        col("c_dec10", DataTypes.DECIMAL(10, 2), "decimals", "id_decimal",
                list(dec("99999999.99"), dec("-99999999.99"), dec("0.01"), dec("-0.01"), dec("0.00"), dec("1.25"), null),
                r -> randomDecimal(r, 10, 2));
        col("c_dec38_0", DataTypes.DECIMAL(38, 0), "decimals", "id_decimal",
                list(new BigDecimal(TEN_38.subtract(BigInteger.ONE)), new BigDecimal(TEN_38.subtract(BigInteger.ONE)).negate(),
                        BigDecimal.ZERO, BigDecimal.ONE, null),
                r -> randomDecimal(r, 38, 0));

        col("c_string", DataTypes.STRING(), "strings", "id_string",
                list("", null, "a", "😀𝄞 four-byte", "héllo wörld", "日本語テキスト", "a\u0000b", " padded ", "x".repeat(5000),
                        new String(Character.toChars(0x10FFFF)), "\uFFFD"),
                r -> randomString(r, 40));
        col("c_varchar10", DataTypes.VARCHAR(10), "strings", "id_string",
                list("", null, "abcdefghij", "😀😀😀😀😀"), r -> randomString(r, 5));
        col("c_char8", DataTypes.CHAR(8), "strings", "id_string",
                list("abcdefgh", "ÄÖÜäöüßé", null), r -> randomFixedString(r, 8));

        col("c_binary4", DataTypes.BINARY(4), "binary", "id_binary",
                list(new byte[] {0, 0, 0, 0}, new byte[] {-1, -1, -1, -1}, new byte[] {1, 2, 3, 4}, null),
                r -> randomBytes(r, 4, 4));
        col("c_bytes", DataTypes.BYTES(), "binary", "id_binary",
                list(new byte[0], null, allBytes(), new byte[] {0}),
                r -> randomBytes(r, 0, 64));
        col("c_varbinary10", DataTypes.VARBINARY(10), "binary", "id_binary",
                list(new byte[0], null, new byte[] {(byte) 0x80, 0x7f}), r -> randomBytes(r, 0, 10));

        col("c_date", DataTypes.DATE(), "temporal", "id_date",
                list(MIN_DATE, MAX_DATE, LocalDate.of(1970, 1, 1), LocalDate.of(1969, 12, 31), LocalDate.of(1900, 3, 1),
                        LocalDate.of(2024, 2, 29), null),
                r -> LocalDate.ofEpochDay(between(r, MIN_DATE.toEpochDay(), MAX_DATE.toEpochDay())));
        col("c_time3", DataTypes.TIME(3), "temporal", "id_time",
                list(LocalTime.MIDNIGHT, LocalTime.of(23, 59, 59, 999_000_000), LocalTime.of(12, 34, 56, 789_000_000),
                        LocalTime.of(0, 0, 0, 1_000_000), null),
                r -> LocalTime.ofNanoOfDay(between(r, 0, 86_400_000L - 1) * 1_000_000L));
        col("c_time0", DataTypes.TIME(0), "temporal", "id_time",
                list(LocalTime.MIDNIGHT, LocalTime.of(23, 59, 59), null),
                r -> LocalTime.ofSecondOfDay(between(r, 0, 86_399)));
        col("c_ts9", DataTypes.TIMESTAMP(9), "temporal", "id_timestamp",
                list(LocalDateTime.of(1, 1, 1, 0, 0), LocalDateTime.of(9999, 12, 31, 23, 59, 59, 999_999_999),
                        LocalDateTime.of(1969, 12, 31, 23, 59, 59, 999_999_999), LocalDateTime.of(1900, 1, 1, 0, 0, 0, 1),
                        LocalDateTime.of(1970, 1, 1, 0, 0), LocalDateTime.of(1960, 6, 15, 12, 34, 56, 123_456_789),
                        LocalDateTime.of(2024, 1, 2, 3, 4, 5, 123_456_789), null),
                r -> randomDateTime(r, 1));
        col("c_ts6", DataTypes.TIMESTAMP(6), "temporal", "id_timestamp",
                list(LocalDateTime.of(1969, 12, 31, 23, 59, 59, 999_999_000), LocalDateTime.of(1, 1, 1, 0, 0, 0, 1_000), null),
                r -> randomDateTime(r, 1_000));
        col("c_ts3", DataTypes.TIMESTAMP(3), "temporal", "id_timestamp",
                list(LocalDateTime.of(1969, 12, 31, 23, 59, 59, 999_000_000), LocalDateTime.of(9999, 12, 31, 23, 59, 59, 999_000_000),
                        LocalDateTime.of(1, 1, 1, 0, 0), null),
                r -> randomDateTime(r, 1_000_000));
        col("c_ltz9", DataTypes.TIMESTAMP_LTZ(9), "temporal", "id_timestamp_ltz",
                list(Instant.parse("0001-01-01T00:00:00Z"), Instant.parse("9999-12-31T23:59:59.999999999Z"),
                        Instant.ofEpochSecond(-1, 999_999_999), Instant.EPOCH, Instant.parse("1901-12-13T20:45:52.000000001Z"), null),
                r -> randomDateTime(r, 1).toInstant(ZoneOffset.UTC));
        col("c_ltz3", DataTypes.TIMESTAMP_LTZ(3), "temporal", "id_timestamp_ltz",
                list(Instant.ofEpochMilli(-1), Instant.ofEpochMilli(0), Instant.parse("2038-01-19T03:14:08Z"), null),
                r -> randomDateTime(r, 1_000_000).toInstant(ZoneOffset.UTC));

        col("c_arr_int", DataTypes.ARRAY(DataTypes.INT()), "arrays", "id_array",
                list(new Integer[0], null, new Integer[] {null}, new Integer[] {Integer.MIN_VALUE, null, Integer.MAX_VALUE}),
                r -> randomArray(r, Integer[]::new, Random::nextInt));
        col("c_arr_str", DataTypes.ARRAY(DataTypes.STRING()), "arrays", "id_array",
                list(new String[0], null, new String[] {"", null, "😀"}),
                r -> randomArray(r, String[]::new, x -> randomString(x, 8)));
        col("c_arr_dbl", DataTypes.ARRAY(DataTypes.DOUBLE()), "arrays", "id_array",
                list(new Double[] {Double.NaN, -0.0d, null, Double.NEGATIVE_INFINITY}, new Double[0], null),
                r -> randomArray(r, Double[]::new, x -> x.nextGaussian() * 1e6));
        col("c_arr_arr", DataTypes.ARRAY(DataTypes.ARRAY(DataTypes.BIGINT())), "arrays", "id_array",
                list(new Long[][] {}, new Long[][] {null, {}, {null}, {Long.MIN_VALUE, Long.MAX_VALUE}}, null),
                r -> randomArray(r, Long[][]::new, x -> randomArray(x, Long[]::new, Random::nextLong)));

        col("c_map", DataTypes.MAP(DataTypes.STRING(), DataTypes.INT()), "maps", "id_map",
                list(new HashMap<>(), null, mapOf("a", null), mapOf("", 0, "😀", Integer.MIN_VALUE, "n", null)),
                r -> randomMap(r, x -> randomString(x, 6), Random::nextInt));
        col("c_map_nested", DataTypes.MAP(DataTypes.INT(), DataTypes.ARRAY(DataTypes.STRING())), "maps", "id_map",
                list(new HashMap<>(), null, mapOf(1, null, 2, new String[0], 3, new String[] {null, "x"})),
                r -> randomMap(r, Random::nextInt, x -> randomArray(x, String[]::new, y -> randomString(y, 4))));

        DataType inner = DataTypes.ROW(FIELD("d", DataTypes.DOUBLE()), FIELD("e", DataTypes.ARRAY(DataTypes.BIGINT())));
        col("c_row", DataTypes.ROW(FIELD("a", DataTypes.INT()), FIELD("b", DataTypes.STRING()), FIELD("c", inner)), "rows", "id_row",
                list(null, Row.of(null, null, null), Row.of(1, "", Row.of(null, new Long[0])),
                        Row.of(Integer.MIN_VALUE, "😀", Row.of(Double.NaN, new Long[] {null, 7L}))),
                r -> Row.of(maybeNull(r, r.nextInt()), maybeNull(r, randomString(r, 6)),
                        maybeNull(r, Row.of(maybeNull(r, r.nextDouble()), maybeNull(r, randomArray(r, Long[]::new, Random::nextLong))))));
        col("c_row_flat", DataTypes.ROW(FIELD("x", DataTypes.BIGINT()), FIELD("y", DataTypes.BOOLEAN()),
                        FIELD("z", DataTypes.TIMESTAMP(9)), FIELD("w", DataTypes.DECIMAL(20, 5))), "rows", "id_row",
                list(Row.of(null, null, null, null), null, Row.of(Long.MIN_VALUE, true, LocalDateTime.of(1, 1, 1, 0, 0),
                        dec("-123456789012345.12345"))),
                r -> Row.of(r.nextLong(), r.nextBoolean(), randomDateTime(r, 1), randomDecimal(r, 20, 5)));
    }

    // ---- the generated data ------------------------------------------------------------------------

    static final DataType SOURCE_TYPE;
    static final List<Row> DATA;

    static {
        List<DataTypes.Field> fields = new ArrayList<>();
        fields.add(FIELD("i", DataTypes.INT().notNull()));
        for (Col c : COLS) {
            fields.add(FIELD(c.name(), c.type()));
        }
        SOURCE_TYPE = DataTypes.ROW(fields.toArray(new DataTypes.Field[0])).notNull();

        Random rnd = new Random(SEED);
        List<Row> rows = new ArrayList<>(ROWS);
        for (int i = 0; i < ROWS; i++) {
            Row row = new Row(COLS.size() + 1);
            row.setField(0, i);
            for (int c = 0; c < COLS.size(); c++) {
                row.setField(c + 1, value(COLS.get(c), i, rnd));
            }
            rows.add(row);
        }
        DATA = Collections.unmodifiableList(rows);
    }

    /** Specials at the start, in the middle and at the end; otherwise random with ~10% NULLs. */
    static Object value(Col c, int i, Random rnd) {
        int k = c.specials().size();
        int mid = ROWS / 2;
        if (i < k) {
            return c.specials().get(i);
        }
        if (i >= mid && i < mid + k) {
            return c.specials().get(i - mid);
        }
        if (i >= ROWS - k) {
            return c.specials().get(ROWS - 1 - i);
        }
        if (rnd.nextInt(10) == 0) {
            return null;
        }
        return c.random().apply(rnd);
    }

    // ---- tests ---------------------------------------------------------------------------------------

    static Stream<String> families() {
        return COLS.stream().map(Col::family).distinct();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void familyRoundTrips(String family) {
        List<Col> cols = COLS.stream().filter(c -> c.family().equals(family)).collect(Collectors.toList());
        roundTrip(cols, false);
    }

    @Test
    void genericIdentityRoundTrips() {
        List<Col> cols = COLS.stream().filter(c -> GENERIC_IDENTITY.contains(c.name())).collect(Collectors.toList());
        assertThat(cols).hasSize(GENERIC_IDENTITY.size());
        roundTrip(cols, true);
    }

    /** All columns through their identity function in one Python operator (one wide row per element). */
    @Test
    void allTypesInOneQuery() {
        roundTrip(COLS, false);
    }

    private void roundTrip(List<Col> cols, boolean generic) {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        Table src = tEnv.fromDataStream(job.env().fromData(DATA, ExternalTypeInfo.of(SOURCE_TYPE)));
        tEnv.createTemporaryView("src", src);

        StringBuilder sql = new StringBuilder("SELECT i");
        for (Col c : cols) {
            String fn = (generic ? "identity" : c.fn()) + "__" + c.name();
            PythonUdfs.builtin(tEnv, fn, generic ? "identity" : c.fn(), c.type(), c.type());
            sql.append(", ").append(c.name()).append(", ").append(fn).append('(').append(c.name()).append(')');
        }
        sql.append(" FROM src");

        List<Row> out = Flinkfn.collect(tEnv.executeSql(sql.toString()));
        assertThat(out).as("row count of " + sql).hasSize(ROWS);

        BitSet seen = new BitSet(ROWS);
        List<String> mismatches = new ArrayList<>();
        for (Row r : out) {
            int i = (Integer) r.getField(0);
            assertThat(seen.get(i)).as("row %d twice", i).isFalse();
            seen.set(i);
            Row in = DATA.get(i);
            for (int c = 0; c < cols.size(); c++) {
                Col col = cols.get(c);
                Object expected = in.getField(COLS.indexOf(col) + 1);
                Object passthrough = r.getField(1 + 2 * c);
                Object udf = r.getField(2 + 2 * c);
                if (!Values.same(expected, passthrough)) {
                    mismatches.add(String.format("row %d %s: source gave %s, expected %s (Flink conversion, not the worker)",
                            i, col.name(), Values.show(passthrough), Values.show(expected)));
                }
                if (!Values.same(expected, udf)) {
                    mismatches.add(String.format("row %d %s %s: worker returned %s, expected %s",
                            i, col.name(), col.type(), Values.show(udf), Values.show(expected)));
                }
            }
            if (mismatches.size() > 50) {
                break;
            }
        }
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " mismatches (first 50):\n" + String.join("\n", mismatches.subList(0, Math.min(50, mismatches.size()))));
        }
        assertThat(seen.cardinality()).isEqualTo(ROWS);
    }

    // ---- generators ----------------------------------------------------------------------------------

    static void col(String name, DataType type, String family, String fn, List<Object> specials, Function<Random, Object> random) {
        COLS.add(new Col(name, type, family, fn, specials, random));
    }

    @SafeVarargs
    static <T> List<Object> list(T... values) {
        return new ArrayList<>(Arrays.asList(values));
    }

    static java.util.stream.Collector<Object, ?, List<Object>> toNullableList() {
        return Collectors.toCollection(ArrayList::new);
    }

    static BigDecimal dec(String s) {
        return new BigDecimal(s);
    }

    static Object maybeNull(Random r, Object v) {
        return r.nextInt(8) == 0 ? null : v;
    }

    static long between(Random r, long lo, long hi) {
        return lo + Math.floorMod(r.nextLong(), hi - lo + 1);
    }

    static BigDecimal randomDecimal(Random r, int precision, int scale) {
        BigInteger bound = BigInteger.TEN.pow(precision);
        // Mix magnitudes: uniformly random digits count, so small values are common too.
        int digits = 1 + r.nextInt(precision);
        BigInteger unscaled = new BigInteger(4 * digits, r).mod(BigInteger.TEN.pow(digits)).mod(bound);
        if (r.nextBoolean()) {
            unscaled = unscaled.negate();
        }
        return new BigDecimal(unscaled, scale);
    }

    static String randomString(Random r, int maxLen) {
        int len = r.nextInt(maxLen + 1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < len; i++) {
            int[] range = CODE_POINT_RANGES[r.nextInt(CODE_POINT_RANGES.length)];
            sb.appendCodePoint(range[0] + r.nextInt(range[1] - range[0] + 1));
        }
        return sb.toString();
    }

    /** A string of exactly n BMP characters (CHAR(n) values, no padding questions). */
    static String randomFixedString(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append((char) (r.nextBoolean() ? 'a' + r.nextInt(26) : 0xc0 + r.nextInt(0x40)));
        }
        return sb.toString();
    }

    static byte[] randomBytes(Random r, int minLen, int maxLen) {
        byte[] b = new byte[minLen + r.nextInt(maxLen - minLen + 1)];
        r.nextBytes(b);
        return b;
    }

    static byte[] allBytes() {
        byte[] b = new byte[256];
        for (int i = 0; i < 256; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    /** Date-time between 0001 and 9999 whose nano-of-second is a multiple of {@code nanoStep}. */
    static LocalDateTime randomDateTime(Random r, int nanoStep) {
        long lo = LocalDateTime.of(1, 1, 1, 0, 0).toEpochSecond(ZoneOffset.UTC);
        long hi = LocalDateTime.of(9999, 12, 31, 23, 59, 59).toEpochSecond(ZoneOffset.UTC);
        // Half of the values near 1970 (both signs), half over the whole range.
        long sec = r.nextBoolean() ? between(r, -4_000_000_000L, 4_000_000_000L) : between(r, lo, hi);
        int nanos = r.nextInt(1_000_000_000 / nanoStep) * nanoStep;
        return LocalDateTime.ofEpochSecond(sec, nanos, ZoneOffset.UTC);
    }

    static <T> T[] randomArray(Random r, java.util.function.IntFunction<T[]> make, Function<Random, T> elem) {
        T[] a = make.apply(r.nextInt(6));
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextInt(5) == 0 ? null : elem.apply(r);
        }
        return a;
    }

    static <K, V> Map<K, V> randomMap(Random r, Function<Random, K> key, Function<Random, V> value) {
        Map<K, V> m = new HashMap<>();
        int n = r.nextInt(5);
        for (int i = 0; i < n; i++) {
            m.put(key.apply(r), r.nextInt(4) == 0 ? null : value.apply(r));
        }
        return m;
    }

    static Map<Object, Object> mapOf(Object... kv) {
        Map<Object, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
