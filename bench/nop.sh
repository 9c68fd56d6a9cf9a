#!/usr/bin/env bash
# NOP submit+reap benchmark: the ring core on Deno and on Bun against a C
# program using liburing, at batch 128 and batch 1, side by side in one run.
#
#   bash bench/nop.sh [ROUNDS] [OPS_BATCH128] [OPS_BATCH1]
#
# Builds bench/nop_ref.c into bench/out/ (gitignored), then runs C / Deno /
# Bun interleaved for ROUNDS rounds (so drift hits all three alike), and
# prints the median ops/s of each and the ratio uring/C per runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
ops128=${2:-5000000}
ops1=${3:-1000000}
deno=node_modules/.bin/deno
bun=node_modules/.bin/bun

mkdir -p bench/out
gcc -O2 -Wall -Wextra -o bench/out/nop_ref bench/nop_ref.c -luring

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ops_of() { sed -nE 's/^ops_per_sec ([0-9]+)$/\1/p'; }

for ((round = 1; round <= rounds; round++)); do
  for batch in 128 1; do
    ops=$ops128
    [ "$batch" -eq 1 ] && ops=$ops1
    bench/out/nop_ref "$batch" "$ops" | ops_of >>"$out/c-$batch"
    "$deno" run -A bench/nop.ts "$batch" "$ops" | ops_of >>"$out/deno-$batch"
    "$bun" bench/nop.ts "$batch" "$ops" | ops_of >>"$out/bun-$batch"
  done
  echo "round $round/$rounds done" >&2
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
mops() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo
echo "NOP submit+reap, median of $rounds interleaved rounds (ops/s)"
printf '%-7s %12s %12s %12s %10s %10s\n' batch C Deno Bun Deno/C Bun/C
for batch in 128 1; do
  c=$(median "$out/c-$batch")
  d=$(median "$out/deno-$batch")
  b=$(median "$out/bun-$batch")
  printf '%-7s %12s %12s %12s %10s %10s\n' "$batch" "$(mops "$c")" \
    "$(mops "$d")" "$(mops "$b")" "$(ratio "$d" "$c")" "$(ratio "$b" "$c")"
done
