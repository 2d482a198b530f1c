# flinkfn build, test and benchmark entry points. `make test` is the
# project's test command (CI runs it through .ci/run).
SHELL := /bin/bash
GO    ?= go
BIN   := .cache/bin/flinkfn
MVN   := mvn -B -ntp -f integration/pom.xml
FUZZTIME ?= 5m

.PHONY: all setup build soak test test-proto test-go test-memory test-http-clients test-tokenizer test-flinkconf test-integration test-integration-1.20 test-pyflink test-pyflink-1.20 demo \
        bench-harness bench bench-http bench-footprint bench-pandas bench-models bench-ort ref-venv fuzz proto vet \
        setup-gpu test-gpu-errors test-gpu bench-gpu

all: build

setup:
	scripts/setup/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/flinkfn

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The whole suite: Go unit tests, MiniCluster tests on Flink 2.x and 1.20,
# the PyFlink compatibility test, and devlab (checked statically, then run as
# a docker-less local cluster).
test: setup vet test-proto test-go test-memory test-tokenizer test-flinkconf test-http-clients test-integration test-integration-1.20 test-pyflink test-pyflink-1.20 devlab-check devlab-local

test-go:
	$(GO) test -race -count=1 ./...

# The pool's peak RSS under the worst input (6 sessions, every text 256
# tokens) stays within the budget Flink would plan for it; the real binary,
# built without the race detector.
test-memory: build
	FLINKFN_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run 'TestPoolRSSWithinBudgetUnderWorstInput' -v ./cmd/flinkfn

# Real clients of the embedding API against a running `flinkfn serve`: the
# OpenAI Python SDK (pinned in scripts/setup/openai-version, .cache/venv-openai)
# and curl; vectors equal sentence-transformers' goldens.
test-http-clients: build
	FLINKFN_BIN=$(CURDIR)/$(BIN) .cache/venv-openai/bin/python -m pytest -q -p no:cacheprovider integration/http

# Token ids against the real HuggingFace tokenizer, live: the fixtures are
# regenerated from Python `tokenizers` (WordPiece: all-MiniLM-L6-v2; Unigram:
# the tiny XLM-R tokenizer and its variants) and compared in Go (the committed
# fixtures are compared by test-go).
test-tokenizer:
	.cache/venv/bin/python scripts/fixtures/gen_tokenizer_fixture.py fixture .cache/models/all-MiniLM-L6-v2/tokenizer.json .cache/hf-ids-live.jsonl.gz
	.cache/venv/bin/python scripts/fixtures/gen_xlmr_fixture.py inference/testdata/models/tiny-xlmr/tokenizer.json .cache/hf-xlmr-ids-live.jsonl.gz \
		--graphemes .cache/hf-xlmr-graphemes-live.txt.gz --chars .cache/hf-xlmr-chars-live.txt.gz
	FLINKFN_TOKENIZER_FIXTURE=$(CURDIR)/.cache/hf-ids-live.jsonl.gz FLINKFN_XLMR_FIXTURE=$(CURDIR)/.cache/hf-xlmr-ids-live.jsonl.gz \
		FLINKFN_XLMR_GRAPHEMES=$(CURDIR)/.cache/hf-xlmr-graphemes-live.txt.gz FLINKFN_XLMR_CHARS=$(CURDIR)/.cache/hf-xlmr-chars-live.txt.gz \
		$(GO) test -count=1 -run 'TestMatchesHuggingFace|TestUnigramMatchesHuggingFace|TestPrecompiled' -v ./inference/tokenizer

# Our Flink payload proto vs the one PyFlink ships.
test-proto:
	.cache/venv/bin/python scripts/dev/check_proto.py

# Flink's own memory utilities vs flinkconf over the configuration corpus.
test-flinkconf:
	bash flinkconf/check-against-flink.sh

test-integration: build
	$(MVN) test

test-integration-1.20: build
	$(MVN) -Pflink-1.20 test

test-pyflink: build
	integration/pyflink/run.sh

# PyFlink 1.20 (.cache/venv-1.20, scripts/setup/setup.sh): a team's existing
# project, a local run on PyFlink's defaults, the refusals' messages and the
# Python stubs. (test_compat's table-function queries fail on the stock
# worker too: PyFlink 1.20 cannot plan udtf result_types given as a string.)
test-pyflink-1.20: build
	COMPAT_PYTHON=$(CURDIR)/.cache/venv-1.20/bin/python integration/pyflink/run.sh \
	  integration/pyflink/test_existing_project.py integration/pyflink/test_defaults.py \
	  integration/pyflink/test_errors.py integration/pyflink/test_builtin_py.py \
	  integration/pyflink/test_pandas.py integration/pyflink/test_pandas_py.py integration/pyflink/test_pandas_embed.py

# The main job: a local Flink cluster (PyFlink MiniCluster) running SQL
# through the flinkfn worker.
demo: setup
	.cache/venv/bin/python scripts/devlab/demo.py

bench-harness: setup
	BENCH_VIA_MAKE=1 .cache/venv/bin/python scripts/bench/bench_harness.py

# Embeddings: the demo's job on the stock PyFlink worker (Python reference
# UDFs) vs flinkfn fp32 and int8, and the Go engine alone; writes the
# "Embeddings" section of BENCHMARKS.md. BENCH_ARGS passes options, e.g.
# BENCH_ARGS="--accountholders 200 --transactions 1000 --no-write".
bench: setup ref-venv
	BENCH_VIA_MAKE=1 .cache/venv/bin/python scripts/bench/bench_embed.py $(BENCH_ARGS)

# The embedding API under load (1/16/64 clients) next to `flinkfn embed`
# alone and a gunicorn + sentence-transformers API (scripts/bench/st_api.py, in the
# ref venv); writes the "HTTP API" section of BENCHMARKS.md (a benchmark, not a test).
bench-http: setup build ref-venv
	python3 scripts/bench/bench_http.py $(BENCH_ARGS)

# 30 minutes (SOAK_SECONDS) of mixed load against one pool: the devlab job
# through Flink in a loop + HTTP clients on the same pool; pool RSS sampled
# every 10 s must stay within its budget and flat (scripts/devlab/soak.py). Not in
# make test.
SOAK_SECONDS ?= 1800
soak: devlab-prereq
	$(DEVLAB_PY) scripts/devlab/devlab_local.py --soak $(SOAK_SECONDS)

# The model's reserved footprint and `flinkfn embed` rows/s by batch token
# budget; writes the "Model footprint" section of BENCHMARKS.md.
bench-footprint: setup build
	.cache/venv/bin/python scripts/bench/bench_footprint.py $(BENCH_ARGS)

# Every installed model's variants side by side (int8 vs fp32: worst/mean
# cosine on the golden and multilingual texts, `flinkfn embed` rows/s,
# reserved footprint); writes the "Model variants" section of BENCHMARKS.md.
bench-models: setup build
	.cache/venv/bin/python scripts/bench/bench_models.py $(BENCH_ARGS)

# fp32 ONNX Runtime's own rows/s on the golden texts, three ways (one session
# of N threads as flinkfn runs it, N one-thread sessions side by side, the
# model fused offline by ORT's transformer optimizer): the ceiling behind
# bench-http's rows (in .cache/quant-venv; prints, writes nothing).
bench-ort: setup
	.cache/venv/bin/python scripts/bench/bench_ort.py $(BENCH_ARGS)

# The demo's embedding job with the functions declared pandas-style on the
# stock worker (batched sentence-transformers, .cache/ref-venv) and on
# flinkfn, and flinkfn row-at-a-time; writes the "Pandas (Arrow) embedding
# functions" section of BENCHMARKS.md.
bench-pandas: setup build ref-venv
	.cache/venv/bin/python scripts/bench/bench_pandas.py $(BENCH_ARGS)

# GPU (--device cuda:N). Never part of setup or test: CPU machines download
# none of it. setup-gpu installs ONNX Runtime's GPU build (1.24.1, CUDA 12.8)
# and the CUDA 12 / cuDNN 9 runtime libraries from PyPI wheels pinned in
# scripts/setup/gpu/wheels.json into .cache/gpu/lib (about 1.9 GB of downloads,
# 3 GB installed); GPU_ARGS passes options: --models also derives the fp16
# variants, --profile cuda13 the CUDA 13 build, --wheels-from DIR no download.
setup-gpu:
	python3 scripts/setup/setup_gpu.py $(GPU_ARGS)

# --device cuda:0 where there is no GPU: the real binary and the libraries
# setup-gpu installed fail naming the driver, nvidia-smi and --device cpu.
test-gpu-errors: build
	FLINKFN_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -run 'TestBinaryOnCUDAWithoutAGPU|TestEmbedOnCUDA|TestDeviceSetting' -v ./cmd/flinkfn
	$(GO) test -count=1 -run 'TestOpenCUDA|TestFindGPURuntimeLibrary|TestCUDA|TestParseDevice|TestIsDeviceOOM|TestRunErrorOOM|TestGPUSetupArtifact' -v ./inference

# On a machine with an NVIDIA GPU: vectors, memory fraction, OOM, rows/s
# (scripts/bench/gpu_check.sh; scripts/setup/gpu_stage.sh packs it for a machine that
# reaches no registry).
test-gpu:
	scripts/bench/gpu_check.sh

bench-gpu:
	scripts/bench/gpu_check.sh --only bench

# The stock worker's venv (PyFlink + sentence-transformers + PyTorch).
ref-venv:
	scripts/setup/ref_venv.sh

# Every fuzz target for FUZZTIME each (default 5m).
fuzz:
	scripts/dev/fuzz.sh $(FUZZTIME)

proto:
	scripts/dev/genproto.sh

include devlab/devlab.mk
