#!/usr/bin/env bash
# Stops the operators that the e2e tests and `make run` started, by their PID files
# (.cluster/pids/operator-*.pid). A PID is signalled only while it still runs an
# `accord` binary: PIDs get reused, and a stale file must never kill anything else.
# The one implementation of this cleanup: `make e2e`, `make cluster-down` and the e2e
# harness all call it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# runs_accord <pid>: whether the process runs a binary named accord*.
runs_accord() {
  local argv0
  [[ -r "/proc/$1/cmdline" ]] || return 1
  argv0="$(tr '\0' '\n' < "/proc/$1/cmdline" | head -n 1)"
  [[ "$(basename "$argv0")" == accord* ]]
}

for pidfile in "$state"/pids/operator-*.pid; do
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && runs_accord "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $(basename "$pidfile" .pid) (pid $pid)"
  fi
  rm -f "$pidfile"
done
