#!/usr/bin/env bash
# 4 KiB random-read benchmark: uring's Promise API on Deno and Bun vs fio's
# io_uring engine vs each runtime's own async file APIs, at QD 1, 16, 64, on
# a /dev/shm file, a page-cached file on a disk file system and an O_DIRECT
# file on a disk file system; with the synchronous low-level loop (no
# Promises) as the runtime's floor.
#
#   bash bench/read.sh [--secs 2] [--rounds 2] [--qd 1,16,64] [--only shm,cached,direct] [--json]
#
# Environment: READ_BENCH_SHM_MB (default 256; also the cached file's
# size), READ_BENCH_DIRECT_MB
# (default 1024), READ_BENCH_DIR (default /var/tmp), READ_BENCH_KEEP=1 to
# keep the data files for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1

shm_mb=${READ_BENCH_SHM_MB:-256}
direct_mb=${READ_BENCH_DIRECT_MB:-1024}
dir=${READ_BENCH_DIR:-/var/tmp}
shm_file=/dev/shm/uring-bench-read.dat
direct_file=$dir/uring-bench-read.dat
cached_file=$dir/uring-bench-cached.dat

cleanup() {
  if [ "${READ_BENCH_KEEP:-0}" != 1 ]; then
    rm -f "$shm_file" "$direct_file" "$cached_file"
  fi
}
trap cleanup EXIT

# Random contents (fio's default write pattern) so nothing is sparse.
make_file() { # path size_mb direct
  local path=$1 mb=$2 direct=$3
  if [ -f "$path" ] && [ "$(stat -c %s "$path")" -eq $((mb * 1048576)) ]; then
    return
  fi
  rm -f "$path"
  echo "creating $path ($mb MiB)" >&2
  fio --name=create --filename="$path" --size="${mb}m" --rw=write --bs=1m \
    --ioengine=psync --direct="$direct" --output=/dev/null >/dev/null
}
make_file "$shm_file" "$shm_mb" 0
make_file "$direct_file" "$direct_mb" 1
make_file "$cached_file" "$shm_mb" 0

node_modules/.bin/deno run -A bench/read.ts \
  --shm-file "$shm_file" --cached-file "$cached_file" \
  --direct-file "$direct_file" "$@"
