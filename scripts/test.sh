#!/usr/bin/env bash
# Runs every test on Deno and on Bun, then prints one total line:
#   N passed, N failed, N skipped
# A failure on either runtime (or in the static checks) fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/summary.sh
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

export PATH="$PWD/node_modules/.bin:$PATH"
export NO_COLOR=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

echo "== static checks: deno check (code and JSDoc examples), lint, fmt, doc lint"
static_failed=0
deno check mod.ts raw.ts cli.ts bin/ ffi/ structs/ sys/ ring/ pi/ memory/ cli/ tests/ bench/ examples/ || static_failed=1
# The JSDoc examples compile too (they are the user guide).
deno check --doc mod.ts raw.ts ring/ structs/ sys/ pi/ ffi/ memory/ || static_failed=1
deno lint || static_failed=1
deno fmt --check || static_failed=1
deno doc --lint mod.ts raw.ts || static_failed=1

echo "== deno test"
deno test -A --v8-flags=--expose-gc tests/ 2>&1 | tee "$out/deno.log"
deno_rc=${PIPESTATUS[0]}

echo "== bun test"
# --timeout on the command line: Bun 1.4 does not apply bunfig.toml's
# [test] timeout, and its 5 s default cuts off CLI round trips under load.
bun test --timeout 120000 2>&1 | tee "$out/bun.log"
bun_rc=${PIPESTATUS[0]}

read -r dp df ds < <(test_counts deno "$out/deno.log" "$deno_rc")
read -r bp bf bs < <(test_counts bun "$out/bun.log" "$bun_rc")

echo
echo "deno: $dp passed, $df failed, $ds skipped"
echo "bun:  $bp passed, $bf failed, $bs skipped"
[ "$static_failed" -eq 0 ] || echo "static checks failed (deno check / lint / fmt)"
passed=$((dp + bp))
failed=$((df + bf + static_failed))
skipped=$((ds + bs))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || status=1
exit $status
