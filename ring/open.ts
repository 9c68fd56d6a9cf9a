/**
 * Opening a ring: the io_uring_setup(2) call (made again without
 * IORING_SETUP_NO_SQARRAY where the kernel refuses it), the diagnosis of a
 * refusal, and the mapping of the new ring's queues. `RingCore`'s
 * constructor opens its ring here, from the parameters `setupRequest`
 * (setup.ts) built out of its options.
 *
 * @module
 */
import { liburing } from "../ffi/mod.ts";
import { setupFailure } from "./diagnose.ts";
import { mapQueues, RingMappings, type RingQueues } from "./queues.ts";
import type { RingOptions } from "./setup.ts";
import type { ParamsView } from "../structs/params.ts";
import { EINVAL } from "../structs/errno.ts";
import { IORING_SETUP_NO_SQARRAY } from "../structs/constants.ts";

/**
 * A ring just set up and mapped.
 *
 * @example
 * ```ts
 * import type { OpenedRing } from "./open.ts";
 * declare const ring: OpenedRing;
 * console.log(ring.fd, ring.queues.sq.mask);
 * ```
 */
export interface OpenedRing {
  /** The ring's file descriptor. */
  readonly fd: number;
  /** The IORING_SETUP_* flags it was created with. */
  readonly flags: number;
  /** Its mapped regions, to release at close. */
  readonly mappings: RingMappings;
  /** The views over its submission and completion queues. */
  readonly queues: RingQueues;
}

/**
 * Sets up a ring of `entries` with `params` (`params.flags` are the setup
 * flags) and maps it; `params` is filled in by the kernel. With
 * `noSqArray` "auto", a kernel that refuses NO_SQARRAY gets a second
 * request without it. A refusal throws the diagnosis of `setupFailure`,
 * which names `options` where they explain it.
 *
 * @example
 * ```ts
 * import { openRing } from "./open.ts";
 * import { setupRequest } from "./setup.ts";
 * const { entries, params, noSqArray } = setupRequest({ entries: 8 });
 * const ring = openRing(entries, params, noSqArray, { entries: 8 });
 * console.log(ring.fd >= 0); // true
 * ```
 */
export function openRing(
  entries: number,
  params: ParamsView,
  noSqArray: boolean | "auto",
  options: RingOptions,
): OpenedRing {
  const lib = liburing();
  let flags = params.flags;
  let fd = setUp(lib, entries, params, flags);
  if (fd === -EINVAL && noSqArray === "auto") {
    // Kernels before 6.6 refuse NO_SQARRAY; it is only an optimisation.
    flags &= ~IORING_SETUP_NO_SQARRAY;
    fd = setUp(lib, entries, params, flags);
  }
  if (fd < 0) {
    throw setupFailure(fd, flags, {
      entries,
      cqEntries: options.cqEntries,
      sqThreadCpu: typeof options.sqpoll === "object"
        ? options.sqpoll?.cpu
        : undefined,
    });
  }
  const mappings = new RingMappings(fd);
  try {
    return { fd, flags, mappings, queues: mapQueues(mappings, params, flags) };
  } catch (error) {
    mappings.release();
    throw error;
  }
}

function setUp(
  lib: ReturnType<typeof liburing>,
  entries: number,
  params: ParamsView,
  flags: number,
): number {
  params.flags = flags;
  params.features = 0;
  return lib.io_uring_setup(entries, params.bytes);
}
