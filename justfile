# kea-operator: `just --list` shows every recipe. `./dev <recipe>` installs `just` first on a fresh machine.

set shell := ["bash", "-euo", "pipefail", "-c"]

export KEA_OPERATOR_CACHE := env_var_or_default("KEA_OPERATOR_CACHE", "/var/cache/kea-operator")
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", KEA_OPERATOR_CACHE / "target")

# List the recipes
default:
    @just --list

# Install what a fresh machine lacks: cargo tools, real Kea 3.0.4 rootfs, the Kubernetes API server
setup:
    scripts/setup.sh

# Formatting and lints (cargo fmt --check, clippy -D warnings)
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Unit, property, integration and doc tests (real environments required: REQUIRE_REAL_ENV=1)
test: setup
    REQUIRE_REAL_ENV=1 cargo nextest run --workspace --no-fail-fast
    cargo test --workspace --doc

# Everything CI runs, in order, each step timed (.ci/run calls this through ./dev ci)
ci:
    scripts/timed setup just setup
    scripts/timed lint just lint
    scripts/timed test just test
    scripts/timed conformance just conformance
    scripts/timed chart just chart
    scripts/timed images just images-smoke
    scripts/timed demo just demo-check
    scripts/timed e2e-local just e2e-local
    scripts/timed e2e-real-kea just e2e-real-kea
    scripts/timed e2e-containers just e2e-containers
    scripts/timed e2e-kind-check just e2e --check
    scripts/timed bench-converge-smoke just bench-converge-smoke
    scripts/timed fuzz just fuzz 30

# Fuzz every cargo-fuzz target for SECONDS each (default 60) on stable Rust; a crash fails
fuzz SECONDS="60" *TARGETS:
    scripts/fuzz.sh {{SECONDS}} {{TARGETS}}

# Benchmark kea-sim against real Kea 3.0.4 (reservation-get, wrk, 8 connections); prints a BENCH line
bench SECONDS="10":
    scripts/bench/kea-throughput.sh {{SECONDS}} 8

# Convergence benchmark (SPEC §9): NCS NCs × 2 leased interfaces against a kea-sim pair; time to Ready vs the lower bound, Kea commands per interface, operator peak RSS, sweep cost
bench-converge NCS="10000" *ARGS: _sandbox-binaries
    KEA_OPERATOR_BIN={{sandbox_bin}}/kea-operator KEA_SIM_BIN={{sandbox_bin}}/kea-sim E2E_RUN_DIR=$KEA_OPERATOR_CACHE/bench-runs \
      cargo run --locked --release -p e2e --bin converge -- --ncs {{NCS}} {{ARGS}}

# The convergence benchmark at 200 NCs with the debug build `just test` made (CI: it keeps running and its world ends exact; numbers at this size are not the targets)
bench-converge-smoke: _sandbox-binaries
    KEA_OPERATOR_BIN={{sandbox_bin}}/kea-operator KEA_SIM_BIN={{sandbox_bin}}/kea-sim E2E_RUN_DIR=$KEA_OPERATOR_CACHE/bench-runs \
      cargo run --locked -p e2e --bin converge -- --ncs 200 --resync-seconds 10

# Run kea-sim with the example config (Kea socket 127.0.0.1:8000, admin API 127.0.0.1:8001)
kea-sim *ARGS:
    cargo run -p kea-sim --bin kea-sim -- --config kea-sim/examples/kea-dhcp4.json {{ARGS}}

# Helm chart checks, offline: lint, render every value set, kubernetes-validate, structure, golden files
chart:
    scripts/helm/check.sh

# Build the images kea-operator:dev and kea-sim:dev (FROM scratch, static binaries) and print their sizes
images:
    images/build.sh

# Build the images, render the chart, then run each image: kea-operator --help/check (and the chart's env), kea-sim list-commands
images-smoke: images chart
    images/smoke.sh

# Start real Kea 3.0.4 by hand (--auth U:P, --tls, --mtls, --ha, --ca, --config FILE, --port N); Ctrl-C stops it
kea-up *ARGS:
    scripts/provision-kea.sh
    cargo run -q -p testenv --bin kea-up -- {{ARGS}}

# Start a real Kubernetes API server by hand (prints KUBECONFIG; --crds FILE, --extra-ip IP); Ctrl-C stops it
kube-up *ARGS:
    scripts/build-apiserver.sh
    cargo run -q -p testenv --bin kube-up -- {{ARGS}}

# kea-sim against Kea 3.0.4: every recorded case (kea-sim and live real Kea) and differential runs
conformance:
    scripts/provision-kea.sh
    REQUIRE_REAL_ENV=1 cargo nextest run --workspace --no-fail-fast --no-capture -E 'package(kea-sim) & (binary(conformance) | binary(differential))'

# Re-record the expected answers of every conformance case from real Kea (CONFORMANCE_FILTER=part limits it)
conformance-record:
    scripts/provision-kea.sh
    REQUIRE_REAL_ENV=1 CONFORMANCE_RECORD=1 cargo test -p kea-sim --test conformance real_kea_gives_the_recorded_answers -- --nocapture

# End-to-end, local lane: the operator binary against the API server and a kea-sim pair process (E2E_FILTER, E2E_SCALE)
e2e-local:
    scripts/e2e/lane.sh local

# End-to-end with a real Kea 3.0.4 HA pair (kea-sim-only faults become SIGSTOP/kill/restart)
e2e-real-kea:
    scripts/provision-kea.sh
    scripts/e2e/lane.sh real-kea

# End-to-end in containers: the images `just images` builds, on a Docker network (faults: pause, stop, disconnect)
e2e-containers: images
    scripts/e2e/lane.sh containers

# End-to-end on kind (machines with internet and Docker): cluster, images, helm install, the scenarios; --check runs offline
e2e *ARGS:
    scripts/e2e/kind.sh {{ARGS}}

# Where the static release build of the binaries lands (images/build.sh and the e2e lanes use the same build)
sandbox_bin := CARGO_TARGET_DIR / "x86_64-unknown-linux-gnu/release"

# Local sandbox: a real API server, a kea-sim HA pair and the operator with sample NCs; shows the result, stays up until Ctrl-C (--free-ports, --exit-after-setup)
demo *ARGS: _sandbox-binaries
    KEA_OPERATOR_BIN={{sandbox_bin}}/kea-operator KEA_SIM_BIN={{sandbox_bin}}/kea-sim cargo run --locked -p e2e --bin demo -- {{ARGS}}

# The sandbox without a terminal, checked: every valid interface Reserved on both kea-sim servers, nothing left listening
demo-check: _sandbox-binaries
    KEA_OPERATOR_BIN={{sandbox_bin}}/kea-operator KEA_SIM_BIN={{sandbox_bin}}/kea-sim REQUIRE_REAL_ENV=1 \
      cargo test --locked -p e2e --test demo -- --include-ignored --nocapture

# What the sandbox runs: the API server (built on first use) and one static release build of both binaries
_sandbox-binaries:
    @[ -x "$KEA_OPERATOR_CACHE/kube/bin/apiextensions-apiserver" ] || echo "first run: building the Kubernetes API server from Debian's Go sources (about 5 minutes; cached in $KEA_OPERATOR_CACHE/kube)"
    scripts/build-apiserver.sh
    RUSTFLAGS='-C target-feature=+crt-static' cargo build --locked --release --target x86_64-unknown-linux-gnu -p kea-operator -p kea-sim
