"""The team's job: embeds account holders and transactions with its own
Python functions (udfs/ah_embed_udf.py, udfs/txn_embed_udf.py).

    python job.py --data DIR --out FILE [--register table-api|ddl] [--conf key=value ...]

DIR holds accountholders.jsonl and transactions.jsonl; FILE gets one JSON
line per result row: {"table", "key", "vector"}. The functions are
registered through the Table API (the decorated objects, imported from the
udfs package) or through SQL DDL (`CREATE TEMPORARY FUNCTION ... LANGUAGE
PYTHON`, the udfs folder shipped with python.files). Flink settings
(python.executable, memory, ...) come from --conf.
"""

import argparse
import json

from pyflink.table import EnvironmentSettings, TableEnvironment


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--register", choices=["table-api", "ddl"], default="table-api")
    ap.add_argument("--conf", action="append", default=[], help="Flink setting key=value")
    args = ap.parse_args()

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    for kv in args.conf:
        k, v = kv.split("=", 1)
        conf.set(k, v)

    if args.register == "table-api":
        from udfs.ah_embed_udf import ah_embed
        from udfs.txn_embed_udf import txn_embed
        t_env.create_temporary_function("ah_embed", ah_embed)
        t_env.create_temporary_function("txn_embed", txn_embed)
    else:
        t_env.execute_sql("CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON")
        t_env.execute_sql("CREATE TEMPORARY FUNCTION txn_embed AS 'udfs.txn_embed_udf.txn_embed' LANGUAGE PYTHON")

    t_env.execute_sql(f"""
        CREATE TABLE accountholders (account_id STRING, first_name STRING, last_name STRING, email STRING,
          country STRING, balance DECIMAL(12, 2), opened_at TIMESTAMP(3), active BOOLEAN)
        WITH ('connector' = 'filesystem', 'path' = '{args.data}/accountholders.jsonl', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE transactions (txn_id STRING, merchant STRING, amount DECIMAL(12, 2), currency STRING,
          fx_rate DECIMAL(18, 8), booked_at TIMESTAMP(3), note STRING)
        WITH ('connector' = 'filesystem', 'path' = '{args.data}/transactions.jsonl', 'format' = 'json')""")

    # One job for both functions.
    result = t_env.execute_sql("""
        SELECT 'ah' AS tbl, account_id AS k,
               ah_embed(first_name, last_name, email, country, balance, opened_at, active) AS v
        FROM accountholders
        UNION ALL
        SELECT 'txn', txn_id, txn_embed(merchant, amount, currency, fx_rate, booked_at, note)
        FROM transactions""")
    with open(args.out, "w", encoding="utf-8") as out, result.collect() as rows:
        for r in rows:
            out.write(json.dumps({"table": r[0], "key": r[1], "vector": None if r[2] is None else list(r[2])}) + "\n")
    # Set by PyFlink when it ran its loopback worker pool (local run without
    # _python_worker_execution_mode).
    print("python.loopback-server.address:", conf.get("python.loopback-server.address", "none"), flush=True)


if __name__ == "__main__":
    main()
