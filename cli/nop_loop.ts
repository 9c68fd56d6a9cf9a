/**
 * The NOP submit+reap loop of the ring core, shared by `uring bench nop`
 * and `bench/nop.ts` (which runs beside the C liburing program
 * `bench/nop_ref.c`): each round prepares BATCH NOPs with `prepRaw` (no
 * object per call), submits them with one `submitAndWait(BATCH)` and reaps
 * them with `reap(handler)`, the same work as liburing's get_sqe + prep_nop,
 * submit_and_wait, for_each_cqe + cq_advance.
 *
 * @module
 */
import { IORING_OP_NOP } from "../structs/constants.ts";
import { RingCore } from "../ring/core.ts";

// A local constant, as the C program's compile-time one: an imported binding
// is read from its module cell (with a check) on every iteration.
const NOP = IORING_OP_NOP;

/**
 * Runs `ops` NOPs in batches of `batch` on `ring`; returns ops per second.
 *
 * @example
 * ```ts
 * import { RingCore } from "../ring/core.ts";
 * import { runNops } from "./nop_loop.ts";
 * const ring = new RingCore({ entries: 128, noSqArray: false });
 * console.log(runNops(ring, 128, 1_000_000));
 * ring.close();
 * ```
 */
export function runNops(ring: RingCore, batch: number, ops: number): number {
  let sink = 0;
  const onCqe = (userData: number, res: number) => {
    sink += userData + res;
  };
  let done = 0;
  const start = performance.now();
  while (done < ops) {
    for (let i = 0; i < batch; i++) {
      ring.prepRaw(NOP, -1, 0, 0, 0, i);
    }
    ring.submitAndWait(batch);
    done += ring.reap(onCqe);
  }
  const seconds = (performance.now() - start) / 1000;
  if (sink < 0) console.log(sink); // keeps the handler's work alive
  return done / seconds;
}

/**
 * NOP rate of a fresh ring with the C program's setup: a warm-up so the
 * JIT has compiled the loop, then `ops` NOPs in batches of `batch`.
 *
 * @example
 * ```ts
 * import { measureNops } from "./nop_loop.ts";
 * console.log(measureNops(128, 1_000_000));
 * ```
 */
export function measureNops(batch: number, ops: number): number {
  const ring = new RingCore({
    entries: Math.max(128, batch),
    noSqArray: false,
  });
  try {
    runNops(ring, batch, Math.min(ops, 200_000));
    return runNops(ring, batch, ops);
  } finally {
    ring.close();
  }
}
