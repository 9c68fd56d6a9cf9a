/**
 * statx(2) through libc, synchronously: what the PI checks and `probe()`
 * need to know about a file before any I/O (its type, the device it lives
 * on, its O_DIRECT alignment). statx is used rather than fstat because its
 * layout is the same on every architecture.
 *
 * @module
 */
import { cString, errno, libc } from "../ffi/mod.ts";
import { UringError } from "./errors.ts";
import { type Statx, STATX_STRUCT_SIZE, StatxView } from "../structs/statx.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  STATX_BASIC_STATS,
  STATX_DIOALIGN,
} from "../structs/constants.ts";
import { EINTR } from "../structs/errno.ts";

/** Every field the library reads: the basic ones and the DIO alignment. */
const DEFAULT_MASK = STATX_BASIC_STATS | STATX_DIOALIGN;

function call(
  dirfd: number,
  path: string,
  flags: number,
  mask: number,
  context: { fd?: number; path?: string },
): Statx {
  const bytes = new Uint8Array(STATX_STRUCT_SIZE);
  const cpath = cString(path);
  for (;;) {
    if (libc().statx(dirfd, cpath, flags, mask, bytes) === 0) {
      return new StatxView(bytes).toObject();
    }
    const e = errno();
    if (e !== EINTR) throw new UringError(e, { op: "statx", ...context });
  }
}

/**
 * statx(2) of a path (symlinks followed). `dioMemAlign`/`dioOffsetAlign` are
 * 0 when the file system does not report them (`mask` tells which fields the
 * kernel filled).
 *
 * @throws {UringError} when the path cannot be examined (ENOENT, EACCES, ...).
 * @example
 * ```ts
 * import { statxPath } from "./stat.ts";
 * const st = statxPath("/dev/null");
 * console.log(st.rdevMajor, st.rdevMinor); // 1 3
 * ```
 */
export function statxPath(path: string, mask = DEFAULT_MASK): Statx {
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError("path must be a non-empty string");
  }
  return call(AT_FDCWD, path, 0, mask, { path });
}

/**
 * statx(2) of an open file descriptor (AT_EMPTY_PATH).
 *
 * @throws {UringError} EBADF when `fd` is not open.
 * @example
 * ```ts
 * import { statxFd } from "./stat.ts";
 * import { closeFd, openFd } from "./fd.ts";
 * const fd = openFd("/dev/null", 0);
 * statxFd(fd).mode; // character device bits
 * closeFd(fd);
 * ```
 */
export function statxFd(fd: number, mask = DEFAULT_MASK): Statx {
  return call(fd, "", AT_EMPTY_PATH, mask, { fd });
}
