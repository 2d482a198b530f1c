"""The main job's SQL, shared by scripts/demo.py and scripts/bench_embed.py:
ah_embed over the account holders and txn_embed over the transactions of
scripts/gen_sample_data.py (JSON lines in `data`), embeddings written as JSON
lines to out_ah / out_tx, one statement set. The functions are declared as
for the stock Python worker (`LANGUAGE PYTHON`, module and function name).
"""


def statement_set(t_env, data, out_ah, out_tx):
    """Declares the functions and tables on t_env and returns the job's
    statement set (not yet executed)."""
    t_env.execute_sql("CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON")
    t_env.execute_sql("CREATE TEMPORARY FUNCTION txn_embed AS 'udfs.txn_embed_udf.txn_embed' LANGUAGE PYTHON")
    t_env.execute_sql(f"""
        CREATE TABLE accountholders (
          account_id STRING, name STRING, address STRING, city STRING, country STRING,
          nationality STRING, occupation STRING, segment STRING, date_of_birth DATE
        ) WITH ('connector' = 'filesystem', 'path' = '{data}/accountholders.jsonl', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE transactions (
          txn_id STRING, account_id STRING, merchant STRING, mcc STRING, amount DECIMAL(12, 2),
          currency STRING, channel STRING, country STRING, description STRING, event_time TIMESTAMP(3)
        ) WITH ('connector' = 'filesystem', 'path' = '{data}/transactions.jsonl', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE ah_embeddings (account_id STRING, embedding ARRAY<FLOAT>)
        WITH ('connector' = 'filesystem', 'path' = '{out_ah}', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE txn_embeddings (txn_id STRING, account_id STRING, embedding ARRAY<FLOAT>)
        WITH ('connector' = 'filesystem', 'path' = '{out_tx}', 'format' = 'json')""")
    stmts = t_env.create_statement_set()
    stmts.add_insert_sql("""
        INSERT INTO ah_embeddings
        SELECT account_id, ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth)
        FROM accountholders""")
    stmts.add_insert_sql("""
        INSERT INTO txn_embeddings
        SELECT txn_id, account_id,
               txn_embed(merchant, mcc, amount, currency, channel, country, description, event_time)
        FROM transactions""")
    return stmts
