"""The main job: Flink SQL over sample account holders and transactions,
with every Python function served by the flinkfn Go worker.

Runs on a local Flink cluster (PyFlink's MiniCluster) with real worker
processes: _python_worker_execution_mode=process and python.executable =
the flinkfn binary. Until the embedding functions land, the job uses the
built-in text functions of udfs/builtin.py (upper, length, split_words).

Usage: make demo   (or .cache/venv/bin/python scripts/demo.py [--flinkfn PATH])
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flinkfn", default=os.path.join(ROOT, ".cache", "bin", "flinkfn"))
    args = ap.parse_args()
    if not os.access(args.flinkfn, os.X_OK):
        print(f"flinkfn binary not found at {args.flinkfn}: run `make build`", file=sys.stderr)
        return 1

    # Real worker processes launched by the TaskManager, not PyFlink's loopback threads.
    os.environ["_python_worker_execution_mode"] = "process"
    marker = tempfile.NamedTemporaryFile(prefix="flinkfn-demo-", suffix=".workers", delete=False).name
    os.environ["FLINKFN_MARKER_FILE"] = marker
    sys.path.insert(0, ROOT)

    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", os.path.abspath(args.flinkfn))
    conf.set("python.client.executable", sys.executable)
    conf.set("python.pythonpath", ROOT)
    conf.set("parallelism.default", "2")

    for name, target in [("upper_py", "upper"), ("length_py", "length"), ("split_words", "split_words")]:
        t_env.execute_sql(
            f"CREATE TEMPORARY FUNCTION {name} AS 'udfs.builtin.{target}' LANGUAGE PYTHON")

    t_env.execute_sql("""
        CREATE TEMPORARY VIEW accountholders (id, name, city, segment) AS VALUES
          (1, 'José Álvarez', 'Sevilla', 'retail'),
          (2, 'Anna Müller', 'München', 'private banking'),
          (3, 'Nguyễn Thị Lan', 'Hà Nội', 'retail'),
          (4, 'Łukasz Wójcik', 'Łódź', 'small business'),
          (5, 'Ångström AB', 'Uppsala', 'corporate')
    """)
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW transactions (id, holder_id, merchant, amount, description) AS VALUES
          (101, 1, 'Café Central', 4.50, 'coffee and croissant'),
          (102, 2, 'Bäckerei Schmidt', 12.80, 'bread rolls'),
          (103, 3, 'Grab', 7.25, 'ride to the airport'),
          (104, 4, 'Żabka', 23.10, 'groceries late evening'),
          (105, 5, 'SAS', 310.00, 'flight Stockholm Oslo')
    """)

    print("== account holders (upper_py, length_py)")
    with t_env.execute_sql("""
        SELECT id, upper_py(name) AS name_upper, length_py(name) AS name_len, upper_py(city) AS city
        FROM accountholders
    """).collect() as rows:
        for r in sorted(rows, key=lambda r: r[0]):
            print("  ", tuple(r))

    print("== transaction words (split_words, LEFT JOIN LATERAL)")
    with t_env.execute_sql("""
        SELECT t.id, upper_py(t.merchant) AS merchant, w.word
        FROM transactions AS t
        LEFT JOIN LATERAL TABLE(split_words(t.description)) AS w(word) ON TRUE
    """).collect() as rows:
        for r in sorted(rows, key=lambda r: (r[0], r[2] or "")):
            print("  ", tuple(r))

    with open(marker) as f:
        workers = [line.split() for line in f if line.strip()]
    os.unlink(marker)
    print(f"== served by {len(workers)} flinkfn worker process(es): pids {sorted({w[0] for w in workers})}")
    if not workers:
        print("flinkfn was not used as the worker", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
