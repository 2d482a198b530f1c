"""Real clients of the embedding API: the OpenAI Python SDK and curl against
a running `flinkfn serve`, vectors compared with sentence-transformers'
(inference/testdata/golden-minilm.jsonl.gz).

Run with `make test-http-clients` (the binary from `make build`, the SDK from
scripts/setup/setup.sh's .cache/venv-openai). Environment: FLINKFN_BIN (default
.cache/bin/flinkfn), FLINKFN_HOME (default .cache).
"""

import base64
import gzip
import json
import math
import os
import socket
import struct
import subprocess
import time
import urllib.request

import openai
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FLINKFN_BIN", os.path.join(ROOT, ".cache", "bin", "flinkfn"))
HOME = os.environ.get("FLINKFN_HOME", os.path.join(ROOT, ".cache"))
GOLDEN = os.path.join(ROOT, "inference", "testdata", "golden-minilm.jsonl.gz")
MODEL = "all-MiniLM-L6-v2"
KEY = "test-key-7f3a"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(BIN):
        pytest.fail("%s is missing: run `make build`" % BIN)
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = dict(os.environ, FLINKFN_HOME=HOME)
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:%d" % port, "--api-key", KEY,
                                 "--memory-limit", "0"], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = "http://127.0.0.1:%d" % port
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("flinkfn serve exited %s:\n%s" % (proc.returncode, log.read_text()))
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("flinkfn serve not ready in 120s:\n%s" % log.read_text())
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        assert rc == 0, "flinkfn serve exit status %s after SIGTERM:\n%s" % (rc, log.read_text())


@pytest.fixture(scope="module")
def golden():
    texts, vecs = [], []
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            if g.get("text"):
                texts.append(g["text"])
                vecs.append(g["vector"])
            if len(texts) == 64:
                break
    return texts, vecs


def cosine(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def assert_close(got, want, what):
    assert len(got) == len(want), what
    worst = min(cosine(g, w) for g, w in zip(got, want))
    assert worst >= 0.99999, "%s: worst cosine to sentence-transformers %.7f" % (what, worst)
    return worst


@pytest.mark.parametrize("encoding", [None, "float", "base64"])
def test_openai_sdk(server, golden, encoding):
    texts, want = golden
    client = openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)
    got = []
    for i in range(0, len(texts), 32):
        kw = {} if encoding is None else {"encoding_format": encoding}
        resp = client.embeddings.create(model=MODEL, input=texts[i:i + 32], **kw)
        assert resp.model == MODEL
        assert [d.index for d in resp.data] == list(range(len(texts[i:i + 32])))
        assert resp.usage.prompt_tokens >= 3 * len(texts[i:i + 32])
        if encoding == "base64":  # asked for explicitly, the SDK leaves it encoded
            got += [list(struct.unpack("<%df" % (len(base64.b64decode(d.embedding)) // 4), base64.b64decode(d.embedding)))
                    for d in resp.data]
        else:
            got += [d.embedding for d in resp.data]
    assert_close(got, want, "openai SDK, encoding_format=%s" % encoding)


def test_openai_sdk_errors(server):
    bad = openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.embeddings.create(model=MODEL, input="x")
    assert "Authorization: Bearer" in str(e.value)
    client = openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL, input=["t"] * 33)
    assert "at most 32" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert "no model named" in str(e.value)
    assert [m.id for m in client.models.list()] == [MODEL]


def curl(server, path, body=None, key=KEY):
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", server + path]
    if key:
        args += ["-H", "Authorization: Bearer " + key]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    out = subprocess.run(args, input=None if body is None else json.dumps(body).encode(), capture_output=True, check=True).stdout
    text, _, code = out.decode().rpartition("\n")
    return int(code), text


def test_curl(server, golden):
    texts, want = golden
    code, text = curl(server, "/embed", {"inputs": texts[:32]})
    assert code == 200, text
    assert_close(json.loads(text), want[:32], "curl /embed")
    code, text = curl(server, "/v1/embeddings", {"model": MODEL, "input": texts[32:64]})
    assert code == 200, text
    assert_close([d["embedding"] for d in json.loads(text)["data"]], want[32:64], "curl /v1/embeddings")
    code, text = curl(server, "/health", key=None)
    assert code == 200 and json.loads(text)["model"] == MODEL, text
    code, text = curl(server, "/info")
    assert code == 200 and json.loads(text)["max_input_length"] == 256, text
    for path, body, status, kind in [
        ("/embed", {"inputs": []}, 400, "empty_input"),
        ("/embed", {"inputs": "x" * 3_000_000}, 413, "payload_too_large"),
        ("/embed", {"inputs": "word " * 400, "truncate": False}, 422, "input_too_long"),
        ("/v1/embeddings", {"input": "x", "encoding_format": "int8"}, 400, "invalid_input"),
    ]:
        code, text = curl(server, path, body)
        assert code == status, (path, body if len(json.dumps(body)) < 200 else "...", text)
        err = json.loads(text)
        assert err["message"], text
        assert (err["error"]["type"] if path.startswith("/v1/") else err["error"]) == kind, text
    code, text = curl(server, "/embed", {"inputs": "x"}, key=None)
    assert code == 401 and json.loads(text)["error"] == "unauthorized", text
