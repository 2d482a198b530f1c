package dev.flinkfn.it;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

import static org.apache.flink.table.api.Expressions.$;
import static org.assertj.core.api.Assertions.assertThat;

/** Bundle sizes 1, 7, 1000 and a 1 ms bundle time give the same (and the correct) results. */
@Tag("compat")
class BundleSizeTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final int N = 2_000;

    static final String SCALAR_SQL = "SELECT n, id_bigint(n), upper(s), length(s), describe_bigint(n) FROM ("
            + " SELECT n, CONCAT('w', CAST(n AS STRING), CASE WHEN MOD(n, 3) = 0 THEN ' x' ELSE '' END) AS s FROM seq)";

    static final String TABLE_SQL = "SELECT n, w FROM ("
            + " SELECT n, CONCAT('w', CAST(n AS STRING), CASE WHEN MOD(n, 3) = 0 THEN ' x' ELSE '' END) AS s FROM seq),"
            + " LATERAL TABLE(split_words(s)) AS t(w)";

    private static List<String> run(Map<String, String> options, String sql) {
        Flinkfn.Job job = Flinkfn.job(1, options);
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("seq", tEnv.fromDataStream(job.env().fromSequence(0, N - 1), $("n")));
        PythonUdfs.builtin(tEnv, "id_bigint", "id_bigint", DataTypes.BIGINT(), DataTypes.BIGINT());
        PythonUdfs.builtin(tEnv, "upper", "upper", DataTypes.STRING(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "length", "length", DataTypes.INT(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "describe_bigint", "describe", DataTypes.STRING(), DataTypes.BIGINT());
        PythonUdfs.builtinTable(tEnv, "split_words", "split_words",
                DataTypes.ROW(DataTypes.FIELD("word", DataTypes.STRING())), DataTypes.STRING());
        List<Row> rows = Flinkfn.collect(tEnv.executeSql(sql));
        // Order within the single pipeline is preserved, but compare as sorted lists of exact row texts.
        return rows.stream().map(Values::showRow).sorted().collect(Collectors.toList());
    }

    static String s(long n) {
        return "w" + n + (n % 3 == 0 ? " x" : "");
    }

    static Map<String, Map<String, String>> configs() {
        Map<String, Map<String, String>> c = new LinkedHashMap<>();
        c.put("bundle.size=1", Map.of(Flinkfn.BUNDLE_SIZE, "1"));
        c.put("bundle.size=7", Map.of(Flinkfn.BUNDLE_SIZE, "7"));
        c.put("bundle.size=1000", Map.of(Flinkfn.BUNDLE_SIZE, "1000"));
        c.put("bundle.time=1ms", Map.of(Flinkfn.BUNDLE_SIZE, "100000", Flinkfn.BUNDLE_TIME, "1"));
        return c;
    }

    @Test
    void scalarResultsDoNotDependOnBundling() {
        List<String> expected = new ArrayList<>();
        for (long n = 0; n < N; n++) {
            String s = s(n);
            expected.add(Values.showRow(Row.of(n, n, s.toUpperCase(Locale.ROOT), s.length(), Long.toString(n))));
        }
        expected.sort(null);
        for (Map.Entry<String, Map<String, String>> e : configs().entrySet()) {
            assertThat(run(e.getValue(), SCALAR_SQL)).as(e.getKey()).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void tableFunctionResultsDoNotDependOnBundling() {
        List<String> expected = new ArrayList<>();
        for (long n = 0; n < N; n++) {
            for (String w : s(n).split(" ")) {
                expected.add(Values.showRow(Row.of(n, w)));
            }
        }
        expected.sort(null);
        List<String> first = null;
        for (Map.Entry<String, Map<String, String>> e : configs().entrySet()) {
            List<String> got = run(e.getValue(), TABLE_SQL);
            assertThat(got).as(e.getKey()).containsExactlyElementsOf(expected);
            if (first == null) {
                first = got;
            }
            assertThat(got).as(e.getKey() + " vs first config").isEqualTo(first);
        }
    }
}
