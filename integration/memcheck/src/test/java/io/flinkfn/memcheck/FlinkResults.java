package io.flinkfn.memcheck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ConfigurationFileMigrationUtils;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.memory.ManagedMemoryUseCase;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.jobmanager.JobManagerProcessSpec;
import org.apache.flink.runtime.jobmanager.JobManagerProcessUtils;
import org.apache.flink.runtime.memory.MemoryManager;
import org.apache.flink.runtime.util.config.memory.ManagedMemoryUtils;
import org.apache.flink.runtime.util.config.memory.ProcessMemoryUtils;
import org.apache.flink.util.TimeUtils;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Computes, with Flink's own classes, everything flinkconf derives: for every configuration in
 * the corpus the loaded (flattened, typed) configuration, the TaskManager and JobManager memory
 * (components in bytes, JVM arguments, dynamic properties, start-up log lines) or Flink's error,
 * the per-slot resources and the Python worker limit for several job shapes; plus the result of
 * MemorySize.parse and TimeUtils.parseDuration for a list of strings.
 */
final class FlinkResults {

    static final String LEGACY_SUFFIX = ".flink-conf.yaml";

    private static final ConfigOption<Boolean> PYTHON_USE_MANAGED_MEMORY =
            ConfigOptions.key("python.fn-execution.memory.managed")
                    .booleanType()
                    .defaultValue(true);

    /** The job shapes Python worker limits are computed for, as flinkconf.JobShape names them. */
    static final String[] SHAPES = {
        "python", "python+operators", "python+hashmap", "python+rocksdb", "python+operators+rocksdb"
    };

    private final ObjectMapper mapper = new ObjectMapper();

    ObjectNode compute(Path testdata) throws IOException {
        ObjectNode root = mapper.createObjectNode();
        root.put("generator", "integration/memcheck (Flink's own classes)");
        root.put("flink_version", flinkVersion());
        ObjectNode cases = root.putObject("cases");
        List<Path> files;
        try (Stream<Path> s = Files.list(testdata.resolve("corpus"))) {
            files = s.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().endsWith(".yaml"))
                    .sorted()
                    .collect(Collectors.toList());
        }
        for (Path f : files) {
            cases.set(f.getFileName().toString(), runCase(f));
        }
        JsonNode strings = mapper.readTree(testdata.resolve("parse-strings.json").toFile());
        ArrayNode sizes = root.putArray("memory_sizes");
        for (JsonNode s : strings.get("memory_sizes")) {
            sizes.add(memorySize(s.asText()));
        }
        ArrayNode durations = root.putArray("durations");
        for (JsonNode s : strings.get("durations")) {
            durations.add(duration(s.asText()));
        }
        return root;
    }

    static String flinkVersion() {
        Package p = MemorySize.class.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null ? System.getProperty("flink.version", "2.3.0") : v;
    }

    private ObjectNode runCase(Path file) throws IOException {
        ObjectNode out = mapper.createObjectNode();
        boolean legacy = file.getFileName().toString().endsWith(LEGACY_SUFFIX);
        out.put("format", legacy ? "flink-conf.yaml" : "config.yaml");
        Path dir = Files.createTempDirectory("memcheck");
        Configuration config;
        try {
            Path target = dir.resolve(legacy ? "flink-conf.yaml" : "config.yaml");
            Files.copy(file, target);
            config =
                    legacy
                            ? ConfigurationFileMigrationUtils.migrateLegacyToStandardYamlConfig(
                                    dir.toString())
                            : GlobalConfiguration.loadConfiguration(dir.toString());
        } catch (Throwable t) {
            out.set("load_error", chain(t));
            return out;
        } finally {
            deleteTree(dir);
        }
        out.set("config", dumpConfig(config));
        out.set("taskmanager", taskManager(config));
        out.set("jobmanager", jobManager(config));
        return out;
    }

    private ObjectNode dumpConfig(Configuration config) {
        ObjectNode out = mapper.createObjectNode();
        try {
            Field f = Configuration.class.getDeclaredField("confData");
            f.setAccessible(true);
            @SuppressWarnings("unchecked")
            Map<String, Object> data = new TreeMap<>((Map<String, Object>) f.get(config));
            for (Map.Entry<String, Object> e : data.entrySet()) {
                ObjectNode v = out.putObject(e.getKey());
                v.put("type", e.getValue().getClass().getSimpleName());
                v.put("value", e.getValue().toString());
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private ObjectNode taskManager(Configuration config) {
        ObjectNode out = mapper.createObjectNode();
        TaskExecutorProcessSpec spec;
        try {
            spec = TaskExecutorProcessUtils.processSpecFromConfig(config);
        } catch (Throwable t) {
            out.set("error", chain(t));
            return out;
        }
        out.put("framework_heap", spec.getFlinkMemory().getFrameworkHeap().getBytes());
        out.put("framework_off_heap", spec.getFlinkMemory().getFrameworkOffHeap().getBytes());
        out.put("task_heap", spec.getTaskHeapSize().getBytes());
        out.put("task_off_heap", spec.getTaskOffHeapSize().getBytes());
        out.put("network", spec.getNetworkMemSize().getBytes());
        out.put("managed", spec.getManagedMemorySize().getBytes());
        out.put("metaspace", spec.getJvmMetaspaceSize().getBytes());
        out.put("overhead", spec.getJvmOverheadSize().getBytes());
        out.put("total_flink", spec.getTotalFlinkMemorySize().getBytes());
        out.put("total_process", spec.getTotalProcessMemorySize().getBytes());
        out.put("jvm_heap", spec.getJvmHeapMemorySize().getBytes());
        out.put("jvm_direct", spec.getJvmDirectMemorySize().getBytes());
        out.put("slots", spec.getNumSlots());
        out.put("cpu_cores", String.valueOf(spec.getCpuCores().getValue().doubleValue()));
        out.put("jvm_args", ProcessMemoryUtils.generateJvmParametersStr(spec));
        out.set(
                "dynamic_configs",
                dynamicConfigs(TaskExecutorProcessUtils.generateDynamicConfigsStr(spec)));
        out.set("log", taskManagerLog(spec));
        int slots = spec.getNumSlots();
        if (slots > 0) {
            ObjectNode perSlot = out.putObject("per_slot");
            perSlot.put("task_heap", spec.getTaskHeapSize().divide(slots).getBytes());
            perSlot.put("task_off_heap", spec.getTaskOffHeapSize().divide(slots).getBytes());
            perSlot.put("managed", spec.getManagedMemorySize().divide(slots).getBytes());
            perSlot.put("network", spec.getNetworkMemSize().divide(slots).getBytes());
            out.set("python", python(config, spec.getManagedMemorySize().divide(slots)));
        }
        return out;
    }

    private JsonNode python(Configuration config, MemorySize slotManaged) {
        ObjectNode out = mapper.createObjectNode();
        try {
            boolean managed = config.get(PYTHON_USE_MANAGED_MEMORY);
            for (String shape : SHAPES) {
                Set<ManagedMemoryUseCase> useCases = EnumSet.of(ManagedMemoryUseCase.PYTHON);
                if (shape.contains("operators")) {
                    useCases.add(ManagedMemoryUseCase.OPERATOR);
                }
                boolean stateBackendManaged = shape.contains("rocksdb");
                if (shape.contains("rocksdb") || shape.contains("hashmap")) {
                    useCases.add(ManagedMemoryUseCase.STATE_BACKEND);
                }
                double fraction =
                        ManagedMemoryUtils.convertToFractionOfSlot(
                                ManagedMemoryUseCase.PYTHON,
                                1.0,
                                useCases,
                                new Configuration(),
                                config,
                                Optional.of(stateBackendManaged),
                                FlinkResults.class.getClassLoader());
                long bytes = -1;
                if (managed && fraction > 0 && fraction <= 1.0) {
                    bytes =
                            MemoryManager.create(
                                            slotManaged.getBytes(),
                                            MemoryManager.DEFAULT_PAGE_SIZE)
                                    .computeMemorySize(fraction);
                }
                ObjectNode s = out.putObject(shape);
                s.put("fraction", Double.toString(fraction));
                s.put("worker_memory_limit", bytes);
            }
        } catch (Throwable t) {
            ObjectNode err = mapper.createObjectNode();
            err.set("error", chain(t));
            return err;
        }
        return out;
    }

    private ObjectNode jobManager(Configuration config) {
        ObjectNode out = mapper.createObjectNode();
        JobManagerProcessSpec spec;
        try {
            spec = JobManagerProcessUtils.processSpecFromConfig(config);
        } catch (Throwable t) {
            out.set("error", chain(t));
            return out;
        }
        out.put("heap", spec.getJvmHeapMemorySize().getBytes());
        out.put("off_heap", spec.getJvmDirectMemorySize().getBytes());
        out.put("metaspace", spec.getJvmMetaspaceSize().getBytes());
        out.put("overhead", spec.getJvmOverheadSize().getBytes());
        out.put("total_flink", spec.getTotalFlinkMemorySize().getBytes());
        out.put("total_process", spec.getTotalProcessMemorySize().getBytes());
        try {
            out.put("jvm_args", JobManagerProcessUtils.generateJvmParametersStr(spec, config));
        } catch (Throwable t) {
            out.set("jvm_args_error", chain(t));
        }
        out.set(
                "dynamic_configs",
                dynamicConfigs(JobManagerProcessUtils.generateDynamicConfigsStr(spec)));
        ArrayNode log = out.putArray("log");
        log.add("Final Master Memory configuration:");
        log.add("  Total Process Memory: " + spec.getTotalProcessMemorySize().toHumanReadableString());
        log.add("    Total Flink Memory: " + spec.getTotalFlinkMemorySize().toHumanReadableString());
        log.add("      JVM Heap:         " + spec.getJvmHeapMemorySize().toHumanReadableString());
        log.add("      Off-heap:         " + spec.getJvmDirectMemorySize().toHumanReadableString());
        log.add("    JVM Metaspace:      " + spec.getJvmMetaspaceSize().toHumanReadableString());
        log.add("    JVM Overhead:       " + spec.getJvmOverheadSize().toHumanReadableString());
        return out;
    }

    /** The lines of BashJavaUtils.logTaskExecutorConfiguration, with Flink's own rendering. */
    private ArrayNode taskManagerLog(TaskExecutorProcessSpec spec) {
        ArrayNode log = mapper.createArrayNode();
        MemorySize managed = spec.getManagedMemorySize();
        MemorySize direct = spec.getJvmDirectMemorySize();
        log.add("Final TaskExecutor Memory configuration:");
        log.add("  Total Process Memory:          " + spec.getTotalProcessMemorySize().toHumanReadableString());
        log.add("    Total Flink Memory:          " + spec.getTotalFlinkMemorySize().toHumanReadableString());
        log.add("      Total JVM Heap Memory:     " + spec.getJvmHeapMemorySize().toHumanReadableString());
        log.add("        Framework:               " + spec.getFlinkMemory().getFrameworkHeap().toHumanReadableString());
        log.add("        Task:                    " + spec.getTaskHeapSize().toHumanReadableString());
        log.add("      Total Off-heap Memory:     " + managed.add(direct).toHumanReadableString());
        log.add("        Managed:                 " + managed.toHumanReadableString());
        log.add("        Total JVM Direct Memory: " + direct.toHumanReadableString());
        log.add("          Framework:             " + spec.getFlinkMemory().getFrameworkOffHeap().toHumanReadableString());
        log.add("          Task:                  " + spec.getTaskOffHeapSize().toHumanReadableString());
        log.add("          Network:               " + spec.getNetworkMemSize().toHumanReadableString());
        log.add("    JVM Metaspace:               " + spec.getJvmMetaspaceSize().toHumanReadableString());
        log.add("    JVM Overhead:                " + spec.getJvmOverheadSize().toHumanReadableString());
        return log;
    }

    private ObjectNode dynamicConfigs(String str) {
        // "-D k=v -D k=v ..." as ConfigurationUtils.assembleDynamicConfigsStr builds it.
        Map<String, String> sorted = new TreeMap<>();
        List<String> parts = Arrays.asList(str.split(" "));
        for (int i = 0; i + 1 < parts.size(); i += 2) {
            String[] kv = parts.get(i + 1).split("=", 2);
            sorted.put(kv[0], kv[1]);
        }
        ObjectNode out = mapper.createObjectNode();
        sorted.forEach(out::put);
        return out;
    }

    private ObjectNode memorySize(String s) {
        ObjectNode out = mapper.createObjectNode();
        out.put("input", s);
        try {
            MemorySize m = MemorySize.parse(s);
            out.put("bytes", m.getBytes());
            out.put("human", m.toHumanReadableString());
            out.put("string", m.toString());
        } catch (Throwable t) {
            out.set("error", chain(t));
        }
        return out;
    }

    private ObjectNode duration(String s) {
        ObjectNode out = mapper.createObjectNode();
        out.put("input", s);
        try {
            Duration d = TimeUtils.parseDuration(s);
            out.put("seconds", d.getSeconds());
            out.put("nanos", d.getNano());
        } catch (Throwable t) {
            out.set("error", chain(t));
        }
        return out;
    }

    private ArrayNode chain(Throwable t) {
        ArrayNode out = mapper.createArrayNode();
        List<Throwable> seen = new ArrayList<>();
        while (t != null && !seen.contains(t)) {
            seen.add(t);
            ObjectNode e = out.addObject();
            e.put("class", t.getClass().getSimpleName());
            e.put("message", t.getMessage() == null ? "" : t.getMessage());
            t = t.getCause();
        }
        return out;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted((a, b) -> b.compareTo(a)).collect(Collectors.toList())) {
                Files.deleteIfExists(p);
            }
        }
    }

}
