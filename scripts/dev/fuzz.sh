#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each
# (default 5m), one after the other; logs go to fuzz-logs/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TIME="${1:-5m}"
cd "$ROOT"
mkdir -p fuzz-logs
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== $pkg $target ($TIME)"
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$TIME" > "fuzz-logs/${target}.log" 2>&1; then
      echo "FAIL: $target (see fuzz-logs/${target}.log)"; status=1
    fi
    tail -n 3 "fuzz-logs/${target}.log"
  done
done
exit $status
