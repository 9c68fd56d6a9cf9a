/**
 * Ring setup options: one table of `{ option, flag, since }` rows turns
 * {@linkcode RingOptions} into IORING_SETUP_* flags and io_uring_params,
 * and the same rows name the flags in errors and diagnostics
 * ({@linkcode describeSetupFlags}) and give every layer its list of known
 * option names ({@linkcode RING_OPTION_NAMES}, the fallback's included).
 *
 * @module
 */
import { checkInteger, checkOptions } from "./validate.ts";
import {
  MAX_REGISTERED_COUNT,
  MAX_REGISTERED_SIZE,
} from "../memory/registered.ts";
import { PARAMS_SIZE, ParamsView } from "../structs/params.ts";
import {
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQ_AFF,
  IORING_SETUP_SQE128,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
} from "../structs/constants.ts";

/**
 * How to set a ring up. Every field is optional; unknown names are refused.
 *
 * @example
 * ```ts
 * import type { RingOptions } from "./setup.ts";
 * const options: RingOptions = { entries: 256, coopTaskrun: true, singleIssuer: true };
 * ```
 */
export interface RingOptions {
  /** SQ size, rounded up to a power of two by the kernel (default 64). */
  entries?: number;
  /** CQ size (IORING_SETUP_CQSIZE); the kernel default is 2 × entries. */
  cqEntries?: number;
  /** IORING_SETUP_CLAMP: clamp sizes to the kernel maximum instead of failing. */
  clamp?: boolean;
  /** IORING_SETUP_SQPOLL: a kernel thread polls the SQ; `idleMs` before it sleeps. */
  sqpoll?: boolean | { idleMs?: number; cpu?: number };
  /** IORING_SETUP_SINGLE_ISSUER: only this thread submits (6.0). */
  singleIssuer?: boolean;
  /** IORING_SETUP_COOP_TASKRUN: no interrupts to run completion work (5.19). */
  coopTaskrun?: boolean;
  /** IORING_SETUP_TASKRUN_FLAG: flag pending completion work in the SQ ring (5.19). */
  taskrunFlag?: boolean;
  /** IORING_SETUP_DEFER_TASKRUN: completions are produced only when this thread waits (6.1). */
  deferTaskrun?: boolean;
  /**
   * IORING_SETUP_NO_SQARRAY (6.6). `"auto"` (the default) uses it where the
   * kernel has it; `true` requires it; `false` never uses it.
   */
  noSqArray?: boolean | "auto";
  /** IORING_SETUP_SQE128: 128-byte SQEs. */
  sqe128?: boolean;
  /** IORING_SETUP_CQE32: 32-byte CQEs. */
  cqe32?: boolean;
  /** IORING_SETUP_IOPOLL: busy-poll completions (O_DIRECT on polled devices only). */
  iopoll?: boolean;
  /** IORING_SETUP_SUBMIT_ALL: keep submitting a batch after one SQE fails. */
  submitAll?: boolean;
  /**
   * IORING_SETUP_ATTACH_WQ: share the kernel worker pool of another ring, a
   * `RingCore` (`ring.core` of a `Ring`); anything else is refused.
   */
  attachWq?: { readonly fd: number };
  /** Further raw IORING_SETUP_* bits. */
  flags?: number;
}

/**
 * One setup flag: the option that sets it (null: set another way), the
 * flag's kernel name and the Linux release that added it.
 *
 * @example
 * ```ts
 * import { SETUP_FLAGS } from "./setup.ts";
 * SETUP_FLAGS.find((row) => row.option === "singleIssuer")?.since; // "6.0"
 * ```
 */
export interface SetupFlagRow {
  /** The `RingOptions` key; `boolean` rows are a plain on/off switch. */
  readonly option: keyof RingOptions | null;
  /** Whether the option is a plain boolean. */
  readonly boolean: boolean;
  /** The IORING_SETUP_* bit. */
  readonly flag: number;
  /** Its kernel name. */
  readonly name: string;
  /** The Linux release that added it. */
  readonly since: string;
}

function flagRow(
  option: keyof RingOptions | null,
  flag: number,
  name: string,
  since: string,
  boolean = false,
): SetupFlagRow {
  return Object.freeze({ option, boolean, flag, name, since });
}

/**
 * Every setup flag the library knows, oldest first.
 *
 * @example
 * ```ts
 * import { SETUP_FLAGS } from "./setup.ts";
 * SETUP_FLAGS.length > 10; // true
 * ```
 */
export const SETUP_FLAGS: readonly SetupFlagRow[] = Object.freeze([
  flagRow("iopoll", IORING_SETUP_IOPOLL, "IORING_SETUP_IOPOLL", "5.1", true),
  flagRow("sqpoll", IORING_SETUP_SQPOLL, "IORING_SETUP_SQPOLL", "5.1"),
  // Set by `sqpoll: { cpu }`.
  flagRow(null, IORING_SETUP_SQ_AFF, "IORING_SETUP_SQ_AFF", "5.1"),
  flagRow("cqEntries", IORING_SETUP_CQSIZE, "IORING_SETUP_CQSIZE", "5.5"),
  flagRow("clamp", IORING_SETUP_CLAMP, "IORING_SETUP_CLAMP", "5.6", true),
  flagRow("attachWq", IORING_SETUP_ATTACH_WQ, "IORING_SETUP_ATTACH_WQ", "5.6"),
  flagRow(
    "submitAll",
    IORING_SETUP_SUBMIT_ALL,
    "IORING_SETUP_SUBMIT_ALL",
    "5.18",
    true,
  ),
  flagRow(
    "coopTaskrun",
    IORING_SETUP_COOP_TASKRUN,
    "IORING_SETUP_COOP_TASKRUN",
    "5.19",
    true,
  ),
  flagRow(
    "taskrunFlag",
    IORING_SETUP_TASKRUN_FLAG,
    "IORING_SETUP_TASKRUN_FLAG",
    "5.19",
    true,
  ),
  flagRow("sqe128", IORING_SETUP_SQE128, "IORING_SETUP_SQE128", "5.19", true),
  flagRow("cqe32", IORING_SETUP_CQE32, "IORING_SETUP_CQE32", "5.19", true),
  flagRow(
    "singleIssuer",
    IORING_SETUP_SINGLE_ISSUER,
    "IORING_SETUP_SINGLE_ISSUER",
    "6.0",
    true,
  ),
  flagRow(
    "deferTaskrun",
    IORING_SETUP_DEFER_TASKRUN,
    "IORING_SETUP_DEFER_TASKRUN",
    "6.1",
    true,
  ),
  flagRow(
    "noSqArray",
    IORING_SETUP_NO_SQARRAY,
    "IORING_SETUP_NO_SQARRAY",
    "6.6",
  ),
]);

/**
 * Every setup option name of `RingCore`, for option checkers.
 *
 * @example
 * ```ts
 * import { RING_OPTION_NAMES } from "./setup.ts";
 * RING_OPTION_NAMES.includes("entries"); // true
 * ```
 */
export const RING_OPTION_NAMES: readonly string[] = Object.freeze([
  "entries",
  ...SETUP_FLAGS.flatMap((row) => row.option === null ? [] : [row.option]),
  "flags",
]);

/**
 * Setup options only the Promise layer takes: `Ring` and `FallbackRing`
 * accept them, `RingCore` refuses them.
 *
 * @example
 * ```ts
 * import { PROMISE_OPTION_NAMES } from "./setup.ts";
 * PROMISE_OPTION_NAMES.includes("threads"); // true
 * ```
 */
export const PROMISE_OPTION_NAMES: readonly string[] = Object.freeze([
  "fallback",
  "threads",
  "inlineWaitBudgetUs",
  "readNow",
  "registeredBuffers",
]);

/**
 * The `registeredBuffers` setup option of `Ring`: `count` buffers of
 * `size` bytes that the ring allocates and registers as its fixed-buffer
 * table. Reads and writes whose memory is one of them (a buffer from
 * `ring.buffer()`, or a caller's buffer staged in a free one) then go out
 * as READ_FIXED / WRITE_FIXED. The fallback backend accepts and ignores it.
 *
 * @example
 * ```ts
 * import type { RegisteredBuffersOption } from "./setup.ts";
 * const option: RegisteredBuffersOption = { count: 64, size: 65536 };
 * ```
 */
export interface RegisteredBuffersOption {
  /** How many buffers (1 to 1024, UIO_MAXIOV). */
  count: number;
  /** Bytes per buffer (1 to 1 GiB, the kernel's per-buffer limit). */
  size: number;
}

/**
 * Checks the `registeredBuffers` option: undefined stays undefined; else
 * an object with exactly `count` and `size`, integers in range.
 *
 * @throws {TypeError} for a value that is not such an object, or an
 *   unknown or missing key.
 * @throws {RangeError} for a count or size out of range.
 * @example
 * ```ts
 * import { checkRegisteredBuffers } from "./setup.ts";
 * checkRegisteredBuffers({ count: 8, size: 4096 }); // { count: 8, size: 4096 }
 * ```
 */
export function checkRegisteredBuffers(
  value: unknown,
): RegisteredBuffersOption | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      "Ring option registeredBuffers must be an object { count, size }",
    );
  }
  checkOptions(value, ["count", "size"], "registeredBuffers");
  const { count, size } = value as Partial<RegisteredBuffersOption>;
  if (count === undefined || size === undefined) {
    throw new TypeError(
      "Ring option registeredBuffers needs both count and size",
    );
  }
  return {
    count: checkInteger(
      count,
      "registeredBuffers.count",
      1,
      MAX_REGISTERED_COUNT,
    ),
    size: checkInteger(size, "registeredBuffers.size", 1, MAX_REGISTERED_SIZE),
  };
}

/**
 * Names the setup flags in `flags`, with the kernel release that added each.
 *
 * @example
 * ```ts
 * import { describeSetupFlags } from "./setup.ts";
 * describeSetupFlags(1 << 13); // ["IORING_SETUP_DEFER_TASKRUN (Linux 6.1)"]
 * ```
 */
export function describeSetupFlags(flags: number): string[] {
  return SETUP_FLAGS.filter((row) => (flags & row.flag) !== 0).map((row) =>
    `${row.name} (Linux ${row.since})`
  );
}

/**
 * Checks `options` and turns them into the io_uring_setup arguments: the
 * entry count, the params struct (its `flags` set) and the NO_SQARRAY
 * policy. `attachWq` is left to the caller, which knows what a ring is.
 *
 * @example
 * ```ts
 * import { setupRequest } from "./setup.ts";
 * setupRequest({ entries: 8, clamp: true }).params.flags & 0x10; // 16 (CLAMP)
 * ```
 */
export function setupRequest(
  options: RingOptions,
  extraOptionNames: readonly string[] = [],
): { entries: number; params: ParamsView; noSqArray: boolean | "auto" } {
  checkOptions(
    options,
    [...RING_OPTION_NAMES, ...extraOptionNames],
    "Ring options",
  );
  const entries = options.entries === undefined
    ? 64
    : checkInteger(options.entries, "entries", 1, 32768);
  let flags = options.flags === undefined
    ? 0
    : checkInteger(options.flags, "flags", 0, 0xffffffff);
  const params = new ParamsView(new Uint8Array(PARAMS_SIZE));
  if (options.cqEntries !== undefined) {
    params.cqEntries = checkInteger(options.cqEntries, "cqEntries", 1, 65536);
    flags |= IORING_SETUP_CQSIZE;
  }
  for (const row of SETUP_FLAGS) {
    if (!row.boolean) continue;
    const value = options[row.option!];
    if (value === undefined) continue;
    if (typeof value !== "boolean") {
      throw new TypeError(`Ring option ${row.option} must be a boolean`);
    }
    if (value) flags |= row.flag;
  }
  if (options.sqpoll !== undefined && options.sqpoll !== false) {
    flags |= IORING_SETUP_SQPOLL;
    if (typeof options.sqpoll === "object" && options.sqpoll !== null) {
      checkOptions(options.sqpoll, ["idleMs", "cpu"], "sqpoll options");
      if (options.sqpoll.idleMs !== undefined) {
        params.sqThreadIdle = checkInteger(
          options.sqpoll.idleMs,
          "sqpoll.idleMs",
        );
      }
      if (options.sqpoll.cpu !== undefined) {
        params.sqThreadCpu = checkInteger(
          options.sqpoll.cpu,
          "sqpoll.cpu",
          0,
          4095,
        );
        flags |= IORING_SETUP_SQ_AFF;
      }
    } else if (options.sqpoll !== true) {
      throw new TypeError(
        "Ring option sqpoll must be a boolean or { idleMs, cpu }",
      );
    }
  }
  const noSqArray = options.noSqArray ?? "auto";
  if (noSqArray !== "auto" && typeof noSqArray !== "boolean") {
    throw new TypeError('Ring option noSqArray must be a boolean or "auto"');
  }
  if (noSqArray !== false) flags |= IORING_SETUP_NO_SQARRAY;
  params.flags = flags;
  return { entries, params, noSqArray };
}
