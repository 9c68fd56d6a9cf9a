/**
 * Paired A/B of the Promise API between two checkouts, in one process: the
 * base tree's `Ring` and this tree's, interleaved in short runs (order
 * alternating), 4 KiB random reads at depth 1, 16 and 64 on a /dev/shm
 * file, a page-cached disk file and an O_DIRECT file. Prints, per case, the median IOPS of each and the median
 * of the paired ratios this/base: on a busy machine single runs swing far
 * more than any change being measured, and pairing is what cancels that.
 *
 *     git archive BASE | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
 *     deno run -A bench/ab_trees.ts /tmp/base [--rounds 16] [--ms 250] [--only qd64]
 *     bun bench/ab_trees.ts /tmp/base ...
 *
 * @module
 */
import process from "node:process";
import { rmSync, writeFileSync } from "node:fs";
import * as next from "../raw.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const baseDir = args[0];
if (!baseDir || baseDir.startsWith("--")) {
  console.error(
    "usage: ab_trees.ts BASE_TREE [--rounds N] [--ms N] [--only CASE,CASE]",
  );
  process.exit(2);
}
const base = (await import(`${baseDir}/mod.ts`)) as typeof next;
const rounds = Number(option("rounds", "16"));
const runMs = Number(option("ms", "250"));
const only = option("only", "");
const directDir = process.env.READ_BENCH_DIR ?? "/var/tmp";

const O_DIRECT = 0o40000;
const SHM = `/dev/shm/uring-ab-${process.pid}.dat`;
const DIRECT = `${directDir}/uring-ab-${process.pid}.dat`;
const SIZE = 64 << 20;

const cases = [
  { name: "shm qd1", path: SHM, flags: 0, depth: 1 },
  { name: "shm qd16", path: SHM, flags: 0, depth: 16 },
  { name: "shm qd64", path: SHM, flags: 0, depth: 64 },
  // The disk file read through the page cache (it was just written).
  { name: "cached qd1", path: DIRECT, flags: 0, depth: 1 },
  { name: "cached qd16", path: DIRECT, flags: 0, depth: 16 },
  { name: "direct qd1", path: DIRECT, flags: O_DIRECT, depth: 1 },
  { name: "direct qd16", path: DIRECT, flags: O_DIRECT, depth: 16 },
  { name: "direct qd64", path: DIRECT, flags: O_DIRECT, depth: 64 },
].filter((c) => only === "" || only.split(",").some((o) => c.name === o));

/** A 4 KiB view aligned for O_DIRECT. */
function aligned(): Uint8Array {
  const memory = new Uint8Array(8192);
  const skew = Number(next.addressOf(memory) % 4096n);
  const start = (4096 - skew) % 4096;
  return memory.subarray(start, start + 4096);
}

async function iops(ring: next.Ring, fd: number, depth: number) {
  const blocks = SIZE / 4096;
  const end = performance.now() + runMs;
  let done = 0;
  const loop = async (buf: Uint8Array) => {
    while (performance.now() < end) {
      await ring.read(fd, buf, Math.floor(Math.random() * blocks) * 4096);
      done++;
    }
  };
  await Promise.all(Array.from({ length: depth }, () => loop(aligned())));
  return done / (runMs / 1000);
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const data = new Uint8Array(SIZE).map(() => (Math.random() * 256) | 0);
writeFileSync(SHM, data);
writeFileSync(DIRECT, data);
try {
  // Each tree first warms up on a ring of its own, thrown away, so that
  // neither is measured while V8 is still optimising it. (Before 14-bit
  // slot generations, a tree's first ring on Deno also stayed about 2x
  // slower for good: docs/perf.md, "The per-request cost at depth 1".)
  for (const lib of [base, next]) {
    const ring = new lib.Ring({ entries: 128 });
    const fd = lib.openFd(SHM, 0);
    const buf = aligned();
    for (let i = 0; i < 300_000; i++) {
      await ring.read(fd, buf, (i % 1024) * 4096);
    }
    await ring.close();
    lib.closeFd(fd);
  }
  for (const c of cases) {
    const rings = {
      base: new base.Ring({ entries: 128 }),
      next: new next.Ring({ entries: 128 }),
    };
    const fds = {
      base: base.openFd(c.path, c.flags),
      next: next.openFd(c.path, c.flags),
    };
    const seen = { base: [] as number[], next: [] as number[] };
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0
        ? (["base", "next"] as const)
        : (["next", "base"] as const);
      const got = { base: 0, next: 0 };
      for (const which of order) {
        got[which] = await iops(rings[which] as next.Ring, fds[which], c.depth);
      }
      seen.base.push(got.base);
      seen.next.push(got.next);
      ratios.push(got.next / got.base);
    }
    await rings.base.close();
    await rings.next.close();
    base.closeFd(fds.base);
    next.closeFd(fds.next);
    console.log(
      `${c.name}: base ${Math.round(median(seen.base))} IOPS, this ${
        Math.round(median(seen.next))
      } IOPS, paired ratio this/base median ${median(ratios).toFixed(2)} ` +
        `(single pairs ${Math.min(...ratios).toFixed(2)}-${
          Math.max(...ratios).toFixed(2)
        })`,
    );
  }
} finally {
  rmSync(SHM, { force: true });
  rmSync(DIRECT, { force: true });
}
