package dev.flinkfn.it;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Flink SQL's own model inference against the pool, with no Python anywhere: {@code CREATE MODEL ... WITH
 * ('provider' = 'openai', 'endpoint' = <the pool's /v1/embeddings>)} and {@code ML_PREDICT} (Flink's
 * flink-model-openai, on the class path from {@code .cache/jars/}, see integration/jars.json) embed the texts
 * ah_embed, txn_embed and embed see through the pool's HTTP API; every row comes back once, equal to
 * sentence-transformers' vector and to ah_embed's / txn_embed's through the same pool. Flink 2.x only (1.20 has
 * no model inference, so the class has no "compat" tag).
 */
class MlPredictTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final String KEY = "mlpredict-test-key";
    static final String MODEL = "all-MiniLM-L6-v2";
    static final String OK_REQUESTS = "flinkfn_http_requests_total{code=\"200\",route=\"/v1/embeddings\"}";
    static final String UNAUTHORIZED = "flinkfn_http_requests_total{code=\"401\",route=\"/v1/embeddings\"}";
    static final String LOADS = "flinkfn_model_loads_total";

    static Pool pool;

    @BeforeAll
    static void setUp() throws IOException {
        try {
            Class.forName("org.apache.flink.model.openai.OpenAIModelProviderFactory");
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("Flink's OpenAI model provider is not on the test class path: "
                    + Flinkfn.root().resolve(".cache/jars/flink-model-openai-" + System.getProperty("flink.version") + ".jar")
                    + " is missing. Run make setup (scripts/setup/fetch_artifacts.py installs the jars integration/jars.json"
                    + " lists) and run the tests through integration/pom.xml's default profile", e);
        }
        EmbeddingsTest.readGolden();
        pool = Pool.start("mlpredict", "--api-key", KEY);
        System.out.println("started " + pool);
    }

    @AfterAll
    static void tearDown() {
        if (pool != null) {
            pool.close();
        }
    }

    /**
     * The DDL the README shows, with this pool's endpoint and the given key, and 'dimension' (sent as OpenAI's
     * "dimensions"; the API serves the model's own only).
     */
    static String createModel(String name, String apiKey) {
        return "CREATE MODEL " + name + "\n"
                + "INPUT (text STRING)\n"
                + "OUTPUT (embedding ARRAY<FLOAT>)\n"
                + "WITH (\n"
                + "  'provider' = 'openai',\n"
                + "  'endpoint' = 'http://127.0.0.1:" + pool.httpPort() + "/v1/embeddings',\n"
                + "  'api-key' = '" + apiKey + "',\n"
                + "  'model' = '" + MODEL + "',\n"
                + "  'dimension' = '384',\n"
                // Fail the job on the first error (the default retries a failed request up to 100 times).
                + "  'error-handling-strategy' = 'failover'\n"
                + ")";
    }

    /**
     * Every golden text with a vector (ah_embed's and txn_embed's texts as the functions build them, and the
     * hard cases: scripts, emoji, texts over 256 tokens, which the API truncates as the functions do; the empty
     * text is left out, the API refuses it as OpenAI's does), by key; plus a NULL text.
     */
    @Test
    void mlPredictEqualsAhEmbedThroughThePool() throws Exception {
        Map<String, String> texts = new LinkedHashMap<>();
        Map<String, float[]> golden = new HashMap<>();
        int i = 0;
        for (EmbeddingsTest.Golden g : EmbeddingsTest.GOLDEN) {
            String k = switch (g.fn() == null ? "" : g.fn()) {
                case "ah_embed" -> "ah:" + EmbeddingsTest.str(g.row(), "account_id");
                case "txn_embed" -> "txn:" + EmbeddingsTest.str(g.row(), "txn_id");
                default -> "t" + i++;
            };
            if (g.vector() == null || g.text() == null || g.text().isEmpty()) {
                continue;
            }
            texts.put(k, g.text());
            golden.put(k, g.vector());
        }
        assertThat(texts).hasSizeGreaterThan(250);
        assertThat(texts.values()).anyMatch(t -> t.length() > 2000);

        // 1. ah_embed and txn_embed through the pool (Flink's Python operators, the flinkfn binary as the worker).
        Map<String, Float[]> functions = viaFunctions();
        assertThat(functions).hasSize(240);

        // 2. ML_PREDICT through the pool's /v1/embeddings.
        Map<String, Double> before = pool.metrics();
        List<Row> src = new ArrayList<>();
        texts.forEach((k, t) -> src.add(Row.of(k, t)));
        src.add(Row.of("null", null));
        Flinkfn.Job job = Flinkfn.job(2, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        DataType t = DataTypes.ROW(FIELD("k", DataTypes.STRING()), FIELD("text", DataTypes.STRING())).notNull();
        tEnv.createTemporaryView("texts", tEnv.fromDataStream(job.env().fromData(src, ExternalTypeInfo.of(t))));
        tEnv.executeSql(createModel("emb", KEY));
        String sql = "SELECT k, embedding FROM ML_PREDICT(TABLE texts, MODEL emb, DESCRIPTOR(text))";
        long t0 = System.nanoTime();
        List<Row> rows = Flinkfn.collectWithin(tEnv.executeSql(sql), Duration.ofSeconds(180));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Map<String, Float[]> got = byKey(rows);
        Map<String, Double> after = pool.metrics();

        // Every non-NULL text once; ML_PREDICT drops a row whose input is NULL (flink-model-openai skips it).
        assertThat(rows).hasSize(texts.size());
        assertThat(got.keySet()).isEqualTo(texts.keySet());
        double minGolden = 1, minFn = 1, maxDiff = 0;
        int identical = 0, compared = 0;
        for (Map.Entry<String, float[]> e : golden.entrySet()) {
            Float[] v = got.get(e.getKey());
            assertThat(v).as("key %s", e.getKey()).hasSize(384);
            double c = EmbeddingsTest.cosine(e.getValue(), v);
            minGolden = Math.min(minGolden, c);
            assertThat(c).as("cosine to sentence-transformers of %s", e.getKey()).isGreaterThanOrEqualTo(EmbeddingsTest.MIN_COSINE);
            Float[] f = functions.get(e.getKey());
            if (f == null) {
                continue;
            }
            float[] ff = new float[f.length];
            boolean same = true;
            for (int j = 0; j < f.length; j++) {
                ff[j] = f[j];
                same &= Float.floatToRawIntBits(f[j]) == Float.floatToRawIntBits(v[j]);
                maxDiff = Math.max(maxDiff, Math.abs(f[j] - v[j]));
            }
            identical += same ? 1 : 0;
            compared++;
            double cf = EmbeddingsTest.cosine(ff, v);
            minFn = Math.min(minFn, cf);
            assertThat(cf).as("cosine to ah_embed/txn_embed of %s", e.getKey()).isGreaterThanOrEqualTo(EmbeddingsTest.MIN_COSINE);
        }

        assertThat(compared).as("texts compared with ah_embed/txn_embed").isEqualTo(functions.size());

        // Each row was one request to the pool's API (200), answered by the model the Flink sessions used.
        double requests = after.getOrDefault(OK_REQUESTS, 0.0) - before.getOrDefault(OK_REQUESTS, 0.0);
        assertThat(requests).as(OK_REQUESTS).isEqualTo(texts.size());
        assertThat(Pool.sum(after, LOADS)).as("model loads in the pool").isEqualTo(1.0);
        System.out.printf("mlPredictEqualsAhEmbedThroughThePool: %d rows by ML_PREDICT in %d ms (%d requests to "
                + "/v1/embeddings); min cosine to sentence-transformers %.10f; vs ah_embed/txn_embed through the same "
                + "pool: %d of %d bit-identical, max |diff| %.3g, min cosine %.10f%n", rows.size(), ms, (long) requests,
                minGolden, identical, functions.size(), maxDiff, minFn);
    }

    /** A wrong api-key fails the job with the pool's 401 and its message, and embeds nothing. */
    @Test
    void wrongApiKeyFailsTheJobWithThePoolsMessage() {
        Map<String, Double> before = pool.metrics();
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        DataType t = DataTypes.ROW(FIELD("text", DataTypes.STRING())).notNull();
        tEnv.createTemporaryView("one_text", tEnv.fromDataStream(job.env().fromData(List.of(Row.of("a text")), ExternalTypeInfo.of(t))));
        tEnv.executeSql(createModel("emb_wrong_key", "not-the-key"));
        Throwable err = null;
        try {
            Flinkfn.collect(tEnv.executeSql("SELECT embedding FROM ML_PREDICT(TABLE one_text, MODEL emb_wrong_key, DESCRIPTOR(text))"));
        } catch (Throwable e) {
            err = e;
        }
        assertThat(err).as("the job must fail").isNotNull();
        String chain = Flinkfn.causeChain(err);
        System.out.println("wrongApiKeyFailsTheJobWithThePoolsMessage:\n" + chain);
        assertThat(chain).contains("401").contains("not this server's API key");
        assertThat(pool.metric(UNAUTHORIZED) - before.getOrDefault(UNAUTHORIZED, 0.0)).as(UNAUTHORIZED).isGreaterThanOrEqualTo(1.0);
        assertThat(pool.metric(OK_REQUESTS)).as(OK_REQUESTS).isEqualTo(before.getOrDefault(OK_REQUESTS, 0.0));
    }

    /** ah_embed and txn_embed over the golden rows, through the pool: key ("ah:ID", "txn:ID") to vector. */
    static Map<String, Float[]> viaFunctions() throws Exception {
        DataType ah = DataTypes.ROW(FIELD("k", DataTypes.STRING()), FIELD("name", DataTypes.STRING()),
                FIELD("address", DataTypes.STRING()), FIELD("city", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
                FIELD("nationality", DataTypes.STRING()), FIELD("occupation", DataTypes.STRING()),
                FIELD("segment", DataTypes.STRING()), FIELD("date_of_birth", DataTypes.DATE())).notNull();
        DataType txn = DataTypes.ROW(FIELD("k", DataTypes.STRING()), FIELD("merchant", DataTypes.STRING()),
                FIELD("mcc", DataTypes.STRING()), FIELD("amount", DataTypes.DECIMAL(12, 2)), FIELD("currency", DataTypes.STRING()),
                FIELD("channel", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
                FIELD("description", DataTypes.STRING()), FIELD("event_time", DataTypes.TIMESTAMP(3))).notNull();
        DateTimeFormatter ts = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        List<Row> ahRows = new ArrayList<>();
        List<Row> txnRows = new ArrayList<>();
        for (EmbeddingsTest.Golden g : EmbeddingsTest.GOLDEN) {
            var r = g.row();
            if ("ah_embed".equals(g.fn())) {
                String dob = EmbeddingsTest.str(r, "date_of_birth");
                ahRows.add(Row.of("ah:" + EmbeddingsTest.str(r, "account_id"), EmbeddingsTest.str(r, "name"),
                        EmbeddingsTest.str(r, "address"), EmbeddingsTest.str(r, "city"), EmbeddingsTest.str(r, "country"),
                        EmbeddingsTest.str(r, "nationality"), EmbeddingsTest.str(r, "occupation"),
                        EmbeddingsTest.str(r, "segment"), dob == null ? null : LocalDate.parse(dob)));
            } else if ("txn_embed".equals(g.fn())) {
                txnRows.add(Row.of("txn:" + EmbeddingsTest.str(r, "txn_id"), EmbeddingsTest.str(r, "merchant"),
                        EmbeddingsTest.str(r, "mcc"), new BigDecimal(EmbeddingsTest.str(r, "amount")),
                        EmbeddingsTest.str(r, "currency"), EmbeddingsTest.str(r, "channel"), EmbeddingsTest.str(r, "country"),
                        EmbeddingsTest.str(r, "description"), LocalDateTime.parse(EmbeddingsTest.str(r, "event_time"), ts)));
            }
        }
        Flinkfn.Job job = Flinkfn.job(2, Map.of(Pool.ADDRESS_OPTION, pool.address()));
        StreamTableEnvironment tEnv = EmbeddingsTest.registerAll(job.tEnv());
        tEnv.createTemporaryView("ah", tEnv.fromDataStream(job.env().fromData(ahRows, ExternalTypeInfo.of(ah))));
        tEnv.createTemporaryView("txn", tEnv.fromDataStream(job.env().fromData(txnRows, ExternalTypeInfo.of(txn))));
        return byKey(Flinkfn.collectWithin(tEnv.executeSql(
                "SELECT k, " + PoolTest.AH_CALL + " FROM ah UNION ALL SELECT k, " + PoolTest.TXN_CALL + " FROM txn"),
                Duration.ofSeconds(180)));
    }

    static Map<String, Float[]> byKey(List<Row> rows) {
        Map<String, Float[]> m = new HashMap<>();
        for (Row r : rows) {
            assertThat(m.put((String) r.getField(0), (Float[]) r.getField(1))).as("duplicate key %s", r.getField(0)).isNull();
        }
        return m;
    }
}
