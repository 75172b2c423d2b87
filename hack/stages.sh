#!/usr/bin/env bash
# Runs `make STAGE` for each stage in order, timing each, and prints a table of the
# times at the end — also when a stage fails (the run stops there and exits non-zero).
# The table is appended to $ACCORD_TIMINGS when set (.ci/run prints the whole run's).
#
# Usage: hack/stages.sh lint crds-check chart-check unit e2e
set -uo pipefail
timings="${ACCORD_TIMINGS:-}"
rows=()
status=0
for stage in "$@"; do
  echo "== make $stage"
  started=$(date +%s)
  make --no-print-directory "$stage"
  status=$?
  seconds=$(( $(date +%s) - started ))
  result=$([[ $status == 0 ]] && echo ok || echo FAILED)
  rows+=("$(printf '%-22s %6ss  %s' "make $stage" "$seconds" "$result")")
  [[ -n "$timings" ]] && printf 'make %s\t%s\t%s\n' "$stage" "$seconds" "$result" >> "$timings"
  (( status == 0 )) || break
done
echo "== stage times"
printf '%s\n' "${rows[@]}"
exit "$status"
