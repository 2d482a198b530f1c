#!/usr/bin/env bash
# PyFlink compatibility test: the same jobs on the stock Python worker and on
# flinkfn, results compared (integration/pyflink/test_compat.py), plus unit
# tests of the Python stubs (test_builtin_py.py).
#
#   integration/pyflink/run.sh [pytest args...] [test files...]
#
# Runs every test in integration/pyflink, or the test files (folders,
# file::test ids) given.
#
# Environment:
#   FLINKFN_BIN     flinkfn binary (default <repo>/.cache/bin/flinkfn)
#   FLINKFN_BUILD=1 build that binary first (go build ./cmd/flinkfn)
#   COMPAT_PYTHON   Python with PyFlink (default <repo>/.cache/venv/bin/python)
#   COMPAT_RUN_TIMEOUT_S  per-half limit in seconds (default 900)
# Exit status: pytest's; "no tests collected" (5) counts as failure (1).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${COMPAT_PYTHON:-$ROOT/.cache/venv/bin/python}"
# Absolute (the tests run jobs from other directories); not resolved through
# symlinks, which would leave the venv.
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac
export COMPAT_PYTHON="$PY"
export FLINKFN_BIN="${FLINKFN_BIN:-$ROOT/.cache/bin/flinkfn}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

if [ "${FLINKFN_BUILD:-0}" = 1 ]; then
  (cd "$ROOT" && go build -o "$FLINKFN_BIN" ./cmd/flinkfn) || exit 1
fi
if ! "$PY" -c 'import pyflink, pytest' 2>/dev/null; then
  echo "run.sh: $PY cannot import pyflink and pytest (run scripts/setup/setup.sh)" >&2
  exit 1
fi

# The whole folder unless the arguments name test files or folders.
where=("$ROOT/integration/pyflink")
for a in "$@"; do
  case "$a" in -*) continue ;; esac
  if [ -e "${a%%::*}" ]; then where=(); break; fi
done
"$PY" -m pytest -p no:cacheprovider -v -rfE "${where[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
