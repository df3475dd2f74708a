#!/usr/bin/env bash
# scripts/e2e/kind.sh [--check]: the kind lane (`just e2e`), for machines with internet and Docker.
#
#   (no flag)  create (or reuse) the kind cluster "kea-e2e" with API auditing on (a kind config
#              after kind's auditing guide; the policy file is mounted from $KEA_OPERATOR_CACHE/kind), load kea-operator:$IMAGE_TAG and
#              kea-sim:$IMAGE_TAG (the images `just images` builds, the ones the containers lane
#              tests), run kea-sim as a pod, `helm install` the chart with
#              charts/kea-operator/tests/values/kind-e2e.yaml, then
#              1. a smoke test of the chart's own Deployment: a device obtains a lease, an NC becomes
#                 Ready, both kea-sim servers hold the reservation with the owner marker, the NC's
#                 deletion removes it;
#              2. the chart scaled to zero replicas, the e2e scenarios (e2e/tests/scenarios.rs, the
#                 code every lane runs) in the cluster lane: operator pods built from the chart's pod
#                 template (its ServiceAccount and RBAC, enforced by the cluster), a kea-sim pod per
#                 scenario, one scenario at a time (scripts/e2e/lane.sh cluster; E2E_FILTER works).
#              KEEP_CLUSTER=1 keeps the cluster.
#   --check    what can be checked without internet (CI here): Shellcheck passes on this script and
#              lane.sh, the chart renders and validates with the kind value file (`just chart`
#              renders every file of tests/values), and the images it would load exist locally.
#              (The cluster lane's Rust code is compiled, linted and unit-tested with the workspace.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tag=${IMAGE_TAG:-dev}
cluster=${KIND_CLUSTER:-kea-e2e}
values=$repo/charts/kea-operator/tests/values/kind-e2e.yaml
start=$(date +%s)
cache=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
export E2E_RUN_DIR=${E2E_RUN_DIR:-$cache/e2e-runs/cluster}
# Outside the run directory: lane.sh empties that, and the node mounts the policy file from here.
audit_dir=$cache/kind/$cluster-audit
# Where the API server writes its audit log on the control-plane node (root-only: read with docker exec).
node_audit_log=/var/log/kubernetes/audit/kube-apiserver-audit.log

check() {
  local failures=0
  command -v shellcheck >/dev/null || apt-get install -y -q shellcheck >/dev/null
  echo "==> shellcheck"
  shellcheck "$repo/scripts/e2e/kind.sh" "$repo/scripts/e2e/lane.sh" || failures=$((failures + 1))
  echo "==> the chart with $values (just chart renders every value set)"
  if ! "$repo/scripts/helm/check.sh"; then failures=$((failures + 1)); fi
  local render=${CHART_RENDER_DIR:-${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}/chart-render}/kind-e2e.yaml
  if [ ! -s "$render" ] || ! grep -q "image: \"\?kea-operator:$tag" "$render"; then
    echo "  FAIL the kind render $render does not run kea-operator:$tag"; failures=$((failures + 1))
  fi
  echo "==> images the lane loads"
  for image in kea-operator kea-sim; do
    if docker image inspect "$image:$tag" >/dev/null 2>&1; then
      echo "  ok   $image:$tag ($(docker image inspect -f '{{.Id}}' "$image:$tag" | cut -c1-19))"
    else
      echo "  FAIL $image:$tag is not built (just images)"; failures=$((failures + 1))
    fi
  done
  echo "e2e kind --check: $(( $(date +%s) - start ))s, $failures failure(s)"
  [ "$failures" -eq 0 ]
}

need() {
  command -v "$1" >/dev/null || { echo "kind lane: $1 is required ($2)" >&2; exit 1; }
}

run() {
  need kind "https://kind.sigs.k8s.io"
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  need helm "https://helm.sh/docs/intro/install/"
  need curl "apt-get install curl"
  for image in kea-operator kea-sim; do
    docker image inspect "$image:$tag" >/dev/null 2>&1 || { echo "build the images first: just images" >&2; exit 1; }
  done
  if ! kind get clusters | grep -qx "$cluster"; then
    create_cluster
  elif ! docker exec "$cluster-control-plane" test -e "$node_audit_log"; then
    echo "kind lane: cluster $cluster has no audit log (made by an older kind.sh?): kind delete cluster --name $cluster" >&2
    exit 1
  fi
  [ "${KEEP_CLUSTER:-0}" = 1 ] || trap 'kind delete cluster --name "$cluster"' EXIT
  kubectl config use-context "kind-$cluster" >/dev/null
  kind load docker-image --name "$cluster" "kea-operator:$tag" "kea-sim:$tag"
  kubectl create namespace kea-system --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply -f "$repo/scripts/e2e/kind/kea-sim.yaml"
  kubectl -n kea-system rollout status deployment/kea-sim --timeout=120s
  helm upgrade --install kea "$repo/charts/kea-operator" -n kea-system -f "$values" --set image.tag="$tag" --wait --timeout 180s

  local ns=e2e-kind mac=0a:99:00:00:00:01 pf_log
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
  pf_log=$(mktemp)
  kubectl -n kea-system port-forward svc/kea-sim 18001:8001 >"$pf_log" 2>&1 &
  local pf=$!
  trap 'kill $pf 2>/dev/null || true; [ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$cluster"' EXIT
  for _ in $(seq 50); do curl -fsS http://127.0.0.1:18001/health >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS -X POST http://127.0.0.1:18001/dhcp/acquire -H 'Content-Type: application/json' \
    -d "{\"mac\": \"$mac\", \"subnet_id\": 1}"; echo
  kubectl apply -f - <<YAML
apiVersion: vitistack.io/v1alpha1
kind: NetworkNamespace
metadata: {name: net, namespace: $ns}
spec: {}
---
apiVersion: vitistack.io/v1alpha1
kind: NetworkConfiguration
metadata: {name: smoke, namespace: $ns}
spec:
  clusterName: kind
  datacenterName: kind
  supervisorName: kind
  provider: kea
  networkInterfaces: [{name: eth0, macAddress: "$mac"}]
YAML
  kubectl -n "$ns" patch networknamespace net --subresource=status --type=merge -p '{"status":{"ipv4Prefix":"10.100.0.0/16"}}'
  kubectl -n "$ns" wait --for=condition=Ready networkconfiguration/smoke --timeout=120s
  for server in primary secondary; do
    curl -fsS "http://127.0.0.1:18001/hosts?server=$server" | grep -q "\"$mac\".*kea-operator" \
      || { echo "kind lane: $server does not hold the reservation of $mac" >&2; exit 1; }
    echo "  ok   $server holds the reservation of $mac"
  done
  kubectl -n "$ns" delete networkconfiguration smoke --timeout=120s
  for server in primary secondary; do
    if curl -fsS "http://127.0.0.1:18001/hosts?server=$server" | grep -q "\"$mac\""; then
      echo "kind lane: the reservation of $mac is still on $server after the deletion" >&2; exit 1
    fi
  done
  echo "e2e kind: smoke passed after $(( $(date +%s) - start ))s"

  # The scenarios start their own operator pods from the chart's template: the chart's own replicas go.
  helm upgrade kea "$repo/charts/kea-operator" -n kea-system --reuse-values --set replicaCount=0 --wait --timeout 120s
  local status=0
  E2E_CLUSTER_NODE=$cluster-control-plane E2E_CLUSTER_AUDIT_LOG=$node_audit_log E2E_IMAGE_TAG=$tag \
    "$repo/scripts/e2e/lane.sh" cluster || status=$?
  echo "e2e kind: $(( $(date +%s) - start ))s, exit $status"
  return "$status"
}

# A kind cluster whose API server writes an audit log (every request, metadata level), as kind's
# auditing guide does: the RBAC check reads what the operator's ServiceAccount did.
create_cluster() {
  rm -rf "$audit_dir"
  mkdir -p "$audit_dir"
  local config=$E2E_RUN_DIR/kind-config.yaml
  cat >"$audit_dir/policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
YAML
  cat >"$config" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraMounts:
      - hostPath: $audit_dir/policy.yaml
        containerPath: /etc/kubernetes/policies/audit-policy.yaml
        readOnly: true
    kubeadmConfigPatches:
      - |
        kind: ClusterConfiguration
        apiServer:
          extraArgs:
            audit-log-path: $node_audit_log
            audit-policy-file: /etc/kubernetes/policies/audit-policy.yaml
          extraVolumes:
            - name: audit-policies
              hostPath: /etc/kubernetes/policies
              mountPath: /etc/kubernetes/policies
              readOnly: true
              pathType: DirectoryOrCreate
            - name: audit-logs
              hostPath: $(dirname "$node_audit_log")
              mountPath: $(dirname "$node_audit_log")
              readOnly: false
              pathType: DirectoryOrCreate
YAML
  kind create cluster --name "$cluster" --config "$config" --wait 120s
}

case ${1:-} in
  --check) check ;;
  "") run ;;
  *) echo "usage: scripts/e2e/kind.sh [--check]" >&2; exit 2 ;;
esac
