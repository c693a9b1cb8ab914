#!/usr/bin/env bash
# Run every example config end to end (train, evaluate, export), one after another, and print the
# wall time of each. Results land in runs/ (not committed). Usage: scripts/run_examples.sh [CONFIG...]
set -u
cd "$(dirname "$0")/.."
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(examples/*)
for config in "${configs[@]}"; do
  start=$(date +%s)
  .venv/bin/python -m cxrviewer train --config "$config" > "runs/$(basename "$config").log" 2>&1
  status=$?
  echo "$config exit=$status wall=$(( $(date +%s) - start ))s"
done
