#!/bin/sh
# python.executable of the compat test's stock half: runs the venv's Python
# unchanged, and first appends its pid to $STOCK_MARKER_FILE when started as
# a UDF worker (beam_boot), so the test can prove that the stock half really
# ran the configured executable in process mode (not in-driver loopback).
case "$*" in
  *pyflink.fn_execution.beam.beam_boot*)
    if [ -n "${STOCK_MARKER_FILE:-}" ]; then echo "$$" >>"$STOCK_MARKER_FILE"; fi ;;
esac
exec "${STOCK_PYTHON:?STOCK_PYTHON must name the real python}" "$@"
