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
 * sentence-transformers, ROW columns and results through Flink's own Arrow writer and reader, and the job-start
 * errors for an ARRAY of ROWs and a MAP argument, which Flink's Arrow path cannot carry (function, column, cause,
 * fix).
 */
@Tag("compat")
class PandasTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    /**
     * TypeRoundTripTest's families that Flink's Arrow path cannot carry as declared there (MAP keys are nullable,
     * which Flink's ArrowUtils refuses, and MAP arguments lose their entries in Flink's MapWriter; c_row holds a
     * nested ROW, which PyFlink's to_arrow_type refuses): {@link #rowColumnsRoundTrip} covers ROW.
     */
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
     * Flink 1.20's planner has no TIME precision: FlinkTypeFactory.createFieldTypeFromLogicalType maps TIME(p)
     * to Calcite's TIME and FlinkTypeFactory.toLogicalType maps that back to {@code new TimeType()}, TIME(0)
     * (flink-table-planner 1.20.3; 2.x keeps the precision, FLINK-17224). A pandas function's operator thus
     * declares TIME(0), Flink's ArrowUtils makes that an Arrow time32[s] column and its TimeWriter writes
     * {@code readTime(...) / 1000}: the milliseconds are gone before any worker sees the batch, and the stock
     * Python worker returns the same truncated value (integration/pyflink/test_pandas.py). The row-at-a-time
     * coder carries the int milliseconds whatever the precision.
     */
    static final Set<String> TRUNCATED_TO_SECONDS_ON_1_20 = Set.of("c_time3");

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
                if (flink120() && TRUNCATED_TO_SECONDS_ON_1_20.contains(col.name()) && expected != null) {
                    expected = ((java.time.LocalTime) expected).withNano(0);
                }
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

    /**
     * ROW columns and results through pandas-declared identity functions, Flink's own Arrow writer and reader on
     * both sides: NULL rows, NULL fields, an ARRAY field, extremes. A NULL row comes back as a row of NULL fields,
     * as from the stock worker (PyFlink hands a pandas function a DataFrame of the row's fields).
     */
    @ParameterizedTest(name = "arrow batch size {0}")
    @ValueSource(ints = {3, 1000})
    void rowColumnsRoundTrip(int batchSize) {
        DataType rowType = DataTypes.ROW(FIELD("x", DataTypes.BIGINT()), FIELD("y", DataTypes.STRING()),
                FIELD("z", DataTypes.ARRAY(DataTypes.INT())));
        DataType t = DataTypes.ROW(FIELD("i", DataTypes.INT().notNull()), FIELD("r", rowType)).notNull();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            Row r = switch (i % 4) {
                case 0 -> null;
                case 1 -> Row.of(null, null, null);
                case 2 -> Row.of((long) i * 1_000_000_007L, "r" + i + "é", new Integer[] {i, null, -i});
                default -> Row.of(Long.MIN_VALUE + i, "", new Integer[0]);
            };
            rows.add(Row.of(i, r));
        }
        Flinkfn.Job job = Flinkfn.job(1, Map.of("python.fn-execution.arrow.batch.size", Integer.toString(batchSize)));
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(rows, ExternalTypeInfo.of(t))));
        tEnv.createTemporarySystemFunction("id_row_p", pandas("id_row_p", PythonUdfs.BUILTIN, "id_row", rowType, rowType));
        List<Row> out = Flinkfn.collect(tEnv.executeSql("SELECT i, id_row_p(r), id_row_p(id_row_p(r)) FROM src"));
        assertThat(out).hasSize(rows.size());
        List<String> mismatches = new ArrayList<>();
        for (Row o : out) {
            Row in = rows.get((Integer) o.getField(0));
            Object want = in.getField(1) == null ? Row.of(null, null, null) : in.getField(1);
            for (int c = 1; c <= 2; c++) {
                if (!Values.same(want, o.getField(c))) {
                    mismatches.add(String.format("row %s column %d: worker returned %s, expected %s",
                            o.getField(0), c, Values.show(o.getField(c)), Values.show(want)));
                }
            }
        }
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " mismatches:\n" + String.join("\n", mismatches));
        }
    }

    /**
     * Columns Flink's Arrow path cannot carry to a pandas function, refused at job start naming function, column,
     * cause and fix: an ARRAY of ROWs (PyFlink's to_arrow_type refuses it, the stock worker never starts) and a
     * MAP argument (Flink's MapWriter loses the entries of every Arrow batch after the first; the stock worker
     * fails with "Map array child array should have no nulls").
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"array of rows", "map"})
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void columnsFlinksArrowPathCannotCarryFailAtJobStartWithTheFix(String kind) {
        boolean map = kind.equals("map");
        DataType colType = map
                ? DataTypes.MAP(DataTypes.STRING().notNull(), DataTypes.INT())
                : DataTypes.ARRAY(DataTypes.ROW(FIELD("x", DataTypes.BIGINT()), FIELD("y", DataTypes.STRING())));
        String fn = map ? "id_map" : "id_array";
        DataType t = DataTypes.ROW(FIELD("i", DataTypes.INT().notNull()), FIELD("c", colType)).notNull();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            rows.add(Row.of(i, i % 5 == 0 ? null : map ? Map.of("k" + i, i) : new Row[] {Row.of((long) i, "r" + i)}));
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
                .contains(map ? "MapWriter does not reset its key and value writers" : "to_arrow_type refuses a ROW as an ARRAY element")
                .contains("declare the function row-at-a-time");
    }
}
