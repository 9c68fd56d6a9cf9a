#!/usr/bin/env bash
# bench/pi_device.ts inside Linux 7.2 guests with a PI namespace, 16-bit and
# 64-bit guards, on Deno and on Bun: 4 KiB random PI reads and writes at QD 1
# and 32, uring ÷ fio. QEMU's TCG makes the IOPS themselves meaningless; the
# ratio is the result.
#
#   URING_VM_RUNNER=../shared/vm/run-guest.sh bash bench/pi_vm.sh [--secs 3] [--rounds 2]
#
# With a real PI drive, run bench/pi_device.ts directly (see its header).
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${URING_VM_RUNNER:?set URING_VM_RUNNER, e.g. ../shared/vm/run-guest.sh}
args="$*"
env='URING_PI_DEVICE=/dev/nvme0n1 URING_FIO="$VM_DIR/tools/fio"'
for format in "VM_PIF=0 VM_MS=8" "VM_PIF=2 VM_MS=16"; do
  env $format VM_KERNEL=7.2 VM_PI=1 VM_LBS=512 VM_TIMEOUT=900 VM_QUIET=1 "$runner" \
    "$env node_modules/.bin/deno run -A bench/pi_device.ts $args &&
     $env node_modules/.bin/bun bench/pi_device.ts $args"
done
