#!/usr/bin/env bash
# Checksum benchmark: builds the ISA-L C reference into bench/out/ and runs
# bench/crc_bench.ts on Deno and on Bun, each printing a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
gcc -O2 -Wall -Wextra -o bench/out/crc_ref bench/crc_ref.c -lisal
node_modules/.bin/deno run -A bench/crc_bench.ts
node_modules/.bin/bun bench/crc_bench.ts
