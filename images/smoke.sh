#!/usr/bin/env bash
# images/smoke.sh [kea-operator] [kea-sim]: run each image (default: both) built by images/build.sh
# and check it behaves (`just images-smoke`).
#   kea-operator: `--help` exits 0; `check` without configuration exits non-zero with one line naming
#                 KEA_URL (SPEC §5: invalid configuration stops the process with one line); `check`
#                 accepts the environment of every value set the chart renders (run `just chart`
#                 first: its renders are read from $CHART_RENDER_DIR); all under the chart's
#                 restrictions (read-only root filesystem, no capabilities, non-root).
#   kea-sim:      started with its baked-in example config, answers `list-commands` on its published
#                 Kea port, answers HTTP on its admin port, and stops on SIGTERM as PID 1.
set -euo pipefail
tag=${IMAGE_TAG:-dev}
failures=0
fail() { echo "  FAIL $*"; failures=$((failures + 1)); }
ok() { echo "  ok   $*"; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
render_dir=${CHART_RENDER_DIR:-$cache/chart-render}
helm_tools=$cache/tools/helm-py

# The pod security the chart sets, as docker flags.
restricted=(--read-only --cap-drop ALL --security-opt no-new-privileges)

smoke_operator() {
  local image=kea-operator:$tag help check rc lines
  echo "==> $image"
  set +e
  help=$(docker run --rm "${restricted[@]}" "$image" --help 2>&1); rc=$?
  set -e
  if [ $rc -eq 0 ] && grep -q 'check' <<<"$help" && grep -q 'run' <<<"$help"; then
    ok "--help exits 0 and lists the run and check subcommands"
  else
    fail "--help exited $rc; output: $(head -c 400 <<<"$help")"
  fi

  set +e
  # The container's environment holds no Kea setting (the host's is not passed in).
  check=$(docker run --rm "${restricted[@]}" "$image" check 2>&1); rc=$?
  set -e
  lines=$(grep -c . <<<"$check" || true)
  if [ $rc -eq 0 ]; then
    fail "check without configuration exited 0: $check"
  elif [ $rc -ge 125 ]; then
    fail "check exited $rc: docker could not run the binary: $check"
  elif [ "$lines" -ne 1 ]; then
    fail "check without configuration printed $lines lines, expected one: $(head -c 600 <<<"$check")"
  elif ! grep -q 'KEA_URL' <<<"$check"; then
    fail "check's error does not name KEA_URL: $check"
  else
    ok "check without configuration exits $rc with one line: $check"
  fi
}

# Starts the image with the environment and Secret mounts each rendered value set of the chart gives
# the pod, and runs `check` without a network: the configuration must be accepted (the servers are
# then unreachable: exit 1), never refused (exit 2). Catches a chart value the operator would refuse.
smoke_operator_chart_env() {
  local image=kea-operator:$tag files render name env_file out rc
  echo "==> $image with the environment the chart renders"
  files=$(mktemp -d)
  mkdir -p "$files/tls" "$files/basic-auth"
  printf 'not-a-real-password' >"$files/basic-auth/password"
  # A CA and a client certificate the operator accepts: RSA 2048 with the clientAuth EKU (SPEC §7).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=smoke-ca \
    -keyout "$files/ca.key" -out "$files/tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=kea-operator -keyout "$files/tls/tls.key" -out "$files/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$files/client.ext"
  openssl x509 -req -in "$files/client.csr" -CA "$files/tls/ca.crt" -CAkey "$files/ca.key" -CAcreateserial \
    -days 2 -extfile "$files/client.ext" -out "$files/tls/tls.crt" 2>/dev/null
  chmod -R a+rX "$files"
  local renders=0
  for render in "$render_dir"/*.yaml; do
    [ -e "$render" ] || continue
    renders=$((renders + 1))
    name=$(basename "$render" .yaml)
    env_file=$files/$name.env
    if ! PYTHONPATH=$helm_tools python3 "$repo/scripts/helm/rendered_env.py" "$render" >"$env_file"; then
      fail "chart env $name: cannot read the operator's environment from $render"
      continue
    fi
    # The chart sets no Kea URL by default (the user must): give the sets without one a URL.
    grep -qE '^(KEA_URL|KEA_BASE_URL|KEA_HOST)=' "$env_file" || echo 'KEA_URL=http://kea-dhcp4:8000' >>"$env_file"
    set +e
    out=$(docker run --rm "${restricted[@]}" --network none --env-file "$env_file" \
      -v "$files/tls:/etc/kea-operator/tls:ro" -v "$files/basic-auth:/etc/kea-operator/basic-auth:ro" \
      "$image" check 2>&1); rc=$?
    set -e
    if [ $rc -eq 1 ] && grep -q '^configuration: valid' <<<"$out"; then
      ok "chart env $name: configuration accepted ($(grep -c 'warning:' <<<"$out" || true) warnings), Kea unreachable as expected"
    else
      fail "chart env $name: check exited $rc (expected 1: valid configuration, no Kea): $(head -n 3 <<<"$out")"
    fi
  done
  rm -rf "$files"
  [ $renders -gt 0 ] || fail "no chart renders in $render_dir: run scripts/helm/check.sh (just chart) first"
}

sim_container=""
cleanup() { [ -z "$sim_container" ] || docker rm -f "$sim_container" >/dev/null 2>&1 || true; }
trap cleanup EXIT

smoke_sim() {
  local image=kea-sim:$tag kea_port admin_port answer="" start took_ms code
  echo "==> $image"
  sim_container=kea-sim-smoke-$$
  docker run -d --name "$sim_container" --cap-drop ALL --security-opt no-new-privileges \
    -p 127.0.0.1::8000 -p 127.0.0.1::8001 "$image" >/dev/null
  # Published ports exist only while the container runs.
  kea_port=$(docker port "$sim_container" 8000/tcp 2>/dev/null | head -n1 | sed 's/.*://' || true)
  admin_port=$(docker port "$sim_container" 8001/tcp 2>/dev/null | head -n1 | sed 's/.*://' || true)
  if [ -z "$kea_port" ] || [ -z "$admin_port" ]; then
    fail "kea-sim did not stay up (exit $(docker inspect -f '{{.State.ExitCode}}' "$sim_container")); logs: $(docker logs "$sim_container" 2>&1 | tail -n 5)"
    return
  fi

  for _ in $(seq 1 50); do
    answer=$(curl -sS --max-time 2 -H 'Content-Type: application/json' \
      -d '{"command": "list-commands", "service": ["dhcp4"]}' "http://127.0.0.1:$kea_port/" 2>/dev/null) && break
    [ "$(docker inspect -f '{{.State.Running}}' "$sim_container")" = true ] || break
    sleep 0.2
  done
  if jq -e '.[0].result == 0 and (.[0].arguments | index("list-commands") != null)' <<<"$answer" >/dev/null 2>&1; then
    ok "list-commands on the published Kea port: $(jq -c '.[0].arguments | length' <<<"$answer") commands"
  else
    fail "list-commands on 127.0.0.1:$kea_port answered: ${answer:-nothing}; logs: $(docker logs "$sim_container" 2>&1 | tail -n 5)"
  fi

  # Any HTTP answer will do: the admin API's routes are kea-sim's business, its port is ours.
  if curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$admin_port/" 2>/dev/null; then
    ok "the admin API answers HTTP on its published port"
  else
    fail "the admin API on 127.0.0.1:$admin_port does not answer HTTP"
  fi

  start=$(date +%s%N)
  docker stop -t 5 "$sim_container" >/dev/null
  took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  code=$(docker inspect -f '{{.State.ExitCode}}' "$sim_container")
  # PID 1 gets no default signal handlers: a binary that does not handle SIGTERM is killed (137).
  if [ "$code" = 137 ]; then
    fail "kea-sim ignored SIGTERM as PID 1 (killed after 5 s)"
  else
    ok "stops on SIGTERM in ${took_ms} ms (exit $code)"
  fi
}

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(kea-operator kea-sim)
for image in "${images[@]}"; do
  case $image in
    kea-operator | kea-sim) ;;
    *) echo "unknown image '$image': expected kea-operator or kea-sim" >&2; exit 2 ;;
  esac
  if ! docker image inspect "$image:$tag" >/dev/null 2>&1; then
    echo "image $image:$tag not found: run images/build.sh (just images) first" >&2
    exit 1
  fi
  user=$(docker image inspect -f '{{.Config.User}}' "$image:$tag")
  if [ "$user" = 65532:65532 ]; then ok "$image runs as $user"; else fail "$image runs as '$user', expected 65532:65532"; fi
done
for image in "${images[@]}"; do
  case $image in
    kea-operator) smoke_operator; smoke_operator_chart_env ;;
    kea-sim) smoke_sim ;;
  esac
done

if [ $failures -gt 0 ]; then
  echo "image smoke tests: $failures FAILED"
  exit 1
fi
echo "image smoke tests passed"
