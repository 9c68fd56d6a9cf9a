/**
 * `Ring`: the ring core plus the Promise API.
 *
 * @module
 */
import { RingCore, type RingOptions } from "./core.ts";

/**
 * One io_uring instance: liburing-style low-level methods (from
 * {@linkcode RingCore}) and Promise methods that batch, keep buffers alive
 * and deliver completions without blocking the event loop.
 *
 * @example
 * ```ts
 * import { Ring } from "./ring.ts";
 * using ring = new Ring({ entries: 8 });
 * ring.prepNop();
 * ring.submitAndWait(1);
 * ```
 */
export class Ring extends RingCore {
  constructor(options: RingOptions = {}) {
    super(options);
  }
}
