#!/usr/bin/env bash
# `make bench-scale [N=1000] [POLICIES=20] [UPSTREAMS=1] [GUARDS=1] [RECORDS=1] [BOARD=0]`:
# Accord at N ModelDeployments (each selected by POLICIES HandoffPolicies, default none; GUARDS=1
# then gives each a monitoring guard against a Prometheus on loopback and measures a quiet window;
# RECORDS=1 signs off half the models with PromotionRecords off and half with them on, reads a
# record's bytes in etcd and times `kubectl accord audit export -A` of 10,000 records; last,
# unless BOARD=0, times the pages of `kubectl accord board` against `kubectl accord matrix -A`)
# on the local control plane (e2e/src/bin/bench_scale/main.rs says what is measured). Brings
# the cluster up when it is not running (and down again afterwards), builds the release
# operator and (for the board, or with RECORDS=1) the release kubectl-accord, runs the
# benchmark, prints a table and writes target/bench-scale.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../e2e/cluster/lib.sh
source e2e/cluster/lib.sh
n="${N:-1000}"
[[ "$n" =~ ^[0-9]+$ ]] || die "N must be a number, not $n"

started_cluster=false
cleanup() {
  e2e/cluster/stop-operators.sh
  if $started_cluster; then e2e/cluster/down.sh; fi
}
trap cleanup EXIT
if e2e/cluster/status.sh >/dev/null 2>&1; then
  log "using the cluster that is already running"
else
  started_cluster=true
  e2e/cluster/up.sh
fi
log "building the release operator (about 5 minutes the first time)"
cargo build --release --locked --bin accord
if [[ "${RECORDS:-0}" == 1 || "${BOARD:-1}" != 0 ]]; then
  log "building the release kubectl-accord (it serves the board; RECORDS=1 times its audit export)"
  cargo build --release --locked --bin kubectl-accord
fi
ACCORD_BIN="$root/target/release/accord" POLICIES="${POLICIES:-0}" UPSTREAMS="${UPSTREAMS:-0}" \
  GUARDS="${GUARDS:-0}" RECORDS="${RECORDS:-0}" BOARD="${BOARD:-1}" \
  ETCD_CLIENT_PORT="$ETCD_CLIENT_PORT" \
  cargo run --release --locked -q -p accord-e2e --bin bench_scale -- "$n"
