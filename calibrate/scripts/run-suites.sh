#!/usr/bin/env bash
# Runs fmsim-calibrate's suites on this node one at a time, each into OUTDIR/<suite>.json, so a
# suite that fails (a file system without O_DIRECT, a hung NCCL init) costs only its own records.
# `fmsim calibrate fit OUTDIR/*.json -o profile.json` then fits them together.
#
#   run-suites.sh OUTDIR [SUITE...] [-- fmsim-calibrate options]
#
# SUITE defaults to gemm attention hbm nvlink nccl storage (storage only with --storage-path).
# FMSIM_CALIBRATE names the program (default: fmsim-calibrate on PATH); SUITE_TIMEOUT bounds each
# suite in seconds (default 1800). Exit status: 0 when every suite succeeded, else the last failure.
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [SUITE...] [-- fmsim-calibrate options]" >&2
  exit 2
fi
out=$1
shift
suites=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  suites+=("$1")
  shift
done
[ $# -gt 0 ] && shift # the --
[ ${#suites[@]} -eq 0 ] && suites=(gemm attention hbm nvlink nccl storage)
program=${FMSIM_CALIBRATE:-fmsim-calibrate}
mkdir -p "$out"
status=0
for suite in "${suites[@]}"; do
  if [ "$suite" = storage ] && ! printf '%s\n' "$@" | grep -q -- '--storage-path'; then
    echo "run-suites: storage skipped (no --storage-path)" >&2
    continue
  fi
  start=$(date +%s)
  timeout "${SUITE_TIMEOUT:-1800}" "$program" --suite "$suite" --out "$out/$suite.json" "$@"
  code=$?
  echo "run-suites: $suite exit $code in $(($(date +%s) - start)) s" >&2
  [ $code -ne 0 ] && status=$code
done
exit $status
