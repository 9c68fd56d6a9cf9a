#!/usr/bin/env bash
# `make demo`: what uring does, in under a minute, for someone who has never
# heard of Protection Information. Runs the CLI on Deno, and shows that the
# file it protects verifies on Bun too. Run scripts/setup.sh first (make does).
#
#   bash scripts/demo.sh [LAST_STEP]     # steps 1..LAST_STEP (default: all 5)
set -euo pipefail
cd "$(dirname "$0")/.."
last=${1:-5}
# Bold step titles only on a terminal, and never when NO_COLOR is set
# (https://no-color.org): piped or logged output stays plain text.
bold="" plain=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
export NO_COLOR=1
repo=$PWD
deno="$repo/node_modules/.bin/deno"
bun="$repo/node_modules/.bin/bun"
work=$(mktemp -d /dev/shm/uring-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Commands run inside the scratch directory, so reports show short names.
cd "$work"
uring() { "$deno" run -A "$repo/cli.ts" "$@"; }
n=0
step() {
  n=$((n + 1))
  [ "$n" -le "$last" ] || exit 0
  printf '\n%s== %s%s\n%s\n\n' "$bold" "$1" "$plain" "$2"
}
show() { printf '$ uring %s\n' "$*"; }

step "1. What can this machine do?" \
"uring asks the kernel which io_uring features it has, and whether a disk can store
Protection Information (PI): a small checksum + tag stored next to every block,
so corruption anywhere between the application and the disk gets caught."
show probe /dev/shm
uring probe /dev/shm

step "2. Protect a file with a PI sidecar" \
"Disks with PI are rare, so uring can keep the same checksums in a 'sidecar' file:
one 8-byte tuple (CRC16 checksum, application tag, reference tag = block number)
per 4 KiB of data, in exactly the bytes a PI disk would store. The 256 MiB file is
read through io_uring in 1 MiB blocks, several at a time."
head -c $((256 << 20)) /dev/urandom >data.bin
show pi gen data.bin
uring pi gen data.bin

step "3. Check the file against its sidecar" \
"Every 4 KiB interval is read again and its checksum and tags compared with the
sidecar. The sidecar is self-describing, so no options are needed - and the same
sidecar verifies on Bun, the other runtime uring supports."
show pi verify data.bin
uring pi verify data.bin
printf '$ bun cli.ts pi verify data.bin\n'
"$bun" "$repo/cli.ts" pi verify data.bin

step "4. Flip one bit in the middle of the file, and catch it" \
"One bit of byte 100,000,000 changes, the way a failing disk, cable or buggy
driver might change it silently. Verification names the interval, its byte offset,
the field that failed (the guard = checksum) and both values; the exit code is 1."
byte=$(od -An -tu1 -j 100000000 -N1 data.bin | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" |
  dd of=data.bin bs=1 seek=100000000 conv=notrunc status=none
show pi verify data.bin
set +e
uring pi verify data.bin
status=$?
set -e
echo "(exit code $status: integrity problem found)"

step "5. How fast is it, compared with what people use today?" \
"The same run measures uring's Promise API and the baselines: NOPs against a C
program using liburing, and 4 KiB random reads of a /dev/shm file against fio's
io_uring engine and the runtime's own node:fs/promises. 'uring ÷ this' above 1
means uring is faster; loop lag shows whether the event loop stayed responsive."
show bench nop --seconds 1
uring bench nop --seconds 1
echo
show bench read --seconds 1 --size 64M
uring bench read --seconds 1 --size 64M
echo
show bench pi
uring bench pi
