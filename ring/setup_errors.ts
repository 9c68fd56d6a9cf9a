/**
 * The named errors of hardened deployments: io_uring unavailable (sysctl,
 * seccomp, old kernel), registered buffers over the memlock limit, and a
 * request the fallback backend cannot serve. All extend `UringError`, so
 * `errno` and `code` are there as for any kernel refusal.
 *
 * @module
 */
import { UringError } from "../sys/errors.ts";
import { EOPNOTSUPP } from "../structs/errno.ts";

/**
 * Why io_uring_setup failed:
 * - `disabled`: kernel.io_uring_disabled = 2.
 * - `group`: kernel.io_uring_disabled = 1 and the process is not in kernel.io_uring_group.
 * - `seccomp`: a seccomp filter refused the syscall (containers).
 * - `unsupported`: the kernel has no io_uring (ENOSYS), or liburing is missing.
 * - `denied`: EPERM for another reason (an LSM policy, SQPOLL before 5.11).
 * - `flags`: the kernel refused the setup flags or sizes (EINVAL).
 * - `memory`: ENOMEM (memlock before 5.12, or memory pressure).
 * - `limits`: too many open files.
 * - `other`: anything else.
 *
 * @example
 * ```ts
 * import type { UnavailableKind } from "./setup_errors.ts";
 * const kind: UnavailableKind = "seccomp";
 * ```
 */
export type UnavailableKind =
  | "disabled"
  | "group"
  | "seccomp"
  | "unsupported"
  | "denied"
  | "flags"
  | "memory"
  | "limits"
  | "other";

/**
 * What {@linkcode IoUringUnavailableError} carries besides the errno.
 *
 * @example
 * ```ts
 * import type { UnavailableInit } from "./setup_errors.ts";
 * const init: UnavailableInit = {
 *   kind: "disabled", reason: "...", sysctl: 2, group: -1, seccomp: 0,
 *   release: "6.18.0", flags: [],
 * };
 * ```
 */
export interface UnavailableInit {
  /** Which kind of block it is. */
  readonly kind: UnavailableKind;
  /** The explanation, in words. */
  readonly reason: string;
  /** kernel.io_uring_disabled (null: no such sysctl). */
  readonly sysctl: number | null;
  /** kernel.io_uring_group (null: absent). */
  readonly group: number | null;
  /** Seccomp mode of the process (null: unknown). */
  readonly seccomp: number | null;
  /** Kernel release. */
  readonly release: string;
  /** The setup flags that were asked for. */
  readonly flags: readonly string[];
}

/**
 * A ring could not be created. The message says why in words and what to
 * do; the fields let a program decide (for example, to fall back).
 *
 * @example
 * ```ts
 * import { IoUringUnavailableError, Ring } from "../mod.ts";
 * try {
 *   new Ring();
 * } catch (error) {
 *   if (error instanceof IoUringUnavailableError) console.log(error.kind, error.reason);
 * }
 * ```
 */
export class IoUringUnavailableError extends UringError {
  /** Always `"IoUringUnavailableError"`. */
  override name = "IoUringUnavailableError";
  /** Which kind of block it is. */
  readonly kind: UnavailableKind;
  /** The explanation, in words (also in the message). */
  readonly reason: string;
  /** kernel.io_uring_disabled at the time (null: no such sysctl, before 6.6). */
  readonly sysctl: number | null;
  /** kernel.io_uring_group at the time (null: absent). */
  readonly group: number | null;
  /** Seccomp mode of the process: 0 none, 1 strict, 2 filter (null: unknown). */
  readonly seccomp: number | null;
  /** Kernel release. */
  readonly release: string;
  /** The setup flags that were asked for, with the kernel version of each. */
  readonly flags: readonly string[];

  /** `errno` is io_uring_setup's (positive or negative). */
  constructor(errno: number, init: UnavailableInit) {
    super(errno, { op: "io_uring_setup", detail: init.reason });
    this.kind = init.kind;
    this.reason = init.reason;
    this.sysctl = init.sysctl;
    this.group = init.group;
    this.seccomp = init.seccomp;
    this.release = init.release;
    this.flags = init.flags;
  }
}

/**
 * What {@linkcode MemlockError} carries besides the errno.
 *
 * @example
 * ```ts
 * import type { MemlockInit } from "./setup_errors.ts";
 * const init: MemlockInit = { op: "register_buffers", detail: "...", limit: 65536, hardLimit: 65536, needed: 1 << 20 };
 * ```
 */
export interface MemlockInit {
  /** The operation that failed (`"register_buffers"`). */
  readonly op: string;
  /** Words for the message. */
  readonly detail: string;
  /** RLIMIT_MEMLOCK soft limit in bytes. */
  readonly limit: number;
  /** RLIMIT_MEMLOCK hard limit in bytes. */
  readonly hardLimit: number;
  /** Bytes the registration needed pinned. */
  readonly needed: number;
}

/**
 * Registering buffers failed because the pinned memory would exceed
 * RLIMIT_MEMLOCK (or, with CAP_IPC_LOCK, because memory is short).
 *
 * @example
 * ```ts
 * import { MemlockError } from "./setup_errors.ts";
 * const e = new MemlockError(12, {
 *   op: "register_buffers", detail: "limit 64 KiB, needed 1 MiB",
 *   limit: 65536, hardLimit: 65536, needed: 1 << 20,
 * });
 * e.needed; // 1048576
 * ```
 */
export class MemlockError extends UringError {
  /** Always `"MemlockError"`. */
  override name = "MemlockError";
  /** RLIMIT_MEMLOCK soft limit in bytes (Infinity = unlimited). */
  readonly limit: number;
  /** RLIMIT_MEMLOCK hard limit in bytes. */
  readonly hardLimit: number;
  /** Bytes the registration needed pinned. */
  readonly needed: number;

  /** `errno` is io_uring_register's (ENOMEM, positive or negative). */
  constructor(errno: number, init: MemlockInit) {
    super(errno, { op: init.op, detail: init.detail });
    this.limit = init.limit;
    this.hardLimit = init.hardLimit;
    this.needed = init.needed;
  }
}

/**
 * A request the fallback backend cannot serve (PI and other read/write
 * attributes need io_uring). Its errno is EOPNOTSUPP.
 *
 * @example
 * ```ts
 * import { FallbackUnsupportedError } from "./setup_errors.ts";
 * new FallbackUnsupportedError("read", "pi").code; // "EOPNOTSUPP"
 * ```
 */
export class FallbackUnsupportedError extends UringError {
  /** Always `"FallbackUnsupportedError"`. */
  override name = "FallbackUnsupportedError";
  /** The option that asked for it (`"pi"`). */
  readonly option: string;

  /** `op` is the request, `option` the attribute it asked for. */
  constructor(op: string, option: string) {
    super(EOPNOTSUPP, {
      op,
      detail: option === "pi"
        ? "integrity checks need io_uring; the fallback backend cannot do PI (option pi)"
        : `read/write attributes need io_uring; the fallback backend cannot do ${option} (option ${option})`,
    });
    this.option = option;
  }
}
