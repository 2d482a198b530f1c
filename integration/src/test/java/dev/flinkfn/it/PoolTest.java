package dev.flinkfn.it;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.InjectClusterRESTAddress;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The worker pool ({@code flinkfn pool}): one long-running process loads the embedding model once and serves
 * the workers of all slots. Flink starts the flinkfn binary as usual (PROCESS mode, {@code python.executable});
 * the job option {@code python.loopback-server.address} reaches the worker's environment as
 * PYTHON_LOOPBACK_SERVER_ADDRESS and turns the binary into a shim that asks the pool (StartWorker) to serve the
 * session.
 *
 * <p>One MiniCluster (1 TaskManager, 6 slots, jobs at parallelism 6), one shared pool without a memory limit
 * for the tests that do not kill or limit it, and an {@link InMemoryReporter} for Flink's user metrics.
 */
class PoolTest {
    static final int P = 6;
    static final double MIN_COSINE = 0.99999;
    static final String MODEL_LOADS = "flinkfn_model_loads_total";
    static final String LOADS_SERIES = "flinkfn_model_loads_total{model=\"all-MiniLM-L6-v2\",variant=\"fp32\"}";
    static final String STARTED = "flinkfn_sessions_started_total";
    static final String ACTIVE = "flinkfn_sessions_active";
    static final String REFUSED_MEMORY = "flinkfn_sessions_refused_total{reason=\"memory\"}";
    static final String AH_ROWS = "flinkfn_rows_total{function=\"udfs.ah_embed_udf.ah_embed\"}";
    static final String AH_TEXTS = "flinkfn_texts_embedded_total{function=\"udfs.ah_embed_udf.ah_embed\",model=\"all-MiniLM-L6-v2\"}";
    static final String TXN_ROWS = "flinkfn_rows_total{function=\"udfs.txn_embed_udf.txn_embed\"}";
    static final String[] PRINTED = {"flinkfn_model_loads_total", "flinkfn_model_footprint_bytes", "flinkfn_sessions_",
        "flinkfn_rows_total", "flinkfn_texts_embedded_total", "flinkfn_memory_reserved_bytes", "flinkfn_memory_limit_bytes"};

    static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(
            () -> new MiniClusterResourceConfiguration.Builder()
                    .setNumberTaskManagers(1)
                    .setNumberSlotsPerTaskManager(P)
                    .setConfiguration(clusterConfig())
                    .build());

    static Configuration clusterConfig() {
        Configuration c = Flinkfn.clusterConfig();
        // PROCESS mode (the comparison runs) needs the model's footprint in every slot's Python budget.
        Flinkfn.set(c, "taskmanager.memory.managed.size", (P * 640) + "m");
        REPORTER.addToConfiguration(c);
        return c;
    }

    static final DataType VEC = DataTypes.ARRAY(DataTypes.FLOAT());
    static final DataType AH = DataTypes.ROW(FIELD("account_id", DataTypes.STRING()), FIELD("name", DataTypes.STRING()),
            FIELD("address", DataTypes.STRING()), FIELD("city", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
            FIELD("nationality", DataTypes.STRING()), FIELD("occupation", DataTypes.STRING()),
            FIELD("segment", DataTypes.STRING()), FIELD("date_of_birth", DataTypes.DATE())).notNull();
    static final DataType TXN = DataTypes.ROW(FIELD("txn_id", DataTypes.STRING()), FIELD("merchant", DataTypes.STRING()),
            FIELD("mcc", DataTypes.STRING()), FIELD("amount", DataTypes.DECIMAL(12, 2)), FIELD("currency", DataTypes.STRING()),
            FIELD("channel", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
            FIELD("description", DataTypes.STRING()), FIELD("event_time", DataTypes.TIMESTAMP(3))).notNull();
    static final String AH_CALL = "ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth)";
    static final String TXN_CALL = "txn_embed(merchant, mcc, amount, currency, channel, country, description, event_time)";

    /** Golden input rows (as Flink rows) and sentence-transformers' vectors, by key. */
    static final List<Row> AH_ROWS_IN = new ArrayList<>();
    static final List<Row> TXN_ROWS_IN = new ArrayList<>();
    static final Map<String, float[]> GOLDEN = new HashMap<>();

    static Pool pool;

    @BeforeAll
    static void setUp() throws IOException {
        ObjectMapper om = new ObjectMapper();
        DateTimeFormatter ts = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(Flinkfn.root().resolve("inference/testdata/golden-minilm.jsonl.gz"))),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                JsonNode n = om.readTree(line);
                String fn = n.has("fn") && !n.get("fn").isNull() ? n.get("fn").asText() : null;
                if (fn == null || n.get("vector").isNull()) {
                    continue;
                }
                float[] v = new float[n.get("vector").size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) n.get("vector").get(i).asDouble();
                }
                JsonNode row = n.get("row");
                if (fn.equals("ah_embed")) {
                    String dob = EmbeddingsTest.str(row, "date_of_birth");
                    String k = "ah:" + EmbeddingsTest.str(row, "account_id");
                    AH_ROWS_IN.add(Row.of(k, EmbeddingsTest.str(row, "name"), EmbeddingsTest.str(row, "address"),
                            EmbeddingsTest.str(row, "city"), EmbeddingsTest.str(row, "country"),
                            EmbeddingsTest.str(row, "nationality"), EmbeddingsTest.str(row, "occupation"),
                            EmbeddingsTest.str(row, "segment"), dob == null ? null : LocalDate.parse(dob)));
                    GOLDEN.put(k, v);
                } else if (fn.equals("txn_embed")) {
                    String k = "txn:" + EmbeddingsTest.str(row, "txn_id");
                    TXN_ROWS_IN.add(Row.of(k, EmbeddingsTest.str(row, "merchant"), EmbeddingsTest.str(row, "mcc"),
                            new BigDecimal(EmbeddingsTest.str(row, "amount")), EmbeddingsTest.str(row, "currency"),
                            EmbeddingsTest.str(row, "channel"), EmbeddingsTest.str(row, "country"),
                            EmbeddingsTest.str(row, "description"), LocalDateTime.parse(EmbeddingsTest.str(row, "event_time"), ts)));
                    GOLDEN.put(k, v);
                }
            }
        }
        assertThat(AH_ROWS_IN).hasSizeGreaterThan(100);
        assertThat(TXN_ROWS_IN).hasSizeGreaterThan(100);
        pool = Pool.start("shared");
        System.out.println("started " + pool);
    }

    @AfterAll
    static void tearDown() {
        if (pool != null) {
            pool.close();
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Tests
    // ------------------------------------------------------------------------------------------------

    /**
     * ah_embed and txn_embed at parallelism 6 through one pool: 6 sessions, one model load, and vectors equal
     * to PROCESS mode's (6 worker processes, 6 model loads) and to sentence-transformers'.
     */
    @Test
    void sixSlotsOneModel(@InjectClusterRESTAddress URI rest) throws Exception {
        String sql = "SELECT account_id AS k, " + AH_CALL + " AS v FROM ah UNION ALL SELECT txn_id AS k, " + TXN_CALL
                + " AS v FROM txn";
        Map<String, Double> before = pool.metrics();
        ActiveWatch watch = new ActiveWatch(pool);
        Map<String, Float[]> viaPool;
        JobID poolJob;
        long t0 = System.nanoTime();
        try {
            StreamTableEnvironment tEnv = goldenSources(streamJob(Map.of(Pool.ADDRESS_OPTION, pool.address())));
            TableResult res = tEnv.executeSql(sql);
            poolJob = res.getJobClient().orElseThrow().getJobID();
            viaPool = byKey(Flinkfn.collectWithin(res, Duration.ofSeconds(120)));
        } finally {
            watch.close();
        }
        long poolMs = (System.nanoTime() - t0) / 1_000_000;
        Map<String, Double> after = pool.metrics();
        System.out.println("sixSlotsOneModel: through the pool in " + poolMs + " ms; max flinkfn_sessions_active seen "
                + watch.max() + "; this job: " + STARTED + " +" + (after.get(STARTED) - before.getOrDefault(STARTED, 0.0))
                + ", " + AH_ROWS + " +" + (after.getOrDefault(AH_ROWS, 0.0) - before.getOrDefault(AH_ROWS, 0.0))
                + ", " + TXN_ROWS + " +" + (after.getOrDefault(TXN_ROWS, 0.0) - before.getOrDefault(TXN_ROWS, 0.0))
                + "; /metrics after the job (the pool is shared with the other tests):\n" + Pool.lines(after, PRINTED));

        assertThat(after.get(LOADS_SERIES)).as("model loads (%s)", LOADS_SERIES).isEqualTo(1.0);
        assertThat(Pool.sum(after, MODEL_LOADS)).as("all model loads").isEqualTo(1.0);
        assertThat(after.get(STARTED) - before.getOrDefault(STARTED, 0.0)).as("sessions started by the job").isGreaterThanOrEqualTo(P);
        assertThat(watch.max()).as("flinkfn_sessions_active while the job ran").isGreaterThanOrEqualTo(P);
        assertThat(after.getOrDefault(AH_ROWS, 0.0) - before.getOrDefault(AH_ROWS, 0.0)).isEqualTo(AH_ROWS_IN.size());
        assertThat(after.getOrDefault(TXN_ROWS, 0.0) - before.getOrDefault(TXN_ROWS, 0.0)).isEqualTo(TXN_ROWS_IN.size());
        // Both Python operators ran with 6 subtasks.
        System.out.println("Python vertices: " + pythonVertices(rest, poolJob, 2));
        checkGolden(viaPool);

        // The same query in plain PROCESS mode: 6 worker processes, each with its own model; the pool is not used.
        t0 = System.nanoTime();
        StreamTableEnvironment tEnv = goldenSources(streamJob(Map.of()));
        TableResult processRes = tEnv.executeSql(sql);
        Map<String, Float[]> process = byKey(Flinkfn.collectWithin(processRes, Duration.ofSeconds(180)));
        long processMs = (System.nanoTime() - t0) / 1_000_000;
        pythonVertices(rest, processRes.getJobClient().orElseThrow().getJobID(), 2);
        assertThat(pool.metric(STARTED)).as("PROCESS mode must not use the pool").isEqualTo(after.get(STARTED));
        checkGolden(process);

        assertThat(viaPool.keySet()).isEqualTo(process.keySet());
        int identical = 0;
        double maxDiff = 0, minCos = 1;
        for (Map.Entry<String, Float[]> e : process.entrySet()) {
            Float[] a = e.getValue(), b = viaPool.get(e.getKey());
            assertThat(b).as("key %s", e.getKey()).hasSameSizeAs(a);
            boolean same = true;
            float[] af = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                af[i] = a[i];
                same &= Float.floatToRawIntBits(a[i]) == Float.floatToRawIntBits(b[i]);
                maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            }
            identical += same ? 1 : 0;
            minCos = Math.min(minCos, EmbeddingsTest.cosine(af, b));
        }
        System.out.printf("sixSlotsOneModel: PROCESS mode in %d ms; pool vs PROCESS: %d of %d rows bit-identical, "
                + "max |diff| %.3g, min cosine %.10f%n", processMs, identical, process.size(), maxDiff, minCos);
        if (identical != process.size()) {
            assertThat(minCos).as("cosine pool vs PROCESS (not bit-identical, max diff %s)", maxDiff).isGreaterThanOrEqualTo(0.9999999);
        }
    }

    /** An unbounded job through the pool, cancelled and resubmitted: the warm pool serves the second one at once. */
    @Test
    void cancelAndResubmitReusesWarmPool() throws Exception {
        Map<String, Double> before = pool.metrics();
        long first = firstResultThenCancel("first");
        Map<String, Double> mid = pool.awaitMetrics("flinkfn_sessions_active back to 0 after the cancel",
                Duration.ofSeconds(30), m -> m.getOrDefault(ACTIVE, -1.0) == 0.0);
        long second = firstResultThenCancel("second");
        Map<String, Double> after = pool.awaitMetrics("flinkfn_sessions_active back to 0 after the second cancel",
                Duration.ofSeconds(30), m -> m.getOrDefault(ACTIVE, -1.0) == 0.0);
        System.out.printf("cancelAndResubmitReusesWarmPool: time to first result: first submission %d ms, "
                + "resubmission %d ms%n/metrics after the first cancel:%s/metrics at the end:%n%s", first, second,
                "\n" + Pool.lines(mid, PRINTED), Pool.lines(after, PRINTED));
        assertThat(Pool.sum(after, MODEL_LOADS)).isEqualTo(1.0);
        assertThat(mid.get(STARTED) - before.getOrDefault(STARTED, 0.0)).as("sessions of the first submission").isGreaterThanOrEqualTo(P);
        assertThat(after.get(STARTED) - mid.get(STARTED)).as("sessions of the resubmission").isGreaterThanOrEqualTo(P);
        assertThat(second).as("resubmission's time to first result, ms").isLessThan(30_000);
    }

    /**
     * A budget for the model, the framework and 2 sessions, and a job at parallelism 6: the refused workers fail
     * the job, and the refusal's numbers are in Flink's failure.
     */
    @Test
    void overBudgetIsRefusedClearly() throws Exception {
        long footprint = (long) Pool.sum(pool.metrics(), "flinkfn_model_footprint_bytes");
        assertThat(footprint).as("flinkfn_model_footprint_bytes of the shared pool").isGreaterThan(100 << 20);
        long mib = 1 << 20;
        // The footprint is the RSS growth while loading and warming, measured anew by every pool process (seen
        // 391-430 MiB for the same model on this machine), so the budget for "model + framework + 2 sessions" is
        // taken from the previous measurement and retried until the started pool fits 1 to 5 sessions.
        long limit = 0;
        Pool small = null;
        List<String> tries = new ArrayList<>();
        for (int attempt = 0; attempt < 5 && small == null; attempt++) {
            limit = footprint + 64 * mib + 2 * 15 * mib + 7 * mib;
            Pool p;
            try {
                p = Pool.start("budget", "--memory-limit", Long.toString(limit));
            } catch (IllegalStateException e) {
                // The model itself did not fit this time: a larger footprint was measured.
                tries.add("limit " + limit + ": pool did not start (" + firstLine(e.getMessage()) + ")");
                footprint += 20 * mib;
                continue;
            }
            Map<String, Double> m0 = p.metrics();
            long own = (long) Pool.sum(m0, "flinkfn_model_footprint_bytes");
            long fit = (limit - own - 64 * mib) / (15 * mib);
            tries.add("limit " + limit + ": footprint " + own + ", " + fit + " sessions fit");
            if (fit >= 1 && fit < P) {
                assertThat(m0.get("flinkfn_memory_limit_bytes")).isEqualTo((double) limit);
                small = p;
            } else {
                p.close();
                footprint = own;
            }
        }
        System.out.println("overBudgetIsRefusedClearly: budget tries: " + tries);
        assertThat(small).as("a pool whose budget fits 1 to 5 sessions; tries: %s", tries).isNotNull();
        try (Pool budget = small) {
            StreamTableEnvironment tEnv = goldenSources(streamJob(Map.of(Pool.ADDRESS_OPTION, budget.address(),
                    "restart-strategy.type", "none")));
            Throwable err = null;
            long t0 = System.nanoTime();
            try {
                Flinkfn.collectWithin(tEnv.executeSql("SELECT account_id, " + AH_CALL + " FROM ah"), Duration.ofSeconds(150));
            } catch (Throwable e) {
                err = e;
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Map<String, Double> m = budget.metrics();
            System.out.println("overBudgetIsRefusedClearly: budget " + limit + " bytes; /metrics:\n" + Pool.lines(m, PRINTED)
                    + "flinkfn_errors_total: " + Pool.lines(m, "flinkfn_errors_total"));
            assertThat(err).as("the job must fail (after %d ms)", ms).isNotNull();
            String chain = Flinkfn.causeChain(err);
            System.out.println("overBudgetIsRefusedClearly: failed after " + ms + " ms; Flink's cause chain:\n" + chain);
            assertThat(chain)
                    .as("pool log:\n%s", budget.logTail(3000))
                    .contains("cannot reserve 15.0 MiB buffer memory")
                    .contains("python.fn-execution.buffer.memory.size");
            assertThat(m.getOrDefault(REFUSED_MEMORY, 0.0)).as(REFUSED_MEMORY).isGreaterThanOrEqualTo(1.0);
            assertThat(Pool.sum(m, MODEL_LOADS)).isEqualTo(1.0);
        }
    }

    /**
     * kill -9 of the pool while a batch job's rows flow, restart on the same address: the job restarts its
     * failed regions (fixed-delay) and completes with every row exactly once and the right vectors.
     */
    @Test
    void killPoolMidJobThenRestart(@InjectClusterRESTAddress URI rest) throws Exception {
        assumeTrue(classExists("org.apache.flink.connector.file.table.FileSystemTableFactory")
                        && classExists("org.apache.flink.formats.json.JsonFormatFactory"),
                "flink-connector-files and flink-json are test dependencies of the default (Flink 2.3.0) profile only");
        int n = 2000;
        List<Row> src = new ArrayList<>(n);
        Map<String, float[]> want = new HashMap<>();
        for (int i = 0; i < n; i++) {
            Row g = TXN_ROWS_IN.get(i % TXN_ROWS_IN.size());
            Row r = Row.copy(g);
            String id = "r" + i;
            r.setField(0, id);
            src.add(r);
            want.put(id, GOLDEN.get((String) g.getField(0)));
        }
        Path out = Pool.dir().resolve("kill-out-" + System.nanoTime());
        Pool p = Pool.start("kill");
        try {
            Map<String, String> opts = new LinkedHashMap<>();
            opts.put(Pool.ADDRESS_OPTION, p.address());
            opts.put("restart-strategy.type", "fixed-delay");
            opts.put("restart-strategy.fixed-delay.attempts", "100");
            opts.put("restart-strategy.fixed-delay.delay", "2 s");
            // Small bundles: flinkfn_rows_total grows while the job runs, so the kill comes early in the job.
            opts.put(Flinkfn.BUNDLE_SIZE, "100");
            Flinkfn.Job job = batchJob(P, opts);
            StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
            view(job, "txn", src, TXN);
            tEnv.executeSql("CREATE TEMPORARY TABLE out_vectors (id STRING, v ARRAY<FLOAT>) WITH ('connector' = 'filesystem', "
                    + "'path' = '" + out.toUri() + "', 'format' = 'json')");
            long t0 = System.nanoTime();
            TableResult res = tEnv.executeSql("INSERT INTO out_vectors SELECT txn_id, " + TXN_CALL + " FROM txn");
            JobClient client = res.getJobClient().orElseThrow();
            try {
                Map<String, Double> flowing = p.awaitMetrics("rows flowing", Duration.ofSeconds(120),
                        m -> m.getOrDefault(TXN_ROWS, 0.0) > 0);
                long killAt = System.nanoTime();
                p.kill();
                System.out.printf("killPoolMidJobThenRestart: killed the pool (kill -9) %d ms after submission with %.0f of %d "
                        + "rows embedded, %.0f sessions active%n", (killAt - t0) / 1_000_000, flowing.get(TXN_ROWS), n,
                        flowing.getOrDefault(ACTIVE, 0.0));
                assertThat(flowing.get(TXN_ROWS)).as("rows embedded when the pool was killed").isLessThan(n);
                // Down for ~3 s: the job must not finish meanwhile.
                List<JobStatus> seen = new ArrayList<>();
                while (System.nanoTime() - killAt < 3_000_000_000L) {
                    JobStatus s = client.getJobStatus().get(10, TimeUnit.SECONDS);
                    if (seen.isEmpty() || seen.get(seen.size() - 1) != s) {
                        seen.add(s);
                    }
                    assertThat(s.isGloballyTerminalState()).as("job status while the pool is down: %s", seen).isFalse();
                    Pool.sleep(100);
                }
                System.out.println("killPoolMidJobThenRestart: job status while the pool was down: " + seen);
                p.restart();
                p.awaitReady(Duration.ofSeconds(60));
                System.out.printf("killPoolMidJobThenRestart: pool back after %d ms%n", (System.nanoTime() - killAt) / 1_000_000);
                try {
                    res.await(180, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    fail("job did not finish within 180 s after the pool restart; status " + client.getJobStatus().get()
                            + "; pool log tail:\n" + p.logTail(3000));
                }
            } finally {
                if (!client.getJobStatus().get(10, TimeUnit.SECONDS).isGloballyTerminalState()) {
                    client.cancel().get(30, TimeUnit.SECONDS);
                }
            }
            long totalMs = (System.nanoTime() - t0) / 1_000_000;
            assertThat(client.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);

            // How the failure appeared in Flink.
            pythonVertices(rest, client.getJobID(), 1);
            JsonNode exceptions = restGet(rest, "/jobs/" + client.getJobID() + "/exceptions?maxExceptions=50");
            Path dump = Pool.dir().resolve("kill-exceptions-" + client.getJobID() + ".json");
            Files.writeString(dump, exceptions.toPrettyString(), StandardCharsets.UTF_8);
            JsonNode hist = exceptions.get("exceptionHistory");
            List<JsonNode> entries = new ArrayList<>();
            hist.get("entries").forEach(entries::add);
            entries.sort(Comparator.comparingLong(e -> e.get("timestamp").asLong()));
            System.out.println("killPoolMidJobThenRestart: finished " + totalMs + " ms after submission; " + entries.size()
                    + " entries in the exception history (" + dump + ")");
            assertThat(entries).as("exception history").isNotEmpty();
            String root = failureSummary(entries.get(0));
            System.out.println("killPoolMidJobThenRestart: first (root) failure:\n" + root);
            for (int i = 1; i < entries.size(); i++) {
                String trace = entries.get(i).path("stacktrace").asText();
                String shim = shimError(trace);
                System.out.println("  later failure " + i + " (" + entries.get(i).path("taskName").asText() + "): "
                        + firstLine(trace).replaceAll("(bundle factory!).*", "$1 <boot log>") + " | innermost: " + innermost(trace)
                        + (shim.isEmpty() ? "" : " | shim: " + shim));
            }
            assertThat(root.strip()).isNotEmpty();
            Map<String, Double> m = p.metrics();
            System.out.println("killPoolMidJobThenRestart: restarted pool's /metrics at the end:\n" + Pool.lines(m, PRINTED));
            assertThat(Pool.sum(m, MODEL_LOADS)).isEqualTo(1.0);
            assertThat(m.getOrDefault(STARTED, 0.0)).as("sessions on the restarted pool").isGreaterThanOrEqualTo(1.0);

            // Output: every id exactly once, each vector sentence-transformers' for the row's text.
            ObjectMapper om = new ObjectMapper();
            Map<String, Float[]> got = new HashMap<>();
            List<Path> files;
            try (Stream<Path> s = Files.walk(out)) {
                files = s.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                        .filter(f -> !f.getFileName().toString().startsWith("_")).toList();
            }
            int lines = 0;
            for (Path f : files) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) {
                        continue;
                    }
                    lines++;
                    JsonNode r = om.readTree(line);
                    Float[] v = new Float[r.get("v").size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = r.get("v").get(i).floatValue();
                    }
                    assertThat(got.put(r.get("id").asText(), v)).as("duplicate id %s (file %s)", r.get("id").asText(), f).isNull();
                }
            }
            System.out.println("killPoolMidJobThenRestart: " + lines + " output rows in " + files.size() + " files");
            assertThat(got.keySet()).isEqualTo(want.keySet());
            double min = 1;
            for (Map.Entry<String, float[]> e : want.entrySet()) {
                Float[] v = got.get(e.getKey());
                assertThat(v).as("id %s", e.getKey()).hasSize(384);
                double c = EmbeddingsTest.cosine(e.getValue(), v);
                min = Math.min(min, c);
                assertThat(c).as("cosine of %s", e.getKey()).isGreaterThanOrEqualTo(MIN_COSINE);
            }
            System.out.printf("killPoolMidJobThenRestart: %d rows, min cosine to sentence-transformers %.8f%n", n, min);
            // Passed: the output (~7 MB of JSON) is not needed any more.
            try (Stream<Path> s = Files.walk(out)) {
                s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        } finally {
            p.close();
        }
    }

    /** Flink shows the worker's Beam user counters under the Python operator: flinkfn.ah_embed.texts_embedded. */
    @Test
    void flinkUserMetrics() throws Exception {
        List<Row> src = new ArrayList<>(AH_ROWS_IN);
        int nulls = 7;
        for (int i = 0; i < nulls; i++) {
            src.add(Row.of("all-null-" + i, null, null, " ", null, null, null, null, null));
        }
        Map<String, Double> before = pool.metrics();
        Flinkfn.Job job = streamJob(Map.of(Pool.ADDRESS_OPTION, pool.address()));
        StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
        view(job, "ah", src, AH);
        TableResult res = tEnv.executeSql("SELECT account_id, " + AH_CALL + " FROM ah");
        JobID id = res.getJobClient().orElseThrow().getJobID();
        List<Row> rows = Flinkfn.collectWithin(res, Duration.ofSeconds(120));
        assertThat(rows).hasSize(src.size());
        long nonNull = rows.stream().filter(r -> r.getField(1) != null).count();
        assertThat(nonNull).isEqualTo(AH_ROWS_IN.size());
        Map<String, Double> after = pool.metrics();
        double poolTexts = after.getOrDefault(AH_TEXTS, 0.0) - before.getOrDefault(AH_TEXTS, 0.0);

        // The job's metrics by group (identifiers can collide: long operator names are truncated).
        Map<String, String> flinkfn = new TreeMap<>();
        List<String> pythonGroups = new ArrayList<>();
        int all = 0;
        long embedded = 0;
        int counters = 0;
        for (Map.Entry<MetricGroup, Map<String, Metric>> g : REPORTER.getMetricsByGroup().entrySet()) {
            MetricGroup group = g.getKey();
            if (!id.toString().equals(group.getAllVariables().get("<job_id>"))) {
                continue;
            }
            String[] scope = group.getScopeComponents();
            String subtask = group.getAllVariables().getOrDefault("<subtask_index>", "?");
            for (Map.Entry<String, Metric> e : g.getValue().entrySet()) {
                all++;
                String scoped = String.join(".", scope) + "." + e.getKey();
                if (!scoped.contains("flinkfn")) {
                    if (scoped.contains("PythonCalc") && pythonGroups.size() < 30) {
                        pythonGroups.add(scoped);
                    }
                    continue;
                }
                String v = e.getValue() instanceof Counter c ? Long.toString(c.getCount()) : e.getValue().toString();
                String shortScope = String.join(".", java.util.Arrays.copyOfRange(scope, Math.max(0, scope.length - 2), scope.length));
                flinkfn.put("subtask " + subtask + " " + group.getAllVariables().getOrDefault("<operator_name>", "?") + " "
                        + shortScope + "." + e.getKey(), v);
                if (scope.length >= 2 && scope[scope.length - 2].equals("flinkfn") && scope[scope.length - 1].equals("ah_embed")
                        && e.getKey().equals("texts_embedded") && e.getValue() instanceof Counter c) {
                    embedded += c.getCount();
                    counters++;
                }
            }
        }
        System.out.println("flinkUserMetrics: " + nonNull + " non-NULL rows; pool " + AH_TEXTS + " "
                + "delta " + poolTexts + "; Flink metrics of the job containing 'flinkfn' (" + flinkfn.size() + " of " + all + "):");
        flinkfn.forEach((k, v) -> System.out.println("  " + k + " = " + v));
        if (flinkfn.isEmpty()) {
            pythonGroups.forEach(k -> System.out.println("  (python operator metric) " + k));
        }
        assertThat(counters).as("texts_embedded counters (one per subtask that embedded)").isGreaterThan(0);
        assertThat(embedded).as("sum of <operator>.flinkfn.ah_embed.texts_embedded over the subtasks").isEqualTo(nonNull);
        // The pool's series joins flinkfn_rows_total's on the function's full name.
        assertThat(poolTexts).as(AH_TEXTS + " delta").isEqualTo((double) nonNull);
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /** Registers the embedding functions and the golden views ah / txn (keys prefixed ah: / txn:). */
    /**
     * Two models in one pool: ah_embed (the default, all-MiniLM-L6-v2) and doc_embed, a template that names
     * bge-small-en-v1.5, in one job. The pool loads each model once and each function's vectors equal its model's
     * golden vectors.
     */
    @Test
    void twoModelsOnePool() throws Exception {
        ObjectMapper om = new ObjectMapper();
        org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode templates =
                (org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode)
                        om.readTree(Flinkfn.root().resolve("udfs/templates.json").toFile());
        templates.set("doc_embed", om.readTree(
                "{\"columns\": [\"text\"], \"parts\": [\"{text}\"], \"model\": \"bge-small-en-v1.5\"}"));
        Path file = Pool.dir().resolve("two-models-templates.json");
        om.writeValue(file.toFile(), templates);

        List<Row> docs = new ArrayList<>();
        Map<String, float[]> want = new HashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(Flinkfn.root().resolve("inference/testdata/golden-bge-small.jsonl.gz"))),
                StandardCharsets.UTF_8))) {
            int i = 0;
            for (String line; (line = r.readLine()) != null; i++) {
                JsonNode n = om.readTree(line);
                String text = n.get("text").asText();
                if (text.isBlank()) {
                    continue; // a blank column renders no text: NULL, checked elsewhere
                }
                float[] v = new float[n.get("vector").size()];
                for (int j = 0; j < v.length; j++) {
                    v[j] = (float) n.get("vector").get(j).asDouble();
                }
                docs.add(Row.of("doc:" + i, text));
                want.put("doc:" + i, v);
            }
        }
        assertThat(docs).hasSizeGreaterThan(200);
        GOLDEN.forEach((k, v) -> {
            if (k.startsWith("ah:")) {
                want.put(k, v);
            }
        });

        try (Pool two = Pool.startWithEnv("two-models", Map.of("FLINKFN_TEMPLATES", file.toString()))) {
            Flinkfn.Job job = streamJob(Map.of(Pool.ADDRESS_OPTION, two.address()));
            StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
            PythonUdfs.register(tEnv, "doc_embed", "udfs.doc_embed_udf", "doc_embed", new DataType[] {DataTypes.STRING()}, VEC);
            view(job, "ah", AH_ROWS_IN, AH);
            view(job, "docs", docs, DataTypes.ROW(FIELD("doc_id", DataTypes.STRING()), FIELD("text", DataTypes.STRING())).notNull());
            TableResult res = tEnv.executeSql("SELECT account_id AS k, " + AH_CALL + " AS v FROM ah UNION ALL "
                    + "SELECT doc_id AS k, doc_embed(text) AS v FROM docs");
            Map<String, Float[]> got = byKey(Flinkfn.collectWithin(res, Duration.ofSeconds(180)));
            Map<String, Double> m = two.metrics();
            System.out.println("twoModelsOnePool: " + got.size() + " rows; /metrics:\n" + Pool.lines(m, PRINTED));
            assertThat(m.get("flinkfn_model_loads_total{model=\"all-MiniLM-L6-v2\",variant=\"fp32\"}")).isEqualTo(1.0);
            assertThat(m.get("flinkfn_model_loads_total{model=\"bge-small-en-v1.5\",variant=\"fp32\"}")).isEqualTo(1.0);
            assertThat(Pool.sum(m, MODEL_LOADS)).as("all model loads").isEqualTo(2.0);
            assertThat(m.get("flinkfn_texts_embedded_total{function=\"udfs.doc_embed_udf.doc_embed\",model=\"bge-small-en-v1.5\"}"))
                    .isEqualTo((double) docs.size());
            assertThat(got.keySet()).isEqualTo(want.keySet());
            double minAh = 1, minDoc = 1;
            for (Map.Entry<String, float[]> e : want.entrySet()) {
                Float[] v = got.get(e.getKey());
                assertThat(v).as("key %s", e.getKey()).hasSize(384);
                double c = EmbeddingsTest.cosine(e.getValue(), v);
                assertThat(c).as("cosine of %s", e.getKey()).isGreaterThanOrEqualTo(MIN_COSINE);
                if (e.getKey().startsWith("doc:")) {
                    minDoc = Math.min(minDoc, c);
                } else {
                    minAh = Math.min(minAh, c);
                }
            }
            System.out.printf("twoModelsOnePool: min cosine ah_embed (MiniLM) %.8f, doc_embed (bge-small) %.8f%n", minAh, minDoc);
        }
    }

    static StreamTableEnvironment goldenSources(Flinkfn.Job job) {
        StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
        view(job, "ah", AH_ROWS_IN, AH);
        view(job, "txn", TXN_ROWS_IN, TXN);
        return tEnv;
    }

    /** A streaming job at parallelism {@link #P} (options as in {@link Flinkfn#job}). */
    static Flinkfn.Job streamJob(Map<String, String> options) {
        return Flinkfn.job(P, options);
    }

    /**
     * A view over rows that feeds every subtask: the planner gives a Calc / PythonCalc its input's parallelism,
     * and a collection source has parallelism 1 (so does a rebalance after it), so the rows are rebalanced into an
     * identity map at the job's parallelism first.
     */
    static void view(Flinkfn.Job job, String name, List<Row> rows, DataType type) {
        ExternalTypeInfo<Row> info = ExternalTypeInfo.of(type);
        job.tEnv().createTemporaryView(name, job.tEnv().fromDataStream(
                job.env().fromData(rows, info).rebalance().map((MapFunction<Row, Row>) r -> r).returns(info)
                        .name("rebalanced " + name)));
    }

    /** Batch-mode stream + table environment (options as in {@link Flinkfn#job}). */
    static Flinkfn.Job batchJob(int parallelism, Map<String, String> options) {
        Map<String, String> all = new LinkedHashMap<>();
        all.put(Flinkfn.PYTHON_EXECUTABLE, Flinkfn.binary().toString());
        all.put("restart-strategy.type", "none");
        all.put("table.local-time-zone", "UTC");
        all.put("execution.runtime-mode", "BATCH");
        // The adaptive batch scheduler would size the vertices by data volume (a few MB: parallelism 1).
        all.put("execution.batch.adaptive.auto-parallelism.enabled", "false");
        all.putAll(options);
        Configuration conf = new Configuration();
        all.forEach((k, v) -> Flinkfn.set(conf, k, v));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(
                env, EnvironmentSettings.newInstance().inBatchMode().withConfiguration(conf).build());
        all.forEach((k, v) -> tEnv.getConfig().set(k, v));
        return new Flinkfn.Job(env, tEnv);
    }

    static Map<String, Float[]> byKey(List<Row> rows) {
        Map<String, Float[]> m = new HashMap<>();
        for (Row r : rows) {
            assertThat(m.put((String) r.getField(0), (Float[]) r.getField(1))).as("duplicate key %s", r.getField(0)).isNull();
        }
        return m;
    }

    static void checkGolden(Map<String, Float[]> got) {
        assertThat(got.keySet()).isEqualTo(GOLDEN.keySet());
        for (Map.Entry<String, float[]> e : GOLDEN.entrySet()) {
            Float[] v = got.get(e.getKey());
            assertThat(v).as("key %s", e.getKey()).hasSize(384);
            assertThat(EmbeddingsTest.cosine(e.getValue(), v)).as("cosine of %s", e.getKey()).isGreaterThanOrEqualTo(MIN_COSINE);
        }
    }

    /** Runs the unbounded datagen job through the pool until its first result, then cancels it. */
    static long firstResultThenCancel(String label) throws Exception {
        Flinkfn.Job job = streamJob(Map.of(Pool.ADDRESS_OPTION, pool.address()));
        StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
        tEnv.executeSql("CREATE TEMPORARY TABLE gen (name STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '60', "
                + "'fields.name.length' = '12')");
        long t0 = System.nanoTime();
        TableResult res = tEnv.executeSql("SELECT name, ah_embed(name, 'Rue de Rivoli 1', 'Paris', 'FR', 'French', "
                + "'Engineer', 'retail', DATE '1990-01-01') FROM gen");
        JobClient client = res.getJobClient().orElseThrow();
        CloseableIterator<Row> it = res.collect();
        try {
            CompletableFuture<Row> first = CompletableFuture.supplyAsync(() -> it.hasNext() ? it.next() : null);
            Row r;
            try {
                r = first.get(120, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError(label + " submission: no result within 120 s; job " + client.getJobStatus().get()
                        + "; pool log tail:\n" + pool.logTail(2000));
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(r).as("%s submission's first row", label).isNotNull();
            assertThat((Float[]) r.getField(1)).hasSize(384);
            System.out.printf("cancelAndResubmitReusesWarmPool: %s submission: first result after %d ms (job %s)%n",
                    label, ms, client.getJobID());
            return ms;
        } finally {
            client.cancel().get(60, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (client.getJobStatus().get(10, TimeUnit.SECONDS) != JobStatus.CANCELED && System.nanoTime() < deadline) {
                Pool.sleep(100);
            }
            assertThat(client.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.CANCELED);
            try {
                it.close();
            } catch (Exception e) {
                // the job is gone already
            }
        }
    }

    static final HttpClient REST = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static JsonNode restGet(URI rest, String path) throws Exception {
        String base = rest.toString();
        URI u = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path);
        HttpResponse<String> r = REST.send(HttpRequest.newBuilder(u).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET %s: %s", u, r.body()).isEqualTo(200);
        return new ObjectMapper().readTree(r.body());
    }

    /** Asserts that the job has {@code count} vertices with a PythonCalc, each at parallelism {@link #P}. */
    static List<String> pythonVertices(URI rest, JobID job, int count) throws Exception {
        List<String> python = new ArrayList<>();
        for (JsonNode v : restGet(rest, "/jobs/" + job).get("vertices")) {
            if (v.get("name").asText().contains("PythonCalc")) {
                python.add(v.get("parallelism").asInt() + " × " + v.get("name").asText());
                assertThat(v.get("parallelism").asInt()).as("parallelism of %s", v.get("name").asText()).isEqualTo(P);
            }
        }
        assertThat(python).as("Python vertices of job %s", job).hasSize(count);
        return python;
    }

    static String firstLine(String s) {
        int i = s.indexOf('\n');
        return (i < 0 ? s : s.substring(0, i)).strip();
    }

    /** The last "Caused by:" line of a stack trace (or its first line). */
    static String innermost(String trace) {
        String last = firstLine(trace);
        for (String l : trace.split("\n")) {
            if (l.startsWith("Caused by:")) {
                last = l.strip();
            }
        }
        return last;
    }

    /** The first error line a flinkfn shim wrote into the boot log that Flink quotes ("flinkfn worker <id>: ..."). */
    static String shimError(String trace) {
        for (String l : trace.split("\n")) {
            int i = l.indexOf("flinkfn worker ");
            if (i >= 0) {
                String e = l.substring(i).strip();
                return e.length() > 400 ? e.substring(0, 400) + "..." : e;
            }
        }
        return "";
    }

    /** Exception name, task, the first line and every "Caused by" line of a history entry. */
    static String failureSummary(JsonNode entry) {
        StringBuilder sb = new StringBuilder();
        sb.append("  exceptionName: ").append(entry.path("exceptionName").asText()).append('\n');
        sb.append("  taskName: ").append(entry.path("taskName").asText()).append('\n');
        String trace = entry.path("stacktrace").asText();
        sb.append("  ").append(firstLine(trace)).append('\n');
        for (String l : trace.split("\n")) {
            if (l.startsWith("Caused by:")) {
                sb.append("  ").append(l.strip()).append('\n');
            }
        }
        return sb.toString();
    }

    static boolean classExists(String name) {
        try {
            Class.forName(name, false, PoolTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /** Scrapes flinkfn_sessions_active in the background and keeps the maximum. */
    static final class ActiveWatch implements AutoCloseable {
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicLong max = new AtomicLong();
        private final Thread thread;

        ActiveWatch(Pool p) {
            thread = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        long v = (long) p.metric(ACTIVE);
                        max.accumulateAndGet(v, Math::max);
                    } catch (RuntimeException e) {
                        // keep polling
                    }
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "pool-sessions-watch");
            thread.setDaemon(true);
            thread.start();
        }

        long max() {
            return max.get();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(5000);
        }
    }
}
