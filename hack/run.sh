#!/usr/bin/env bash
# `make run`: the demo. Uses $KUBECONFIG when set, else brings up the local control
# plane; installs the CRDs, the example Teams and ModelDeployment, and runs the operator
# in the foreground. Ctrl-C stops the operator (the local cluster stays up; stop it
# with `make cluster-down`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

if [[ -n "${KUBECONFIG:-}" ]]; then
  say "using your cluster (KUBECONFIG=$KUBECONFIG)"
  local_cluster=false
else
  say "no KUBECONFIG set: starting the local control plane (the first time builds it: ~12 minutes)"
  e2e/cluster/up.sh
  # shellcheck source=../e2e/cluster/lib.sh
  source e2e/cluster/lib.sh
  export KUBECONFIG="$root/.cluster/kubeconfig"
  local_cluster=true
fi

say "installing the CRDs"
kubectl apply -f crds/
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
say "applying the example Teams and the fraud-scorer ModelDeployment"
kubectl apply -f examples/teams.yaml -f examples/fraud-scorer.yaml
kubectl apply -f deploy/operator-rbac.yaml >/dev/null
if $local_cluster; then
  kubectl apply -f deploy/user-rbac.yaml >/dev/null
fi

say "building the operator"
cargo build --locked --bin accord

if $local_cluster; then
  attest() { echo "    kubectl --kubeconfig .cluster/users/$1.kubeconfig apply -f examples/attestations/$1.yaml"; }
else
  attest() { echo "    kubectl apply -f examples/attestations/$1.yaml    # as a member of $2"; }
fi
cat >&2 <<EOF2

  fraud-scorer 2.4.0 is blocked until its three teams sign off. In another terminal:

    export KUBECONFIG=$KUBECONFIG
    kubectl get md -n payments            # Phase AwaitingAttestations, Pending 5
    kubectl describe md fraud-scorer -n payments

  Sign off as alice (data), bob (platform) and carol (application):

$(attest alice data-platform)
$(attest bob ml-platform)
$(attest carol payments-app)

  Then watch it promote:

    kubectl get md,deploy,pods -n payments --show-labels
    kubectl get events -n payments

EOF2
say "running the operator (Ctrl-C to stop)"
if $local_cluster; then
  # The local API server reaches the webhook on loopback; the operator writes the
  # webhook configurations pointing there, with the CA it manages itself.
  exec target/debug/accord --namespace accord-system --metrics-addr 127.0.0.1:8080 \
    --webhook-addr 127.0.0.1:9443 --webhook-url https://127.0.0.1:9443
else
  say "WARNING: your cluster's API server cannot call a webhook on this machine, so the demo runs"
  say "without it and trusts attestedBy as written. Install with Helm for real use."
  exec target/debug/accord --namespace accord-system --metrics-addr 127.0.0.1:8080 \
    --webhook=false --trust-unsealed-attestations=true
fi
