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
[[ ! -e "$chart/crds" ]] || fail "charts/accord/crds/ must not exist: Helm never upgrades it (the CRDs are templates)"
diff -ru "$root/crds" "$chart/files/crds" || fail "charts/accord/files/crds differs from crds/: run 'make crds'"
echo "chart CRDs are identical to crds/"

python3 "$root/hack/values-table.py" --check "$chart/README.md" || fail "charts/accord/README.md's values table is stale"
echo "the values table in charts/accord/README.md is current"
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
# The CRDs: each rendered once, the chart's labels and the keep policy in its metadata,
# the schema verbatim (templated text such as {{version}} in descriptions untouched);
# crds.enabled=false renders none, crds.keep=false drops the policy.
python3 - "$out/default.yaml" "$root/crds" <<'PY' || fail "the rendered CRDs are not crds/ with the chart's metadata"
import pathlib, sys
docs = [d for d in open(sys.argv[1]).read().split("\n---\n") if "\nkind: CustomResourceDefinition\n" in d]
files = sorted(pathlib.Path(sys.argv[2]).glob("*.yaml"))
assert len(docs) == len(files), f"{len(docs)} CRDs rendered, {len(files)} in crds/"
for doc, path in zip(sorted(docs, key=lambda d: d.split("\n  name: ")[1].split("\n")[0]), files):
    assert "    helm.sh/resource-policy: keep\n" in doc, f"{path.name}: no keep policy"
    assert "    app.kubernetes.io/managed-by: Helm\n" in doc, f"{path.name}: no chart labels"
    spec = path.read_text().split("\nspec:\n", 1)[1]
    assert doc.split("\nspec:\n", 1)[1].rstrip() == spec.rstrip(), f"{path.name}: schema changed in rendering"
PY
[[ $(helm template accord "$chart" --set crds.enabled=false | grep -c "^kind: CustomResourceDefinition$") -eq 0 ]] \
  || fail "crds.enabled=false still renders CRDs"
helm template accord "$chart" --set crds.keep=false | grep -q "helm.sh/resource-policy" \
  && fail "crds.keep=false still keeps the CRDs"
echo "the CRDs render from crds/ with the chart's labels and the keep policy"
grep -q 'honorLabels: true' "$out/all.yaml" || fail "the ServiceMonitor must honor Accord's namespace label (honorLabels: true)"
python3 -c "import json,sys; json.load(open('$chart/files/grafana-dashboard.json'))" || fail "dashboard is not JSON"
# Names, an existing ServiceAccount, an image by digest, extra args/env, topology spread.
digest="sha256:$(printf '%064d' 0)"
helm template rel "$chart" -n ops --set fullnameOverride=gate --set serviceAccount.create=false --set tests.enabled=false \
  --set serviceAccount.name=platform-sa --set image.digest="$digest" --set 'extraArgs[0]=--log-level=debug' \
  --set 'extraEnv[0].name=RUST_BACKTRACE' --set 'extraEnv[0].value=1' \
  --set 'topologySpreadConstraints[0].maxSkew=1' --set 'topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone' \
  --set 'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway' \
  --set records.registry.enabled=true --set records.registry.secret=push-creds \
  --set drills.registry.enabled=true --set drills.registry.secret=pull-creds > "$out/options.yaml"
grep -q "^kind: ServiceAccount$" "$out/options.yaml" && fail "serviceAccount.create=false still renders a ServiceAccount"
grep -q "serviceAccountName: platform-sa" "$out/options.yaml" || fail "serviceAccount.name is not used"
[[ $(grep -c "^    name: platform-sa$" "$out/options.yaml") -eq 2 ]] || fail "the bindings do not name serviceAccount.name"
grep -q "image: ghcr.io/accord-dev/accord@$digest" "$out/options.yaml" || fail "image.digest is not used"
grep -q -- '- "--log-level=debug"' "$out/options.yaml" || fail "extraArgs is not passed"
grep -q "name: RUST_BACKTRACE" "$out/options.yaml" || fail "extraEnv is not passed"
grep -q "topologyKey: topology.kubernetes.io/zone" "$out/options.yaml" || fail "topologySpreadConstraints is not passed"
grep -q "^  name: gate$" "$out/options.yaml" || fail "fullnameOverride is not used"
for arg in --record-registry=true --record-registry-secret=push-creds --drill-registry=true --drill-registry-secret=pull-creds; do
  grep -q -- "- $arg$" "$out/options.yaml" || fail "the registry values do not pass $arg"
done
grep -q -- "--drill-registry" "$out/default.yaml" && fail "drills.registry is on by default"
helm template rel "$chart" -n ops --set nameOverride=gatekeeper > "$out/name.yaml"
grep -q "app.kubernetes.io/name: gatekeeper" "$out/name.yaml" || fail "nameOverride is not used"
grep -q "^  name: rel-gatekeeper$" "$out/name.yaml" || fail "nameOverride does not name the objects"
# helm test: a test Pod running the operator image's check-webhook, as its own
# ServiceAccount that may only create (dry-run) ModelDeployments and Attestations.
python3 - "$out/default.yaml" <<'PY' || fail "the helm test hook is not as documented"
import sys
docs = [d for d in open(sys.argv[1]).read().split("\n---\n") if "helm.sh/hook: test" in d]
kinds = sorted(d.split("\nkind: ")[1].split("\n")[0] for d in docs)
assert kinds == ["Pod", "Role", "RoleBinding", "ServiceAccount"], kinds
pod = next(d for d in docs if "\nkind: Pod\n" in d)
assert "args: [check-webhook," in pod and "serviceAccountName: accord-test" in pod, pod
role = next(d for d in docs if "\nkind: Role\n" in d)
assert "verbs: [create]" in role and role.count("verbs:") == 1, role
PY
[[ $(helm template accord "$chart" --set tests.enabled=false | grep -c "helm.sh/hook: test") -eq 0 ]] \
  || fail "tests.enabled=false still renders the test hook"
echo "chart options render as documented"
echo "helm template renders every object"
(cd "$root" && cargo run --locked -q --bin crdgen -- --check-webhooks "$out/default.yaml") \
  || fail "charts/accord/templates/webhooks.yaml is out of step with crates/accord-operator/src/webhook/configuration.rs"

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
reject digest --set image.digest=latest

command -v promtool >/dev/null || fail "promtool not found: apt-get install prometheus"
promtool check rules "$chart/files/prometheus-rules.yaml"
(cd "$chart/tests" && promtool test rules prometheus-rules-test.yaml)
