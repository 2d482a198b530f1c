"""A PyFlink job script written the way teams write them, run with flinkfn as
python.executable: its functions are defined here, in __main__. Each case
runs one query and records the job failure's text (test_errors.py asserts
on it).

    errors_job.py --executable FLINKFN --out results.json

Cases: ``main_udf`` (a row-at-a-time @udf defined in this script),
``pandas_udf`` (a pandas @udf of a function flinkfn knows, udfs.builtin.upper,
declared with func_type="pandas", which runs), ``thread_mode`` (python.execution-mode:
thread; last, since PEMJA's failure stays in the JVM).
"""

import argparse
import json
import os
import sys
import traceback

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import udf


@udf(result_type=DataTypes.STRING())
def shout(s):
    return None if s is None else s.upper() + "!"


def _error_text(exc):
    parts = ["%s: %s" % (type(exc).__name__, exc)]
    parts.append(traceback.format_exc())
    return "\n".join(parts)


def _env(executable, mode):
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("restart-strategy.type", "none")
    conf.set("python.executable", executable)
    conf.set("python.execution-mode", mode)
    t_env.create_temporary_view("src", t_env.from_elements([(1, "a"), (2, "b")], ["k", "s"]))
    return t_env


def _run(t_env, fn):
    t_env.create_temporary_function("f", fn)
    with t_env.execute_sql("SELECT k, f(s) FROM src").collect() as it:
        return [list(r) for r in it]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executable", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    # Real worker processes (python.executable), not PyFlink's in-client loopback workers.
    os.environ["_python_worker_execution_mode"] = "process"

    from udfs.builtin import upper
    # A function flinkfn knows (udfs.builtin.upper, pickled by reference) declared as a pandas UDF.
    upper_pandas = udf(upper._func, result_type=DataTypes.STRING(), func_type="pandas")
    cases = [
        ("main_udf", "process", shout),
        ("pandas_udf", "process", upper_pandas),
        ("thread_mode", "thread", shout),
    ]
    results = {}
    for name, mode, fn in cases:
        try:
            results[name] = {"rows": _run(_env(a.executable, mode), fn)}
        except Exception as e:
            results[name] = {"error": _error_text(e)}
        print("[errors_job] %s: %s" % (name, "ok" if "rows" in results[name] else "failed"), file=sys.stderr, flush=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
