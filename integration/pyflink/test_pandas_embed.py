"""The embedding functions declared pandas-style (func_type="pandas": SQL DDL
udfs.*_udf.*_embed_pandas and Table API udf(embed._func, ...,
func_type="pandas")) run on flinkfn and equal sentence-transformers (golden
fixture, cosine >= 0.99999) with Arrow batches of 1, 7 and 1000 rows; NULL
rows give NULL; the row-at-a-time embed in the same SELECT gives the same
vectors (cosine >= 0.99999); the batch sizes give identical vectors. (The Python stubs' pandas
path is checked against the same fixture with real sentence-transformers by
make bench-pandas, and without PyTorch by test_pandas_py.py.)
"""

import json
import os
import subprocess

import embed_tables
from pyflinkrun import HERE, REPO, VENV_PYTHON, FLINKFN_BIN, TARGET, run_logged
from test_embed_ddl import cosine, golden

BATCH_SIZES = (1, 7, 1000)


def test_pandas_embeddings_equal_sentence_transformers(tmp_path):
    assert FLINKFN_BIN.is_file(), "flinkfn binary not found at %s (make build)" % FLINKFN_BIN
    want = embed_tables.write_tables(tmp_path, golden(), null_txn=True)
    TARGET.mkdir(exist_ok=True)
    log = TARGET / "pandas-embed.log"
    env = dict(os.environ, FLINKFN_BIN=str(FLINKFN_BIN),
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    rc = run_logged([str(VENV_PYTHON), str(HERE / "pandas_embed_job.py"), str(tmp_path),
                     ",".join(map(str, BATCH_SIZES))], env, REPO, log)
    assert rc == 0, "pandas_embed_job.py failed (%s), see %s:\n%s" % (rc, log, log.read_text()[-4000:])
    got = {bs: {} for bs in BATCH_SIZES}
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith('{"bs"'):
            r = json.loads(line)
            key = (r["q"], r["k"])
            assert key not in got[r["bs"]], f"duplicate row {key} at batch size {r['bs']}"
            got[r["bs"]][key] = r
    worst, spread = 1.0, 0.0
    for bs in BATCH_SIZES:
        assert set(got[bs]) == set(want), "batch size %d: rows %s missing, %s extra" % (
            bs, sorted(set(want) - set(got[bs]))[:5], sorted(set(got[bs]) - set(want))[:5])
        for k, v in want.items():
            r = got[bs][k]
            if v is None:
                assert r["v"] is None, (bs, k)
                continue
            assert r["v"] is not None and len(r["v"]) == 384, (bs, k)
            c = cosine(v, r["v"])
            worst = min(worst, c)
            assert c >= 0.99999, (bs, k, c)
            if k[0] == "texts":
                # The row-at-a-time embed in the same SELECT.
                assert cosine(r["v_row"], r["v"]) >= 0.99999, (bs, k)
            # Every batch size gives the same vector as batches of 1, bit for bit.
            ref = got[BATCH_SIZES[0]][k]["v"]
            spread = max(spread, max(abs(a - b) for a, b in zip(ref, r["v"])))
            assert r["v"] == ref, (bs, k, spread)
        assert got[bs][("texts", "null")]["v_row"] is None
    print("%d vectors x %d batch sizes, min cosine to sentence-transformers %.8f, max |difference| between "
          "batch sizes %.3g" % (sum(v is not None for v in want.values()), len(BATCH_SIZES), worst, spread))
