#!/usr/bin/env bash
# Idempotent setup: the system libraries uring loads with dlopen, the tools
# the benchmarks compare against, and the npm dev packages (which bring the
# deno and bun binaries). Safe to run again; does nothing when all is there.
# `setup.sh vm` installs what the bundled guest runner needs instead (QEMU
# and mkfs.ext4, for scripts/test_vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if [ "${1:-}" = vm ]; then
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
else
  have_lib() { ldconfig -p | grep -q "$1"; }
  have_lib 'liburing\.so\.2 ' || need+=(liburing2)
  have_lib 'libisal\.so\.2 ' || need+=(libisal2)
  # Benchmarks compile a small C liburing/ISA-L program and run fio beside uring.
  [ -e /usr/include/liburing.h ] || need+=(liburing-dev)
  [ -e /usr/include/isa-l.h ] || need+=(libisal-dev)
  command -v fio >/dev/null || need+=(fio)
  command -v gcc >/dev/null || need+=(gcc)
  command -v losetup >/dev/null || need+=(mount)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt/dpkg (unattended upgrades on a fresh VM, a second setup)
  # holds the dpkg lock: wait for it, up to 5 minutes, instead of failing.
  lock=(-o DPkg::Lock::Timeout=300)
  if pgrep -x 'apt|apt-get|aptitude|dpkg|unattended-upgr' >/dev/null; then
    echo "setup: another apt/dpkg is running; waiting for the dpkg lock (up to 5 minutes)"
  fi
  $SUDO apt-get "${lock[@]}" update -qq
  $SUDO apt-get "${lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "${1:-}" != vm ] && { [ ! -x node_modules/.bin/deno ] || [ ! -x node_modules/.bin/bun ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  if [ -L node_modules ]; then
    # A node_modules shared by several checkouts (a symlink): npm ci would
    # empty the directory it points at under everyone using it. Leave it.
    echo "setup: node_modules is a symlink (shared with another checkout): not reinstalling it; run npm ci where it points if it is stale"
  else
    echo "setup: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
