"""PyFlink job for test_pandas_embed.py: the embedding functions declared
pandas-style (func_type="pandas") over JSON-lines tables, worker = $FLINKFN_BIN.

    python pandas_embed_job.py DATA_DIR BATCH_SIZE[,BATCH_SIZE...]
      ->  stdout: one JSON object per result row {"bs", "q", "k", "v", "v_row"}

ah_embed and txn_embed are declared in SQL DDL (udfs.*_udf.*_embed_pandas),
embed in the Table API (udf(embed._func, ..., func_type="pandas")); the
texts query also calls the row-at-a-time embed in the same SELECT (v_row).
One job per python.fn-execution.arrow.batch.size. The tables and the
configuration are embed_tables.py's.
"""

import json
import sys

import embed_tables


def main():
    data, batch_sizes = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
    t_env = embed_tables.table_env(data)
    conf = t_env.get_config()
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    from udfs import embed_udf

    for name, mod in [("ah_embed", "ah_embed_udf"), ("txn_embed", "txn_embed_udf")]:
        t_env.execute_sql(f"CREATE TEMPORARY FUNCTION {name}_p AS 'udfs.{mod}.{name}_pandas' LANGUAGE PYTHON")
    t_env.create_temporary_function(
        "embed_p", udf(embed_udf.embed._func, result_type=DataTypes.ARRAY(DataTypes.FLOAT()), func_type="pandas"))
    t_env.execute_sql("CREATE TEMPORARY FUNCTION embed_row AS 'udfs.embed_udf.embed' LANGUAGE PYTHON")
    sql = """
        SELECT 'ah' AS q, account_id AS k,
               ah_embed_p(name, address, city, country, nationality, occupation, segment, date_of_birth) AS v,
               CAST(NULL AS ARRAY<FLOAT>) AS v_row
        FROM ah
        UNION ALL
        SELECT 'txn', txn_id,
               txn_embed_p(merchant, mcc, amount, currency, channel, country, description, event_time),
               CAST(NULL AS ARRAY<FLOAT>)
        FROM txn
        UNION ALL
        SELECT 'texts', k, embed_p(text), embed_row(text) FROM texts"""
    for bs in batch_sizes:
        conf.set("python.fn-execution.arrow.batch.size", str(bs))
        with t_env.execute_sql(sql).collect() as rows:
            for r in rows:
                print(json.dumps({"bs": bs, "q": r[0], "k": r[1], "v": None if r[2] is None else list(r[2]),
                                  "v_row": None if r[3] is None else list(r[3])}), flush=True)


if __name__ == "__main__":
    main()
