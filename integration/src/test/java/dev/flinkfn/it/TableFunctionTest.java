package dev.flinkfn.it;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.runtime.typeutils.ExternalTypeInfo;
import org.apache.flink.table.types.DataType;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.apache.flink.table.api.DataTypes.FIELD;
import static org.assertj.core.api.Assertions.assertThat;

/** split_words / series: 0..n rows per input, CROSS JOIN LATERAL and LEFT JOIN LATERAL ... ON TRUE. */
@Tag("compat")
class TableFunctionTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = Flinkfn.cluster();

    static final DataType SRC_TYPE = DataTypes.ROW(
            FIELD("k", DataTypes.INT().notNull()), FIELD("s", DataTypes.STRING()), FIELD("n", DataTypes.BIGINT())).notNull();

    static final List<Row> SRC = List.of(
            Row.of(0, "a b  c", 3L),
            Row.of(1, "", 0L),
            Row.of(2, "   ", -2L),
            Row.of(3, null, null),
            Row.of(4, "single", 1L),
            Row.of(5, "  lead\ttab\nnewline\r\n trail  ", 5L),
            Row.of(6, "😀 wörld", 2L));

    private static StreamTableEnvironment env() {
        Flinkfn.Job job = Flinkfn.job(1, Map.of());
        StreamTableEnvironment tEnv = job.tEnv();
        tEnv.createTemporaryView("src", tEnv.fromDataStream(job.env().fromData(SRC, ExternalTypeInfo.of(SRC_TYPE))));
        PythonUdfs.builtinTable(tEnv, "split_words", "split_words",
                DataTypes.ROW(FIELD("word", DataTypes.STRING())), DataTypes.STRING());
        PythonUdfs.builtinTable(tEnv, "series", "series",
                DataTypes.ROW(FIELD("i", DataTypes.BIGINT())), DataTypes.BIGINT());
        return tEnv;
    }

    /** Rows as "k|value" strings, sorted, NULL as "NULL". */
    private static List<String> rows(StreamTableEnvironment tEnv, String sql) {
        return Flinkfn.collect(tEnv.executeSql(sql)).stream()
                .map(r -> r.getField(0) + "|" + (r.getField(1) == null ? "NULL" : r.getField(1)))
                .sorted().collect(Collectors.toList());
    }

    private static List<String> sorted(String... rows) {
        return Arrays.stream(rows).sorted().collect(Collectors.toList());
    }

    @Test
    void splitWordsCrossJoin() {
        assertThat(rows(env(), "SELECT k, word FROM src CROSS JOIN LATERAL TABLE(split_words(s)) AS t(word)"))
                .containsExactlyElementsOf(sorted(
                        "0|a", "0|b", "0|c", "4|single", "5|lead", "5|tab", "5|newline", "5|trail", "6|😀", "6|wörld"));
    }

    @Test
    void splitWordsLeftJoinPadsWithNull() {
        assertThat(rows(env(), "SELECT k, word FROM src LEFT JOIN LATERAL TABLE(split_words(s)) AS t(word) ON TRUE"))
                .containsExactlyElementsOf(sorted(
                        "0|a", "0|b", "0|c", "1|NULL", "2|NULL", "3|NULL", "4|single",
                        "5|lead", "5|tab", "5|newline", "5|trail", "6|😀", "6|wörld"));
    }

    @Test
    void seriesCrossJoin() {
        assertThat(rows(env(), "SELECT k, i FROM src, LATERAL TABLE(series(n)) AS t(i)"))
                .containsExactlyElementsOf(sorted(
                        "0|0", "0|1", "0|2", "4|0", "5|0", "5|1", "5|2", "5|3", "5|4", "6|0", "6|1"));
    }

    @Test
    void seriesLeftJoinPadsWithNull() {
        assertThat(rows(env(), "SELECT k, i FROM src LEFT JOIN LATERAL TABLE(series(n)) AS t(i) ON TRUE"))
                .containsExactlyElementsOf(sorted(
                        "0|0", "0|1", "0|2", "1|NULL", "2|NULL", "3|NULL", "4|0",
                        "5|0", "5|1", "5|2", "5|3", "5|4", "6|0", "6|1"));
    }

    /** Both table functions in one query, plus a scalar over the table function's output. */
    @Test
    void chainedLateralJoins() {
        StreamTableEnvironment tEnv = env();
        PythonUdfs.builtin(tEnv, "length", "length", DataTypes.INT(), DataTypes.STRING());
        List<String> out = Flinkfn.collect(tEnv.executeSql(
                "SELECT k, word, i, length(word) FROM src,"
                        + " LATERAL TABLE(split_words(s)) AS w(word),"
                        + " LATERAL TABLE(series(CAST(CHAR_LENGTH(word) AS BIGINT))) AS t(i)"
                        + " WHERE k = 0 OR k = 4"))
                .stream().map(Values::showRow).sorted().collect(Collectors.toList());
        List<String> expected = new java.util.ArrayList<>();
        for (String w : List.of("a", "b", "c")) {
            expected.add(Values.showRow(Row.of(0, w, 0L, 1)));
        }
        for (long i = 0; i < 6; i++) {
            expected.add(Values.showRow(Row.of(4, "single", i, 6)));
        }
        expected.sort(null);
        assertThat(out).containsExactlyElementsOf(expected);
    }
}
