#!/usr/bin/env bash
# Build a real Kubernetes API server for tests, offline, from Debian sid's Go source packages:
# the standalone apiextensions-apiserver (the CRD-serving code kube-apiserver embeds) plus etcd.
# Why: no registry reachable here holds kube-apiserver, kind node images or k3s (docs/testing.md).
#
# Output (cached; re-built only when missing):
#   $CACHE/kube/bin/apiextensions-apiserver
#   $CACHE/kube/bin/etcd
set -euo pipefail

CACHE=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
OUT=$CACHE/kube
BIN=$OUT/bin
if [ -x "$BIN/apiextensions-apiserver" ] && [ -x "$BIN/etcd" ]; then
  echo "kube api server ready: $BIN"; exit 0
fi

WORK=$OUT/build
APT=$WORK/apt
ROOT=$WORK/root
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc" "$ROOT" "$BIN"

MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
cat >"$APT/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR sid main
SRC
# A private apt: its own sources, lists and cache, so the host's apt state is untouched.
APTOPTS=(-o "Dir::Etc::SourceList=$APT/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null" -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1"
  -o "Acquire::Check-Valid-Until=false")

echo "[1/4] reading Debian sid package lists"
apt-get "${APTOPTS[@]}" -q update >"$WORK/apt-update.log" 2>&1 || { tail -20 "$WORK/apt-update.log"; exit 1; }

echo "[2/4] resolving the Go source packages of apiextensions-apiserver"
deps() { apt-cache "${APTOPTS[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null | awk '/^[a-z0-9]/ {print $1}' | sort -u; }
GOVER=$(apt-cache "${APTOPTS[@]}" depends golang-go 2>/dev/null | awk '/Depends: golang-1\.[0-9]+-go/ {print $2; exit}')
[ -n "$GOVER" ] || { echo "cannot find the golang-1.NN-go package in sid"; exit 1; }
GOSRC=${GOVER%-go}-src
PKGS=$( { deps golang-k8s-apiextensions-apiserver-dev | grep '^golang-' \
  | grep -Ev '^golang-(go|src|doc|any)$|^golang-1\.[0-9]+-(go|src|doc)$'; echo "$GOVER"; echo "$GOSRC"; echo etcd-server; } | sort -u)
echo "$(echo "$PKGS" | wc -l) packages ($GOVER)"

echo "[3/4] downloading and unpacking"
mapfile -t PKG_LIST <<<"$PKGS"
( cd "$APT/cache/archives" && apt-get "${APTOPTS[@]}" -q download "${PKG_LIST[@]}" >"$WORK/apt-download.log" 2>&1 ) || {
  tail -20 "$WORK/apt-download.log"; exit 1; }
for deb in "$APT/cache/archives/"*.deb; do dpkg-deb -x "$deb" "$ROOT"; done

echo "[4/4] building apiextensions-apiserver (about 3 minutes on 2 cores)"
GOROOT=$(find "$ROOT/usr/lib" -maxdepth 1 -name 'go-1.*' -type d | sort -V | tail -1)
export GOROOT GOPATH=$ROOT/usr/share/gocode GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0
export GOCACHE=$WORK/gocache GOFLAGS=
( cd "$GOPATH/src/k8s.io/apiextensions-apiserver" && "$GOROOT/bin/go" build -o "$BIN/apiextensions-apiserver.tmp" k8s.io/apiextensions-apiserver )
mv "$BIN/apiextensions-apiserver.tmp" "$BIN/apiextensions-apiserver"
cp "$ROOT/usr/bin/etcd" "$BIN/etcd"
# awk reads to the end: `head` would close the pipe early, and the writer's SIGPIPE fails the
# script under pipefail (exit 141; it did once go's build info grew past a pipe buffer).
"$GOROOT/bin/go" version -m "$BIN/apiextensions-apiserver" | awk 'NR <= 3' >"$OUT/VERSION"
"$BIN/etcd" --version | awk 'NR == 1' >>"$OUT/VERSION"
# The sources and debs are not needed at runtime; keep the cache small.
rm -rf "$WORK"
echo "kube api server ready: $BIN"
