#!/usr/bin/env bash
# scripts/e2e/lane.sh LANE: run the end-to-end scenarios (e2e/tests/scenarios.rs) in one lane and
# print its duration. LANE is local (kea-sim pair process), real-kea (real Kea 3.0.4 HA pair),
# containers (the images of `just images` on a Docker network) or cluster (the images in the kind
# cluster scripts/e2e/kind.sh sets up, one scenario at a time); see docs/testing.md, "End-to-end".
#
# One release build serves every lane: the same static build `just images` packs into the images
# (images/build.sh), so the containers lane and the host lanes test the same binaries.
# The RBAC scenario runs last: it checks the chart's rules against what the operator did in the
# whole run (each scenario records its audited requests under $E2E_RUN_DIR/audit).
#
# Environment: E2E_FILTER (a nextest filter expression, default all), E2E_THREADS (default 2),
# E2E_SCALE (multiplies the counts of NCs), E2E_SEEDS (crash-consistency seeds, default 1,2,3).
set -euo pipefail
lane=${1:?usage: scripts/e2e/lane.sh local|real-kea|containers|cluster}
case $lane in
  local | real-kea | containers | cluster) ;;
  *) echo "unknown lane '$lane': expected local, real-kea, containers or cluster" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
rust_target=x86_64-unknown-linux-gnu
start=$(date +%s)

if [ "$lane" = local ] || [ "$lane" = real-kea ]; then
  # Exactly images/build.sh's build, so it is one build for every lane (cargo reuses it).
  echo "==> cargo build --release --target $rust_target -p kea-operator -p kea-sim (static)"
  RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --manifest-path "$repo/Cargo.toml" --locked --release --target "$rust_target" -p kea-operator -p kea-sim
fi
export KEA_OPERATOR_BIN=$CARGO_TARGET_DIR/$rust_target/release/kea-operator
export KEA_SIM_BIN=$CARGO_TARGET_DIR/$rust_target/release/kea-sim
export E2E_LANE=$lane
export REQUIRE_REAL_ENV=1
export E2E_RUN_DIR=${E2E_RUN_DIR:-$cache/e2e-runs/$lane}
rm -rf "$E2E_RUN_DIR"
mkdir -p "$E2E_RUN_DIR"
filter=${E2E_FILTER:-all()}
threads=${E2E_THREADS:-2}
# The cluster's operators watch every namespace: its scenarios take turns.
if [ "$lane" = cluster ]; then threads=1; fi
nextest=(cargo nextest run --manifest-path "$repo/Cargo.toml" --locked -p e2e --test scenarios
  --run-ignored only --no-fail-fast --no-tests pass --test-threads "$threads" --failure-output final)

status=0
echo "==> e2e-$lane: scenarios (logs in $E2E_RUN_DIR)"
"${nextest[@]}" -E "not test(s13_rbac) and ($filter)" || status=$?
echo "==> e2e-$lane: RBAC against the whole run"
"${nextest[@]}" -E "test(s13_rbac) and ($filter)" || status=$?
if [ "$lane" = containers ]; then
  # Networks of failed runs (their containers are gone by now).
  docker network ls --format '{{.Name}}' | grep '^e2e-' | xargs -r docker network rm >/dev/null 2>&1 || true
fi
echo "e2e-$lane: $(( $(date +%s) - start ))s, exit $status"
exit $status
