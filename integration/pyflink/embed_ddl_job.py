"""PyFlink job for test_embed_ddl.py: SQL DDL `LANGUAGE PYTHON` embedding
functions (udfs.ah_embed_udf.ah_embed, udfs.txn_embed_udf.txn_embed,
udfs.embed_udf.embed) over JSON-lines tables, worker = $FLINKFN_BIN.

    python embed_ddl_job.py DATA_DIR  ->  stdout: one JSON object per result row

The tables and the configuration are embed_tables.py's.
"""

import json
import sys

import embed_tables


def main():
    t_env = embed_tables.table_env(sys.argv[1])
    for name, mod in [("ah_embed", "ah_embed_udf"), ("txn_embed", "txn_embed_udf"), ("embed", "embed_udf")]:
        t_env.execute_sql(f"CREATE TEMPORARY FUNCTION {name} AS 'udfs.{mod}.{name}' LANGUAGE PYTHON")
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
