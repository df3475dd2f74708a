#!/usr/bin/env bash
# images/build.sh [kea-operator] [kea-sim]: build the container images (default: both) as
# kea-operator:$IMAGE_TAG and kea-sim:$IMAGE_TAG (IMAGE_TAG defaults to dev), then print their sizes.
#
# Each image is FROM scratch plus a static binary (machine-facts.md: only the x86_64-unknown-linux-gnu
# target is reliably available; +crt-static makes it a static-pie that runs without a libc), the CA
# bundle, and for kea-sim an example Kea config. There is no registry: `docker build` uses the legacy
# builder (no buildx here), which uploads its whole context, so each image is built from a small
# folder holding only its files.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
tag=${IMAGE_TAG:-dev}
rust_target=x86_64-unknown-linux-gnu
bin_dir=$CARGO_TARGET_DIR/$rust_target/release
ca_bundle=/etc/ssl/certs/ca-certificates.crt
sim_config=$repo/kea-sim/examples/kea-dhcp4.json

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(kea-operator kea-sim)
for image in "${images[@]}"; do
  case $image in
    kea-operator | kea-sim) ;;
    *) echo "unknown image '$image': expected kea-operator or kea-sim" >&2; exit 2 ;;
  esac
done

[ -r "$ca_bundle" ] || { echo "$ca_bundle is missing: apt-get install ca-certificates" >&2; exit 1; }
if [[ " ${images[*]} " == *" kea-sim "* ]] && [ ! -r "$sim_config" ]; then
  echo "$sim_config is missing: the kea-sim image bakes it in as /etc/kea-sim/kea-dhcp4.json" >&2
  exit 1
fi

packages=()
for image in "${images[@]}"; do packages+=(-p "$image"); done
echo "==> cargo build --release --target $rust_target ${packages[*]} (static; CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
start=$(date +%s)
# --target keeps RUSTFLAGS away from build scripts and proc macros, which must stay dynamic host code.
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --manifest-path "$repo/Cargo.toml" --locked --release --target "$rust_target" "${packages[@]}"
echo "    built in $(( $(date +%s) - start ))s"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
revision=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain 2>/dev/null | head -n1)" ]; then revision=$revision-dirty; fi

contexts=$cache/image-context
for image in "${images[@]}"; do
  binary=$bin_dir/$image
  # A dynamic binary would start in the build machine's shell but fail in scratch ("no such file").
  if readelf -d "$binary" 2>/dev/null | grep -q '(NEEDED)'; then
    echo "$binary links shared libraries; it cannot run FROM scratch:" >&2
    readelf -d "$binary" | grep '(NEEDED)' >&2
    exit 1
  fi
  ctx=$contexts/$image
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp "$binary" "$ctx/$image"
  cp "$ca_bundle" "$ctx/ca-certificates.crt"
  cp "$repo/images/$image.Dockerfile" "$ctx/Dockerfile"
  if [ "$image" = kea-sim ]; then
    mkdir -p "$ctx/etc-kea-sim"
    cp "$sim_config" "$ctx/etc-kea-sim/kea-dhcp4.json"
  fi
  echo "==> docker build $image:$tag (context: $(du -sh "$ctx" | cut -f1))"
  # DOCKER_BUILDKIT=0: the legacy builder; BuildKit needs buildx, which this machine lacks. Its
  # deprecation notice goes to stderr on every build: shown only when the build fails.
  if ! DOCKER_BUILDKIT=0 docker build -q --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    -t "$image:$tag" "$ctx" >/dev/null 2>"$ctx.log"; then
    cat "$ctx.log" >&2
    exit 1
  fi
done

echo "==> images"
printf '%-24s %11s\n' IMAGE SIZE
for image in "${images[@]}"; do
  bytes=$(docker image inspect -f '{{.Size}}' "$image:$tag")
  printf '%-24s %8.1f MB\n' "$image:$tag" "$(echo "$bytes" | awk '{print $1 / 1000000}')"
done
