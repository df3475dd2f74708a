#!/usr/bin/env bash
# Provision a Debian testing (forky) root filesystem holding ISC Kea 3.0.4 (kea-dhcp4, kea-ctrl-agent,
# kea-admin) and cache it as a tarball, so test runs can run real Kea offline.
#
# Why a chroot: bookworm ships Kea 2.2 without host_cmds/subnet_cmds; forky/sid ship Kea 3.0.4 with every
# hook, but need a newer glibc than the host's (see docs/testing.md).
#
# Output: $KEA_ROOTFS (default /var/cache/kea-operator/kea-rootfs), unpacked and ready to chroot into.
# Idempotent: does nothing when the root filesystem is already there and runs kea-dhcp4.
set -euo pipefail

CACHE=${KEA_OPERATOR_CACHE:-/var/cache/kea-operator}
ROOT=${KEA_ROOTFS:-$CACHE/kea-rootfs}
TARBALL=$CACHE/kea-rootfs.tar.gz
SUITE=${KEA_SUITE:-forky}

# Ready = Kea runs, the hooks the tests load are there, and kea-admin's PostgreSQL schema is present.
ready() {
  [ -x "$ROOT/usr/sbin/kea-dhcp4" ] && [ -x "$ROOT/usr/sbin/kea-ctrl-agent" ] \
    && [ -f "$ROOT/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so" ] \
    && [ -f "$ROOT/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_pgsql.so" ] \
    && [ -f "$ROOT/usr/share/kea/scripts/pgsql/dhcpdb_create.pgsql" ] \
    && chroot "$ROOT" kea-dhcp4 -V >/dev/null 2>&1
}

# The hosts-database tests run a private PostgreSQL from the machine's own server binaries.
ensure_postgres() {
  if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then return; fi
  echo "installing the PostgreSQL server (hosts-database tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null; }
}
ensure_postgres

prepare_dirs() {
  mkdir -p "$ROOT/run/kea" "$ROOT/var/lib/kea" "$ROOT/var/log/kea" "$ROOT/etc/kea"
  chmod 750 "$ROOT/run/kea"
}

if ready; then prepare_dirs; echo "kea rootfs ready: $ROOT ($(chroot "$ROOT" kea-dhcp4 -V | head -1))"; exit 0; fi

mkdir -p "$CACHE"
if [ -f "$TARBALL" ]; then
  echo "unpacking cached kea rootfs from $TARBALL"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  tar -C "$ROOT" -xzf "$TARBALL"
  if ready; then prepare_dirs; echo "kea rootfs ready: $ROOT"; exit 0; fi
  echo "cached tarball is unusable; provisioning again"
fi

if ! command -v debootstrap >/dev/null; then
  echo "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
fi

MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
echo "provisioning Debian $SUITE root filesystem with Kea into $ROOT (about a minute)"
rm -rf "$ROOT.tmp"; mkdir -p "$ROOT.tmp"
debootstrap --variant=minbase --include=kea-dhcp4-server,kea-ctrl-agent,kea-admin \
  "$SUITE" "$ROOT.tmp" "$MIRROR" /usr/share/debootstrap/scripts/sid >"$CACHE/debootstrap.log" 2>&1 || {
  echo "debootstrap failed; last lines of $CACHE/debootstrap.log:"; tail -20 "$CACHE/debootstrap.log"; exit 1; }
# Keep the rootfs small: apt lists and caches are not needed to run Kea.
rm -rf "$ROOT.tmp/var/cache/apt/archives/"*.deb "$ROOT.tmp/var/lib/apt/lists/"*
rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"
prepare_dirs
tar -C "$ROOT" -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
ready || { echo "kea-dhcp4 does not run in $ROOT"; exit 1; }
echo "kea rootfs ready: $ROOT ($(chroot "$ROOT" kea-dhcp4 -V | head -1))"
