/**
 * Staged (caller-owned buffer) against zero-copy (library-owned buffer)
 * reads through the Promise API, in one run per runtime: 4 KiB random
 * reads at QD 1, 16 and 64 and 1 MiB sequential reads at QD 4, on a
 * page-cached file on the disk file system, on /dev/shm, and with
 * O_DIRECT. Each row runs staged and zero-copy alternately, `--rounds`
 * times, and keeps the best of each; the ratio is staged / zero-copy
 * (best over best), and the paired median is the median over rounds of
 * staged / zero-copy measured back to back, which drifting load on a
 * shared machine moves less.
 *
 *     bash bench/staging.sh [--secs 1] [--rounds 3] [--lib DIR] [--only TEXT]
 *
 * `--lib DIR` runs the workloads against another checkout's library.
 * `--app-copy` adds a contender in the same rounds: zero-copy reads after
 * each of which the program copies the bytes into a plain array of its
 * own (what any use of the data costs; staging makes the same copy, so
 * staged ÷ this is the price of the library doing it).
 * `--only TEXT` keeps the rows whose "target workload" name contains TEXT
 * (for example `--only "O_DIRECT 4K rand QD64"`).
 * `--registered` adds two contenders in the same rounds: a ring with the
 * `registeredBuffers: { count: QD, size: block }` option reading into
 * plain buffers (staged in registered slots, READ_FIXED) and into
 * `ring.buffer()` buffers (zero-copy and READ_FIXED).
 * `--base DIR` adds a third contender in the same process and rounds: that
 * checkout's `Ring` reading into a plain buffer (before issue #14 every
 * buffer went to the kernel as given, so this is the old zero-copy speed).
 * Short rounds, alternated, best of each: drifting load on a shared
 * machine hits all contenders alike. `--json` adds one JSON line per row.
 *
 * @module
 */
import process from "node:process";
import { statSync } from "node:fs";

const args = process.argv.slice(2);
function arg(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
const SECS = Number(arg("--secs", "0.25"));
const ROUNDS = Number(arg("--rounds", "6"));
const BASE = arg("--base", "");
const LIB = arg("--lib", new URL("..", import.meta.url).pathname);
const DISK = arg("--disk-file", "");
const SHM = arg("--shm-file", "");
const JSON_OUT = args.includes("--json");
const REGISTERED = args.includes("--registered");
/** Only rows whose "target workload" name contains this text. */
const ONLY = arg("--only", "");
/**
 * Adds a contender: zero-copy reads after which the program copies the
 * bytes it read into a plain array of its own, which is the same copy
 * staging makes, paid by the caller instead.
 */
const APP_COPY = args.includes("--app-copy");

// deno-lint-ignore no-explicit-any
const lib: any = await import(`${LIB.replace(/\/$/, "")}/mod.ts`);
// deno-lint-ignore no-explicit-any
const memory: any = await import(`${LIB.replace(/\/$/, "")}/memory/mod.ts`);
const { O_DIRECT, O_RDONLY, openFd, closeFd, Ring } = lib;
/** Whether the row being measured is O_DIRECT. */
let direct = false;
const allocateBuffer: (n: number) => Uint8Array = memory.allocateBuffer;
// deno-lint-ignore no-explicit-any
const base: any = BASE
  ? await import(`${BASE.replace(/\/$/, "")}/mod.ts`)
  : null;

interface Workload {
  name: string;
  block: number;
  depth: number;
  random: boolean;
}
const WORKLOADS: Workload[] = [
  { name: "4K rand QD1", block: 4096, depth: 1, random: true },
  { name: "4K rand QD16", block: 4096, depth: 16, random: true },
  { name: "4K rand QD64", block: 4096, depth: 64, random: true },
  { name: "1M seq QD4", block: 1 << 20, depth: 4, random: false },
];

/** Operations per second of `w` on `fd` for SECS seconds. */
async function measure(
  fd: number,
  size: number,
  w: Workload,
  owned: boolean,
  secs = SECS,
  from = lib,
  registered = false,
  appCopy = false,
): Promise<number> {
  await using ring = new from.Ring(
    registered
      ? { entries: 128, registeredBuffers: { count: w.depth, size: w.block } }
      : { entries: 128 },
  );
  const blocks = Math.floor(size / w.block);
  // The old library needs aligned memory for O_DIRECT (it did not stage).
  const old = from !== lib && direct;
  const buffers = Array.from(
    { length: w.depth },
    () =>
      old
        ? from.alignedBuffer(w.block)
        : owned
        ? (registered ? ring.buffer(w.block) : allocateBuffer(w.block))
        : new Uint8Array(w.block),
  );
  let next = 0;
  let ops = 0;
  const end = performance.now() + secs * 1000;
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % blocks;
  };
  const loop = async (buf: Uint8Array) => {
    const copy = appCopy ? new Uint8Array(w.block) : null;
    while (performance.now() < end) {
      const block = w.random ? rand() : (next++ % blocks);
      const n = await ring.read(fd, buf, block * w.block);
      if (n !== w.block) throw new Error(`short read: ${n}`);
      if (copy !== null) copy.set(buf);
      ops++;
    }
  };
  const start = performance.now();
  await Promise.all(buffers.map(loop));
  return ops / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Target {
  name: string;
  path: string;
  flags: number;
}
const targets: Target[] = [
  { name: "disk, page-cached", path: DISK, flags: O_RDONLY },
  { name: "/dev/shm", path: SHM, flags: O_RDONLY },
  { name: "disk, O_DIRECT", path: DISK, flags: O_RDONLY | O_DIRECT },
];

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "deno";

/** Reads the whole file once so the page-cached rows are cached. */
async function warm(path: string, size: number): Promise<void> {
  const fd = openFd(path, O_RDONLY);
  await using ring = new Ring({ entries: 8 });
  const buf = allocateBuffer(1 << 20);
  for (let off = 0; off < size; off += 1 << 20) await ring.read(fd, buf, off);
  closeFd(fd);
}

// Warm-up (not counted): both paths compiled before the first row.
{
  const fd = openFd(SHM, O_RDONLY);
  for (const owned of [false, true]) {
    for (const w of WORKLOADS) {
      await measure(fd, statSync(SHM).size, w, owned, 0.2);
      if (REGISTERED) {
        await measure(fd, statSync(SHM).size, w, owned, 0.2, lib, true);
      }
      if (base) await measure(fd, statSync(SHM).size, w, owned, 0.2, base);
    }
  }
  closeFd(fd);
}

const rows: Array<Record<string, unknown>> = [];
for (const t of targets) {
  const size = statSync(t.path).size;
  if (t.flags === O_RDONLY) await warm(t.path, size);
  const fd = openFd(t.path, t.flags);
  direct = (t.flags & O_DIRECT) !== 0;
  try {
    for (const w of WORKLOADS) {
      if (ONLY && !`${t.name} ${w.name}`.includes(ONLY)) continue;
      let staged = 0;
      let zeroCopy = 0;
      let before = 0;
      let stagedReg = 0;
      /** staged / zero-copy of each round (measured back to back). */
      const pairs: number[] = [];
      let zeroCopyReg = 0;
      let appCopy = 0;
      /** staged / app-copy of each round. */
      const appPairs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Alternated so drifting machine load hits all alike.
        const s = await measure(fd, size, w, false);
        const z = await measure(fd, size, w, true);
        staged = Math.max(staged, s);
        zeroCopy = Math.max(zeroCopy, z);
        pairs.push(s / z);
        if (APP_COPY) {
          const a = await measure(fd, size, w, true, SECS, lib, false, true);
          appCopy = Math.max(appCopy, a);
          appPairs.push(s / a);
        }
        if (REGISTERED) {
          stagedReg = Math.max(
            stagedReg,
            await measure(fd, size, w, false, SECS, lib, true),
          );
          zeroCopyReg = Math.max(
            zeroCopyReg,
            await measure(fd, size, w, true, SECS, lib, true),
          );
        }
        if (base) {
          before = Math.max(
            before,
            await measure(fd, size, w, false, SECS, base),
          );
        }
      }
      const row = {
        runtime,
        target: t.name,
        workload: w.name,
        staged: Math.round(staged),
        zeroCopy: Math.round(zeroCopy),
        ratio: Number((staged / zeroCopy).toFixed(2)),
        pairedMedian: Number(median(pairs).toFixed(2)),
        appCopy: Math.round(appCopy),
        stagedVsAppCopy: APP_COPY ? Number(median(appPairs).toFixed(2)) : null,
        before: Math.round(before),
        zeroCopyVsBefore: base ? Number((zeroCopy / before).toFixed(2)) : null,
        stagedRegistered: Math.round(stagedReg),
        zeroCopyRegistered: Math.round(zeroCopyReg),
        stagedRegisteredVsStaged: REGISTERED
          ? Number((stagedReg / staged).toFixed(2))
          : null,
        zeroCopyRegisteredVsZeroCopy: REGISTERED
          ? Number((zeroCopyReg / zeroCopy).toFixed(2))
          : null,
      };
      rows.push(row);
      const unit = w.block >= 1 << 20 ? "MiB/s" : "IOPS";
      // At 1 MiB per read, reads per second are MiB/s.
      const fmt = (v: number) => Math.round(v);
      console.log(
        `${runtime.padEnd(5)} ${t.name.padEnd(18)} ${w.name.padEnd(13)} ` +
          `staged ${String(fmt(staged)).padStart(8)} ${unit}  ` +
          `zero-copy ${String(fmt(zeroCopy)).padStart(8)} ${unit}  ` +
          `ratio ${row.ratio.toFixed(2)} (paired median ${
            row.pairedMedian.toFixed(2)
          })` +
          (APP_COPY
            ? `  | zero-copy + app copy ${
              String(fmt(appCopy)).padStart(8)
            }  staged/that (paired median) ${row.stagedVsAppCopy!.toFixed(2)}`
            : "") +
          (base
            ? `  before ${String(fmt(before)).padStart(8)}  zero-copy/before ${
              row.zeroCopyVsBefore!.toFixed(2)
            }`
            : "") +
          (REGISTERED
            ? `  | registered: staged ${String(fmt(stagedReg)).padStart(8)} (${
              row.stagedRegisteredVsStaged!.toFixed(2)
            }x) zero-copy ${String(fmt(zeroCopyReg)).padStart(8)} (${
              row.zeroCopyRegisteredVsZeroCopy!.toFixed(2)
            }x)`
            : ""),
      );
    }
  } finally {
    closeFd(fd);
  }
}
if (JSON_OUT) { for (const row of rows) console.log(JSON.stringify(row)); }
