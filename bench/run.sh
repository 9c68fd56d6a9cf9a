#!/usr/bin/env bash
# Every benchmark, each printing ratios against a baseline measured in the
# same run: NOP submit+reap vs C liburing, 4 KiB random reads vs fio and the
# runtimes' own file APIs, checksums vs ISA-L from C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for part in nop read crc; do
  if [ -f "bench/$part.sh" ]; then
    echo "=== bench/$part.sh"
    bash "bench/$part.sh"
  fi
done
