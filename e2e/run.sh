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
# Python's in-toto/DSSE tools for e2e/tests/independent_verify.rs (a cached venv; .ci/run
# sets ACCORD_PYTHON already).
if [[ -z "${ACCORD_PYTHON:-}" ]]; then ACCORD_PYTHON=$(hack/python-tools.sh); fi
export ACCORD_PYTHON
# crane and cosign for e2e/tests/registry_audit.rs (built once, cached; .ci/run does it
# first). Built here, not inside a test, so a first build shows its progress.
hack/crane.sh >/dev/null
hack/cosign.sh >/dev/null
cargo build --locked --bin accord --bin kubectl-accord
if (( $# )); then
  # A selection (`e2e/run.sh --test validation`, a test name): as cargo runs it.
  cargo test --locked -p accord-e2e "$@"
  exit
fi
# Every suite, one at a time (they share the cluster), each timed; a failing suite
# does not stop the others, and the run fails at the end if any failed.
cargo test --locked -p accord-e2e --no-run
# The image suite needs the static release operator (minutes of compiling): build it
# now, beside the suites before it, which mostly wait on the cluster.
mkdir -p target
hack/image.sh --build-only > target/image-prebuild.log 2>&1 &
prebuild=$!
mapfile -t suites < <(find e2e/tests -maxdepth 1 -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
failed=()
rows=()
for suite in "${suites[@]}"; do
  log "e2e suite $suite"
  started=$(date +%s)
  if cargo test --locked -p accord-e2e --test "$suite"; then result=ok; else result=FAILED; failed+=("$suite"); fi
  seconds=$(( $(date +%s) - started ))
  rows+=("$(printf '%-22s %6ss  %s' "e2e $suite" "$seconds" "$result")")
  [[ -n "${ACCORD_TIMINGS:-}" ]] && printf 'e2e %s\t%s\t%s\n' "$suite" "$seconds" "$result" >> "$ACCORD_TIMINGS"
done
wait "$prebuild" || log "the static operator build failed (target/image-prebuild.log); the image suite says why"
echo "== e2e suite times"
printf '%s\n' "${rows[@]}"
if (( ${#failed[@]} )); then
  log "failed suites: ${failed[*]}"
  exit 1
fi
