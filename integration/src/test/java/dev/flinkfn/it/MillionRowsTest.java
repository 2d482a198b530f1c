package dev.flinkfn.it;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.apache.flink.table.api.Expressions.$;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * 1,000,000 rows at parallelism 2 through id_bigint, upper and length: row count, checksum against a pure-Java
 * computation, and a per-row check that each UDF result belongs to the row it was joined with.
 */
@Tag("compat")
class MillionRowsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final int N = 1_000_000;
    static final int PARALLELISM = 2;

    /** The derived string of row n, as the SQL below builds it. */
    static String derived(long n) {
        return "row-" + n + "-é" + (n % 7 == 0 ? " 😀" : "");
    }

    static long mix(long h, long v) {
        h ^= v;
        h *= 0x100000001b3L;
        return h;
    }

    static long rowChecksum(long n, long idN, String up, int len) {
        long h = mix(0xcbf29ce484222325L, n);
        h = mix(h, idN);
        h = mix(h, up.hashCode());
        h = mix(h, len);
        return h;
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void millionRowsAtParallelismTwo() throws Exception {
        Flinkfn.Job job = Flinkfn.job(PARALLELISM, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("seq", tEnv.fromDataStream(job.env().fromSequence(0, N - 1), $("n")));
        PythonUdfs.builtin(tEnv, "id_bigint", "id_bigint", DataTypes.BIGINT(), DataTypes.BIGINT());
        PythonUdfs.builtin(tEnv, "upper", "upper", DataTypes.STRING(), DataTypes.STRING());
        PythonUdfs.builtin(tEnv, "length", "length", DataTypes.INT(), DataTypes.STRING());

        String sql = "SELECT n, s, id_bigint(n), upper(s), length(s) FROM ("
                + " SELECT n, CONCAT('row-', CAST(n AS STRING), '-é', CASE WHEN MOD(n, 7) = 0 THEN ' 😀' ELSE '' END) AS s"
                + " FROM seq)";

        long expectedSum = 0;
        for (long n = 0; n < N; n++) {
            String s = derived(n);
            expectedSum += rowChecksum(n, n, s.toUpperCase(Locale.ROOT), s.codePointCount(0, s.length()));
        }

        long start = System.nanoTime();
        BitSet seen = new BitSet(N);
        long count = 0;
        long sum = 0;
        List<String> problems = new ArrayList<>();
        try (CloseableIterator<Row> it = tEnv.executeSql(sql).collect()) {
            while (it.hasNext()) {
                Row r = it.next();
                count++;
                long n = (Long) r.getField(0);
                String s = (String) r.getField(1);
                Long idN = (Long) r.getField(2);
                String up = (String) r.getField(3);
                Integer len = (Integer) r.getField(4);
                if (seen.get((int) n)) {
                    problems.add("duplicate row n=" + n);
                }
                seen.set((int) n);
                // Each UDF result must belong to the row it was joined with (no loss, no reordering).
                if (!derived(n).equals(s)) {
                    problems.add("row n=" + n + ": source string " + s);
                }
                if (idN == null || idN != n) {
                    problems.add("row n=" + n + ": id_bigint returned " + idN);
                }
                String expUp = derived(n).toUpperCase(Locale.ROOT);
                if (!expUp.equals(up)) {
                    problems.add("row n=" + n + ": upper returned " + up + ", expected " + expUp);
                }
                int expLen = derived(n).codePointCount(0, derived(n).length());
                if (len == null || len != expLen) {
                    problems.add("row n=" + n + ": length returned " + len + ", expected " + expLen);
                }
                if (up != null && len != null && idN != null) {
                    sum += rowChecksum(n, idN, up, len);
                }
                if (problems.size() >= 20) {
                    break;
                }
            }
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("MillionRowsTest: %d rows in %d ms%n", count, millis);
        assertThat(problems).as("per-row problems").isEmpty();
        assertThat(count).isEqualTo(N);
        assertThat(seen.cardinality()).isEqualTo(N);
        assertThat(sum).as("checksum").isEqualTo(expectedSum);
    }
}
