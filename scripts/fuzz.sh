#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: run each cargo-fuzz target for SECONDS (default 60) on stable
# Rust (`-s none`: no sanitizer; the nightly-only flag is avoided, see docs/testing.md). Corpora live
# under $KEA_OPERATOR_CACHE/fuzz-corpus (seeded from fuzz/seeds); a crash fails the run and its input
# is kept in fuzz/artifacts/ — turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
TOOLS=$CACHE/tools
SECONDS_PER_TARGET=${1:-60}
shift || true
if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  echo "installing cargo-fuzz into $TOOLS"
  cargo install --locked --root "$TOOLS" cargo-fuzz >/dev/null 2>&1 || cargo install --root "$TOOLS" cargo-fuzz
fi
export PATH=$TOOLS/bin:$PATH
export CARGO_TARGET_DIR=$CACHE/fuzz-target
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cd fuzz && cargo fuzz list)
for target in "${TARGETS[@]}"; do
  corpus=$CACHE/fuzz-corpus/$target
  mkdir -p "$corpus"
  cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  echo "==> fuzz $target for ${SECONDS_PER_TARGET}s"
  log=$CACHE/fuzz-$target.log
  if ! (cd fuzz && cargo fuzz run -s none "$target" "$corpus" -- -max_total_time="$SECONDS_PER_TARGET" \
        -print_final_stats=1) >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed (input kept under fuzz/artifacts/$target; full log $log)"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log" | sed "s/^/  $target /"
done
