#!/usr/bin/env bash
# Tests of make devlab-check (run by it, after the real check): on a temporary
# copy of devlab/ (the rest of the repository linked beside it, so paths
# resolve as in a clone), inconsistent settings must fail the check with a
# clear message:
#   1. the taskmanager's compose memory limit below taskmanager.memory.process.size
#   2. taskmanager.memory.process.size raised above the limit
#   3. the pool's budget (FLINKFN_POOL_MEMORY_LIMIT) not the PYTHON managed memory
#   4. the health check not on the pool's /readyz
# and the unchanged copy must pass.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${DEVLAB_PYTHON:-$ROOT/.cache/venv/bin/python}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/devlab-check-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

fresh() {
  rm -rf "$TMP/repo" && mkdir "$TMP/repo"
  for f in "$ROOT"/* "$ROOT"/.[!.]*; do
    case "$(basename "$f")" in devlab|.git) continue ;; esac
    ln -s "$f" "$TMP/repo/$(basename "$f")"
  done
  cp -r "$ROOT/devlab" "$TMP/repo/devlab"
}
# (the check's repository root is the directory above its script's path as
# given, links not resolved: $TMP/repo)

check() { "$PY" "$TMP/repo/scripts/devlab/devlab_check.py" --no-docker \
            --flinkfn "$ROOT/.cache/bin/flinkfn" --model "$ROOT/.cache/models/all-MiniLM-L6-v2" >"$TMP/out" 2>&1; }

fails=0
expect_fail() { # name, grep pattern
  if check; then
    echo "devlab-check-test: FAIL: $1: the check passed"; fails=$((fails + 1)); return
  fi
  if ! grep -q -- "$2" "$TMP/out"; then
    echo "devlab-check-test: FAIL: $1: no message matching '$2':"; grep 'FAIL' "$TMP/out" || tail -5 "$TMP/out"
    fails=$((fails + 1)); return
  fi
  echo "devlab-check-test: ok: $1 fails: $(grep -m1 -- "$2" "$TMP/out" | cut -c1-240)"
}

fresh
if check; then echo "devlab-check-test: ok: an unchanged copy passes"; else
  echo "devlab-check-test: FAIL: an unchanged copy fails:"; grep FAIL "$TMP/out"; fails=$((fails + 1)); fi

fresh
sed -i 's/^\(          memory: \)4G\( .*taskmanager.memory.process.size.*\)$/\13G\2/' "$TMP/repo/devlab/docker-compose.yaml"
grep -q 'memory: 3G' "$TMP/repo/devlab/docker-compose.yaml" || { echo "devlab-check-test: FAIL: could not lower the limit"; exit 1; }
expect_fail "compose limit 3G < process.size 4g" "memory limit 3G (3.00 GiB) is BELOW taskmanager.memory.process.size 4g"

fresh
sed -i 's/^\(      size: \)4g\( .*\)$/\15g\2/' "$TMP/repo/devlab/conf/config.yaml"
grep -q 'size: 5g' "$TMP/repo/devlab/conf/config.yaml" || { echo "devlab-check-test: FAIL: could not raise process.size"; exit 1; }
expect_fail "process.size 5g > compose limit 4G" "memory limit 4G (4.00 GiB) is BELOW taskmanager.memory.process.size 5g"

fresh
sed -i 's/FLINKFN_POOL_MEMORY_LIMIT: .*/FLINKFN_POOL_MEMORY_LIMIT: 2g/' "$TMP/repo/devlab/docker-compose.yaml"
expect_fail "pool budget 2g != PYTHON managed memory" "FLINKFN_POOL_MEMORY_LIMIT 2g .* is not the PYTHON managed memory"

fresh
sed -i 's|http://localhost:9250/readyz|http://localhost:9250/healthz|' "$TMP/repo/devlab/docker-compose.yaml"
expect_fail "health check on /healthz" "must be the pool's /readyz"

if [ "$fails" -ne 0 ]; then echo "devlab-check-test: $fails failure(s)"; exit 1; fi
echo "devlab-check-test: OK"
