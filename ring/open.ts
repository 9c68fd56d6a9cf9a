/**
 * Opening a ring: its options turned into io_uring_params (`setupRequest`,
 * setup.ts, and the ring to share workers with), the io_uring_setup(2)
 * call (made again without IORING_SETUP_NO_SQARRAY where the kernel
 * refuses it), the diagnosis of a refusal, and the mapping of the new
 * ring's queues. `RingCore`'s constructor opens its ring here.
 *
 * @module
 */
import { liburing } from "../ffi/mod.ts";
import { setupFailure } from "./diagnose.ts";
import { mapQueues, RingMappings, type RingQueues } from "./queues.ts";
import { type RingOptions, setupRequest } from "./setup.ts";
import type { ParamsView } from "../structs/params.ts";
import { EINVAL } from "../structs/errno.ts";
import {
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_NO_SQARRAY,
} from "../structs/constants.ts";

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
  /** The parameters as the kernel filled them in (entries, features). */
  readonly params: ParamsView;
  /** Its mapped regions, to release at close. */
  readonly mappings: RingMappings;
  /** The views over its submission and completion queues. */
  readonly queues: RingQueues;
}

/**
 * Sets up and maps a ring with `options` (checked by `setupRequest`, which
 * also takes `extraOptionNames`). `isRingCore` tells whether
 * `options.attachWq` is a ring it may share workers with. With
 * `noSqArray` "auto", a kernel that refuses NO_SQARRAY gets a second
 * request without it. A refusal throws the diagnosis of `setupFailure`,
 * which names the options that explain it.
 *
 * @example
 * ```ts
 * import { openRing } from "./open.ts";
 * const ring = openRing({ entries: 8 }, [], () => false);
 * console.log(ring.fd >= 0, ring.params.sqEntries); // true 8
 * ```
 */
export function openRing(
  options: RingOptions,
  extraOptionNames: readonly string[],
  isRingCore: (value: unknown) => boolean,
): OpenedRing {
  const { entries, params, noSqArray } = setupRequest(
    options,
    extraOptionNames,
  );
  let flags = params.flags;
  if (options.attachWq !== undefined) {
    if (!isRingCore(options.attachWq)) {
      throw new TypeError(
        "Ring option attachWq must be a RingCore (ring.core of a Ring)",
      );
    }
    params.wqFd = options.attachWq.fd;
    flags |= IORING_SETUP_ATTACH_WQ;
  }
  const lib = liburing();
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
    const queues = mapQueues(mappings, params, flags);
    return { fd, flags, params, mappings, queues };
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
