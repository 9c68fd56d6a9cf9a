/**
 * The error the kernel's answers become: `UringError` carries the errno,
 * its kernel name and the operation that failed.
 *
 * @module
 */
import { errnoMessage, errnoName } from "../structs/errno.ts";

/**
 * Where an error happened, for the message and for programs that inspect it.
 *
 * @example
 * ```ts
 * import type { UringErrorContext } from "./errors.ts";
 * const where: UringErrorContext = { op: "read", fd: 3 };
 * ```
 */
export interface UringErrorContext {
  /** The io_uring operation (`"read"`, `"openat"`) or syscall (`"io_uring_setup"`). */
  op?: string;
  /** The file descriptor involved, if any. */
  fd?: number;
  /** A path involved, if any. */
  path?: string;
  /** Words that explain the likely cause and what to do. */
  detail?: string;
}

/**
 * A request or system call the kernel refused. `errno` is positive,
 * `code` is its kernel name (`"EINVAL"`).
 *
 * @example
 * ```ts
 * import { UringError } from "./errors.ts";
 * const e = UringError.from(-22, { op: "read", fd: 3 });
 * e.code; // "EINVAL"
 * e.message; // "read (fd 3): EINVAL: Invalid argument"
 * ```
 */
export class UringError extends Error {
  /** Always `"UringError"` (subclasses set their own). */
  override name = "UringError";
  /** The positive errno number. */
  readonly errno: number;
  /** The kernel's name for it, such as `"EINVAL"`. */
  readonly code: string;
  /** The operation or syscall that failed. */
  readonly op?: string;
  /** The file descriptor involved. */
  readonly fd?: number;
  /** The path involved. */
  readonly path?: string;

  /** `errno` may be given as `-errno`, as in a CQE's `res`. */
  constructor(errno: number, context: UringErrorContext = {}) {
    const n = Math.abs(errno);
    const where = [
      context.op ?? "io_uring",
      context.fd !== undefined ? ` (fd ${context.fd})` : "",
      context.path !== undefined ? ` ${JSON.stringify(context.path)}` : "",
    ].join("");
    const detail = context.detail ? `: ${context.detail}` : "";
    super(`${where}: ${errnoName(n)}: ${errnoMessage(n)}${detail}`);
    this.errno = n;
    this.code = errnoName(n);
    this.op = context.op;
    this.fd = context.fd;
    this.path = context.path;
  }

  /**
   * An error from a negative result (`-errno`, as in a CQE's `res`) or an errno.
   */
  static from(result: number, context: UringErrorContext = {}): UringError {
    return new UringError(Math.abs(result), context);
  }
}
