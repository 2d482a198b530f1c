"""The main job's SQL, shared by scripts/devlab/demo.py and scripts/bench/bench_embed.py:
ah_embed over the account holders and txn_embed over the transactions of
scripts/fixtures/gen_sample_data.py (JSON lines in `data`), embeddings written as JSON
lines to out_ah / out_tx, one statement set. The functions are declared as
for the stock Python worker (`LANGUAGE PYTHON`, module and function name).

Managed memory: in PROCESS mode flinkfn enforces its memory budget, Flink's
managed memory for Python per slot (_PYTHON_WORKER_MEMORY_LIMIT): framework
(64 MiB) + buffer (15 MiB) + the model's measured footprint (~415 MiB fp32
after warm-up) must fit. PyFlink's local MiniCluster defaults to 128 MiB of
managed memory for the whole TaskManager (64 MiB a slot at parallelism 2),
so every job that runs flinkfn sets taskmanager.memory.managed.size with
managed_memory_size(). For Python in a MiniCluster it is accounting only:
nothing is allocated up front.
"""

# Managed memory per slot for jobs running flinkfn (see above): ~495 MiB
# needed for fp32, rounded up with headroom.
MANAGED_PER_SLOT_MIB = 640


def managed_memory_size(parallelism, per_slot_mib=MANAGED_PER_SLOT_MIB):
    """taskmanager.memory.managed.size for a local MiniCluster whose
    TaskManager has `parallelism` slots: per_slot_mib for every slot."""
    return "%dm" % (max(1, int(parallelism)) * int(per_slot_mib))


def statement_set(t_env, data, out_ah, out_tx, ah_path=None, tx_path=None):
    """Declares the functions and tables on t_env and returns the job's
    statement set (not yet executed). The inputs are
    {data}/accountholders.jsonl and {data}/transactions.jsonl unless ah_path
    / tx_path name other files or folders (a folder of JSON-lines files: the
    filesystem source makes a split of each, so several source subtasks get
    rows; scripts/bench/bench_embed.py's 6-slot cases)."""
    ah_path = ah_path or f"{data}/accountholders.jsonl"
    tx_path = tx_path or f"{data}/transactions.jsonl"
    t_env.execute_sql("CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON")
    t_env.execute_sql("CREATE TEMPORARY FUNCTION txn_embed AS 'udfs.txn_embed_udf.txn_embed' LANGUAGE PYTHON")
    t_env.execute_sql(f"""
        CREATE TABLE accountholders (
          account_id STRING, name STRING, address STRING, city STRING, country STRING,
          nationality STRING, occupation STRING, segment STRING, date_of_birth DATE
        ) WITH ('connector' = 'filesystem', 'path' = '{ah_path}', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE transactions (
          txn_id STRING, account_id STRING, merchant STRING, mcc STRING, amount DECIMAL(12, 2),
          currency STRING, channel STRING, country STRING, description STRING, event_time TIMESTAMP(3)
        ) WITH ('connector' = 'filesystem', 'path' = '{tx_path}', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE ah_embeddings (account_id STRING, embedding ARRAY<FLOAT>)
        WITH ('connector' = 'filesystem', 'path' = '{out_ah}', 'format' = 'json')""")
    t_env.execute_sql(f"""
        CREATE TABLE txn_embeddings (txn_id STRING, account_id STRING, embedding ARRAY<FLOAT>)
        WITH ('connector' = 'filesystem', 'path' = '{out_tx}', 'format' = 'json')""")
    return inserts(t_env)


def inserts(t_env):
    """The job's two INSERTs on a new statement set of t_env, over the
    functions and tables as declared there now (scripts/bench/bench_pandas.py
    declares the functions pandas-style and takes the same INSERTs)."""
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
