package io.flinkfn.memcheck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs Flink's own memory utilities over flinkconf/testdata/corpus. With -Dflinkconf.update=true
 * it (re)writes flinkconf/testdata/flink-results.json; otherwise it asserts that the committed
 * file is exactly what Flink computes. The Go test in flinkconf compares Go to the same file.
 */
class FlinkMemoryCorpusTest {

    private static final ObjectMapper MAPPER =
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Test
    void committedResultsAreWhatFlinkComputes() throws Exception {
        Path testdata = Paths.get(System.getProperty("flinkconf.dir", "../../flinkconf/testdata"));
        Path results = testdata.resolve("flink-results.json");
        // Round-trip through text so that numbers compare by value (int vs long nodes).
        JsonNode computed =
                MAPPER.readTree(MAPPER.writeValueAsString(new FlinkResults().compute(testdata)));
        int cases = computed.get("cases").size();
        assertTrue(cases >= 100, "corpus must hold at least 100 configurations, has " + cases);

        if (Boolean.getBoolean("flinkconf.update")) {
            String text = MAPPER.writeValueAsString(computed) + "\n";
            Files.write(results, text.getBytes(StandardCharsets.UTF_8));
            System.out.println("memcheck: wrote " + results + " (" + cases + " configurations)");
            return;
        }
        if (!Files.exists(results)) {
            fail(results + " is missing; run with -Dflinkconf.update=true");
        }
        JsonNode committed = MAPPER.readTree(results.toFile());
        List<String> diffs = new ArrayList<>();
        diff("", committed, computed, diffs);
        if (!diffs.isEmpty()) {
            fail(
                    "flink-results.json differs from what Flink "
                            + FlinkResults.flinkVersion()
                            + " computes ("
                            + diffs.size()
                            + " differences; run with -Dflinkconf.update=true to regenerate):\n  "
                            + String.join("\n  ", diffs.subList(0, Math.min(40, diffs.size()))));
        }
        System.out.println(
                "memcheck: flink-results.json matches Flink "
                        + FlinkResults.flinkVersion()
                        + " for "
                        + cases
                        + " configurations");
    }

    private static void diff(String path, JsonNode want, JsonNode got, List<String> out) {
        if (want == null || got == null) {
            out.add(path + ": " + (want == null ? "unexpected " + got : "missing"));
            return;
        }
        if (want.isObject() && got.isObject()) {
            List<String> names = new ArrayList<>();
            want.fieldNames().forEachRemaining(names::add);
            for (Iterator<String> it = got.fieldNames(); it.hasNext(); ) {
                String n = it.next();
                if (!names.contains(n)) {
                    names.add(n);
                }
            }
            for (String n : names) {
                diff(path + "/" + n, want.get(n), got.get(n), out);
            }
            return;
        }
        if (want.isArray() && got.isArray() && want.size() == got.size()) {
            for (int i = 0; i < want.size(); i++) {
                diff(path + "[" + i + "]", want.get(i), got.get(i), out);
            }
            return;
        }
        if (!want.equals(got)) {
            out.add(path + ": committed " + want + ", Flink " + got);
        }
    }
}
