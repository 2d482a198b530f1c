package dev.flinkfn.it;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A {@code flinkfn pool} process for a test: started with {@link ProcessBuilder} on a unix socket under
 * {@code target/pool/} (or a free loopback port when the path would be too long for a socket) and a free
 * loopback HTTP port, waited for until {@code /readyz} answers 200, scraped through {@code /metrics}, stopped
 * with {@code destroy()} (SIGTERM) or killed with {@code destroyForcibly()} (SIGKILL). Its stdout and stderr go
 * to {@code target/pool/<name>.log} (appended across restarts), whose tail failure messages include.
 *
 * <p>Flink's workers are pointed at the pool with the job option {@link #ADDRESS_OPTION}: Flink copies it into
 * every Python worker's environment as {@code PYTHON_LOOPBACK_SERVER_ADDRESS}, and the flinkfn binary started as
 * {@code python.executable} then acts as a shim for the pool.
 */
public final class Pool implements AutoCloseable {
    /** Job option Flink copies into the worker's environment as PYTHON_LOOPBACK_SERVER_ADDRESS. */
    public static final String ADDRESS_OPTION = "python.loopback-server.address";

    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final String address;
    private final int httpPort;
    private final List<String> extraArgs;
    private final Map<String, String> env;
    private final Path log;
    private Process process;

    private Pool(String name, String address, int httpPort, List<String> extraArgs, Map<String, String> env, Path log) {
        this.name = name;
        this.address = address;
        this.httpPort = httpPort;
        this.extraArgs = List.copyOf(extraArgs);
        this.env = Map.copyOf(env);
        this.log = log;
    }

    /** Directory for sockets and logs: {@code integration/target/pool}. */
    public static Path dir() {
        Path d = Paths.get(System.getProperty("user.dir")).toAbsolutePath().resolve("target/pool");
        try {
            Files.createDirectories(d);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        return d;
    }

    /** Starts a pool with fresh addresses and waits until it is ready. */
    public static Pool start(String name, String... extraArgs) {
        return startWithEnv(name, Map.of(), extraArgs);
    }

    /** Starts a pool with these environment variables added (e.g. FLINKFN_TEMPLATES) and waits until it is ready. */
    public static Pool startWithEnv(String name, Map<String, String> env, String... extraArgs) {
        Path dir = dir();
        String base = name + "-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
        Path sock = dir.resolve(base + ".sock");
        // sun_path holds 108 bytes; fall back to loopback TCP for deep checkouts.
        String address = sock.toString().length() < 100 ? "unix://" + sock : "127.0.0.1:" + freePort();
        Pool p = new Pool(name, address, freePort(), List.of(extraArgs), env, dir.resolve(base + ".log"));
        p.launch();
        p.awaitReady(Duration.ofSeconds(90));
        return p;
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** The pool address (unix:///abs/path.sock or 127.0.0.1:port), as the job option wants it. */
    public String address() {
        return address;
    }

    public int httpPort() {
        return httpPort;
    }

    public Path log() {
        return log;
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    private void launch() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Flinkfn.binary().toString());
        cmd.add("pool");
        cmd.add("--listen");
        cmd.add(address);
        cmd.add("--http");
        cmd.add("127.0.0.1:" + httpPort);
        cmd.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("FLINKFN_POOL");
        pb.environment().remove("PYTHON_LOOPBACK_SERVER_ADDRESS");
        pb.environment().remove("_PYTHON_WORKER_MEMORY_LIMIT");
        pb.environment().putAll(env);
        File f = log.toFile();
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(f));
        pb.redirectError(ProcessBuilder.Redirect.appendTo(f));
        try {
            Files.writeString(log, "=== " + String.join(" ", cmd) + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            process = pb.start();
        } catch (IOException e) {
            throw new RuntimeException("cannot start " + cmd, e);
        }
    }

    /** Starts the pool again on the same addresses (after {@link #kill()}); does not wait for readiness. */
    public void restart() {
        if (isAlive()) {
            throw new IllegalStateException("pool " + name + " is still running");
        }
        launch();
    }

    /** Polls /readyz until it answers 200; fails with the log's tail if the process dies or time runs out. */
    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int last = -1;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("flinkfn pool " + name + " exited with " + process.exitValue()
                        + " before it was ready; log " + log + ":\n" + logTail(4000));
            }
            try {
                last = get("/readyz").statusCode();
                if (last == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            sleep(100);
        }
        throw new IllegalStateException("flinkfn pool " + name + " not ready within " + timeout + " (last /readyz "
                + last + "); log " + log + ":\n" + logTail(4000));
    }

    private HttpResponse<String> get(String path) throws IOException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofSeconds(5)).GET().build();
        try {
            return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** GET path on the HTTP port: status code (or -1 when nothing answers). */
    public int status(String path) {
        try {
            return get(path).statusCode();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The raw /metrics text. */
    public String metricsText() {
        try {
            HttpResponse<String> r = get("/metrics");
            if (r.statusCode() != 200) {
                throw new IllegalStateException("/metrics answered " + r.statusCode() + ": " + r.body());
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException("cannot scrape /metrics of pool " + name + ": " + e + "; log tail:\n" + logTail(2000), e);
        }
    }

    /** /metrics as series (name plus labels exactly as exposed, e.g. {@code x_total{kind="a"}}) to value. */
    public Map<String, Double> metrics() {
        return parse(metricsText());
    }

    static Map<String, Double> parse(String text) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int sp = line.lastIndexOf(' ');
            if (sp < 0) {
                continue;
            }
            String v = line.substring(sp + 1);
            double d;
            switch (v) {
                case "+Inf" -> d = Double.POSITIVE_INFINITY;
                case "-Inf" -> d = Double.NEGATIVE_INFINITY;
                case "NaN" -> d = Double.NaN;
                default -> d = Double.parseDouble(v);
            }
            m.put(line.substring(0, sp).strip(), d);
        }
        return m;
    }

    /** One series' value, 0 when the pool does not expose it (yet). */
    public double metric(String series) {
        return metrics().getOrDefault(series, 0.0);
    }

    /** Sum of all series of one metric name (any labels). */
    public static double sum(Map<String, Double> metrics, String name) {
        double s = 0;
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            String k = e.getKey();
            if (k.equals(name) || k.startsWith(name + "{")) {
                s += e.getValue();
            }
        }
        return s;
    }

    /** The exposition lines whose series name starts with one of the prefixes. */
    public static String lines(Map<String, Double> metrics, String... prefixes) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            for (String p : prefixes) {
                if (e.getKey().startsWith(p)) {
                    double v = e.getValue();
                    String s = v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
                    sb.append(e.getKey()).append(' ').append(s).append('\n');
                    break;
                }
            }
        }
        return sb.toString();
    }

    /** Polls the metrics until the predicate holds; returns the last scrape. Fails with the log tail. */
    public Map<String, Double> awaitMetrics(String what, Duration timeout, Predicate<Map<String, Double>> ok) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, Double> m = Map.of();
        while (true) {
            try {
                m = metrics();
                if (ok.test(m)) {
                    return m;
                }
            } catch (IllegalStateException e) {
                // retry until the deadline
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("pool " + name + ": " + what + " not reached within " + timeout
                        + "; last metrics:\n" + lines(m, "flinkfn_sessions", "flinkfn_rows", "flinkfn_model_loads")
                        + "log tail:\n" + logTail(3000));
            }
            sleep(100);
        }
    }

    /** SIGKILL, waits for the process to be gone. */
    public void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGTERM, then SIGKILL after 10 s. */
    @Override
    public void close() {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    /** The last {@code max} characters of the pool's log. */
    public String logTail(int max) {
        try {
            String s = Files.readString(log, StandardCharsets.UTF_8);
            return s.length() <= max ? s : "..." + s.substring(s.length() - max);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    @Override
    public String toString() {
        return "pool " + name + " at " + address + " (http 127.0.0.1:" + httpPort + ", log " + log + ")";
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }
}
