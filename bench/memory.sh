#!/usr/bin/env bash
# Staging and library-owned buffer costs on Deno and on Bun, each printing a
# markdown table with ratios against a plain set() copy measured in the same
# run (bench/memory_bench.ts says what each row is).
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/deno run -A bench/memory_bench.ts
node_modules/.bin/bun bench/memory_bench.ts
