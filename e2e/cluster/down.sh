#!/usr/bin/env bash
# Stops exactly the processes `up.sh` started (by their PID files) and removes the
# cluster's state directory.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -d "$state" ]]; then
  log "no local cluster state in $state; nothing to stop"
  exit 0
fi
# Operators started by the e2e tests or `make run`, if any are left.
"$(dirname "${BASH_SOURCE[0]}")/stop-operators.sh"
# Stop in reverse start order so clients go before the servers they talk to.
for (( i=${#components[@]}-1; i>=0; i-- )); do
  c="${components[$i]}"
  pid="$(pid_of "$c")"
  [[ -n "$pid" ]] || continue
  # Only signal the PID when it still runs the binary we started (PIDs get reused).
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$c"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $c (pid $pid)"
  fi
done
rm -rf "$state"
log "removed $state"
