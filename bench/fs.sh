#!/usr/bin/env bash
# The everyday file API (readFile, writeFile, file.readable, copyFile) vs
# each runtime's own calls, on Deno then on Bun, on the disk file system.
#
#   bash bench/fs.sh [--dir /var/tmp] [--rounds 7] [--only read,write,stream,copy] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
node_modules/.bin/deno run -A bench/fs.ts "$@"
node_modules/.bin/bun bench/fs.ts "$@"
