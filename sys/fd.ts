/**
 * Real OS file descriptors through libc: open, close, pipe, eventfd, fcntl.
 * (Deno's `node:fs` hands out resource ids, not OS fds; these are what the
 * kernel expects.)
 *
 * @module
 */
import { addressNumber, cString, errno, libc } from "../ffi/mod.ts";
import { UringError } from "./errors.ts";
import {
  AT_EMPTY_PATH,
  EFD_CLOEXEC,
  F_GETFL,
  O_CLOEXEC,
  O_DIRECT,
  S_IFBLK,
  S_IFMT,
  S_IFREG,
  STATX_TYPE,
} from "../structs/constants.ts";
import { EINTR } from "../structs/errno.ts";

function checkFd(fd: unknown, name = "fd"): asserts fd is number {
  if (typeof fd !== "number" || !Number.isInteger(fd)) {
    throw new TypeError(
      `${name} must be an integer file descriptor, got ${
        typeof fd === "number" ? fd : typeof fd
      }`,
    );
  }
  if (fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(
      `${name} must be a non-negative file descriptor, got ${fd}`,
    );
  }
}

/**
 * open(2): opens `path` and returns a real OS file descriptor. O_CLOEXEC is
 * always added so descriptors do not leak into child processes.
 *
 * @example
 * ```ts
 * import { closeFd, openFd } from "./fd.ts";
 * import { O_CREAT, O_RDWR } from "../structs/constants.ts";
 * const fd = openFd("/dev/shm/uring-example", O_RDWR | O_CREAT, 0o644);
 * closeFd(fd);
 * ```
 */
export function openFd(path: string, flags: number, mode = 0o644): number {
  if (typeof path !== "string") {
    throw new TypeError(`path must be a string, got ${typeof path}`);
  }
  if (!Number.isInteger(flags) || flags < 0) {
    throw new RangeError(`flags must be a non-negative integer, got ${flags}`);
  }
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(
      `mode must be an integer from 0 to 0o7777, got ${mode}`,
    );
  }
  const bytes = cString(path);
  for (;;) {
    const fd = libc().open(bytes, flags | O_CLOEXEC, mode);
    if (fd >= 0) {
      forgetFd(fd);
      return fd;
    }
    const e = errno();
    if (e !== EINTR) throw new UringError(e, { op: "open", path });
  }
}

/**
 * close(2) of a descriptor from {@linkcode openFd} (or any OS fd).
 *
 * @example
 * ```ts
 * import { closeFd, openFd } from "./fd.ts";
 * closeFd(openFd("/dev/null", 0));
 * ```
 */
export function closeFd(fd: number): void {
  checkFd(fd);
  forgetFd(fd);
  // close(2) must not be retried on EINTR: the fd is already released.
  if (libc().close(fd) !== 0) {
    const e = errno();
    if (e !== EINTR) throw new UringError(e, { op: "close", fd });
  }
}

/**
 * pipe2(2) with O_CLOEXEC: returns `[readFd, writeFd]`.
 *
 * @example
 * ```ts
 * import { closeFd, pipeFds } from "./fd.ts";
 * const [r, w] = pipeFds();
 * closeFd(r); closeFd(w);
 * ```
 */
export function pipeFds(flags = 0): [number, number] {
  const fds = new Int32Array(2);
  if (libc().pipe2(fds, flags | O_CLOEXEC) !== 0) {
    throw new UringError(errno(), { op: "pipe2" });
  }
  forgetFd(fds[0]);
  forgetFd(fds[1]);
  return [fds[0], fds[1]];
}

/**
 * eventfd(2) with EFD_CLOEXEC.
 *
 * @example
 * ```ts
 * import { closeFd, eventFd } from "./fd.ts";
 * closeFd(eventFd());
 * ```
 */
export function eventFd(initial = 0, flags = 0): number {
  const fd = libc().eventfd(initial, flags | EFD_CLOEXEC);
  if (fd < 0) throw new UringError(errno(), { op: "eventfd" });
  forgetFd(fd);
  return fd;
}

/**
 * fcntl(fd, F_GETFL): the file status flags (to see O_DIRECT, O_APPEND, ...).
 *
 * @example
 * ```ts
 * import { fileStatusFlags, openFd } from "./fd.ts";
 * const flags = fileStatusFlags(openFd("/dev/null", 0));
 * ```
 */
export function fileStatusFlags(fd: number): number {
  checkFd(fd);
  const flags = libc().fcntl(fd, F_GETFL, 0);
  if (flags < 0) throw new UringError(errno(), { op: "fcntl", fd });
  return flags;
}

/**
 * write(2) of a whole buffer to an fd (blocking), retried on short writes.
 * Meant for pipes and eventfds in tests and tools, not for file I/O.
 *
 * @example
 * ```ts
 * import { closeFd, pipeFds, writeFd } from "./fd.ts";
 * const [r, w] = pipeFds();
 * writeFd(w, new Uint8Array([1, 2, 3]));
 * closeFd(r); closeFd(w);
 * ```
 */
export function writeFd(fd: number, data: Uint8Array): number {
  checkFd(fd);
  let done = 0;
  while (done < data.byteLength) {
    const n = libc().write(
      fd,
      addressNumber(data) + done,
      data.byteLength - done,
    );
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      throw new UringError(e, { op: "write", fd });
    }
    done += n;
  }
  return done;
}

export { checkFd };

// What directIoHint and storageFdHint learned per fd, as bits: ASKED_*
// once asked, then the answer. 0: nothing asked since the number was
// (re)opened. Descriptors are small integers; larger ones are not cached.
const HINT_FDS = 65536;
const directHints = new Uint8Array(HINT_FDS);
const ASKED_DIRECT = 1;
const IS_DIRECT = 2;
const ASKED_STORAGE = 4;
const IS_STORAGE = 8;
const ASKED_MEMORY = 16;
const IS_MEMORY = 32;

/**
 * Whether `fd` was opened with O_DIRECT, asked with fcntl once per fd and
 * remembered: the Promise layer's cheap per-request test for "this read
 * goes to a device". A hint, not a fact: the cache forgets an fd when this
 * module or a ring opens or closes it, but not when other code closes it
 * and the number is reused, or flips O_DIRECT with F_SETFL. Only speed
 * depends on it.
 *
 * @example
 * ```ts
 * import { directIoHint, openFd } from "./fd.ts";
 * directIoHint(openFd("/dev/null", 0)); // false
 * ```
 */
export function directIoHint(fd: number): boolean {
  if (!(fd >= 0 && fd < HINT_FDS)) return false;
  let hint = directHints[fd];
  if ((hint & ASKED_DIRECT) === 0) {
    const flags = libc().fcntl(fd, F_GETFL, 0);
    hint |= ASKED_DIRECT |
      (flags >= 0 && (flags & O_DIRECT) !== 0 ? IS_DIRECT : 0);
    directHints[fd] = hint;
  }
  return (hint & IS_DIRECT) !== 0;
}

const statxScratch = new Uint8Array(256);
const emptyPath = cString("");

/**
 * Whether `fd` is a regular file or a block device, asked with statx once
 * per fd and remembered like {@linkcode directIoHint}: a read or write on
 * it completes on its own (a pipe, socket or terminal may wait for ever).
 * The Promise layer only sleeps in the kernel for such requests. A hint:
 * false for a number it cannot ask about.
 *
 * @example
 * ```ts
 * import { openFd, storageFdHint } from "./fd.ts";
 * storageFdHint(openFd("/etc/hostname", 0)); // true
 * ```
 */
export function storageFdHint(fd: number): boolean {
  if (!(fd >= 0 && fd < HINT_FDS)) return false;
  let hint = directHints[fd];
  if ((hint & ASKED_STORAGE) === 0) {
    const res = libc().statx(
      fd,
      emptyPath,
      AT_EMPTY_PATH,
      STATX_TYPE,
      statxScratch,
    );
    // stx_mode is the u16 at offset 0x1c of struct statx.
    const type = (statxScratch[0x1c] | (statxScratch[0x1d] << 8)) & S_IFMT;
    hint |= ASKED_STORAGE |
      (res === 0 && (type === S_IFREG || type === S_IFBLK) ? IS_STORAGE : 0);
    directHints[fd] = hint;
  }
  return (hint & IS_STORAGE) !== 0;
}

/** statfs f_type of tmpfs (also /dev/shm) and of ramfs. */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
/** struct statfs (120 bytes on 64-bit Linux); f_type is its first word. */
const statfsScratch = new Uint8Array(128);
const statfsWords = new DataView(statfsScratch.buffer);

/**
 * Whether `fd` is a regular file on tmpfs or ramfs, opened without
 * O_DIRECT: a file whose data is in memory (sys/read_now.ts reads it at
 * once). Asked with fstatfs once per fd and remembered like
 * {@linkcode directIoHint}; one array read after that, as it is asked on
 * every read.
 *
 * @example
 * ```ts
 * import { memoryFileHint, openFd } from "./fd.ts";
 * memoryFileHint(openFd("/dev/shm/x", 0o100)); // true: /dev/shm is tmpfs
 * ```
 */
export function memoryFileHint(fd: number): boolean {
  if (!(fd >= 0 && fd < HINT_FDS)) return false;
  const hint = directHints[fd];
  if ((hint & ASKED_MEMORY) !== 0) return (hint & IS_MEMORY) !== 0;
  let memory = false;
  if (storageFdHint(fd) && !directIoHint(fd)) {
    const type = libc().fstatfs(fd, statfsScratch) === 0
      ? statfsWords.getUint32(0, true)
      : 0;
    memory = type === TMPFS_MAGIC || type === RAMFS_MAGIC;
  }
  directHints[fd] |= ASKED_MEMORY | (memory ? IS_MEMORY : 0);
  return memory;
}

/**
 * Drops what {@linkcode directIoHint} remembers about `fd`: called when a
 * descriptor number is opened or closed, since it may now name another file.
 *
 * @example
 * ```ts
 * import { forgetFd } from "./fd.ts";
 * forgetFd(3);
 * ```
 */
export function forgetFd(fd: number): void {
  if (fd >= 0 && fd < HINT_FDS) {
    directHints[fd] = 0;
    epochs[fd]++;
  }
}

// Bumped by forgetFd: other per-fd caches (the direct-I/O alignment) are
// valid while the number's epoch is unchanged.
const epochs = new Uint32Array(HINT_FDS);

/**
 * A counter that changes whenever {@linkcode forgetFd} forgets `fd`: a
 * per-fd cache entry stored with it is stale once it differs. Descriptors
 * beyond the cached range always report a fresh epoch (-1 plus a counter)
 * so they are never cached.
 *
 * @example
 * ```ts
 * import { fdEpoch, forgetFd } from "./fd.ts";
 * const before = fdEpoch(3);
 * forgetFd(3);
 * fdEpoch(3) !== before; // true
 * ```
 */
export function fdEpoch(fd: number): number {
  return fd >= 0 && fd < HINT_FDS ? epochs[fd] : -1 - ++uncachedEpoch;
}
let uncachedEpoch = 0;
