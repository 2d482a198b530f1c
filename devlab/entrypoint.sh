#!/usr/bin/env bash
# Entry point of the devlab Flink image (devlab/Dockerfile, target flink).
#
#   devlab-entrypoint.sh jobmanager|taskmanager|COMMAND...   (then Flink's /docker-entrypoint.sh)
#
# 1. Installs the devlab configuration: /opt/flinkfn/conf/config.yaml (the
#    read-only mount of devlab/conf/) is copied to $FLINK_HOME/conf/config.yaml,
#    which Flink's entrypoint then edits (jobmanager.rpc.address, ...).
# 2. taskmanager with FLINKFN_POOL set: starts this TaskManager's flinkfn pool
#    listening on $FLINKFN_POOL (unix:///... socket), HTTP on
#    $FLINKFN_POOL_HTTP (/readyz, /metrics), budget $FLINKFN_POOL_MEMORY_LIMIT
#    (without it the pool would take the container's cgroup limit, which is
#    the whole TaskManager's), waits until /readyz answers 200
#    (model loaded and warmed), then starts the TaskManager, whose Python
#    workers (python.executable = flinkfn, FLINKFN_POOL inherited) hand their
#    sessions to the pool. SIGTERM stops the TaskManager first, then the pool
#    (which drains). When either exits, the other is stopped and the
#    container exits with the first one's status.
set -euo pipefail

FLINK_HOME="${FLINK_HOME:-/opt/flink}"
FLINKFN_HOME="${FLINKFN_HOME:-/opt/flinkfn}"
DEVLAB_CONF="${DEVLAB_CONF:-$FLINKFN_HOME/conf/config.yaml}"
log() { printf '[devlab-entrypoint] %s\n' "$*" >&2; }

if [ -f "$DEVLAB_CONF" ]; then
  cp "$DEVLAB_CONF" "$FLINK_HOME/conf/config.yaml"
fi

if [ "${1:-}" != taskmanager ] || [ -z "${FLINKFN_POOL:-}" ]; then
  exec /docker-entrypoint.sh "$@"
fi

http="${FLINKFN_POOL_HTTP:-0.0.0.0:9250}"
case "$FLINKFN_POOL" in
  unix://*) mkdir -p "$(dirname "${FLINKFN_POOL#unix://}")"; rm -f "${FLINKFN_POOL#unix://}" ;;
esac
# The pool reads its per-process and per-session reservations
# (python.fn-execution.framework/buffer.memory.size) from the same
# configuration; its budget is the TaskManager's PYTHON managed memory.
limit=()
if [ -n "${FLINKFN_POOL_MEMORY_LIMIT:-}" ]; then limit=(--memory-limit "$FLINKFN_POOL_MEMORY_LIMIT"); fi
"$FLINKFN_HOME/bin/flinkfn" pool --listen "$FLINKFN_POOL" --http "$http" \
  --flink-conf "$DEVLAB_CONF" "${limit[@]}" --drain-timeout "${FLINKFN_DRAIN_TIMEOUT:-30s}" &
pool=$!
tm=

stop() {
  trap '' TERM INT
  if [ -n "$tm" ] && kill -0 "$tm" 2>/dev/null; then
    log "stopping the TaskManager"
    kill -TERM "$tm" 2>/dev/null || true
    wait "$tm" 2>/dev/null || true
  fi
  if kill -0 "$pool" 2>/dev/null; then
    log "stopping the flinkfn pool (drain)"
    kill -TERM "$pool" 2>/dev/null || true
    wait "$pool" 2>/dev/null || true
  fi
}
trap 'stop; exit 143' TERM INT

ready="http://127.0.0.1:${http##*:}/readyz"
log "waiting for the flinkfn pool ($ready)"
for _ in $(seq 1 240); do
  if curl -fsS -o /dev/null "$ready" 2>/dev/null; then break; fi
  if ! kill -0 "$pool" 2>/dev/null; then
    wait "$pool" && rc=0 || rc=$?
    log "the flinkfn pool exited ($rc) before it was ready"
    exit 1
  fi
  sleep 0.5
done
curl -fsS -o /dev/null "$ready" || { log "the flinkfn pool is not ready after 120 s"; stop; exit 1; }
log "flinkfn pool ready; starting the TaskManager"

/docker-entrypoint.sh "$@" &
tm=$!
rc=0
wait -n "$tm" "$pool" || rc=$?
if ! kill -0 "$pool" 2>/dev/null; then
  log "the flinkfn pool exited ($rc); stopping the TaskManager"
else
  log "the TaskManager exited ($rc); stopping the pool"
fi
stop
exit "$rc"
