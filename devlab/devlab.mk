# devlab targets, included by the Makefile (`include devlab/devlab.mk`).
#
#   make devlab-check   devlab/docker-compose.yaml, devlab/Dockerfile and
#                       devlab/conf/config.yaml against each other and
#                       `flinkfn plan` (+ `docker compose config` where the
#                       compose plugin exists), then the check's own tests
#   make devlab-local   the same cluster without docker: Flink JobManager and
#                       TaskManager JVMs + the flinkfn pool as local processes,
#                       the main job through Flink's SQL client, output and pool
#                       metrics checked, everything shut down
#
# devlab-local reads DEVLAB_ACCOUNTHOLDERS / DEVLAB_TRANSACTIONS (default 500 /
# 5000; `make devlab-local DEVLAB_ACCOUNTHOLDERS=10000 DEVLAB_TRANSACTIONS=100000`
# is the demo's full size), DEVLAB_MODE (pool, the default, or process: no pool)
# and DEVLAB_TIMEOUT (seconds the job may run, default 900).
.PHONY: devlab-check devlab-local devlab-prereq

DEVLAB_PY ?= .cache/venv/bin/python

# What the devlab scripts need; scripts/setup.sh (idempotent) only when
# something is missing, so that these targets work on a fresh clone.
devlab-prereq: build
	@$(DEVLAB_PY) -c 'import pyflink, yaml' 2>/dev/null \
	  && test -f .cache/lib/libonnxruntime.so \
	  && test -f .cache/models/all-MiniLM-L6-v2/manifest.json \
	  || scripts/setup.sh

devlab-check: devlab-prereq
	$(DEVLAB_PY) scripts/devlab_check.py
	scripts/devlab_check_test.sh

devlab-local: devlab-prereq
	$(DEVLAB_PY) scripts/devlab_local.py
