"""PyFlink job for test_defaults.py: a local run on PyFlink's defaults (no
taskmanager.memory.* settings, no _python_worker_execution_mode, so PyFlink
runs its loopback worker pool in the client) with python.executable =
$FLINKFN_BIN. Functions are registered with SQL DDL (`CREATE TEMPORARY
FUNCTION ... LANGUAGE PYTHON`).

    python defaults_job.py upper DATA OUT   # GROUP BY upper(name): COUNT, SUM
    python defaults_job.py embed DATA OUT   # embed(text)
    python defaults_job.py JOB DATA OUT key=value ...  # extra Flink settings

DATA is a JSON-lines file ({"name", "amount"} for upper, {"k", "text"} for
embed); OUT gets one JSON line per result row. Prints the loopback address
PyFlink set ("none" when it did not run in loopback mode).
"""

import json
import os
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment


def main():
    job, data, out = sys.argv[1:4]
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", os.environ["FLINKFN_BIN"])
    conf.set("python.client.executable", sys.executable)
    # One slot, one worker: keeps the run short. Memory stays at PyFlink's
    # local defaults.
    conf.set("parallelism.default", "1")
    for kv in sys.argv[4:]:
        k, v = kv.split("=", 1)
        conf.set(k, v)

    if job == "upper":
        t_env.execute_sql("CREATE TEMPORARY FUNCTION py_upper AS 'udfs.builtin.upper' LANGUAGE PYTHON")
        t_env.execute_sql(f"""
            CREATE TABLE src (name STRING, amount BIGINT)
            WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'json')""")
        # The aggregate takes managed memory in the slot (OPERATOR), so the
        # Python worker gets only PYTHON's share of it.
        sql = """SELECT u, COUNT(*) AS n, SUM(amount) AS total
                 FROM (SELECT py_upper(name) AS u, amount FROM src)
                 GROUP BY u"""
        conv = lambda r: {"u": r[0], "n": r[1], "total": r[2]}  # noqa: E731
    elif job == "embed":
        t_env.execute_sql("CREATE TEMPORARY FUNCTION embed AS 'udfs.embed_udf.embed' LANGUAGE PYTHON")
        t_env.execute_sql(f"""
            CREATE TABLE src (k STRING, text STRING)
            WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'json')""")
        sql = "SELECT k, embed(text) FROM src"
        conv = lambda r: {"k": r[0], "v": None if r[1] is None else list(r[1])}  # noqa: E731
    else:
        sys.exit("unknown job %r" % job)

    with open(out, "w", encoding="utf-8") as f, t_env.execute_sql(sql).collect() as rows:
        for r in rows:
            f.write(json.dumps(conv(r), ensure_ascii=False) + "\n")
    print("python.loopback-server.address:", conf.get("python.loopback-server.address", "none"), flush=True)


if __name__ == "__main__":
    main()
