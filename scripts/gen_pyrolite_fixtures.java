// Generates fnharness/internal/pickle/testdata/pyrolite_constants.json: the exact bytes Flink puts
// into Input.inputConstant for SQL literals. It calls Flink's own
// org.apache.flink.api.common.python.PythonBridgeUtils.pickleValue(Object, byte) — the method the
// planner's CommonPythonUtil.convertLiteralToPython invokes — with the Java values that
// convertLiteralToPython passes for each literal type (RexLiteral.getValue3() converted as there).
// PythonBridgeUtils uses the Pyrolite Pickler shaded into flink-python (net.razorvine:pyrolite:4.13).
//
// Run from the repository root (Java 11+ single-file launcher), with the jars the PyFlink 2.3.0
// wheel ships (the same flink-python jar is on Maven Central as
// org.apache.flink:flink-python:2.3.0):
//   P=.cache/venv/lib/python3.11/site-packages/pyflink
//   java -cp "$P/opt/flink-python-2.3.0.jar:$P/lib/flink-dist-2.3.0.jar:$P/lib/flink-table-api-java-uber-2.3.0.jar:$P/lib/flink-table-runtime-2.3.0.jar" \
//     scripts/gen_pyrolite_fixtures.java > fnharness/internal/pickle/testdata/pyrolite_constants.json
// (PythonBridgeUtils' static initializer needs flink-core and flink-table-common classes.)

import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

public class gen_pyrolite_fixtures {
    private static final List<String> out = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        Class<?> c = Class.forName("org.apache.flink.api.common.python.PythonBridgeUtils");
        Method pickle = c.getMethod("pickleValue", Object.class, byte.class);

        // tag 0: NULL literal of any type.
        add(pickle, "null", null, 0);
        // BOOLEAN: value = (Boolean) getValue3().
        add(pickle, "bool_true", Boolean.TRUE, 0);
        add(pickle, "bool_false", Boolean.FALSE, 0);
        // TINYINT: BigDecimal.byteValueExact().
        add(pickle, "tinyint_0", (byte) 0, 0);
        add(pickle, "tinyint_max", Byte.MAX_VALUE, 0);
        add(pickle, "tinyint_min", Byte.MIN_VALUE, 0);
        // SMALLINT: shortValueExact().
        add(pickle, "smallint_300", (short) 300, 0);
        add(pickle, "smallint_max", Short.MAX_VALUE, 0);
        add(pickle, "smallint_min", Short.MIN_VALUE, 0);
        // INTEGER: intValueExact().
        add(pickle, "int_42", 42, 0);
        add(pickle, "int_255", 255, 0);
        add(pickle, "int_256", 256, 0);
        add(pickle, "int_65535", 65535, 0);
        add(pickle, "int_65536", 65536, 0);
        add(pickle, "int_minus1", -1, 0);
        add(pickle, "int_max", Integer.MAX_VALUE, 0);
        add(pickle, "int_min", Integer.MIN_VALUE, 0);
        // BIGINT: longValueExact().
        add(pickle, "bigint_7", 7L, 0);
        add(pickle, "bigint_2pow31", 2147483648L, 0);
        add(pickle, "bigint_minus2pow31_minus1", -2147483649L, 0);
        add(pickle, "bigint_1e15", 1000000000000000L, 0);
        add(pickle, "bigint_max", Long.MAX_VALUE, 0);
        add(pickle, "bigint_min", Long.MIN_VALUE, 0);
        // FLOAT: floatValue(); DOUBLE: doubleValue().
        add(pickle, "float_1_5", 1.5f, 0);
        add(pickle, "float_0_1", 0.1f, 0);
        add(pickle, "double_3_25", 3.25d, 0);
        add(pickle, "double_0_1", 0.1d, 0);
        add(pickle, "double_neg_zero", -0.0d, 0);
        add(pickle, "double_max", Double.MAX_VALUE, 0);
        add(pickle, "double_nan", Double.NaN, 0);
        add(pickle, "double_inf", Double.POSITIVE_INFINITY, 0);
        // DECIMAL: (BigDecimal) getValue3().
        add(pickle, "decimal_123_45", new BigDecimal("123.45"), 0);
        add(pickle, "decimal_neg", new BigDecimal("-0.001"), 0);
        add(pickle, "decimal_exp", new BigDecimal("1E+10"), 0);
        add(pickle, "decimal_big", new BigDecimal("12345678901234567890.123456789"), 0);
        add(pickle, "decimal_zero", BigDecimal.ZERO, 0);
        // CHAR/VARCHAR: getValue3().toString().
        add(pickle, "string_empty", "", 0);
        add(pickle, "string_ab", "ab", 0);
        add(pickle, "string_unicode", "h\u00e9llo \u2713 \ud83d\ude00", 0);
        add(pickle, "string_long", "x".repeat(300), 0);
        add(pickle, "string_newline", "a\nb\\c'\"", 0);
        // DATE: tag 1, Integer days since epoch.
        add(pickle, "date_epoch", 0, 1);
        add(pickle, "date_2024_01_02", 19724, 1);
        add(pickle, "date_before_epoch", -1, 1);
        // TIME: tag 2, Integer millis of day.
        add(pickle, "time_midnight", 0, 2);
        add(pickle, "time_12_34_56_789", 45296789, 2);
        add(pickle, "time_max", 86399999, 2);
        // TIMESTAMP: tag 3, Long epoch millis.
        add(pickle, "timestamp_epoch", 0L, 3);
        add(pickle, "timestamp_2023", 1700000000123L, 3);
        add(pickle, "timestamp_before_epoch", -1L, 3);
        add(pickle, "timestamp_9999", 253402300799999L, 3);

        StringBuilder sb = new StringBuilder();
        sb.append("[\n");
        for (int i = 0; i < out.size(); i++) {
            sb.append(out.get(i));
            sb.append(i + 1 < out.size() ? ",\n" : "\n");
        }
        sb.append("]\n");
        System.out.print(sb);
    }

    private static void add(Method pickle, String name, Object v, int tag) throws Exception {
        byte[] b = (byte[]) pickle.invoke(null, v, (byte) tag);
        StringBuilder hex = new StringBuilder();
        for (byte x : b) {
            hex.append(String.format("%02x", x & 0xff));
        }
        String javaType = v == null ? "null" : v.getClass().getSimpleName();
        out.add(
                String.format(
                        "  {\"name\": \"%s\", \"tag\": %d, \"java_type\": \"%s\", \"hex\": \"%s\"}",
                        name, tag, javaType, hex));
    }
}
