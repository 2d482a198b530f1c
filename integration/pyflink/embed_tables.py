"""What the embedding jobs of test_embed_ddl.py (embed_ddl_job.py) and
test_pandas_embed.py (pandas_embed_job.py) share: the golden rows written as
JSON-lines tables (test side) and the job's configuration and table DDL
(job side).

Tables under DATA_DIR: ah.jsonl (account holders, ah_embed's arguments),
txn.jsonl (transactions, txn_embed's), texts.jsonl ({k, text}, embed's).
"""

import json
import os
import sys


def write_tables(d, rows, null_txn=False):
    """Writes the golden rows (inference/testdata/golden-minilm.jsonl.gz) as
    the three tables under d, plus an all-NULL account holder, a NULL text
    and, with null_txn, an all-NULL transaction. Returns {(q, k): vector or
    None}, the expected result of every row (q: ah, txn or texts)."""
    want = {}
    with open(os.path.join(d, "ah.jsonl"), "w", encoding="utf-8") as ah, \
            open(os.path.join(d, "txn.jsonl"), "w", encoding="utf-8") as txn, \
            open(os.path.join(d, "texts.jsonl"), "w", encoding="utf-8") as texts:
        for i, e in enumerate(rows):
            if e.get("fn") == "ah_embed":
                ah.write(json.dumps(e["row"], ensure_ascii=False) + "\n")
                want[("ah", e["row"]["account_id"])] = e["vector"]
            elif e.get("fn") == "txn_embed":
                txn.write(json.dumps(e["row"], ensure_ascii=False) + "\n")
                want[("txn", e["row"]["txn_id"])] = e["vector"]
            else:
                texts.write(json.dumps({"k": f"t{i}", "text": e["text"]}, ensure_ascii=False) + "\n")
                want[("texts", f"t{i}")] = e["vector"]
        ah.write(json.dumps({"account_id": "all-null", "country": "  "}) + "\n")
        want[("ah", "all-null")] = None
        if null_txn:
            txn.write(json.dumps({"txn_id": "all-null"}) + "\n")
            want[("txn", "all-null")] = None
        texts.write(json.dumps({"k": "null", "text": None}) + "\n")
        want[("texts", "null")] = None
    return want


def table_env(data):
    """A batch TableEnvironment whose Python worker is $FLINKFN_BIN (PROCESS
    mode, parallelism 2) with the tables ah, txn and texts over data."""
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
    return t_env
