/**
 * The closed-loop driver of the I/O benchmarks: `depth` async loops, each
 * awaiting one 4 KiB request at a random block at a time, counted after a
 * short warm-up. Used by bench/read.ts and bench/pi_device.ts.
 *
 * @example
 * ```ts
 * import { drive } from "./drive.ts";
 * const iops = await drive(32, 2000, 1024, async (_loop, offset) => offset);
 * ```
 *
 * @module
 */

/** Bytes per request. */
export const BLOCK = 4096;

/**
 * Requests per loop between two clock reads in {@linkcode drive}: few
 * enough that a loop at 10K reads per second overshoots the end by under
 * 2 ms.
 */
const CLOCK_EVERY = 16;

/**
 * xorshift32: cheap per-loop random byte offsets of 4 KiB blocks.
 *
 * @example
 * ```ts
 * import { randomBlocks } from "./drive.ts";
 * const next = randomBlocks(1, 256); next() % 4096; // 0
 * ```
 */
export function randomBlocks(seed: number, blocks: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % blocks) * BLOCK;
  };
}

/**
 * Runs `depth` loops that each await one read at a time until `ms` have
 * passed after a short warm-up; returns requests per second.
 *
 * @example
 * ```ts
 * import { drive } from "./drive.ts";
 * await drive(1, 100, 16, () => Promise.resolve());
 * ```
 */
export async function drive(
  depth: number,
  ms: number,
  blocks: number,
  readAt: (loop: number, offset: number) => Promise<unknown>,
): Promise<number> {
  const warmup = Math.min(300, ms / 4);
  const start = performance.now();
  const measureFrom = start + warmup;
  const end = measureFrom + ms;
  let counted = 0;
  const loop = async (index: number) => {
    const next = randomBlocks(0x9e3779b9 ^ (index * 7919 + 1), blocks);
    for (;;) {
      // The clock is read once per CLOCK_EVERY requests, as the synchronous
      // loop does: performance.now() costs ~85 ns on Deno, 5-10 % of a
      // page-cached read, which no real read loop pays.
      for (let i = 0; i < CLOCK_EVERY; i++) await readAt(index, next());
      const now = performance.now();
      if (now >= end) return;
      if (now >= measureFrom) counted += CLOCK_EVERY;
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, i) => loop(i)));
  return counted / (ms / 1000);
}
