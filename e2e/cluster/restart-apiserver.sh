#!/usr/bin/env bash
# Restarts the local kube-apiserver the way a control-plane upgrade does: SIGKILL, down
# for DOWN seconds (default 10), then started again with exactly the flags it had (read
# from /proc). Returns once /readyz answers, and prints the time it did (seconds since
# the epoch, with nanoseconds) on stdout, for tests that measure recovery from it.
#
#   e2e/cluster/restart-apiserver.sh [DOWN]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down="${1:-10}"
[[ "$down" =~ ^[0-9]+$ ]] || die "DOWN must be whole seconds, not $down"
alive kube-apiserver || die "kube-apiserver is not running; start the cluster with make cluster-up"
pid="$(pid_of kube-apiserver)"
mapfile -d '' argv < "/proc/$pid/cmdline"
(( ${#argv[@]} )) || die "cannot read the command line of kube-apiserver (pid $pid)"

log "killing kube-apiserver (pid $pid) with SIGKILL; it stays down ${down}s"
kill -KILL "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
sleep "$down"
setsid "${argv[@]}" >> "$state/logs/kube-apiserver.log" 2>&1 < /dev/null &
echo $! > "$state/pids/kube-apiserver.pid"
log "started kube-apiserver again (pid $!)"
apiserver_ready() { alive kube-apiserver && readyz; }
wait_for "kube-apiserver /readyz" 120 apiserver_ready || {
  tail -n 30 "$state/logs/kube-apiserver.log" >&2
  exit 1
}
date +%s.%N
log "kube-apiserver is ready again"
