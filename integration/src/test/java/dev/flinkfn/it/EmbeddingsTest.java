package dev.flinkfn.it;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * ah_embed / txn_embed / embed through the real flinkfn binary: the vectors equal sentence-transformers' (the
 * golden fixture written by scripts/fixtures/gen_golden.py from PyTorch), one output row per input row, NULL and empty
 * inputs as documented (udfs/_embedding.py).
 */
class EmbeddingsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final double MIN_COSINE = 0.99999;
    static final DataType VEC = DataTypes.ARRAY(DataTypes.FLOAT());

    record Golden(String fn, JsonNode row, String text, float[] vector) {}

    static final List<Golden> GOLDEN = new ArrayList<>();

    @BeforeAll
    static synchronized void readGolden() throws IOException {
        if (!GOLDEN.isEmpty()) {
            return; // read already (PandasTest reads it too, in the same JVM)
        }
        ObjectMapper om = new ObjectMapper();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(Flinkfn.root().resolve("inference/testdata/golden-minilm.jsonl.gz"))),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                JsonNode n = om.readTree(line);
                float[] v = null;
                if (!n.get("vector").isNull()) {
                    v = new float[n.get("vector").size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) n.get("vector").get(i).asDouble();
                    }
                }
                GOLDEN.add(new Golden(n.has("fn") ? n.get("fn").asText() : null, n.get("row"),
                        n.get("text").isNull() ? null : n.get("text").asText(), v));
            }
        }
        assertThat(GOLDEN).hasSizeGreaterThan(200);
    }

    static String str(JsonNode row, String f) {
        JsonNode n = row.get(f);
        return n == null || n.isNull() ? null : n.asText();
    }

    static double cosine(float[] a, Float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * (double) b[i];
            na += a[i] * (double) a[i];
            nb += b[i] * (double) b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    /** Runs the query (key, vector) and checks every key's vector against want (null = NULL result). */
    static void check(StreamTableEnvironment tEnv, String sql, Map<String, float[]> want) {
        List<Row> rows = Flinkfn.collect(tEnv.executeSql(sql));
        assertThat(rows).hasSize(want.size());
        Map<String, Float[]> got = new HashMap<>();
        for (Row r : rows) {
            assertThat(got.put((String) r.getField(0), (Float[]) r.getField(1))).as("duplicate key %s", r.getField(0)).isNull();
        }
        double min = 1;
        for (Map.Entry<String, float[]> e : want.entrySet()) {
            assertThat(got).containsKey(e.getKey());
            Float[] v = got.get(e.getKey());
            if (e.getValue() == null) {
                assertThat(v).as("key %s", e.getKey()).isNull();
                continue;
            }
            assertThat(v).as("key %s", e.getKey()).hasSize(384);
            double c = cosine(e.getValue(), v);
            min = Math.min(min, c);
            assertThat(c).as("cosine of %s", e.getKey()).isGreaterThanOrEqualTo(MIN_COSINE);
        }
        System.out.printf("%s: %d rows, min cosine to sentence-transformers %.8f%n", sql, rows.size(), min);
    }

    @Test
    void accountHoldersEqualSentenceTransformers() {
        DataType t = DataTypes.ROW(FIELD("account_id", DataTypes.STRING()), FIELD("name", DataTypes.STRING()),
                FIELD("address", DataTypes.STRING()), FIELD("city", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
                FIELD("nationality", DataTypes.STRING()), FIELD("occupation", DataTypes.STRING()),
                FIELD("segment", DataTypes.STRING()), FIELD("date_of_birth", DataTypes.DATE())).notNull();
        List<Row> src = new ArrayList<>();
        Map<String, float[]> want = new HashMap<>();
        for (Golden g : GOLDEN) {
            if (!"ah_embed".equals(g.fn())) {
                continue;
            }
            JsonNode r = g.row();
            String dob = str(r, "date_of_birth");
            src.add(Row.of(str(r, "account_id"), str(r, "name"), str(r, "address"), str(r, "city"), str(r, "country"),
                    str(r, "nationality"), str(r, "occupation"), str(r, "segment"), dob == null ? null : LocalDate.parse(dob)));
            want.put(str(r, "account_id"), g.vector());
        }
        // Every column NULL or blank: nothing to embed, NULL (documented).
        src.add(Row.of("all-null", null, null, " ", null, null, null, null, null));
        want.put("all-null", null);
        assertThat(want).hasSizeGreaterThan(100);
        Flinkfn.Job job = Flinkfn.job(2, Map.of());
        StreamTableEnvironment tEnv = registerAll(job.tEnv());
        tEnv.createTemporaryView("ah", tEnv.fromDataStream(job.env().fromData(src, ExternalTypeInfo.of(t))));
        check(tEnv, "SELECT account_id, ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth) FROM ah",
                want);
    }

    @Test
    void transactionsEqualSentenceTransformers() {
        DataType t = DataTypes.ROW(FIELD("txn_id", DataTypes.STRING()), FIELD("merchant", DataTypes.STRING()),
                FIELD("mcc", DataTypes.STRING()), FIELD("amount", DataTypes.DECIMAL(12, 2)), FIELD("currency", DataTypes.STRING()),
                FIELD("channel", DataTypes.STRING()), FIELD("country", DataTypes.STRING()),
                FIELD("description", DataTypes.STRING()), FIELD("event_time", DataTypes.TIMESTAMP(3))).notNull();
        DateTimeFormatter ts = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        List<Row> src = new ArrayList<>();
        Map<String, float[]> want = new HashMap<>();
        for (Golden g : GOLDEN) {
            if (!"txn_embed".equals(g.fn())) {
                continue;
            }
            JsonNode r = g.row();
            src.add(Row.of(str(r, "txn_id"), str(r, "merchant"), str(r, "mcc"), new BigDecimal(str(r, "amount")),
                    str(r, "currency"), str(r, "channel"), str(r, "country"), str(r, "description"),
                    LocalDateTime.parse(str(r, "event_time"), ts)));
            want.put(str(r, "txn_id"), g.vector());
        }
        assertThat(want).hasSizeGreaterThan(100);
        Flinkfn.Job job = Flinkfn.job(2, Map.of());
        StreamTableEnvironment tEnv = registerAll(job.tEnv());
        tEnv.createTemporaryView("txn", tEnv.fromDataStream(job.env().fromData(src, ExternalTypeInfo.of(t))));
        check(tEnv, "SELECT txn_id, txn_embed(merchant, mcc, amount, currency, channel, country, description, event_time) FROM txn",
                want);
    }

    /** Hard tokenizer cases, the empty text and texts far over 256 tokens (truncated), and NULL. */
    @Test
    void embedHardCasesNullEmptyAndOverlong() {
        DataType t = DataTypes.ROW(FIELD("k", DataTypes.STRING()), FIELD("text", DataTypes.STRING())).notNull();
        List<Row> src = new ArrayList<>();
        Map<String, float[]> want = new HashMap<>();
        int i = 0;
        boolean sawEmpty = false, sawLong = false;
        for (Golden g : GOLDEN) {
            if (g.fn() != null) {
                continue;
            }
            String k = "t" + i++;
            src.add(Row.of(k, g.text()));
            want.put(k, g.vector());
            sawEmpty |= g.text().isEmpty();
            sawLong |= g.text().length() > 2000;
        }
        src.add(Row.of("null", null));
        want.put("null", null);
        assertThat(sawEmpty && sawLong).isTrue();
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = registerAll(job.tEnv());
        tEnv.createTemporaryView("texts", tEnv.fromDataStream(job.env().fromData(src, ExternalTypeInfo.of(t))));
        check(tEnv, "SELECT k, embed(text) FROM texts", want);
    }

    /** A DOUBLE column has no identical text in Go and Python: refused before any row, naming function and column. */
    @Test
    void doubleColumnIsRefusedClearly() {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        PythonUdfs.register(tEnv, "txn_embed_dbl", "udfs.txn_embed_udf", "txn_embed", new DataType[] {
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.DOUBLE(), DataTypes.STRING(), DataTypes.STRING(),
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.TIMESTAMP(3)}, VEC);
        Throwable err = null;
        try {
            Flinkfn.collect(tEnv.executeSql(
                    "SELECT txn_embed_dbl('m', '5411', CAST(1.5 AS DOUBLE), 'EUR', 'atm', 'FR', 'd', TIMESTAMP '2026-01-01 00:00:00')"));
        } catch (Throwable e) {
            err = e;
        }
        assertThat(err).isNotNull();
        String chain = Flinkfn.causeChain(err);
        assertThat(chain).contains("udfs.txn_embed_udf.txn_embed").contains("amount").contains("DOUBLE");
    }

    static StreamTableEnvironment registerAll(StreamTableEnvironment tEnv) {
        PythonUdfs.register(tEnv, "ah_embed", "udfs.ah_embed_udf", "ah_embed", new DataType[] {
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.STRING(), DataTypes.STRING(), DataTypes.STRING(),
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.DATE()}, VEC);
        PythonUdfs.register(tEnv, "txn_embed", "udfs.txn_embed_udf", "txn_embed", new DataType[] {
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.DECIMAL(12, 2), DataTypes.STRING(), DataTypes.STRING(),
                DataTypes.STRING(), DataTypes.STRING(), DataTypes.TIMESTAMP(3)}, VEC);
        PythonUdfs.register(tEnv, "embed", "udfs.embed_udf", "embed", new DataType[] {DataTypes.STRING()}, VEC);
        return tEnv;
    }
}
