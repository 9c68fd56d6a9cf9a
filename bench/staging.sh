#!/usr/bin/env bash
# Staged (caller buffer) vs zero-copy (library-owned buffer) reads through
# the Promise API on Deno and Bun, in one run: 4 KiB random reads at QD
# 1/16/64 and 1 MiB sequential reads at QD 4, on a page-cached file on the
# disk file system, on /dev/shm, and with O_DIRECT (bench/staging.ts).
#
#   bash bench/staging.sh [--secs 0.25] [--rounds 6] [--lib DIR] [--base DIR] [--registered] [--app-copy] [--only TEXT] [--json]
#
# Environment: STAGING_BENCH_MB (default 256), STAGING_BENCH_DIR (default
# /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1

mb=${STAGING_BENCH_MB:-256}
dir=${STAGING_BENCH_DIR:-/var/tmp}
disk_file=$dir/uring-bench-staging-$$.dat
shm_file=/dev/shm/uring-bench-staging-$$.dat
trap 'rm -f "$disk_file" "$shm_file"' EXIT

# Random contents, so nothing is sparse.
head -c $((mb * 1048576)) /dev/urandom >"$disk_file"
cp "$disk_file" "$shm_file"
sync "$disk_file"

for runtime in deno bun; do
  if [ "$runtime" = deno ]; then
    cmd=(node_modules/.bin/deno run -A bench/staging.ts)
  else
    cmd=(node_modules/.bin/bun bench/staging.ts)
  fi
  "${cmd[@]}" --disk-file "$disk_file" --shm-file "$shm_file" "$@"
done
