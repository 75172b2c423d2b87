#!/usr/bin/env bash
# Stops the operators that the e2e tests and `make run` started, and the Flux
# controllers and Git server of the GitOps tests, by their PID files
# (.cluster/pids/operator-*.pid, flux-*.pid). A PID is signalled only while it still
# runs the binary its file names (`accord*`, or the Flux process of that name): PIDs get
# reused, and a stale file must never kill anything else.
# The one implementation of this cleanup: `make e2e`, `make cluster-down` and the e2e
# harness all call it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# runs <pid> <glob>: whether the process runs a binary whose name matches <glob>.
runs() {
  local argv0
  [[ -r "/proc/$1/cmdline" ]] || return 1
  argv0="$(tr '\0' '\n' < "/proc/$1/cmdline" | head -n 1)"
  # shellcheck disable=SC2053 # $2 is a glob on purpose
  [[ "$(basename "$argv0")" == $2 ]]
}

for pidfile in "$state"/pids/operator-*.pid "$state"/pids/flux-*.pid; do
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  name="$(basename "$pidfile" .pid)"
  binary='accord*'
  [[ "$name" == flux-* ]] && binary="${name#flux-}"
  if [[ "$pid" =~ ^[0-9]+$ ]] && runs "$pid" "$binary"; then
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
