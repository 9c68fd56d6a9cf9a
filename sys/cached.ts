/**
 * What io_uring itself tries first, on the JS thread: opening a path whose
 * every component is in the dentry cache (openat2 with RESOLVE_CACHED and
 * O_NONBLOCK) and reading data that is in the page cache (preadv2 with
 * RWF_NOWAIT). A ring makes the same attempt inline, inside the submitting
 * io_uring_enter, and hands the request to an io-wq thread only when it
 * fails with EAGAIN; these calls fail the same way and the caller then goes
 * through the ring. They never wait for a disk: what they save is the
 * ring's promise round trip, which is most of what a small cached
 * `readFile` costs (4 KiB on Deno: 20-25 µs through the ring, 8-9 µs this
 * way, Deno.readFile 10-13 µs; bench/fs.ts).
 *
 * @module
 */
import { addressNumber, cachedAddress, errno, libc } from "../ffi/mod.ts";
import { forgetFd } from "./fd.ts";
import { UringError } from "./errors.ts";
import { STATX_OFFSETS } from "../structs/statx.ts";
import { O_CLOEXEC, O_NONBLOCK, RWF_NOWAIT } from "../structs/constants.ts";

const SYS_OPENAT2 = 437; // the same number on every architecture
const AT_FDCWD = -100;
const RESOLVE_CACHED = 0x20; // Linux 5.12
const F_SETFL = 4;
const EINTR = 4;

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
const how = new BigUint64Array([
  BigInt(O_NONBLOCK | O_CLOEXEC),
  0n,
  BigInt(RESOLVE_CACHED),
]);
/** Two iovecs: the caller's buffer and the one-byte probe past its end. */
const iovecs = new Uint32Array(8);
const probe = new Uint8Array(1);
/** The path, NUL-terminated, when it fits (longer ones take the ring). */
const pathBytes = new Uint8Array(1024);
const encoder = new TextEncoder();

/** False once the kernel refused openat2 or RESOLVE_CACHED (before 5.12). */
let openCachedWorks = true;

/**
 * Opens `path` read-only (O_CLOEXEC) without waiting for anything: every
 * path component must be in the dentry cache. Returns the fd, or -1 when
 * that is not so or the call failed for any reason (the caller opens
 * through the ring, which reports the error).
 *
 * @example
 * ```ts
 * import { openCachedReadOnly } from "./cached.ts";
 * import { closeFd } from "./fd.ts";
 * const fd = openCachedReadOnly("/etc/hostname");
 * if (fd >= 0) closeFd(fd);
 * ```
 */
export function openCachedReadOnly(path: string): number {
  if (!openCachedWorks || path.length * 3 >= pathBytes.length) return -1;
  const { written } = encoder.encodeInto(path, pathBytes);
  // A NUL inside the path would cut it short: the ring refuses it.
  if (pathBytes.subarray(0, written).includes(0)) return -1;
  pathBytes[written] = 0;
  const lib = libc();
  const fd = lib.syscall(
    SYS_OPENAT2,
    AT_FDCWD,
    cachedAddress(pathBytes),
    cachedAddress(how),
    24,
  );
  if (fd < 0) {
    const e = errno();
    // ENOSYS: no openat2 (before 5.6); EINVAL: no RESOLVE_CACHED (before 5.12).
    if (e === 38 || e === 22) openCachedWorks = false;
    return -1;
  }
  forgetFd(fd);
  // O_NONBLOCK was for the open only (a FIFO or a device must not block
  // it), as in io_uring's own attempt; reads through the ring must not
  // see it. The fd is the caller's from here: it closes it.
  while (lib.fcntl(fd, F_SETFL, 0) !== 0) {
    if (errno() !== EINTR) break; // F_SETFL cannot fail on a good fd
  }
  return fd;
}

/**
 * Reads `out.length` bytes from offset 0 of `fd`, plus one byte past them,
 * with RWF_NOWAIT: only what is in the page cache, never waiting. Returns
 * the bytes read (`out.length + 1`: the file is longer than `out`), or -1
 * when nothing could be read that way (EAGAIN: not cached; EOPNOTSUPP:
 * the file system cannot; any error: the ring's read reports it).
 *
 * @example
 * ```ts
 * import { openCachedReadOnly, readCached } from "./cached.ts";
 * import { closeFd } from "./fd.ts";
 * const fd = openCachedReadOnly("/etc/hostname");
 * if (fd >= 0) {
 *   const n = readCached(fd, new Uint8Array(4096));
 *   closeFd(fd);
 * }
 * ```
 */
export function readCached(fd: number, out: Uint8Array): number {
  setIovec(0, addressNumber(out), out.byteLength);
  setIovec(1, cachedAddress(probe), 1);
  const n = libc().preadv2(fd, cachedAddress(iovecs), 2, 0, RWF_NOWAIT);
  return n < 0 ? -1 : n;
}

/** Writes iovec `i` as two u64 fields in u32 halves (addresses < 2^53). */
function setIovec(i: number, address: number, length: number): void {
  iovecs[i * 4] = address >>> 0;
  iovecs[i * 4 + 1] = Math.floor(address / 0x1_0000_0000);
  iovecs[i * 4 + 2] = length >>> 0;
  iovecs[i * 4 + 3] = Math.floor(length / 0x1_0000_0000);
}

const statxBuf = new Uint8Array(256);
const statxWords = new DataView(statxBuf.buffer);
const emptyPath = new Uint8Array(1);
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE_SIZE = 0x1 | 0x200; // STATX_TYPE | STATX_SIZE

/**
 * The type bits (`S_IFMT` part of the mode) and size of the open file
 * `fd`: statx(2) of just those two fields into memory of this module,
 * without building a whole {@linkcode Statx} object.
 *
 * @throws {UringError} with the errno when statx fails (EBADF).
 * @example
 * ```ts
 * import { typeAndSize } from "./cached.ts";
 * import { closeFd, openFd } from "./fd.ts";
 * const fd = openFd("/etc/hostname", 0);
 * const { type, size } = typeAndSize(fd);
 * closeFd(fd);
 * ```
 */
export function typeAndSize(fd: number): { type: number; size: number } {
  const lib = libc();
  while (lib.statx(fd, emptyPath, AT_EMPTY_PATH, STATX_TYPE_SIZE, statxBuf)) {
    const e = errno();
    if (e !== EINTR) throw new UringError(e, { op: "statx", fd });
  }
  return {
    type: statxWords.getUint16(STATX_OFFSETS.mode, true) & 0o170000,
    size: statxWords.getUint32(STATX_OFFSETS.size, true) +
      statxWords.getUint32(STATX_OFFSETS.size + 4, true) * 0x1_0000_0000,
  };
}
