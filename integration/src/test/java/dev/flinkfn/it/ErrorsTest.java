package dev.flinkfn.it;

import org.apache.flink.core.execution.JobClient;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.functions.python.PythonEnv;
import org.apache.flink.table.functions.python.PythonFunctionKind;
import org.apache.flink.table.functions.python.PythonScalarFunction;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Worker-side failures surface in the Flink job failure with useful text. */
@Tag("compat")
class ErrorsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final DataType SRC_TYPE = DataTypes.ROW(
            FIELD("k", DataTypes.INT().notNull()), FIELD("s", DataTypes.STRING()), FIELD("n", DataTypes.BIGINT())).notNull();

    private static StreamTableEnvironment env(List<Row> rows) {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(rows, ExternalTypeInfo.of(SRC_TYPE))));
        return tEnv;
    }

    private static List<Row> rows(int count, int badAt, String bad) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            rows.add(Row.of(i, i == badAt ? bad : "ok-" + i, (long) i));
        }
        return rows;
    }

    /**
     * Runs the query and returns the job failure's cause chain. Fails if the job finishes successfully, or if it
     * has neither failed nor finished after {@code seconds} (the job is then cancelled). A worker that answers a
     * bundle with an error but never opens the Data stream makes Flink wait 3 minutes in "Failed to start remote
     * bundle / No client connected within timeout", which these bounds turn into a readable failure.
     */
    private static String failureOf(StreamTableEnvironment tEnv, String sql, int seconds) {
        TableResult result = tEnv.executeSql(sql);
        JobClient client = result.getJobClient().orElseThrow();
        try {
            client.getJobExecutionResult().get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            String chain = Flinkfn.causeChain(e);
            System.out.println("job failure for " + sql + ":\n" + chain);
            return chain;
        } catch (TimeoutException e) {
            try {
                client.cancel().get(30, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // best effort
            }
            return fail("the job neither failed nor finished within " + seconds + " s (cancelled): " + sql);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
        return fail("expected the job to fail, but it finished successfully: " + sql);
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void udfErrorFailsJobWithMessage() {
        StreamTableEnvironment tEnv = env(rows(50, 37, "BAD-row-37 ✗"));
        PythonUdfs.builtin(tEnv, "reject", "reject", DataTypes.STRING(), DataTypes.STRING());
        String chain = failureOf(tEnv, "SELECT k, reject(s) FROM src", 120);
        assertThat(chain).contains("rejected input").contains("BAD-row-37 ✗");
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void rejectPassesGoodRows() {
        // Control for the test above: without a BAD row the same query succeeds.
        StreamTableEnvironment tEnv = env(rows(50, -1, null));
        PythonUdfs.builtin(tEnv, "reject", "reject", DataTypes.STRING(), DataTypes.STRING());
        List<Row> out = Flinkfn.collect(tEnv.executeSql("SELECT k, reject(s) FROM src"));
        assertThat(out).hasSize(50);
        for (Row r : out) {
            assertThat(r.getField(1)).isEqualTo("ok-" + r.getField(0));
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void unknownFunctionFailsFast() {
        StreamTableEnvironment tEnv = env(rows(10, -1, null));
        PythonUdfs.builtin(tEnv, "no_such_fn", "no_such_fn", DataTypes.STRING(), DataTypes.STRING());
        // "Fails fast": within 60 s, including job start-up on a busy machine.
        String chain = failureOf(tEnv, "SELECT k, no_such_fn(s) FROM src", 60);
        assertThat(chain).contains("unknown function").contains("udfs.builtin.no_such_fn")
                .contains("Registered: udfs.ah_embed_udf: ah_embed; udfs.builtin: ").contains(" upper;");
        assertOncePerLevel(chain, "Registered:");
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void mainFunctionSaysWhatMainMeansAndTheWaysOut() {
        // What PyFlink sends for a @udf defined in the job script: module __main__.
        StreamTableEnvironment tEnv = env(rows(10, -1, null));
        PythonUdfs.register(tEnv, "shout", "__main__", "shout", new DataType[] {DataTypes.STRING()}, DataTypes.STRING());
        String chain = failureOf(tEnv, "SELECT k, shout(s) FROM src", 60);
        assertThat(chain).contains("unknown function __main__.shout")
                .contains("defined in the job script itself")
                .contains("templates entry \"shout\" with \"module\": \"__main__\"").contains("FLINKFN_TEMPLATES")
                .contains("README \"Adding a function\"")
                .contains("stock Python worker").contains("python.executable");
        assertOncePerLevel(chain, "Registered:");
        assertOncePerLevel(chain, "Ways out");
        System.out.println("levels naming __main__.shout: " + levels(chain, "__main__.shout"));
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void pandasFunctionRunsOnArrowBatches() {
        // A function flinkfn knows, declared pandas-style (PythonFunctionKind.PANDAS): Flink's
        // ArrowPythonScalarFunctionOperator sends Arrow batches, which flinkfn runs (issue 13).
        StreamTableEnvironment tEnv = env(rows(10, -1, null));
        tEnv.createTemporarySystemFunction("upper_pandas", new PythonScalarFunction(
                "upper_pandas", Payloads.scalar(PythonUdfs.BUILTIN, "upper"),
                new DataType[] {DataTypes.STRING()}, DataTypes.STRING(),
                PythonFunctionKind.PANDAS, true, false, new PythonEnv(PythonEnv.ExecType.PROCESS)));
        List<Row> out = Flinkfn.collect(tEnv.executeSql("SELECT k, upper_pandas(s) FROM src"));
        assertThat(out).hasSize(10);
        for (Row r : out) {
            assertThat(r.getField(1)).isEqualTo("OK-" + r.getField(0));
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void threadModeSaysProcessMode() {
        // python.execution-mode: thread makes Flink hand python.executable to PEMJA (in the TaskManager's JVM),
        // which runs it to find libpython; flinkfn answers with the mode and the fix.
        Flinkfn.Job job = Flinkfn.job(1, Map.of("python.execution-mode", "thread"));
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(rows(10, -1, null), ExternalTypeInfo.of(SRC_TYPE))));
        PythonUdfs.builtin(tEnv, "upper", "upper", DataTypes.STRING(), DataTypes.STRING());
        String chain = failureOf(tEnv, "SELECT k, upper(s) FROM src", 60);
        assertThat(chain).contains("python.execution-mode: thread").contains("set python.execution-mode: process");
        System.out.println("levels naming the thread mode: " + levels(chain, "python.execution-mode: thread"));
    }

    /** Lines (exception levels) of a cause chain that contain {@code phrase}. */
    private static long levels(String chain, String phrase) {
        return chain.lines().filter(l -> l.contains(phrase)).count();
    }

    /** No level of the chain carries {@code phrase} twice: flinkfn's message states it once. */
    private static void assertOncePerLevel(String chain, String phrase) {
        for (String line : chain.lines().toList()) {
            assertThat(line.split(Pattern.quote(phrase), -1).length - 1).as("times %s in: %s", phrase, line).isLessThanOrEqualTo(1);
        }
        assertThat(chain).contains(phrase);
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void signatureMismatchNamesFunctionPositionAndTypes() {
        StreamTableEnvironment tEnv = env(rows(10, -1, null));
        // upper takes CHAR/VARCHAR; registered here with a BIGINT argument.
        PythonUdfs.builtin(tEnv, "upper_bigint", "upper", DataTypes.STRING(), DataTypes.BIGINT());
        String chain = failureOf(tEnv, "SELECT k, upper_bigint(n) FROM src", 60);
        assertThat(chain).contains("udfs.builtin.upper").contains("BIGINT");
        assertThat(Pattern.compile("(?i)(argument|arg|parameter|param|position)\\s*#?\\s*[01]\\b").matcher(chain).find())
                .as("names the argument position: " + chain).isTrue();
        assertThat(Pattern.compile("(CHAR|VARCHAR|STRING)").matcher(chain).find())
                .as("names the expected type: " + chain).isTrue();
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void resultTypeMismatchIsReported() {
        StreamTableEnvironment tEnv = env(rows(10, -1, null));
        // id_bigint returns its argument's type; declaring STRING as result must be refused, not mis-encoded.
        PythonUdfs.builtin(tEnv, "id_bigint_bad", "id_bigint", DataTypes.STRING(), DataTypes.BIGINT());
        String chain = failureOf(tEnv, "SELECT k, id_bigint_bad(n) FROM src", 60);
        assertThat(chain).contains("udfs.builtin.id_bigint").contains("BIGINT");
    }
}
