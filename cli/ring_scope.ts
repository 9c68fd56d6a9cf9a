/**
 * One ring per command, always closed: a ring left open keeps its
 * completion waiter (a Worker on Bun) alive and the process from exiting.
 *
 * @module
 */
import { Ring } from "../ring/ring.ts";

/** Entries of the command ring: room for every block and tuple read in flight. */
const COMMAND_RING_ENTRIES = 64;

/**
 * Runs `body` with a fresh ring and closes the ring afterwards, whether
 * `body` succeeded or threw.
 *
 * @example
 * ```ts
 * import { withRing } from "./ring_scope.ts";
 * await withRing((ring) => ring.nop());
 * ```
 */
export async function withRing<T>(
  body: (ring: Ring) => Promise<T>,
  entries = COMMAND_RING_ENTRIES,
): Promise<T> {
  const ring = new Ring({ entries });
  try {
    return await body(ring);
  } finally {
    await ring.close();
  }
}

/**
 * Closes `fd` through the ring, ignoring errors: used on the way out of a
 * failed command, where the first error is the one worth reporting.
 *
 * @example
 * ```ts
 * import { Ring } from "../ring/ring.ts";
 * import { closeQuietly } from "./ring_scope.ts";
 * await using ring = new Ring();
 * await closeQuietly(ring, -1);
 * ```
 */
export async function closeQuietly(ring: Ring, fd: number): Promise<void> {
  if (fd < 0) return;
  try {
    await ring.closeFd(fd);
  } catch {
    // Already reported the failure that brought us here.
  }
}
