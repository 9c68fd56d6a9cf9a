/**
 * Errors of the ring layer. `UringError` (from the kernel) lives in
 * `sys/errors.ts` and is re-exported here.
 *
 * @module
 */
export { UringError, type UringErrorContext } from "../sys/errors.ts";

/**
 * The ring was used after `close()`, or closed twice.
 *
 * @example
 * ```ts
 * import { RingClosedError } from "./errors.ts";
 * new RingClosedError("submit").message; // "submit: the ring is closed"
 * ```
 */
export class RingClosedError extends Error {
  /** Always `"RingClosedError"`. */
  override name = "RingClosedError";
  /** `what` names the call that found the ring closed. */
  constructor(what: string) {
    super(`${what}: the ring is closed`);
  }
}

/**
 * Every submission queue entry is taken: call `submit()` first.
 *
 * @example
 * ```ts
 * import { SubmissionQueueFullError } from "./errors.ts";
 * new SubmissionQueueFullError(8).message;
 * ```
 */
export class SubmissionQueueFullError extends Error {
  /** Always `"SubmissionQueueFullError"`. */
  override name = "SubmissionQueueFullError";
  /** `entries` is the SQ ring size. */
  constructor(entries: number) {
    super(
      `the submission queue is full (${entries} entries): call submit() before preparing more`,
    );
  }
}
