/**
 * Argument checks shared by the prep helpers and the Promise API: they turn
 * bad input into a TypeError or RangeError naming the argument, before
 * anything reaches the kernel.
 *
 * @module
 */

import { cachedAddress } from "../ffi/mod.ts";
import { IOVEC_SIZE, TimespecView } from "../structs/iovec.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  STATX_BASIC_STATS,
  STATX_BTIME,
  STATX_DIOALIGN,
} from "../structs/constants.ts";

/** Largest offset the kernel takes (loff_t is signed 64-bit). */
const MAX_OFFSET = 2 ** 63;

/**
 * Checks a file descriptor (or fixed-file index).
 *
 * @example
 * ```ts
 * import { checkFd } from "./validate.ts";
 * checkFd(3); // ok
 * ```
 */
export function checkFd(fd: unknown, name = "fd"): asserts fd is number {
  if (typeof fd === "bigint") {
    throw new TypeError(
      `${name} must be a number, got the bigint ${fd}n: pass Number(${fd}n)`,
    );
  }
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(
      `${name} must be an integer file descriptor, got ${describe(fd)}`,
    );
  }
  if (fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`${name} must be from 0 to 2^31-1, got ${fd}`);
  }
  if (Object.is(fd, -0)) {
    // -0 passes every integer check, but FFI calls taking an i32 refuse it.
    throw new RangeError(`${name} must be from 0 to 2^31-1, got -0`);
  }
}

/**
 * Checks a file offset: a non-negative safe integer or bigint below 2^63,
 * or -1 ("the current file position") when `allowCurrent` is set. Returns
 * it as a number when exact, for the fast SQE writer.
 *
 * @example
 * ```ts
 * import { checkOffset } from "./validate.ts";
 * checkOffset(4096); // 4096
 * ```
 */
export function checkOffset(
  offset: unknown,
  name = "offset",
  allowCurrent = true,
): number {
  if (typeof offset === "bigint") {
    if (offset === -1n && allowCurrent) return -1;
    if (offset < 0n || offset >= BigInt(MAX_OFFSET)) {
      throw new RangeError(`${name} must be from 0 to 2^63-1, got ${offset}`);
    }
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(
        `${name} ${offset} is beyond 2^53: offsets that large are not supported`,
      );
    }
    return Number(offset);
  }
  if (typeof offset !== "number" || !Number.isInteger(offset)) {
    throw new TypeError(`${name} must be an integer, got ${describe(offset)}`);
  }
  if (offset === -1 && allowCurrent) return -1;
  if (offset < 0) {
    throw new RangeError(`${name} must not be negative, got ${offset}`);
  }
  if (!Number.isSafeInteger(offset)) {
    throw new RangeError(`${name} must be below 2^53, got ${offset}`);
  }
  return offset;
}

/**
 * Checks a length or count: an integer from `min` to `max`.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./validate.ts";
 * checkInteger(8, "entries", 1, 32768);
 * ```
 */
export function checkInteger(
  value: unknown,
  name: string,
  min = 0,
  max = 0xffffffff,
): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name} must be from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Checks a buffer the kernel will read or write: a Uint8Array (or another
 * typed array / DataView) over a live, fixed-length ArrayBuffer.
 *
 * @example
 * ```ts
 * import { checkBuffer } from "./validate.ts";
 * checkBuffer(new Uint8Array(16));
 * ```
 */
export function checkBuffer(
  buffer: unknown,
  name = "buffer",
): asserts buffer is ArrayBufferView {
  if (!ArrayBuffer.isView(buffer)) {
    throw new TypeError(
      `${name} must be a Uint8Array or another ArrayBufferView, got ${
        describe(buffer)
      }`,
    );
  }
  const backing = buffer.buffer as ArrayBuffer & {
    detached?: boolean;
    resizable?: boolean;
    growable?: boolean;
  };
  if (backing.detached === true) {
    throw new TypeError(`${name} is backed by a detached ArrayBuffer`);
  }
  if (backing.resizable === true || backing.growable === true) {
    throw new TypeError(
      `${name} is backed by a resizable ArrayBuffer: its memory may move, so the kernel cannot be given it`,
    );
  }
  if (buffer.byteLength > 0xffffffff) {
    throw new RangeError(`${name} is larger than 4 GiB - 1 bytes`);
  }
}

/**
 * Copies a caller's array once, so that a Proxy or an array changed by a
 * getter cannot show one length to the code that sizes native memory (an
 * iovec array, an fd table) and another to the code that fills it or tells
 * the kernel how many entries there are. Every caller array is walked only
 * through its snapshot.
 *
 * @example
 * ```ts
 * import { snapshotArray } from "./validate.ts";
 * snapshotArray([1, 2], "fds", 1, 1024); // [1, 2], a new array
 * ```
 */
export function snapshotArray<T>(
  list: readonly T[],
  name: string,
  min: number,
  max: number,
  what = "entries",
): T[] {
  if (!Array.isArray(list)) {
    throw new TypeError(`${name} must be an array, got ${describe(list)}`);
  }
  const length = list.length;
  if (length < min || length > max) {
    throw new RangeError(
      `${name} must hold ${min} to ${max} ${what}, got ${length}`,
    );
  }
  const copy = new Array<T>(length);
  for (let i = 0; i < length; i++) copy[i] = list[i];
  return copy;
}

/**
 * Rejects option names that are not in `known`, so a typo is not ignored.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./validate.ts";
 * checkOptions({ entries: 8 }, ["entries"], "Ring options");
 * ```
 */
export function checkOptions(
  options: unknown,
  known: readonly string[],
  what: string,
): void {
  if (options === undefined) return;
  if (
    options === null || typeof options !== "object" || Array.isArray(options)
  ) {
    throw new TypeError(`${what} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(key)} (known: ${
          known.join(", ")
        })`,
      );
    }
  }
}

/**
 * A short description of a value for error messages.
 *
 * @example
 * ```ts
 * import { describe } from "./validate.ts";
 * describe(null); // "null"
 * ```
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "number") {
    return Object.is(value, -0) ? "-0" : String(value);
  }
  if (typeof value === "bigint") return `the bigint ${value}n`;
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.slice(0, 40))}`;
  }
  return typeof value;
}

/**
 * Option names every Promise method takes (`signal`, `timeoutMs`), on the
 * io_uring backend and on the fallback alike.
 *
 * @example
 * ```ts
 * import { checkOptions, OP_OPTION_NAMES } from "./validate.ts";
 * checkOptions({ timeoutMs: 5 }, OP_OPTION_NAMES, "read options");
 * ```
 */
export const OP_OPTION_NAMES: readonly string[] = ["signal", "timeoutMs"];

/**
 * The checked arguments of a statx request: of a path (relative to the
 * working directory) or of an open fd (AT_EMPTY_PATH).
 *
 * @example
 * ```ts
 * import { statxArguments } from "./validate.ts";
 * statxArguments("/etc/hostname", undefined).dirfd; // -100 (AT_FDCWD)
 * ```
 */
export function statxArguments(
  target: unknown,
  options: { flags?: number; mask?: number } | undefined,
): { dirfd: number; path: string; flags: number; mask: number } {
  checkOptions(options, [...OP_OPTION_NAMES, "flags", "mask"], "statx options");
  let dirfd = AT_FDCWD;
  let path = "";
  let flags = options?.flags ?? 0;
  if (typeof target === "number") {
    checkFd(target, "fd");
    dirfd = target;
    flags |= AT_EMPTY_PATH;
  } else if (typeof target === "string" && target.length > 0) {
    path = target;
  } else {
    throw new TypeError("statx target must be a path or a file descriptor");
  }
  checkInteger(flags, "flags", 0, 0x7fffffff);
  const mask = checkInteger(
    options?.mask ?? (STATX_BASIC_STATS | STATX_BTIME | STATX_DIOALIGN),
    "mask",
  );
  return { dirfd, path, flags, mask };
}

/**
 * Checks a path argument (empty only when `allowEmpty`: statx with
 * AT_EMPTY_PATH).
 *
 * @example
 * ```ts
 * import { checkPath } from "./validate.ts";
 * checkPath("/etc/hostname", false);
 * ```
 */
export function checkPath(path: unknown, allowEmpty: boolean): string {
  if (typeof path !== "string") {
    throw new TypeError(`path must be a string, got ${describe(path)}`);
  }
  if (!allowEmpty && path.length === 0) {
    throw new TypeError("path must be a non-empty string");
  }
  return path;
}

/**
 * A checked timeout in milliseconds as a `__kernel_timespec`.
 *
 * @example
 * ```ts
 * import { timespec } from "./validate.ts";
 * timespec(1500).bytes.byteLength; // 16
 * ```
 */
export function timespec(ms: unknown): TimespecView {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `timeout must be a finite, non-negative number of milliseconds, got ${
        describe(ms)
      }`,
    );
  }
  const ts = new TimespecView(new Uint8Array(TimespecView.SIZE));
  ts.setMilliseconds(ms);
  return ts;
}

/**
 * A user_data value: an integer from 0 to 2^64-1; as a number when exact
 * (0 for a bigint beyond 2^53, which the caller writes through the view).
 *
 * @example
 * ```ts
 * import { checkUserData } from "./validate.ts";
 * checkUserData(7n); // 7
 * ```
 */
export function checkUserData(userData: unknown): number {
  if (typeof userData === "bigint") {
    if (userData < 0n || userData >= 1n << 64n) {
      throw new RangeError(
        `userData must be from 0 to 2^64-1, got ${userData}`,
      );
    }
    return userData <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(userData) : 0;
  }
  if (typeof userData !== "number" || !Number.isSafeInteger(userData)) {
    throw new TypeError(
      `userData must be a safe integer or a bigint, got ${describe(userData)}`,
    );
  }
  if (userData < 0) {
    throw new RangeError(`userData must not be negative, got ${userData}`);
  }
  return userData;
}

/**
 * Snapshots and checks the buffers of a vectored request or a buffer
 * registration: 1 to 1024 (UIO_MAXIOV) live, fixed-length views. The
 * caller's array is read once; only the snapshot is used afterwards.
 *
 * @example
 * ```ts
 * import { snapshotBuffers } from "./validate.ts";
 * snapshotBuffers([new Uint8Array(4)]).length; // 1
 * ```
 */
export function snapshotBuffers(
  buffers: readonly ArrayBufferView[],
  name = "buffers",
): ArrayBufferView[] {
  const list = snapshotArray(buffers, name, 1, 1024, "buffers (UIO_MAXIOV)");
  for (let i = 0; i < list.length; i++) checkBuffer(list[i], `${name}[${i}]`);
  return list;
}

/**
 * The native `struct iovec` array over a checked snapshot.
 *
 * @example
 * ```ts
 * import { iovecsOf } from "./validate.ts";
 * iovecsOf([new Uint8Array(4)]).byteLength; // 16
 * ```
 */
export function iovecsOf(list: readonly ArrayBufferView[]): Uint8Array {
  const iovecs = new Uint8Array(list.length * IOVEC_SIZE);
  const dv = new DataView(iovecs.buffer);
  for (let i = 0; i < list.length; i++) {
    const buf = list[i];
    const address = cachedAddress(buf);
    dv.setUint32(i * IOVEC_SIZE, address >>> 0, true);
    dv.setUint32(i * IOVEC_SIZE + 4, Math.floor(address / 0x1_0000_0000), true);
    dv.setUint32(i * IOVEC_SIZE + 8, buf.byteLength, true);
  }
  return iovecs;
}

/**
 * Builds a native `struct iovec` array over `buffers` (read once).
 *
 * @example
 * ```ts
 * import { buildIovecs } from "./validate.ts";
 * buildIovecs([new Uint8Array(4), new Uint8Array(8)]).byteLength; // 32
 * ```
 */
export function buildIovecs(
  buffers: readonly ArrayBufferView[],
  name = "buffers",
): Uint8Array {
  return iovecsOf(snapshotBuffers(buffers, name));
}
