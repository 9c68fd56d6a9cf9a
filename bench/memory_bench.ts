/**
 * What staging a caller's buffer costs, per request, against the copy it
 * cannot avoid: a plain `target.set(source)` of the same size between two
 * ordinary typed arrays (the memcpy-equivalent baseline, measured in the
 * same run). Also the cost of getting a library-owned buffer from the
 * pool. Run through `bash bench/memory.sh` (Deno and Bun), or directly:
 *
 *     deno run -A bench/memory_bench.ts      bun bench/memory_bench.ts
 *
 * Rows:
 * - `set() baseline`: `dst.set(src)`, both caller arrays.
 * - `staged write`: acquire + copyIn (caller → staging) + release.
 * - `staged read`: acquire + copyOut (staging → caller, with its checks) +
 *   release.
 * - `acquire+release`: the pool alone, no copy.
 * - `allocateBuffer+release`: a library-owned buffer taken from and given
 *   back to its pool (revoking the views, zeroing on reuse).
 *
 * @module
 */
import { runtimeName } from "../ffi/mod.ts";
import { allocateBuffer, releaseBuffer, StagingPool } from "../memory/mod.ts";

/** Runs `fn` in batches until `budgetMs` has passed; ns per call (best batch). */
function measure(fn: () => void, budgetMs = 300): number {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    if (performance.now() - t0 > 10) break;
    batch *= 2;
  }
  let best = Infinity;
  const end = performance.now() + budgetMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / batch);
  }
  return best;
}

const pool = new StagingPool();
const rows: string[] = [];
for (const size of [4096, 1 << 20]) {
  const src = new Uint8Array(size).fill(1);
  const dst = new Uint8Array(size);
  const base = measure(() => dst.set(src));
  const write = measure(() => {
    const slice = pool.acquire(size);
    pool.copyIn(slice, src);
    pool.release(slice);
  });
  const read = measure(() => {
    const slice = pool.acquire(size);
    pool.copyOut(slice, dst, size);
    pool.release(slice);
  });
  const bare = measure(() => pool.release(pool.acquire(size)));
  const owned = measure(() => releaseBuffer(allocateBuffer(size)));
  const label = size === 4096 ? "4 KiB" : "1 MiB";
  const row = (name: string, ns: number) =>
    rows.push(
      `| ${runtimeName} | ${label} | ${name} | ${ns.toFixed(0)} | ${
        (ns / base).toFixed(2)
      }x |`,
    );
  row("set() baseline", base);
  row("staged write (acquire+copyIn+release)", write);
  row("staged read (acquire+copyOut+release)", read);
  row("acquire+release, no copy", bare);
  row("allocateBuffer+releaseBuffer", owned);
}
pool.close();

console.log("| runtime | size | operation | ns/op | vs set() |");
console.log("|---|---|---|---:|---:|");
for (const r of rows) console.log(r);
