package dev.flinkfn.it;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Pure unit tests of the pickle payload builder (no Flink, no worker). */
@Tag("compat")
class PayloadsTest {

    /** Spec §8.2: DelegatingScalarFunction(pkg.plainmod.f), cloudpickle, protocol 5, 96 bytes. */
    private static final String SPEC_SCALAR =
            "80 05 95 55 00 00 00 00 00 00 00 8c 11 'pyflink.table.udf' 94 8c 18 'DelegatingScalarFunction' 94 93 94"
                    + " 29 81 94 7d 94 8c 04 'func' 94 8c 0c 'pkg.plainmod' 94 8c 01 'f' 94 93 94 73 62 2e";

    /** Same shape for DelegationTableFunction (name is one byte shorter, so FRAME length 0x54). */
    private static final String SPEC_TABLE =
            "80 05 95 54 00 00 00 00 00 00 00 8c 11 'pyflink.table.udf' 94 8c 17 'DelegationTableFunction' 94 93 94"
                    + " 29 81 94 7d 94 8c 04 'func' 94 8c 0c 'pkg.plainmod' 94 8c 01 'f' 94 93 94 73 62 2e";

    @Test
    void scalarPayloadEqualsSpecHexDump() {
        byte[] expected = parseDump(SPEC_SCALAR);
        assertThat(expected).hasSize(96);
        byte[] actual = Payloads.scalar("pkg.plainmod", "f");
        assertThat(Payloads.hex(actual)).isEqualTo(Payloads.hex(expected));
    }

    @Test
    void tablePayloadUsesDelegationTableFunction() {
        byte[] actual = Payloads.table("pkg.plainmod", "f");
        assertThat(Payloads.hex(actual)).isEqualTo(Payloads.hex(parseDump(SPEC_TABLE)));
        assertThat(actual).hasSize(95);
    }

    @Test
    void frameLengthIsRecomputedForOtherNames() {
        for (String[] mn : new String[][] {
            {"udfs.builtin", "upper"}, {"udfs.builtin", "id_timestamp_ltz"}, {"a", "b"}, {"x".repeat(200), "y".repeat(255)}
        }) {
            byte[] p = Payloads.scalar(mn[0], mn[1]);
            assertThat(p[0] & 0xff).isEqualTo(0x80);
            assertThat(p[1]).isEqualTo((byte) 5);
            assertThat(p[2] & 0xff).isEqualTo(0x95);
            long frame = ByteBuffer.wrap(p, 3, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertThat(frame).isEqualTo(p.length - 11L);
            assertThat(p[p.length - 1]).isEqualTo((byte) '.');
            assertThat(interpret(p)).isEqualTo(expectedTree(Payloads.SCALAR_DELEGATE, mn[0], mn[1]));
        }
    }

    @Test
    void protocol4WithoutFrame() {
        byte[] framed = Payloads.byReference(Payloads.SCALAR_DELEGATE, "pkg.plainmod", "f", 4, true);
        byte[] plain = Payloads.byReference(Payloads.SCALAR_DELEGATE, "pkg.plainmod", "f", 4, false);
        assertThat(framed[1]).isEqualTo((byte) 4);
        assertThat(plain.length).isEqualTo(framed.length - 9);
        assertThat(HexFormat.of().formatHex(plain, 0, 3)).isEqualTo("80048c");
        // Everything after PROTO (and FRAME) is identical.
        assertThat(Payloads.hex(java.util.Arrays.copyOfRange(plain, 2, plain.length)))
                .isEqualTo(Payloads.hex(java.util.Arrays.copyOfRange(framed, 11, framed.length)));
        assertThat(interpret(plain)).isEqualTo(expectedTree(Payloads.SCALAR_DELEGATE, "pkg.plainmod", "f"));
    }

    @Test
    void longAndNonAsciiNamesUseCorrectLengths() {
        String longModule = "m".repeat(300);
        byte[] p = Payloads.scalar(longModule, "größe_😀");
        // 300 UTF-8 bytes do not fit SHORT_BINUNICODE: BINUNICODE 'X' with a 4-byte little-endian length.
        String hex = Payloads.hex(p);
        assertThat(hex).contains("582c010000" + "6d6d6d");
        assertThat(interpret(p)).isEqualTo(expectedTree(Payloads.SCALAR_DELEGATE, longModule, "größe_😀"));
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> Payloads.byReference(Payloads.SCALAR_DELEGATE, "m", "f", 3, true))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Payloads.scalar("", "f")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Payloads.scalar("m", null)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Cross-check with the real cloudpickle + PyFlink when the project's venv exists (scripts/setup/setup.sh creates it):
     * the bytes must be identical to {@code cloudpickle.dumps(DelegatingScalarFunction(f))} and must unpickle.
     */
    @Test
    void identicalToCloudpickleWhenVenvPresent(@TempDir Path tmp) throws Exception {
        Path python = Flinkfn.root().resolve(".cache/venv/bin/python");
        assumeTrue(Files.isExecutable(python), "no venv at " + python);
        Path pkg = Files.createDirectories(tmp.resolve("pkg"));
        Files.writeString(pkg.resolve("__init__.py"), "");
        Files.writeString(pkg.resolve("plainmod.py"), "def f(x):\n    return x\n");
        String script = String.join("\n",
                "import sys, pickle, cloudpickle",
                "import pkg.plainmod as m",
                "from pyflink.table.udf import DelegatingScalarFunction, DelegationTableFunction",
                "print(cloudpickle.dumps(DelegatingScalarFunction(m.f)).hex())",
                "print(cloudpickle.dumps(DelegationTableFunction(m.f)).hex())",
                "o = pickle.loads(bytes.fromhex(sys.argv[1]))",
                "print(type(o).__name__, o.func.__module__, o.func.__name__, o.func is m.f)",
                "");
        ProcessBuilder pb = new ProcessBuilder(python.toString(), "-c", script,
                Payloads.hex(Payloads.scalar("pkg.plainmod", "f")))
                .directory(tmp.toFile()).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", tmp.toString());
        Process proc = pb.start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(proc.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assumeTrue(proc.exitValue() == 0 || !out.contains("ModuleNotFoundError: No module named 'pyflink'"),
                "venv without pyflink");
        assertThat(proc.exitValue()).as(out).isZero();
        String[] lines = out.strip().split("\n");
        assertThat(lines[0]).isEqualTo(Payloads.hex(Payloads.scalar("pkg.plainmod", "f")));
        assertThat(lines[1]).isEqualTo(Payloads.hex(Payloads.table("pkg.plainmod", "f")));
        assertThat(lines[2]).isEqualTo("DelegatingScalarFunction pkg.plainmod f True");
    }

    // ---- helpers ---------------------------------------------------------------------------------------

    /** Parses "80 05 'text' 94" (hex bytes and single-quoted UTF-8 strings). */
    static byte[] parseDump(String dump) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < dump.length()) {
            char c = dump.charAt(i);
            if (c == ' ') {
                i++;
            } else if (c == '\'') {
                int end = dump.indexOf('\'', i + 1);
                out.writeBytes(dump.substring(i + 1, end).getBytes(StandardCharsets.UTF_8));
                i = end + 1;
            } else {
                out.write(Integer.parseInt(dump.substring(i, i + 2), 16));
                i += 2;
            }
        }
        return out.toByteArray();
    }

    private static Object expectedTree(String cls, String module, String name) {
        Map<Object, Object> state = new LinkedHashMap<>();
        state.put("func", List.of("global", module, name));
        return List.of("build", List.of("newobj", List.of("global", Payloads.UDF_MODULE, cls), List.of()), state);
    }

    /**
     * A tiny, independent pickle machine for the opcodes the payload may contain; returns a tree of lists
     * (globals as ["global", m, n], NEWOBJ as ["newobj", cls, args], BUILD as ["build", obj, state]).
     * Checks the FRAME length and that MEMOIZE indices and the stack are consistent.
     */
    @SuppressWarnings("unchecked")
    static Object interpret(byte[] p) {
        Deque<Object> stack = new ArrayDeque<>();
        List<Object> memo = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int op = b.get() & 0xff;
            switch (op) {
                case 0x80 -> b.get();
                case 0x95 -> {
                    long len = b.getLong();
                    if (len != b.remaining()) {
                        throw new AssertionError("FRAME length " + len + " != remaining " + b.remaining());
                    }
                }
                case 0x8c, 0x58 -> {
                    int len = op == 0x8c ? (b.get() & 0xff) : b.getInt();
                    byte[] s = new byte[len];
                    b.get(s);
                    stack.push(new String(s, StandardCharsets.UTF_8));
                }
                case 0x94 -> memo.add(stack.peek());
                case 0x93 -> {
                    Object n = stack.pop();
                    Object m = stack.pop();
                    stack.push(List.of("global", m, n));
                }
                case 0x29 -> stack.push(List.of());
                case 0x81 -> {
                    Object args = stack.pop();
                    Object cls = stack.pop();
                    stack.push(List.of("newobj", cls, args));
                }
                case 0x7d -> stack.push(new LinkedHashMap<>());
                case 0x73 -> {
                    Object v = stack.pop();
                    Object k = stack.pop();
                    ((Map<Object, Object>) stack.peek()).put(k, v);
                }
                case 0x62 -> {
                    Object state = stack.pop();
                    Object obj = stack.pop();
                    stack.push(List.of("build", obj, state));
                }
                case 0x2e -> {
                    if (b.hasRemaining() || stack.size() != 1) {
                        throw new AssertionError("STOP with " + b.remaining() + " bytes left, stack " + stack);
                    }
                    // cloudpickle memoizes: 2 class strings, the class, the object, the dict, 'func', module, name, function
                    if (memo.size() != 9) {
                        throw new AssertionError("expected 9 MEMOIZE opcodes, got " + memo.size());
                    }
                    return stack.pop();
                }
                default -> throw new AssertionError(String.format("unexpected opcode 0x%02x", op));
            }
        }
        throw new AssertionError("no STOP");
    }
}
