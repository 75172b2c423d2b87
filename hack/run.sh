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

# An operator that no longer runs (an earlier `make run`, `make test` or benchmark)
# may have left webhook configurations pointing at a port nobody serves: every write of
# an Accord object would then fail ("connection refused"). Remove them; the operator
# started below writes its own. A configuration that something answers is kept.
repair_webhooks() {
  local url hostport
  url="$(kubectl get mutatingwebhookconfiguration accord -o jsonpath='{.webhooks[0].clientConfig.url}' 2>/dev/null || true)"
  [[ -n "$url" ]] || return 0
  hostport="${url#https://}"; hostport="${hostport%%/*}"
  if ! curl -sk --max-time 2 -o /dev/null "https://$hostport/"; then
    say "removing webhook configurations left by an operator that no longer runs ($url)"
    kubectl delete mutatingwebhookconfiguration,validatingwebhookconfiguration accord --ignore-not-found
  fi
}
if $local_cluster; then
  repair_webhooks
fi

say "installing the CRDs"
kubectl apply -f crds/
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
say "applying the example Teams"
kubectl apply -f examples/teams.yaml
kubectl apply -f deploy/operator-rbac.yaml >/dev/null
if $local_cluster; then
  kubectl apply -f deploy/user-rbac.yaml >/dev/null
fi

say "building the operator"
cargo build --locked --bin accord

if $local_cluster; then
  # The operator runs as its own ServiceAccount (deploy/operator-rbac.yaml), never as
  # admin. The local API server reaches the webhook on loopback; the operator writes the
  # webhook configurations pointing there, with the CA it manages itself.
  write_kubeconfig .cluster/accord-operator.kubeconfig system:serviceaccount:accord-system:accord-operator \
    "$(kubectl create token accord-operator -n accord-system --duration=24h)"
  operator_args=(--kubeconfig .cluster/accord-operator.kubeconfig --namespace accord-system
    --metrics-addr 127.0.0.1:8080 --webhook-addr 127.0.0.1:9443 --webhook-url https://127.0.0.1:9443)
else
  say "WARNING: your cluster's API server cannot call a webhook on this machine, so the demo runs"
  say "without it and trusts attestedBy as written. Install with Helm for real use."
  operator_args=(--namespace accord-system --metrics-addr 127.0.0.1:8080
    --webhook=false --trust-unsealed-attestations=true)
fi

say "starting the operator"
target/debug/accord "${operator_args[@]}" &
operator=$!
mkdir -p .cluster/pids && echo "$operator" > .cluster/pids/operator-run.pid
trap 'kill "$operator" 2>/dev/null; wait "$operator" 2>/dev/null; rm -f .cluster/pids/operator-run.pid' EXIT
for _ in $(seq 1 120); do
  curl -sf --max-time 1 http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
  kill -0 "$operator" 2>/dev/null || { say "the operator stopped; see its output above"; exit 1; }
  sleep 0.5
done
if $local_cluster; then
  # The ModelDeployment goes through the webhook, which records who introduced its
  # candidate (that person may not attest it): wait until the webhook answers.
  for _ in $(seq 1 60); do
    kubectl get mutatingwebhookconfiguration accord -o jsonpath='{.webhooks[0].clientConfig.url}' 2>/dev/null \
      | grep -q ':9443/' && break
    sleep 0.5
  done
fi
say "applying the example HandoffPolicies (RACI, auto-approved patch releases)"
kubectl apply -f examples/policies.yaml
say "applying the fraud-scorer ModelDeployment"
kubectl apply -f examples/fraud-scorer.yaml

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

  Who is responsible for what (examples/policies.yaml), and what a release still needs:

    kubectl accord matrix -n payments
    kubectl accord explain md fraud-scorer -n payments

  Or sign off in a browser, on the board (docs/board.md), as alice:

$(if $local_cluster; then echo "    kubectl accord --kubeconfig .cluster/users/alice.kubeconfig board --open"; else echo "    kubectl accord board --open"; fi)

  The operator runs in this terminal; Ctrl-C stops it.
EOF2
wait "$operator"
