package dev.flinkfn.it;

import org.apache.flink.types.Row;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Exact comparison and rendering of Flink external values (floats bit-exact, arrays and maps deep). */
public final class Values {
    private Values() {}

    /**
     * Exact equality: floats/doubles by raw bits (so -0.0 != 0.0 and NaN == NaN), BigDecimal by value and
     * scale, arrays/maps/rows deep, row kinds included.
     */
    public static boolean same(Object a, Object b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a instanceof Float fa && b instanceof Float fb) {
            return Float.floatToRawIntBits(fa) == Float.floatToRawIntBits(fb);
        }
        if (a instanceof Double da && b instanceof Double db) {
            return Double.doubleToRawLongBits(da) == Double.doubleToRawLongBits(db);
        }
        if (a instanceof BigDecimal da && b instanceof BigDecimal db) {
            return da.equals(db);
        }
        if (a instanceof byte[] ba && b instanceof byte[] bb) {
            return Arrays.equals(ba, bb);
        }
        if (a instanceof Object[] oa && b instanceof Object[] ob) {
            if (oa.length != ob.length) {
                return false;
            }
            for (int i = 0; i < oa.length; i++) {
                if (!same(oa[i], ob[i])) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) {
                return false;
            }
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                if (!mb.containsKey(e.getKey()) || !same(e.getValue(), mb.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Row ra && b instanceof Row rb) {
            if (ra.getArity() != rb.getArity() || ra.getKind() != rb.getKind()) {
                return false;
            }
            for (int i = 0; i < ra.getArity(); i++) {
                if (!same(ra.getField(i), rb.getField(i))) {
                    return false;
                }
            }
            return true;
        }
        return a.getClass() == b.getClass() && a.equals(b);
    }

    /** Unambiguous text of a value (floats with their bits, byte arrays in hex, maps sorted). */
    public static String show(Object v) {
        if (v == null) {
            return "NULL";
        }
        if (v instanceof Float f) {
            return f + "f[0x" + Integer.toHexString(Float.floatToRawIntBits(f)) + "]";
        }
        if (v instanceof Double d) {
            return d + "d[0x" + Long.toHexString(Double.doubleToRawLongBits(d)) + "]";
        }
        if (v instanceof byte[] b) {
            return "x'" + HexFormat.of().formatHex(b) + "'";
        }
        if (v instanceof String s) {
            return '"' + s + '"';
        }
        if (v instanceof Object[] arr) {
            List<String> parts = new ArrayList<>();
            for (Object o : arr) {
                parts.add(show(o));
            }
            return "[" + String.join(", ", parts) + "]";
        }
        if (v instanceof Map<?, ?> m) {
            TreeMap<String, String> sorted = new TreeMap<>();
            m.forEach((k, x) -> sorted.put(show(k), show(x)));
            return sorted.toString();
        }
        if (v instanceof Row r) {
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < r.getArity(); i++) {
                parts.add(show(r.getField(i)));
            }
            return r.getKind().shortString() + "(" + String.join(", ", parts) + ")";
        }
        return v.getClass().getSimpleName() + ":" + v;
    }

    /** Text of a row for comparing result lists: kind and fields rendered with {@link #show}. */
    public static String showRow(Row r) {
        return show(r);
    }
}
