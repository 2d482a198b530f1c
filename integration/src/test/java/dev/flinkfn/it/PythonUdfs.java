package dev.flinkfn.it;

import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.functions.python.PythonEnv;
import org.apache.flink.table.functions.python.PythonFunctionKind;
import org.apache.flink.table.functions.python.PythonScalarFunction;
import org.apache.flink.table.functions.python.PythonTableFunction;
import org.apache.flink.table.types.DataType;

/**
 * Registers Python UDFs from Java without Python (spec §8.4): a {@link PythonScalarFunction} /
 * {@link PythonTableFunction} with a by-reference pickle payload ({@link Payloads}) naming a module and
 * function, executed in PROCESS mode by whatever {@code python.executable} points at (the flinkfn binary).
 *
 * <p>The constructors used here have the same signature in Flink 1.20.3 and 2.3.0.
 */
public final class PythonUdfs {
    /** Module of the worker's built-in functions. */
    public static final String BUILTIN = "udfs.builtin";

    private PythonUdfs() {}

    /**
     * Creates a scalar function.
     *
     * @param inputs declared argument types, or {@code null} for untyped arguments (what PyFlink does for
     *     {@code @udf} without {@code input_types}; needed for {@code Table.map} with takesRowAsInput)
     */
    public static PythonScalarFunction scalar(
            String sqlName, String module, String pyName, DataType[] inputs, DataType result, boolean takesRowAsInput) {
        return new PythonScalarFunction(
                sqlName,
                Payloads.scalar(module, pyName),
                inputs,
                result,
                PythonFunctionKind.GENERAL,
                true,
                takesRowAsInput,
                new PythonEnv(PythonEnv.ExecType.PROCESS));
    }

    /** Creates a table function; {@code result} is the ROW type of the emitted rows. */
    public static PythonTableFunction table(
            String sqlName, String module, String pyName, DataType[] inputs, DataType result, boolean takesRowAsInput) {
        return new PythonTableFunction(
                sqlName,
                Payloads.table(module, pyName),
                inputs,
                result,
                PythonFunctionKind.GENERAL,
                true,
                takesRowAsInput,
                new PythonEnv(PythonEnv.ExecType.PROCESS));
    }

    /** Registers a scalar function as a temporary system function named {@code sqlName}. */
    public static void register(
            TableEnvironment tEnv, String sqlName, String module, String pyName, DataType[] inputs, DataType result) {
        tEnv.createTemporarySystemFunction(sqlName, scalar(sqlName, module, pyName, inputs, result, false));
    }

    /** Registers a scalar function that takes the whole input row (takes_row_as_input). */
    public static void registerRowFunction(
            TableEnvironment tEnv, String sqlName, String module, String pyName, DataType[] inputs, DataType result) {
        tEnv.createTemporarySystemFunction(sqlName, scalar(sqlName, module, pyName, inputs, result, true));
    }

    /** Registers a table function as a temporary system function named {@code sqlName}. */
    public static void registerTable(
            TableEnvironment tEnv, String sqlName, String module, String pyName, DataType[] inputs, DataType result) {
        tEnv.createTemporarySystemFunction(sqlName, table(sqlName, module, pyName, inputs, result, false));
    }

    /** Registers {@code udfs.builtin.<pyName>} as scalar function {@code sqlName}. */
    public static void builtin(TableEnvironment tEnv, String sqlName, String pyName, DataType result, DataType... inputs) {
        register(tEnv, sqlName, BUILTIN, pyName, inputs, result);
    }

    /** Registers {@code udfs.builtin.<pyName>} as table function {@code sqlName}. */
    public static void builtinTable(TableEnvironment tEnv, String sqlName, String pyName, DataType result, DataType... inputs) {
        registerTable(tEnv, sqlName, BUILTIN, pyName, inputs, result);
    }
}
