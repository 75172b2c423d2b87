#!/usr/bin/env bash
# Runs the end-to-end suite against the local control plane. Brings the cluster up
# (building it when not cached) and always tears it down afterwards, even when a test
# fails, unless it was already running before (then it is left as it was).
#
# Extra arguments go to `cargo test`, e.g. `e2e/run.sh --test validation`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cluster/lib.sh
source "$here/cluster/lib.sh"

started_cluster=false
cleanup() {
  # Operators the tests start are stopped by the tests; a failed run may leave one.
  "$here/cluster/stop-operators.sh"
  if $started_cluster; then "$here/cluster/down.sh"; fi
}
trap cleanup EXIT

if "$here/cluster/status.sh" >/dev/null 2>&1; then
  log "using the cluster that is already running; it stays up afterwards"
else
  started_cluster=true
  "$here/cluster/up.sh"
fi
# Flux's controllers for e2e/tests/gitops.rs (built once, cached like the cluster).
"$here/flux/build.sh" >/dev/null
cd "$repo_root"
cargo build --locked --bin accord --bin kubectl-accord
cargo test --locked -p accord-e2e "$@"
