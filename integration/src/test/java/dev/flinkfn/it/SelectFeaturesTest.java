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

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.apache.flink.table.api.Expressions.call;
import static org.apache.flink.table.api.Expressions.withAllColumns;
import static org.assertj.core.api.Assertions.assertThat;

/** Several UDFs per SELECT, chained UDFs, constant arguments, takes_row_as_input through Table.map. */
@Tag("compat")
class SelectFeaturesTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final DataType SRC_TYPE = DataTypes.ROW(
            FIELD("k", DataTypes.INT().notNull()),
            FIELD("s", DataTypes.STRING()),
            FIELD("n", DataTypes.BIGINT()),
            FIELD("d", DataTypes.DOUBLE())).notNull();

    static final List<Row> SRC = List.of(
            Row.of(0, "hello", 1L, 1.5d),
            Row.of(1, "Wörld 😀", -7L, Double.NaN),
            Row.of(2, "", 0L, -0.0d),
            Row.of(3, null, null, null),
            Row.of(4, "straße", Long.MAX_VALUE, Double.POSITIVE_INFINITY),
            Row.of(5, "ǆemal ﬁne", Long.MIN_VALUE, Double.NEGATIVE_INFINITY));

    private static StreamTableEnvironment envWithSource() {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(SRC, ExternalTypeInfo.of(SRC_TYPE))));
        PythonUdfs.builtin(tEnv, "upper", "upper", DataTypes.STRING(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "length", "length", DataTypes.INT(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "id_bigint", "id_bigint", DataTypes.BIGINT(), DataTypes.BIGINT());
        PythonUdfs.builtin(tEnv, "describe_bigint", "describe", DataTypes.STRING(), DataTypes.BIGINT());
        PythonUdfs.builtin(tEnv, "describe_double", "describe", DataTypes.STRING(), DataTypes.DOUBLE());
        PythonUdfs.builtin(tEnv, "describe_string", "describe", DataTypes.STRING(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "describe_int", "describe", DataTypes.STRING(), DataTypes.INT());
        return tEnv;
    }

    /** Python's str.upper (full case mapping), which Java's ROOT-locale upper-casing matches for these inputs. */
    static String pyUpper(String s) {
        return s == null ? null : s.toUpperCase(Locale.ROOT);
    }

    static Integer pyLen(String s) {
        return s == null ? null : s.codePointCount(0, s.length());
    }

    static String describeDouble(Double d) {
        if (d == null) {
            return "NULL";
        }
        if (d.isNaN()) {
            return "NaN";
        }
        if (d.isInfinite()) {
            return d > 0 ? "+Inf" : "-Inf";
        }
        if (d == 0) {
            return Double.doubleToRawLongBits(d) == 0 ? "0" : "-0";
        }
        return d.toString(); // only used for 1.5
    }

    private static List<String> sortedRows(List<Row> rows) {
        return rows.stream().sorted(Comparator.comparing(r -> (Integer) r.getField(0)))
                .map(Values::showRow).collect(Collectors.toList());
    }

    @Test
    void severalUdfsInOneSelect() {
        StreamTableEnvironment tEnv = envWithSource();
        List<Row> out = Flinkfn.collect(tEnv.executeSql(
                "SELECT k, upper(s), length(s), id_bigint(n), describe_bigint(n), describe_double(d), describe_string(s), s"
                        + " FROM src"));
        List<String> expected = new ArrayList<>();
        for (Row in : SRC) {
            String s = (String) in.getField(1);
            Long n = (Long) in.getField(2);
            expected.add(Values.showRow(Row.of(in.getField(0), pyUpper(s), pyLen(s), n, n == null ? "NULL" : n.toString(),
                    describeDouble((Double) in.getField(3)), s == null ? "NULL" : s, s)));
        }
        assertThat(sortedRows(out)).containsExactlyElementsOf(expected);
    }

    @Test
    void chainedUdfs() {
        StreamTableEnvironment tEnv = envWithSource();
        List<Row> out = Flinkfn.collect(tEnv.executeSql(
                "SELECT k, length(upper(s)), upper(upper(s)), describe_int(length(s)), upper(s) || '|' || upper(s),"
                        + " describe_bigint(id_bigint(id_bigint(n)))"
                        + " FROM src"));
        List<String> expected = new ArrayList<>();
        for (Row in : SRC) {
            String s = (String) in.getField(1);
            Long n = (Long) in.getField(2);
            expected.add(Values.showRow(Row.of(in.getField(0), pyLen(pyUpper(s)), pyUpper(pyUpper(s)),
                    s == null ? "NULL" : String.valueOf(pyLen(s)),
                    s == null ? null : pyUpper(s) + "|" + pyUpper(s),
                    n == null ? "NULL" : n.toString())));
        }
        assertThat(sortedRows(out)).containsExactlyElementsOf(expected);
    }

    /**
     * Constant arguments of every literal type Flink passes to Python UDFs as pickled constants (spec §5.6),
     * each through {@code describe} registered with the literal's type.
     */
    @Test
    void constantArgumentsOfEveryLiteralType() {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        // literal SQL -> (describe registration type, expected text)
        Map<String, Object[]> cases = new LinkedHashMap<>();
        cases.put("CAST(-7 AS TINYINT)", new Object[] {DataTypes.TINYINT(), "-7"});
        cases.put("CAST(-32768 AS SMALLINT)", new Object[] {DataTypes.SMALLINT(), "-32768"});
        cases.put("42", new Object[] {DataTypes.INT(), "42"});
        cases.put("-2147483648", new Object[] {DataTypes.INT(), "-2147483648"});
        cases.put("9007199254740993", new Object[] {DataTypes.BIGINT(), "9007199254740993"});
        cases.put("CAST(-9223372036854775807 AS BIGINT)", new Object[] {DataTypes.BIGINT(), "-9223372036854775807"});
        cases.put("CAST(1.5 AS FLOAT)", new Object[] {DataTypes.FLOAT(), "1.5"});
        cases.put("CAST(-2.5 AS DOUBLE)", new Object[] {DataTypes.DOUBLE(), "-2.5"});
        cases.put("1.25", new Object[] {DataTypes.DECIMAL(3, 2), "1.25"});
        // A DECIMAL constant keeps the literal's own scale: Flink pickles the literal's BigDecimal (here scale 6),
        // not a value rescaled to the type's scale 18; the stock PyFlink worker sees Decimal('-0.000001').
        cases.put("CAST(-0.000001 AS DECIMAL(38, 18))", new Object[] {DataTypes.DECIMAL(38, 18), "-0.000001"});
        cases.put("TRUE", new Object[] {DataTypes.BOOLEAN(), "true"});
        cases.put("FALSE", new Object[] {DataTypes.BOOLEAN(), "false"});
        cases.put("'abc'", new Object[] {DataTypes.CHAR(3), "abc"});
        cases.put("CAST('héllo 😀' AS VARCHAR(20))", new Object[] {DataTypes.VARCHAR(20), "héllo 😀"});
        cases.put("''", new Object[] {DataTypes.STRING(), ""});
        cases.put("DATE '2024-01-02'", new Object[] {DataTypes.DATE(), "2024-01-02"});
        cases.put("DATE '1969-12-31'", new Object[] {DataTypes.DATE(), "1969-12-31"});
        cases.put("TIME '12:34:56'", new Object[] {DataTypes.TIME(0), "12:34:56.000"});
        cases.put("TIMESTAMP '2024-01-02 03:04:05.123'", new Object[] {DataTypes.TIMESTAMP(3), "2024-01-02T03:04:05.123000000"});
        cases.put("TIMESTAMP '1969-07-20 20:17:40'", new Object[] {DataTypes.TIMESTAMP(0), "1969-07-20T20:17:40.000000000"});
        cases.put("CAST(NULL AS INT)", new Object[] {DataTypes.INT(), "NULL"});
        cases.put("CAST(NULL AS VARCHAR)", new Object[] {DataTypes.STRING(), "NULL"});

        StringBuilder sql = new StringBuilder("SELECT x");
        List<String> expected = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, Object[]> e : cases.entrySet()) {
            String fn = "describe_c" + i++;
            PythonUdfs.builtin(tEnv, fn, "describe", DataTypes.STRING(), (DataType) e.getValue()[0]);
            sql.append(", ").append(fn).append('(').append(e.getKey()).append(')');
            expected.add(e.getKey() + " -> " + e.getValue()[1]);
        }
        sql.append(" FROM (VALUES (1), (2)) AS t(x)");

        String plan = tEnv.explainSql(sql.toString());
        // The arguments really are constants of the Python operator (no Java Calc computing them first).
        assertThat(plan).contains("PythonCalc(select=[x, describe_c0(-7:TINYINT) AS EXPR$1");
        List<Row> out = Flinkfn.collect(tEnv.executeSql(sql.toString()));
        assertThat(out).as(plan).hasSize(2);
        List<String> keys = new ArrayList<>(cases.keySet());
        for (Row r : out) {
            List<String> actual = new ArrayList<>();
            for (int c = 0; c < keys.size(); c++) {
                actual.add(keys.get(c) + " -> " + r.getField(c + 1));
            }
            assertThat(actual).as("plan:\n" + plan).containsExactlyElementsOf(expected);
        }
    }

    /**
     * takes_row_as_input as PyFlink's {@code Table.map(func)} uses it: the function is registered without input
     * types and called with all columns; the planner emits {@code PythonCalc(select=[f(s, n, x)])} with
     * takes_row_as_input=true, so the worker receives three arguments and must pass them as one row.
     *
     * <p>{@code Table.map} is used with a ROW-returning function (row_upper; the result is flattened into
     * columns). With a non-composite result (e.g. row_to_string's STRING) the planner of both Flink 1.20.3 and
     * 2.3.0 loops forever in RemoteCalcSplitRule, so row_to_string is called through {@code select}.
     */
    @Test
    void takesRowAsInputThroughTableMap() {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        DataType rowType = DataTypes.ROW(FIELD("s", DataTypes.STRING()), FIELD("n", DataTypes.INT()), FIELD("x", DataTypes.STRING()));
        List<Row> rows = List.of(Row.of("a", 1, null), Row.of("Hello wörld", -5, "z"), Row.of(null, null, null));
        Table t = tEnv.fromDataStream(job.env().fromData(rows, ExternalTypeInfo.of(rowType.notNull())));

        // PyFlink registers such functions without input types (j_input_types = None) and calls them with all columns.
        PythonUdfs.registerRowFunction(tEnv, "row_to_string", PythonUdfs.BUILTIN, "row_to_string", null, DataTypes.STRING());
        PythonUdfs.registerRowFunction(tEnv, "row_upper", PythonUdfs.BUILTIN, "row_upper", null, rowType);

        Table upper = t.map(call("row_upper", withAllColumns()));
        assertThat(upper.getResolvedSchema().getColumnNames()).containsExactly("s", "n", "x");
        List<String> up = Flinkfn.collect(upper.execute()).stream().map(Values::showRow).sorted().collect(Collectors.toList());
        assertThat(up).containsExactlyInAnyOrder(
                Values.showRow(Row.of("A", 1, null)),
                Values.showRow(Row.of("HELLO WÖRLD", -5, "Z")),
                Values.showRow(Row.of(null, null, null)));

        List<String> text = Flinkfn.collect(t.select(call("row_to_string", withAllColumns())).execute())
                .stream().map(r -> (String) r.getField(0)).sorted().collect(Collectors.toList());
        assertThat(text).containsExactly("+I(Hello wörld, -5, z)", "+I(NULL, NULL, NULL)", "+I(a, 1, NULL)");
    }
}
