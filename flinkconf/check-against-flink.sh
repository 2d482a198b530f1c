#!/usr/bin/env bash
# Proves flinkconf against Flink itself, in two steps:
#  1. Java (integration/memcheck): runs Flink 2.3's own TaskExecutorProcessUtils,
#     JobManagerProcessUtils, ManagedMemoryUtils, MemoryManager, MemorySize and
#     TimeUtils over testdata/corpus and asserts that testdata/flink-results.json
#     is exactly what Flink computes (UPDATE=1 rewrites it instead).
#  2. Go: TestAgainstFlinkResults compares flinkconf with that file, component
#     for component and error for error.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
update=false
if [ "${UPDATE:-0}" = "1" ]; then update=true; fi
mvn -q -B -f "$ROOT/integration/memcheck/pom.xml" test -Dflinkconf.update="$update"
cd "$ROOT"
go test -count=1 -run 'TestAgainstFlinkResults' -v ./flinkconf | grep -E '^(---|ok|FAIL|PASS|\s+flinkresults_test)' 
