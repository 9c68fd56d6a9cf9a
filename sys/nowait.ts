/**
 * Per-fd hints for in-place reads (ring/in_place.ts): whether the file's
 * file system takes RWF_NOWAIT reads at all, and whether its data has
 * lately been in the page cache. Hints only: the in-place read itself is
 * safe whatever they say (a wrong one costs a retry through staging).
 *
 * @module
 */
import { cachedAddress, errno, libc } from "../ffi/mod.ts";
import { fdEpoch, storageFdHint } from "./fd.ts";
import { EAGAIN } from "../structs/errno.ts";
import { RWF_NOWAIT } from "../structs/constants.ts";
import { IOVEC_SIZE, IovecView } from "../structs/iovec.ts";

const HINT_FDS = 65536;
/** 0: not asked; SUPPORTED / UNSUPPORTED: what the probe found. */
const support = new Uint8Array(HINT_FDS);
const SUPPORTED = 1;
const UNSUPPORTED = 2;
/** fdEpoch when `support` was filled in: a reused number is asked again. */
const supportEpoch = new Uint32Array(HINT_FDS);
/** Requests to stage before the next in-place attempt (after misses). */
const skip = new Uint16Array(HINT_FDS);
/** Consecutive misses (EAGAIN: not cached), capped. */
const misses = new Uint8Array(HINT_FDS);
/** A miss streak this long stages the next 2^MAX_MISS_SHIFT requests. */
const MAX_MISS_SHIFT = 6;

/** One iovec of one byte, for the probe. */
const probeByte = new Uint8Array(1);
const probeIovec = new Uint8Array(IOVEC_SIZE);

/**
 * Whether a read on `fd` should be tried in place: a regular file or block
 * device (never a pipe or socket) on a file system that takes RWF_NOWAIT
 * reads, unless recent tries found the data not cached (then one in
 * 2, 4, ... 64 requests tries again).
 *
 * @example
 * ```ts
 * import { nowaitReadHint } from "./nowait.ts";
 * import { openFd } from "./fd.ts";
 * nowaitReadHint(openFd("/etc/hostname", 0)); // true on ext4, xfs, btrfs
 * ```
 */
export function nowaitReadHint(fd: number): boolean {
  if (!(fd >= 0 && fd < HINT_FDS)) return false;
  let known = support[fd];
  if (known === 0 || supportEpoch[fd] !== fdEpoch(fd)) {
    known = probe(fd);
    support[fd] = known;
    supportEpoch[fd] = fdEpoch(fd);
    skip[fd] = 0;
    misses[fd] = 0;
  }
  if (known !== SUPPORTED) return false;
  if (skip[fd] > 0) {
    skip[fd]--;
    return false;
  }
  return true;
}

/**
 * Records how an in-place read on `fd` went: `cached` false for EAGAIN (a
 * miss: the next requests are staged, more of them after each miss in a
 * row), true for data read.
 *
 * @example
 * ```ts
 * import { noteNowaitRead } from "./nowait.ts";
 * noteNowaitRead(3, false); // the next request on fd 3 is staged
 * ```
 */
export function noteNowaitRead(fd: number, cached: boolean): void {
  if (!(fd >= 0 && fd < HINT_FDS)) return;
  if (cached) {
    misses[fd] = 0;
    return;
  }
  const streak = Math.min(misses[fd] + 1, MAX_MISS_SHIFT);
  misses[fd] = streak;
  skip[fd] = (1 << streak) - 1;
}

/**
 * Asks the kernel once per fd: a one-byte preadv2 with RWF_NOWAIT fails
 * with EOPNOTSUPP on a file system without it (tmpfs, 9p, NFS, FUSE); a
 * byte, end of file or EAGAIN (not cached) mean it is supported.
 */
function probe(fd: number): number {
  if (!storageFdHint(fd)) return UNSUPPORTED;
  const iov = new IovecView(probeIovec);
  iov.base = cachedAddress(probeByte);
  iov.len = 1;
  const n = libc().preadv2(fd, cachedAddress(probeIovec), 1, 0, RWF_NOWAIT);
  // EAGAIN: supported, not cached. Other errors (EBADF on a write-only
  // fd, EINVAL) leave reads to the staged path, which reports them.
  return n >= 0 || errno() === EAGAIN ? SUPPORTED : UNSUPPORTED;
}
