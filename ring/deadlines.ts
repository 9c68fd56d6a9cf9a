/**
 * Deadlines of requests (`timeoutMs`) and the bound on a blocking close,
 * shared by the io_uring pump and the fallback.
 *
 * On io_uring a request with `timeoutMs` carries a linked timeout, which
 * the kernel uses to cancel it. The kernel cannot cancel everything in
 * time (a write to a FUSE file whose server stopped answering, a device
 * mid-transfer), so a JS timer backs it up: at the deadline the request is
 * cancelled once more, and if no completion comes within
 * {@linkcode DEADLINE_GRACE_MS} its promise rejects anyway while its memory
 * stays reachable until the kernel does complete it.
 *
 * @module
 */

/**
 * How long a request past its `timeoutMs` may wait for the kernel's cancel
 * to come back before its promise rejects anyway: I/O the kernel cannot
 * cancel would otherwise hold the promise past its deadline. Its memory
 * stays reachable until the completion does come.
 */
export const DEADLINE_GRACE_MS = 50;

/**
 * Longest `Symbol.dispose` blocks the JS thread waiting for cancelled
 * requests; what the kernel still holds after that is left to the async
 * close (as `close()`), so the ring closes once the last completion is in.
 */
export const DISPOSE_WAIT_MS = 200;

/**
 * The rejection of a request whose `timeoutMs` passed (the same
 * `TimeoutError` as `AbortSignal.timeout`).
 *
 * @example
 * ```ts
 * import { timeoutError } from "./deadlines.ts";
 * timeoutError("read", 100).name; // "TimeoutError"
 * ```
 */
export function timeoutError(op: string, timeoutMs: number): DOMException {
  return new DOMException(
    `${op} timed out after ${timeoutMs} ms`,
    "TimeoutError",
  );
}

/** What a deadline timer needs of a request. */
interface Timed {
  timeoutMs: number;
  /** The deadline's timer, until the request settles. */
  deadline: ReturnType<typeof setTimeout> | undefined;
}

/**
 * What happens to a request at its deadline, and after the grace period.
 * `expire` returns whether the request is still waiting for the kernel
 * (then `giveUp` runs after {@linkcode DEADLINE_GRACE_MS} unless
 * `settled` says it completed meanwhile).
 */
interface DeadlineHandlers<T extends Timed> {
  settled(op: T): boolean;
  expire(op: T): boolean;
  giveUp(op: T): void;
}

/**
 * Starts `op`'s deadline timer when it has a `timeoutMs`.
 *
 * @example
 * ```ts
 * import { clearDeadline, startDeadline } from "./deadlines.ts";
 * const op = { timeoutMs: 10, deadline: undefined, done: false };
 * startDeadline(op, {
 *   settled: (o) => o.done,
 *   expire: () => false,
 *   giveUp: () => {},
 * });
 * clearDeadline(op);
 * ```
 */
export function startDeadline<T extends Timed>(
  op: T,
  handlers: DeadlineHandlers<T>,
): void {
  if (op.timeoutMs <= 0) return;
  op.deadline = setTimeout(() => {
    op.deadline = undefined;
    if (handlers.settled(op) || !handlers.expire(op)) return;
    op.deadline = setTimeout(() => {
      op.deadline = undefined;
      if (!handlers.settled(op)) handlers.giveUp(op);
    }, DEADLINE_GRACE_MS);
  }, op.timeoutMs);
}

/**
 * Stops `op`'s deadline timer (it settled), so it holds no timer.
 *
 * @example
 * ```ts
 * import { clearDeadline } from "./deadlines.ts";
 * clearDeadline({ timeoutMs: 0, deadline: undefined });
 * ```
 */
export function clearDeadline(op: Timed): void {
  if (op.deadline === undefined) return;
  clearTimeout(op.deadline);
  op.deadline = undefined;
}
