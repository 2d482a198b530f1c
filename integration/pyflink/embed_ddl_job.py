"""PyFlink job for test_embed_ddl.py: SQL DDL `LANGUAGE PYTHON` embedding
functions (udfs.ah_embed_udf.ah_embed, udfs.txn_embed_udf.txn_embed,
udfs.embed_udf.embed) over JSON-lines tables, worker = $FLINKFN_BIN.

    python embed_job.py DATA_DIR  ->  stdout: one JSON object per result row
"""

import json
import os
import sys


def main():
    data = sys.argv[1]
    os.environ["_python_worker_execution_mode"] = "process"
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", os.environ["FLINKFN_BIN"])
    conf.set("python.client.executable", sys.executable)
    conf.set("parallelism.default", "2")
    # flinkfn (PROCESS mode) enforces its budget = the slot's managed memory
    # for Python: framework 64 MiB + buffer 15 MiB + the model (~415 MiB fp32)
    # must fit, and the MiniCluster's default is 128m for both slots. 640m a
    # slot (accounting only for Python in a MiniCluster).
    conf.set("taskmanager.memory.managed.size", "1280m")
    for name, mod in [("ah_embed", "ah_embed_udf"), ("txn_embed", "txn_embed_udf"), ("embed", "embed_udf")]:
        t_env.execute_sql(f"CREATE TEMPORARY FUNCTION {name} AS 'udfs.{mod}.{name}' LANGUAGE PYTHON")
    t_env.execute_sql(f"""
        CREATE TABLE ah (account_id STRING, name STRING, address STRING, city STRING, country STRING,
          nationality STRING, occupation STRING, segment STRING, date_of_birth DATE)
        WITH ('connector' = 'filesystem', 'path' = '{data}/ah.jsonl', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE txn (txn_id STRING, account_id STRING, merchant STRING, mcc STRING, amount DECIMAL(12, 2),
          currency STRING, channel STRING, country STRING, description STRING, event_time TIMESTAMP(3))
        WITH ('connector' = 'filesystem', 'path' = '{data}/txn.jsonl', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE texts (k STRING, text STRING)
        WITH ('connector' = 'filesystem', 'path' = '{data}/texts.jsonl', 'format' = 'json')""")
    queries = {
        "ah": "SELECT account_id, ah_embed(name, address, city, country, nationality, occupation, segment, "
              "date_of_birth) FROM ah",
        "txn": "SELECT txn_id, txn_embed(merchant, mcc, amount, currency, channel, country, description, "
               "event_time) FROM txn",
        "texts": "SELECT k, embed(text) FROM texts",
    }
    for q, sql in queries.items():
        with t_env.execute_sql(sql).collect() as rows:
            for r in rows:
                print(json.dumps({"q": q, "k": r[0], "v": None if r[1] is None else list(r[1])}), flush=True)


if __name__ == "__main__":
    main()
