#!/usr/bin/env bash
# Static checks of the Helm chart and its monitoring rules: CRDs identical to crds/,
# helm lint, helm template with every option, values-schema violations rejected,
# promtool check/test of the alerting rules.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../e2e/cluster/lib.sh
source "$root/e2e/cluster/lib.sh"   # PATH gets the pinned helm and kubectl
chart="$root/charts/accord"
fail() { echo "chart-check: $*" >&2; exit 1; }

command -v helm >/dev/null || fail "helm not found: run 'make cluster-build' (it installs helm into ~/.cache/accord)"
diff -ru "$root/crds" "$chart/crds" || fail "charts/accord/crds differs from crds/: run 'make crds'"
echo "chart CRDs are identical to crds/"

helm lint --strict "$chart"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
helm template accord "$chart" -n accord-system > "$out/default.yaml"
helm template accord "$chart" -n accord-system \
  --set metrics.serviceMonitor.enabled=true --set metrics.prometheusRule.enabled=true \
  --set metrics.grafanaDashboard.enabled=true --set webhook.certManager.enabled=true > "$out/all.yaml"
for kind in Deployment ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Service \
            MutatingWebhookConfiguration ValidatingWebhookConfiguration PodDisruptionBudget; do
  grep -q "^kind: $kind$" "$out/default.yaml" || fail "default render lacks a $kind"
done
for kind in ServiceMonitor PrometheusRule Certificate Issuer; do
  grep -q "^kind: $kind$" "$out/all.yaml" || fail "full render lacks a $kind"
done
grep -q '"\*"' "$out/default.yaml" && fail "wildcard in rendered RBAC"
grep -q 'honorLabels: true' "$out/all.yaml" || fail "the ServiceMonitor must honor Accord's namespace label (honorLabels: true)"
python3 -c "import json,sys; json.load(open('$chart/files/grafana-dashboard.json'))" || fail "dashboard is not JSON"
echo "helm template renders every object"
(cd "$root" && cargo run --locked -q --bin crdgen -- --check-webhooks "$out/default.yaml") \
  || fail "charts/accord/templates/webhooks.yaml is out of step with src/webhook/configuration.rs"

# The values schema must reject bad values, each with a message naming the value.
reject() {
  local what="$1"; shift
  if helm template accord "$chart" "$@" >/dev/null 2>"$out/err"; then fail "schema accepted $what"; fi
  grep -q "$what" "$out/err" || fail "rejection of $what does not name it: $(cat "$out/err")"
  echo "values schema rejects $what"
}
reject replicaCount --set replicaCount=-1
reject logFormat --set logFormat=xml
reject timeoutSeconds --set webhook.timeoutSeconds=30
reject certValidity --set webhook.certValidity=forever
reject unknownValue --set unknownValue=1

command -v promtool >/dev/null || fail "promtool not found: apt-get install prometheus"
promtool check rules "$chart/files/prometheus-rules.yaml"
(cd "$chart/tests" && promtool test rules prometheus-rules-test.yaml)
