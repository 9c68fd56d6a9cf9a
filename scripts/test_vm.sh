#!/usr/bin/env bash
# The test suite inside emulated machines: PI-formatted NVMe namespaces on
# Linux 7.2 (every PI format, Deno and Bun) and the whole suite on older
# kernels (6.12 and 6.1, which cannot carry PI through io_uring).
#
#   URING_VM_RUNNER=../shared/vm/run-guest.sh bash scripts/test_vm.sh
#
# URING_VM_RUNNER is a command that boots a guest with the PI namespace as
# /dev/nvme0n1, runs the command line it is given in the current directory
# and exits with its status; it reads VM_KERNEL, VM_PI, VM_PIF, VM_MS,
# VM_LBS, VM_SMP and VM_TIMEOUT (../shared/vm/README.md). Other knobs:
#   URING_VM_JOBS    guests at once (default 2; the machine has 2 cores)
#   URING_VM_ONLY    run only the configurations whose name matches this
#                    extended regular expression (e.g. '^7\.2 t1-crc16-512')
#   URING_VM_BUDGET  seconds the whole stage should take (default 1800):
#                    the summary says whether it fit
#   URING_VM_LOGS    a directory to keep every guest's full output in
# Prints each configuration's result as it ends, a time summary, and then
# one line "N passed, N failed, N skipped" summed over every guest run.
# Without a runner everything is skipped and the exit status is 0.
set -uo pipefail
# One function, read whole before it runs: editing this file during a run
# cannot change the run.
main() {
cd "$(dirname "$0")/.."
. scripts/lib/summary.sh
export NO_COLOR=1

runner=${URING_VM_RUNNER:-}
runner_shell=
jobs=${URING_VM_JOBS:-2}
budget=${URING_VM_BUDGET:-1800}
only=${URING_VM_ONLY:-}

# Test files per configuration. The PI formats need the device tests only.
# The older kernels run every file on Bun, and on Deno every file that
# reaches the kernel through the library itself: the pure checksum, tuple
# and sidecar files give the same answer on any kernel (make test runs them
# on both runtimes), and the CLI files start a new Deno per command, 5-10 s
# each under TCG (Deno's whole suite took 20 minutes on 6.12). Bun runs the
# CLI files on the same kernels.
PI_FILES="tests/pi_device_test.ts tests/cli_device_test.ts tests/pi_fio_test.ts"
KERNEL_FREE="tests/cli_pi_test.ts tests/pi_crc_test.ts tests/pi_tuples_test.ts tests/pi_property_test.ts tests/pi_ip_test.ts"
# Left out of every guest: promise_loop_test.ts, whose bounds (timer
# lateness in ms, idle CPU time) are calibrated for a native CPU, and TCG
# runs 10-50x slower; memory_transfer_test.ts, 200 rounds of forced GC per
# buffer move (2-4 minutes natively), which under TCG ran past Bun's
# 120 s per test and its children's 30 s: what it checks is the engines'
# transfer rules over a pipe read, the same on every kernel;
# package_test.ts, which packs, installs and type-checks the package
# (`deno publish --dry-run` alone ran past 120 s under TCG on 6.12) and
# checks nothing a kernel decides.
NOT_IN_VM="tests/promise_loop_test.ts tests/memory_transfer_test.ts tests/package_test.ts"

# Every test file except those named.
suite_files() {
  local f out=()
  for f in tests/*_test.ts; do
    case " $* " in *" $f "*) continue ;; esac
    out+=("$f")
  done
  echo "${out[*]}"
}
ALL=$(suite_files $NOT_IN_VM)
CLI_FILES="tests/cli_probe_test.ts tests/cli_bench_test.ts tests/cli_device_test.ts"
LIBRARY=$(suite_files $NOT_IN_VM $KERNEL_FREE $CLI_FILES)

# name | runtime | runner environment | files. The short PI runs first
# (early news of a broken device test), then the long ones in pairs.
CONFIGS=()
for format in \
  "t1-crc16-512|VM_PI=1 VM_PIF=0 VM_MS=8 VM_LBS=512" \
  "t1-crc16-4096|VM_PI=1 VM_PIF=0 VM_MS=8 VM_LBS=4096" \
  "t1-crc64-512|VM_PI=1 VM_PIF=2 VM_MS=16 VM_LBS=512" \
  "t1-crc64-4096|VM_PI=1 VM_PIF=2 VM_MS=16 VM_LBS=4096" \
  "t3-crc16-512|VM_PI=3 VM_PIF=0 VM_MS=8 VM_LBS=512" \
  "t3-crc64-512|VM_PI=3 VM_PIF=2 VM_MS=16 VM_LBS=512"; do
  for runtime in deno bun; do
    CONFIGS+=("7.2 ${format%%|*} $runtime|$runtime|VM_KERNEL=7.2 ${format#*|}|$PI_FILES")
  done
done
CONFIGS+=(
  "6.12 all files|bun|VM_KERNEL=6.12|$ALL"
  "6.1 all files|bun|VM_KERNEL=6.1|$ALL"
  "6.12 library files|deno|VM_KERNEL=6.12|$LIBRARY"
  "6.1 library files|deno|VM_KERNEL=6.1|$LIBRARY"
)

runs=()
for config in "${CONFIGS[@]}"; do
  IFS='|' read -r name runtime _ <<<"$config"
  case "$name" in 6.*) name="$name $runtime" ;; esac
  [ -z "$only" ] || [[ "$name" =~ $only ]] || continue
  runs+=("$name|${config#*|}")
done

if [ -z "$runner" ]; then
  echo "== vm: skipped: set URING_VM_RUNNER to a guest runner (for example"
  echo "   ../shared/vm/run-guest.sh, which needs qemu-system-x86) to run"
  echo "   ${#runs[@]} guest runs: PI formats on Linux 7.2, the suite on 6.12 and 6.1"
  echo "0 passed, 0 failed, ${#runs[@]} skipped"
  exit 0
fi
# The bundled runner boots QEMU: install it like the other system packages.
if [[ "$runner" == *run-guest.sh ]]; then
  bash scripts/setup.sh vm || {
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
  }
fi
if [ ! -f "$runner" ]; then
  echo "vm: URING_VM_RUNNER=$runner does not exist"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
runner=$(readlink -f "$runner")
# A copy without execute bits (CI's read-only shared/) still runs.
[ -x "$runner" ] || runner_shell=bash

out=$(mktemp -d "${TMPDIR:-/tmp}/uring-vm.XXXXXX")
trap 'rm -rf "$out"' EXIT
logs=${URING_VM_LOGS:-}
[ -z "$logs" ] || mkdir -p "$logs"
start=$(date +%s)

# Type-check on the host, once: Deno's checker takes minutes under TCG, so
# the guests run with --no-check.
echo "== vm: type check on the host"
check_failed=0
node_modules/.bin/deno check -q $(for r in "${runs[@]}"; do
  cut -d'|' -f4 <<<"$r"
done | tr ' ' '\n' | sort -u) || check_failed=1

# The command line a guest runs. Each guest has its own Deno cache (the
# runner's default, a tmpfs): one DENO_DIR shared by overlapping guests
# corrupts its SQLite files over 9p.
guest_command() {
  local runtime=$1 files=$2 common
  # URING_TIME_SCALE: TCG is several times slower than the host (tests/helpers.ts).
  common='URING_PI_DEVICE=/dev/nvme0n1 URING_FIO="$VM_DIR/tools/fio" URING_TIME_SCALE=4'
  if [ "$runtime" = deno ]; then
    echo "$common node_modules/.bin/deno test -A --no-check --v8-flags=--expose-gc $files"
  else
    echo "$common node_modules/.bin/bun test --timeout 120000 $files"
  fi
}

# One guest run: writes the log, then "name|P F S|seconds|rc" to .result.
run_one() {
  local i=$1 name=$2 runtime=$3 envs=$4 files=$5 t0 rc counts secs smp
  t0=$(date +%s)
  # With two guests at once, one vCPU each keeps TCG's threads to the
  # number of cores.
  smp=2
  [ "$jobs" -lt 2 ] || smp=1
  env -u DENO_DIR VM_QUIET=1 VM_SMP="${VM_SMP:-$smp}" VM_TIMEOUT="${VM_TIMEOUT:-2400}" $envs \
    $runner_shell "$runner" "$(guest_command "$runtime" "$files")" >"$out/$i.log" 2>&1
  rc=$?
  secs=$(($(date +%s) - t0))
  counts=$(test_counts "$runtime" "$out/$i.log" "$rc")
  [ -z "$logs" ] || cp "$out/$i.log" "$logs/${name// /_}.log"
  echo "$name|$counts|$secs|$rc" >"$out/$i.result"
  read -r p f s <<<"$counts"
  printf '%-6s %-28s %3d passed, %d failed, %d skipped (%d s%s)\n' \
    "$([ "$f" -eq 0 ] && echo "[ok]" || echo "[FAIL]")" "$name" "$p" "$f" "$s" \
    "$secs" "$([ "$rc" -eq 0 ] || echo ", exit $rc")"
  if [ "$f" -ne 0 ]; then
    # What failed, then the end of the log (the runner's own diagnosis).
    grep -E '^\(fail\)|FAILED|=> .*:[0-9]+:[0-9]+|^error|Error: ' "$out/$i.log" | head -60 | sed 's/^/    /'
    echo "    --- last lines of the guest's output:"
    tail -40 "$out/$i.log" | sed 's/^/    /'
  fi
}

echo "== vm: ${#runs[@]} guest runs through $runner, $jobs at a time"
echo "   left out of every guest: $NOT_IN_VM (timing bounds, GC round counts and package builds sized for a native CPU; none depends on the kernel)"
i=0
for r in "${runs[@]}"; do
  IFS='|' read -r name runtime envs files <<<"$r"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "$i" "$name" "$runtime" "$envs" "$files" &
  i=$((i + 1))
done
wait

passed=0 failed=$check_failed skipped=0 guest_secs=0 slowest="" slowest_secs=0
for ((k = 0; k < i; k++)); do
  if [ ! -s "$out/$k.result" ]; then
    failed=$((failed + 1))
    continue
  fi
  IFS='|' read -r name counts secs rc <"$out/$k.result"
  read -r p f s <<<"$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  guest_secs=$((guest_secs + secs))
  if [ "$secs" -gt "$slowest_secs" ]; then slowest_secs=$secs slowest=$name; fi
done
wall=$(($(date +%s) - start))
echo
[ "$check_failed" -eq 0 ] || echo "vm: the host type check failed"
echo "vm time: ${wall} s wall for ${i} guest runs (${guest_secs} s of guest time," \
  "$jobs at a time; slowest: $slowest, ${slowest_secs} s);" \
  "$([ "$wall" -le "$budget" ] && echo "within" || echo "OVER") the ${budget} s budget"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
}
main "$@"
