#!/usr/bin/env bash
# Install everything the tests need on a fresh machine; every step is cached under $KEA_OPERATOR_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
export KEA_OPERATOR_CACHE=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
scripts/provision-kea.sh
scripts/build-apiserver.sh
