#!/usr/bin/env bash
# Says which control-plane processes run, whether the API server is ready, and the nodes.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -d "$state" ]]; then
  echo "local cluster: not running (no $state)"
  exit 1
fi
rc=0
for c in "${components[@]}"; do
  if alive "$c"; then printf '  %-24s running (pid %s)\n' "$c" "$(pid_of "$c")"
  else printf '  %-24s NOT running\n' "$c"; rc=1; fi
done
if readyz; then
  echo "  kube-apiserver /readyz   ok  (https://127.0.0.1:$APISERVER_PORT)"
  kubectl --kubeconfig "$state/kubeconfig" get nodes -o wide 2>/dev/null | sed 's/^/  /'
  echo "  admin kubeconfig: $state/kubeconfig"
else
  echo "  kube-apiserver /readyz   not ready"; rc=1
fi
exit $rc
