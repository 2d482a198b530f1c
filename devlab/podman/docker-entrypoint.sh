#!/usr/bin/env bash
# /docker-entrypoint.sh of the devlab base image (devlab/podman/base.Containerfile),
# the subset of the official Flink image's entry point that devlab uses:
#   jobmanager | standalone-job | taskmanager   Flink in the foreground
#   help                                        this text
#   anything else                               exec'd as it is
# The configuration is $FLINK_HOME/conf/config.yaml (devlab's entrypoint.sh
# installs devlab/conf/config.yaml there); FLINK_PROPERTIES lines are
# appended to it as the official image does.
set -euo pipefail
FLINK_HOME="${FLINK_HOME:-/opt/flink}"
if [ -n "${FLINK_PROPERTIES:-}" ]; then
  printf '\n%s\n' "$FLINK_PROPERTIES" >> "$FLINK_HOME/conf/config.yaml"
fi
case "${1:-help}" in
  jobmanager)     shift; exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground "$@" ;;
  standalone-job) shift; exec "$FLINK_HOME/bin/standalone-job.sh" start-foreground "$@" ;;
  taskmanager)    shift; exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground "$@" ;;
  help)           echo "usage: $0 jobmanager|standalone-job|taskmanager|help|COMMAND..." ;;
  *)              exec "$@" ;;
esac
