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
# In containers (podman from Debian; scripts/devlab/devlab_podman.py runs
# devlab/docker-compose.yaml, devlab/README.md "Running it with podman"):
#   make devlab-images          the images, from Debian packages and the
#                               registries only (sizes printed)
#   make devlab-up              JobManager + 2 TaskManagers (each with its pool)
#   make devlab-job             the sample job through the SQL client, verified
#   make devlab-down            containers, network and data volume removed
#   make devlab-faults          on a running cluster: a TaskManager container,
#                               then a pool, killed mid-job; output exactly once
#   make devlab-oom             the seed's settings + stock PyFlink worker until
#                               the kernel kills it, then flinkfn pool (needs
#                               make ref-venv: PyTorch)
#   make devlab-container-test  images, up, job, faults, down (timed)
#
# devlab-local reads DEVLAB_ACCOUNTHOLDERS / DEVLAB_TRANSACTIONS (default 500 /
# 5000; `make devlab-local DEVLAB_ACCOUNTHOLDERS=10000 DEVLAB_TRANSACTIONS=100000`
# is the demo's full size), DEVLAB_MODE (pool, the default, or process: no pool)
# and DEVLAB_TIMEOUT (seconds the job may run, default 900).
.PHONY: devlab-check devlab-local devlab-prereq devlab-images devlab-up devlab-job devlab-down devlab-faults \
        devlab-oom devlab-container-test devlab-k8s-validate

DEVLAB_PY ?= .cache/venv/bin/python

# What the devlab scripts need; scripts/setup/setup.sh (idempotent) only when
# something is missing, so that these targets work on a fresh clone.
devlab-prereq: build
	@$(DEVLAB_PY) -c 'import pyflink, yaml' 2>/dev/null \
	  && test -f .cache/lib/libonnxruntime.so \
	  && test -f .cache/models/all-MiniLM-L6-v2/manifest.json \
	  || scripts/setup/setup.sh

devlab-check: devlab-prereq
	$(DEVLAB_PY) scripts/devlab/devlab_check.py
	scripts/devlab/devlab_check_test.sh

devlab-local: devlab-prereq
	$(DEVLAB_PY) scripts/devlab/devlab_local.py

DEVLAB_PODMAN = $(DEVLAB_PY) scripts/devlab/devlab_podman.py

devlab-images: devlab-prereq
	$(DEVLAB_PODMAN) images

devlab-up: devlab-prereq
	$(DEVLAB_PODMAN) up

# The container test's sizes unless given (the compose default is the demo's
# 10,000 + 100,000).
devlab-job devlab-faults devlab-container-test: export DEVLAB_ACCOUNTHOLDERS ?= 500
devlab-job devlab-faults devlab-container-test: export DEVLAB_TRANSACTIONS ?= 5000

devlab-job: devlab-prereq
	$(DEVLAB_PODMAN) job

devlab-down:
	$(DEVLAB_PODMAN) down

devlab-faults: devlab-prereq
	$(DEVLAB_PODMAN) faults

devlab-oom: devlab-prereq ref-venv
	$(DEVLAB_PODMAN) oom

devlab-container-test: devlab-prereq
	$(DEVLAB_PODMAN) test

# devlab/k8s/flinkdeployment.yaml against the Flink Kubernetes Operator's CRD
# schema (operator API jar from Maven Central, PyPI's jsonschema).
devlab-k8s-validate: devlab-prereq
	$(DEVLAB_PY) scripts/devlab/devlab_k8s_validate.py
