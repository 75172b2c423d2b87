#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller, and a loopback Git server
# on Flux's gitkit, from their Go modules into the cache outside the checkout, and
# copies Flux's CRDs beside them. Reused when present, so only the first run is slow
# (several minutes on 2 cores).
#
# Usage: e2e/flux/build.sh     build what is missing, print the directory
# Env:   ACCORD_CACHE (default ~/.cache/accord)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../cluster/versions.env
source "$here/../cluster/versions.env"
cache="${ACCORD_CACHE:-$HOME/.cache/accord}"
out="$cache/flux-$FLUX_SOURCE_CONTROLLER_VERSION-$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

log() { printf '[gitops] %s\n' "$*" >&2; }

# build <module dir> <package> <output>
build() {
  local dir="$1" pkg="$2" bin="$3"
  [[ -x "$bin" ]] && return 0
  local name start
  name="$(basename "$bin")"
  start=$(date +%s)
  log "building $name from $pkg (first build only; several minutes on 2 cores)"
  mkdir -p "$(dirname "$bin")"
  local log_file="$bin.build.log"
  # -v names each package as it compiles: count them as progress, keep everything in a log.
  if ! (cd "$dir" && CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$bin.tmp" "$pkg") 2>&1 |
    tee "$log_file" |
    awk -v n="$name" '{c++; if (c % 100 == 0) {printf "[gitops] %s: %d packages compiled\n", n, c; fflush()}}' >&2 ||
    [[ ! -s "$bin.tmp" ]]; then
    log "FAILED to build $name; the last lines of $log_file:"
    tail -n 30 "$log_file" >&2
    rm -f "$bin.tmp"
    return 1
  fi
  mv "$bin.tmp" "$bin"
  log "built $name in $(( $(date +%s) - start ))s"
}

build "$here/source-controller" github.com/fluxcd/source-controller "$out/source-controller"
build "$here/kustomize-controller" github.com/fluxcd/kustomize-controller "$out/kustomize-controller"
build "$here/gitserver" . "$out/gitserver"

# Flux's CRDs ship in each controller's module (config/crd/bases); both controllers
# watch every source kind, so all of them are installed.
if [[ ! -f "$out/crds/.complete" ]]; then
  mkdir -p "$out/crds"
  for module in source-controller kustomize-controller; do
    dir="$(cd "$here/$module" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$module")"
    cp "$dir"/config/crd/bases/*.yaml "$out/crds/"
  done
  chmod 0644 "$out/crds"/*.yaml
  touch "$out/crds/.complete"
fi
log "Flux source-controller $FLUX_SOURCE_CONTROLLER_VERSION, kustomize-controller $FLUX_KUSTOMIZE_CONTROLLER_VERSION and the Git server are in $out"
echo "$out"
