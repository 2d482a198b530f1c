package dev.flinkfn.it;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Shared set-up: the binary under test, the MiniCluster and table environments wired to it. */
public final class Flinkfn {
    public static final String PYTHON_EXECUTABLE = "python.executable";
    public static final String BUNDLE_SIZE = "python.fn-execution.bundle.size";
    public static final String BUNDLE_TIME = "python.fn-execution.bundle.time";

    /** Slots of the single TaskManager of every test class' MiniCluster. */
    public static final int SLOTS = 4;

    private Flinkfn() {}

    /** Repository root (system property {@code flinkfn.root}, else the parent of the working directory). */
    public static Path root() {
        String p = System.getProperty("flinkfn.root");
        Path r = (p != null && !p.isBlank()) ? Paths.get(p) : Paths.get(System.getProperty("user.dir")).resolve("..");
        return r.toAbsolutePath().normalize();
    }

    /** Absolute path of the flinkfn binary (system property {@code flinkfn.bin}), not checked. */
    public static Path binaryPath() {
        String p = System.getProperty("flinkfn.bin");
        Path b = (p != null && !p.isBlank()) ? Paths.get(p) : root().resolve(".cache/bin/flinkfn");
        return b.toAbsolutePath().normalize();
    }

    /** Absolute path of the flinkfn binary; fails with a clear message if it is missing. */
    public static Path binary() {
        Path b = binaryPath();
        if (!Files.isRegularFile(b) || !Files.isExecutable(b)) {
            throw new IllegalStateException("flinkfn binary not found or not executable at " + b
                    + " (build it: cd " + root() + " && go build -o .cache/bin/flinkfn ./cmd/flinkfn,"
                    + " or pass -Dflinkfn.bin=/abs/path)");
        }
        return b;
    }

    public static void set(Configuration conf, String key, String value) {
        ConfigOption<String> opt = ConfigOptions.key(key).stringType().noDefaultValue();
        conf.set(opt, value);
    }

    /** Configuration of the MiniCluster (TaskManager side). */
    public static Configuration clusterConfig() {
        Configuration c = new Configuration();
        set(c, PYTHON_EXECUTABLE, binaryPath().toString());
        // Python operators of one slot share one worker whose memory budget is the slot's managed memory
        // (_PYTHON_WORKER_MEMORY_LIMIT): framework 64 MiB + buffer 15 MiB + the model's measured footprint
        // (~400 MiB for MiniLM fp32) must fit, or flinkfn refuses with the numbers. Accounting only: the
        // MiniCluster does not allocate managed memory for Python.
        set(c, "taskmanager.memory.managed.size", (SLOTS * 640) + "m");
        set(c, "taskmanager.memory.network.min", "64m");
        set(c, "taskmanager.memory.network.max", "64m");
        set(c, "restart-strategy.type", "none");
        set(c, "table.local-time-zone", "UTC");
        return c;
    }

    /** One MiniCluster per test class: 1 TaskManager with {@link #SLOTS} slots. */
    public static MiniClusterExtension cluster() {
        return new MiniClusterExtension(
                () -> new MiniClusterResourceConfiguration.Builder()
                        .setNumberTaskManagers(1)
                        .setNumberSlotsPerTaskManager(SLOTS)
                        .setConfiguration(clusterConfig())
                        .build());
    }

    /** A stream environment and a table environment over it, on the class' MiniCluster. */
    public record Job(StreamExecutionEnvironment env, StreamTableEnvironment tEnv) {}

    /** A streaming table environment on the class' MiniCluster with default options. */
    public static StreamTableEnvironment tableEnv(int parallelism) {
        return job(parallelism, Collections.emptyMap()).tEnv();
    }

    /** A streaming table environment on the class' MiniCluster with extra options. */
    public static StreamTableEnvironment tableEnv(int parallelism, Map<String, String> options) {
        return job(parallelism, options).tEnv();
    }

    /**
     * Stream + table environment on the class' MiniCluster (the extension installs itself as the context
     * environment). {@code options} are job/table options such as {@link #BUNDLE_SIZE}; {@code python.executable}
     * is always the flinkfn binary.
     */
    public static Job job(int parallelism, Map<String, String> options) {
        Map<String, String> all = new LinkedHashMap<>();
        all.put(PYTHON_EXECUTABLE, binary().toString());
        all.put("restart-strategy.type", "none");
        all.put("table.local-time-zone", "UTC");
        all.putAll(options);
        Configuration conf = new Configuration();
        all.forEach((k, v) -> set(conf, k, v));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(
                env, EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
        all.forEach((k, v) -> tEnv.getConfig().set(k, v));
        return new Job(env, tEnv);
    }

    /** Collects all rows of a result (waits for the job to finish). */
    public static List<Row> collect(TableResult result) {
        List<Row> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = result.collect()) {
            it.forEachRemaining(rows::add);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
        return rows;
    }

    /** Collects all rows; cancels the job and fails when it takes longer than {@code timeout}. */
    public static List<Row> collectWithin(TableResult res, Duration timeout) throws Exception {
        CompletableFuture<List<Row>> f = CompletableFuture.supplyAsync(() -> collect(res));
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            res.getJobClient().ifPresent(c -> c.cancel());
            throw new AssertionError("job did not finish within " + timeout, e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
    }

    /** All messages of a throwable, its causes and suppressed exceptions, one per line. */
    public static String causeChain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        appendChain(t, sb, seen, 0);
        return sb.toString();
    }

    private static void appendChain(Throwable t, StringBuilder sb, Set<Throwable> seen, int depth) {
        while (t != null && seen.add(t)) {
            sb.append("  ".repeat(depth)).append(t.getClass().getName()).append(": ").append(t.getMessage()).append('\n');
            for (Throwable s : t.getSuppressed()) {
                appendChain(s, sb, seen, depth + 1);
            }
            t = t.getCause();
        }
    }
}
