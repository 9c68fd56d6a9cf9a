/**
 * The ring the file helpers use when the caller passes none: one per
 * process or Worker, made on first use.
 *
 * @module
 */
import { Ring } from "./ring.ts";

let sharedRing: Ring | undefined;

/**
 * The ring `openFile`, `readFile`, `writeFile` and `copyFile` use when none
 * is given: created on first use (256 entries). It never keeps the process
 * alive: while nothing is in flight no thread waits on it and no timer is
 * armed, so a program exits when its own work is done.
 *
 * @example
 * ```ts
 * import { defaultRing } from "./default_ring.ts";
 * await defaultRing().nop();
 * ```
 */
export function defaultRing(): Ring {
  if (sharedRing === undefined || sharedRing.closed) {
    sharedRing = new Ring({ entries: 256 });
  }
  return sharedRing;
}
