/**
 * Event-loop lag: how late a 10 ms timer fires while a benchmark runs. A
 * Promise API that blocks the thread shows up here even when its IOPS
 * look good.
 *
 * @module
 */

/** Timer period; short enough to see stalls, long enough to cost nothing. */
const PERIOD_MS = 10;

/**
 * Lag statistics in milliseconds.
 *
 * @example
 * ```ts
 * import type { LoopLag } from "./loop_lag.ts";
 * const lag: LoopLag = { meanMs: 0.3, maxMs: 4.1, samples: 300 };
 * ```
 */
export interface LoopLag {
  readonly meanMs: number;
  readonly maxMs: number;
  readonly samples: number;
}

/**
 * Starts measuring; call the returned function to stop and get the lag.
 *
 * @example
 * ```ts
 * import { measureLoopLag } from "./loop_lag.ts";
 * const stop = measureLoopLag();
 * await new Promise((r) => setTimeout(r, 50));
 * console.log(stop().maxMs);
 * ```
 */
export function measureLoopLag(): () => LoopLag {
  let expected = performance.now() + PERIOD_MS;
  let total = 0;
  let max = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - expected);
    total += lag;
    if (lag > max) max = lag;
    samples++;
    expected = now + PERIOD_MS;
  }, PERIOD_MS);
  return () => {
    clearInterval(timer);
    // A timer that never got to run (the loop was starved by a chain of
    // microtasks) is lag too: count the wait since it was due.
    const pending = Math.max(0, performance.now() - expected);
    if (pending > 0) {
      total += pending;
      if (pending > max) max = pending;
      samples++;
    }
    return { meanMs: samples ? total / samples : 0, maxMs: max, samples };
  };
}
