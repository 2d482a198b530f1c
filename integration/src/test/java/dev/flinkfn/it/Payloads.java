package dev.flinkfn.it;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * Builds the by-reference pickle payload that PyFlink's cloudpickle produces for
 * {@code DelegatingScalarFunction(f)} / {@code DelegationTableFunction(f)} when {@code f} is a plain
 * function of an importable module (spec §8.2, "96 bytes" for {@code pkg.plainmod.f}).
 *
 * <pre>
 * PROTO p [FRAME len8]
 * SHORT_BINUNICODE 'pyflink.table.udf' MEMOIZE
 * SHORT_BINUNICODE &lt;delegate class&gt; MEMOIZE STACK_GLOBAL MEMOIZE
 * EMPTY_TUPLE NEWOBJ MEMOIZE
 * EMPTY_DICT MEMOIZE
 * SHORT_BINUNICODE 'func' MEMOIZE
 * SHORT_BINUNICODE &lt;module&gt; MEMOIZE SHORT_BINUNICODE &lt;name&gt; MEMOIZE STACK_GLOBAL MEMOIZE
 * SETITEM BUILD STOP
 * </pre>
 *
 * Strings longer than 255 UTF-8 bytes use BINUNICODE (4-byte little-endian length), as Python's pickler does.
 */
public final class Payloads {
    public static final String UDF_MODULE = "pyflink.table.udf";
    public static final String SCALAR_DELEGATE = "DelegatingScalarFunction";
    public static final String TABLE_DELEGATE = "DelegationTableFunction";

    // Pickle opcodes (CPython Lib/pickle.py).
    static final int PROTO = 0x80;
    static final int FRAME = 0x95;
    static final int SHORT_BINUNICODE = 0x8c;
    static final int BINUNICODE = 0x58; // 'X'
    static final int MEMOIZE = 0x94;
    static final int STACK_GLOBAL = 0x93;
    static final int EMPTY_TUPLE = 0x29; // ')'
    static final int NEWOBJ = 0x81;
    static final int EMPTY_DICT = 0x7d; // '}'
    static final int SETITEM = 0x73; // 's'
    static final int BUILD = 0x62; // 'b'
    static final int STOP = 0x2e; // '.'

    private Payloads() {}

    /** Scalar payload, protocol 5 with FRAME (what cloudpickle emits). */
    public static byte[] scalar(String module, String name) {
        return byReference(SCALAR_DELEGATE, module, name, 5, true);
    }

    /** Table-function payload, protocol 5 with FRAME. */
    public static byte[] table(String module, String name) {
        return byReference(TABLE_DELEGATE, module, name, 5, true);
    }

    /**
     * @param delegateClass class in {@code pyflink.table.udf}: {@link #SCALAR_DELEGATE} or {@link #TABLE_DELEGATE}
     * @param module Python module of the function, e.g. {@code udfs.builtin}
     * @param name qualified name of the function in that module, e.g. {@code upper}
     * @param protocol 4 or 5
     * @param framed whether to emit a FRAME opcode with the length of the rest of the pickle
     */
    public static byte[] byReference(String delegateClass, String module, String name, int protocol, boolean framed) {
        if (protocol != 4 && protocol != 5) {
            throw new IllegalArgumentException("protocol must be 4 or 5, got " + protocol);
        }
        requireNonEmpty(delegateClass, "delegateClass");
        requireNonEmpty(module, "module");
        requireNonEmpty(name, "name");

        ByteArrayOutputStream body = new ByteArrayOutputStream(128);
        unicode(body, UDF_MODULE);
        body.write(MEMOIZE);
        unicode(body, delegateClass);
        body.write(MEMOIZE);
        body.write(STACK_GLOBAL);
        body.write(MEMOIZE);
        body.write(EMPTY_TUPLE);
        body.write(NEWOBJ);
        body.write(MEMOIZE);
        body.write(EMPTY_DICT);
        body.write(MEMOIZE);
        unicode(body, "func");
        body.write(MEMOIZE);
        unicode(body, module);
        body.write(MEMOIZE);
        unicode(body, name);
        body.write(MEMOIZE);
        body.write(STACK_GLOBAL);
        body.write(MEMOIZE);
        body.write(SETITEM);
        body.write(BUILD);
        body.write(STOP);
        byte[] rest = body.toByteArray();

        ByteArrayOutputStream out = new ByteArrayOutputStream(rest.length + 11);
        out.write(PROTO);
        out.write(protocol);
        if (framed) {
            out.write(FRAME);
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(rest.length).array());
        }
        out.writeBytes(rest);
        return out.toByteArray();
    }

    /** Lower-case hex without separators, for diagnostics. */
    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    private static void unicode(ByteArrayOutputStream out, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        if (utf8.length < 256) {
            out.write(SHORT_BINUNICODE);
            out.write(utf8.length);
        } else {
            out.write(BINUNICODE);
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
        }
        out.writeBytes(utf8);
    }

    private static void requireNonEmpty(String s, String what) {
        if (s == null || s.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty");
        }
    }
}
