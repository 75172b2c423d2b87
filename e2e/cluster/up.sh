#!/usr/bin/env bash
# Starts the local control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and KWOK fake nodes, as local processes on loopback ports. Builds the
# binaries first when they are not cached (minutes, once). A no-op when already up.
#
# Writes under .cluster/: kubeconfig (admin), users/<user>.kubeconfig, logs/, pids/,
# audit.log, and the certificates and tokens it generated for this cluster.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

all_alive() { local c; for c in "${components[@]}"; do alive "$c" || return 1; done; }
if all_alive && readyz; then
  log "already up (admin kubeconfig: $state/kubeconfig); nothing to do"
  exit 0
fi
if [[ -d "$state" ]]; then
  log "found a partial or stopped cluster in $state; cleaning it up first"
  "$cluster_dir_script/down.sh"
fi

for tool in openssl curl python3 go; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
"$cluster_dir_script/build.sh"
command -v kubectl >/dev/null || die "kubectl is required"

started=$(date +%s)
mkdir -p "$state"/{pki,etcd,logs,pids,tokens,users}
chmod 700 "$state"

# --- certificates and keys ---------------------------------------------------------
pki="$state/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=accord-local-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
  -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
cat > "$pki/apiserver.ext" <<EXT
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 30 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

# --- static tokens: admin, the control-plane components, and the test users ---------
token() { openssl rand -hex 16; }
tokens_csv="$state/tokens/tokens.csv"
: > "$tokens_csv"
add_user() { # add_user <name> <groups-comma-separated>
  local t; t="$(token)"
  echo "$t" > "$state/tokens/$1"
  # An empty group column would become a group named "": leave it out instead.
  if [[ -n "$2" ]]; then echo "$t,$1,$1,\"$2\"" >> "$tokens_csv"; else echo "$t,$1,$1" >> "$tokens_csv"; fi
}
add_user admin "system:masters"
add_user system:kube-controller-manager ""
add_user system:kube-scheduler ""
for entry in "${CLUSTER_USERS[@]}"; do add_user "${entry%%:*}" "${entry#*:}"; done
chmod 600 "$state"/tokens/*

write_kubeconfig "$state/kubeconfig" admin "$(cat "$state/tokens/admin")"
write_kubeconfig "$state/kcm.kubeconfig" system:kube-controller-manager "$(cat "$state/tokens/system:kube-controller-manager")"
write_kubeconfig "$state/scheduler.kubeconfig" system:kube-scheduler "$(cat "$state/tokens/system:kube-scheduler")"
for entry in "${CLUSTER_USERS[@]}"; do
  user="${entry%%:*}"
  write_kubeconfig "$state/users/$user.kubeconfig" "$user" "$(cat "$state/tokens/$user")"
done

cat > "$state/audit-policy.yaml" <<'POLICY'
# Metadata for every request: who did what to which object, without bodies.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
POLICY

# start <name> <binary> <args...>: a detached process with its log and PID file.
start() {
  local name="$1" bin="$2"; shift 2
  [[ -x "$bin" ]] || die "missing binary $bin; run e2e/cluster/build.sh"
  setsid "$bin" "$@" > "$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name.pid"
  log "started $name (pid $!, log $state/logs/$name.log)"
}
# A component that exits while we wait is a failure: show its log and stop everything.
check_alive() {
  local c
  for c in "$@"; do
    if ! alive "$c"; then
      log "$c exited; last lines of its log:"
      tail -n 30 "$state/logs/$c.log" >&2 || true
      "$cluster_dir_script/down.sh"
      exit 1
    fi
  done
}

# --- etcd ----------------------------------------------------------------------------
start etcd "$etcd_bin" \
  --name=accord-local --data-dir="$state/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="accord-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" --log-level=warn --quota-backend-bytes=4294967296
etcd_ready() { check_alive etcd; curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
wait_for "etcd health" 60 etcd_ready || { "$cluster_dir_script/down.sh"; exit 1; }

# --- kube-apiserver --------------------------------------------------------------------
start kube-apiserver "$k8s_bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --token-auth-file="$tokens_csv" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --allow-privileged=true \
  --audit-policy-file="$state/audit-policy.yaml" \
  --audit-log-path="$state/audit.log" --audit-log-format=json \
  --audit-log-maxsize=200 --audit-log-maxbackup=1 \
  --profiling=false
apiserver_ready() { check_alive etcd kube-apiserver; readyz; }
wait_for "kube-apiserver /readyz" 120 apiserver_ready || { tail -n 30 "$state/logs/kube-apiserver.log" >&2; "$cluster_dir_script/down.sh"; exit 1; }
log "kube-apiserver is ready at https://127.0.0.1:$APISERVER_PORT"

# --- controller-manager, scheduler -------------------------------------------------------
start kube-controller-manager "$k8s_bin/kube-controller-manager" \
  --kubeconfig="$state/kcm.kubeconfig" \
  --authentication-kubeconfig="$state/kcm.kubeconfig" \
  --authorization-kubeconfig="$state/kcm.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --kube-api-qps=100 --kube-api-burst=200 \
  --profiling=false
start kube-scheduler "$k8s_bin/kube-scheduler" \
  --kubeconfig="$state/scheduler.kubeconfig" \
  --authentication-kubeconfig="$state/scheduler.kubeconfig" \
  --authorization-kubeconfig="$state/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --leader-elect=false --profiling=false

# --- KWOK: fake nodes whose pods become Running and Ready ---------------------------------
start kwok "$kwok_bin" \
  --kubeconfig="$state/kubeconfig" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.0.0.1/16 --node-ip=10.0.0.1 \
  --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"

kc() { kubectl --kubeconfig "$state/kubeconfig" "$@"; }
nodes_yaml=""
for i in $(seq 0 $(( KWOK_NODES - 1 ))); do
  nodes_yaml+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, node-role.kubernetes.io/agent: \"\"}
status:
  allocatable: {cpu: \"$KWOK_NODE_CPU\", memory: $KWOK_NODE_MEMORY, pods: \"$KWOK_NODE_PODS\"}
  capacity: {cpu: \"$KWOK_NODE_CPU\", memory: $KWOK_NODE_MEMORY, pods: \"$KWOK_NODE_PODS\"}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
  phase: Running
"
done
# One tainted GPU node, for workloads that tolerate it and request nvidia.com/gpu.
nodes_yaml+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-gpu-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}
  labels: {type: kwok-gpu, accelerator: nvidia-a100, kubernetes.io/hostname: kwok-gpu-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]
status:
  allocatable: {cpu: \"$KWOK_NODE_CPU\", memory: $KWOK_NODE_MEMORY, pods: \"$KWOK_NODE_PODS\", nvidia.com/gpu: \"8\"}
  capacity: {cpu: \"$KWOK_NODE_CPU\", memory: $KWOK_NODE_MEMORY, pods: \"$KWOK_NODE_PODS\", nvidia.com/gpu: \"8\"}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
  phase: Running
"
kc apply -f - <<< "$nodes_yaml" >/dev/null
ready_nodes() {
  check_alive "${components[@]}"
  local n
  n=$(kc get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c '^True$' || true)
  (( n >= KWOK_NODES ))
}
wait_for "$KWOK_NODES Ready KWOK nodes" 120 ready_nodes || { "$cluster_dir_script/down.sh"; exit 1; }
gpu_ready() {
  [[ $(kc get node kwok-gpu-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}
wait_for "the tainted GPU node" 60 gpu_ready || { "$cluster_dir_script/down.sh"; exit 1; }
# The default ServiceAccount is what most workloads run as; wait for its controller.
wait_for "the default ServiceAccount" 60 kc get serviceaccount default -n default >/dev/null 2>&1 \
  || { "$cluster_dir_script/down.sh"; exit 1; }

log "up in $(( $(date +%s) - started ))s: Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, $KWOK_NODES fake nodes"
cat >&2 <<USAGE

  Use it as admin:     export KUBECONFIG=$state/kubeconfig
  Act as a test user:  kubectl --kubeconfig $state/users/alice.kubeconfig auth whoami
                       (users: $(for e in "${CLUSTER_USERS[@]}"; do printf '%s ' "${e%%:*}"; done))
  Audit log:           $state/audit.log      Logs: $state/logs/
  Stop it:             make cluster-down

USAGE
