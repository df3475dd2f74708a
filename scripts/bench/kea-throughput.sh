#!/usr/bin/env bash
# scripts/bench/kea-throughput.sh [SECONDS] [CONNECTIONS]
# kea-sim against real Kea 3.0.4 on this machine, in one run: `reservation-get` throughput and latency
# with wrk (SPEC §9: kea-sim must be at least 4x real Kea at 8 connections). Both servers get the same
# config and the same 1,000 memory reservations. Prints one machine-readable line:
#   BENCH kea-throughput seconds=.. connections=.. kea_sim_rps=.. kea_rps=.. ratio=.. kea_sim_p99_ms=.. kea_p99_ms=..
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CONNS=${2:-8}
CACHE=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
ROOT=${KEA_ROOTFS:-$CACHE/kea-rootfs}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
scripts/provision-kea.sh >/dev/null
cargo build -q --release -p kea-sim --bin kea-sim
SIM_BIN=$CARGO_TARGET_DIR/release/kea-sim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEA_PORT=$(free_port); SIM_PORT=$(free_port); ADMIN_PORT=$(free_port)
WORK=$(mktemp -d /tmp/kea-bench.XXXXXX)
NAME=bench-$$
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$ROOT/etc/kea/$NAME.json" "$ROOT/run/kea/$NAME".* "$ROOT/run/kea/kea-dhcp4.$NAME.pid"
  rm -rf "$WORK"
}
trap cleanup EXIT

config() {
  cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": []},
  "control-sockets": [{"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": $1}],
  "lease-database": {"type": "memfile", "persist": false},
  "hooks-libraries": [
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so"},
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_subnet_cmds.so"}],
  "subnet4": [{"id": 1, "subnet": "10.100.0.0/16", "pools": [{"pool": "10.100.1.10 - 10.100.1.200"}]}]}}
JSON
}
config "$KEA_PORT" >"$ROOT/etc/kea/$NAME.json"
config "$SIM_PORT" >"$WORK/sim.json"
chroot "$ROOT" kea-dhcp4 -c "/etc/kea/$NAME.json" >"$WORK/kea.log" 2>&1 &
PIDS+=($!)
"$SIM_BIN" --config "$WORK/sim.json" --admin-listen "127.0.0.1:$ADMIN_PORT" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)

post() { curl -s -X POST "http://127.0.0.1:$1/" -H 'Content-Type: application/json' -d "$2"; }
for port in "$KEA_PORT" "$SIM_PORT"; do
  for _ in $(seq 100); do post "$port" '{"command":"list-commands"}' >/dev/null 2>&1 && break; sleep 0.1; done
  python3 - "$port" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
for i in range(1000):
    body = {"command": "reservation-add", "arguments": {"operation-target": "memory", "reservation": {
        "subnet-id": 1, "hw-address": "02:00:00:00:%02x:%02x" % (i // 256, i % 256),
        "ip-address": "10.100.%d.%d" % (10 + i // 250, 1 + i % 250)}}}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(req))
    assert answer[0]["result"] == 0, answer
PY
done

cat >"$WORK/get.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"command":"reservation-get","arguments":{"subnet-id":1,"identifier-type":"hw-address","identifier":"02:00:00:00:01:f4","operation-target":"memory"}}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
measure() { wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$WORK/get.lua" "http://127.0.0.1:$1/" | grep '^RESULT'; }
SIM=$(measure "$SIM_PORT")
KEA=$(measure "$KEA_PORT")
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
SIM_RPS=$(field "$SIM" rps); KEA_RPS=$(field "$KEA" rps)
RATIO=$(python3 -c "print(round($SIM_RPS / max($KEA_RPS, 1), 2))")
echo "kea-sim:  $SIM"
echo "Kea $(chroot "$ROOT" kea-dhcp4 -V | head -1): $KEA"
echo "BENCH kea-throughput seconds=$DURATION connections=$CONNS kea_sim_rps=$SIM_RPS kea_rps=$KEA_RPS ratio=$RATIO kea_sim_p99_ms=$(field "$SIM" p99_ms) kea_p99_ms=$(field "$KEA" p99_ms) errors_sim=$(field "$SIM" errors) errors_kea=$(field "$KEA" errors)"
