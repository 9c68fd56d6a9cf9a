/**
 * Small reads done at once on the JS thread, with one system call, where
 * io_uring itself would do no better: data in memory (tmpfs, ramfs) and
 * data in the page cache. The Promise layer (`Ring.read`) tries this first
 * and sends the request through the ring when it does not read everything
 * asked for (not cached, end of file, an error: the ring's read then says
 * what happened, exactly as without this path).
 *
 * Why tmpfs: it takes no RWF_NOWAIT reads, so io_uring cannot complete
 * such a read inside the submit as it does for page-cached data; it hands
 * every one to an io-wq worker, which is woken, copies, and posts a
 * completion someone has to be woken for. The copy is about a microsecond
 * for 4 KiB, the hand-off several times that: at depth 16 on /dev/shm the
 * ring made 210-230K reads per second on both runtimes and fio's own
 * io_uring engine 370-410K; this path 580-720K (docs/perf.md). A tmpfs
 * read never waits for a device (except a page swapped out, under memory
 * pressure), so it holds the caller's thread about as long as the copy.
 *
 * Why page-cached data, when requests come one at a time: io_uring
 * completes such a read inside the submitting io_uring_enter
 * (ring/in_place.ts), on the same thread, with the same copy; done here,
 * the request skips the pending table, the SQE and the flush (paired, 4 KiB
 * at depth 1: 1.37x on Deno, 1.90x on Bun). Not when requests come in
 * batches: one io_uring_enter for 16 reads costs less than 16 preadv2
 * calls (Deno at depth 16: 0.87x done here).
 *
 * Left to the ring: reads over {@linkcode READ_NOW_MAX} (a long copy holds
 * the event loop), O_DIRECT descriptors, other file systems.
 *
 * Which file an fd names is a per-fd hint (sys/fd.ts), forgotten when this
 * library opens or closes the number but not when other code closes it and
 * the number is reused for a file on a disk: a stale "tmpfs" would then
 * make a `pread` of data not cached wait for the disk on the JS thread. The
 * bytes are right either way; only the wait moves.
 *
 * @module
 */
import { cachedAddress, errno, libc } from "../ffi/mod.ts";
import { directIoHint, memoryFileHint } from "./fd.ts";
import { noteNowaitRead, nowaitReadHint } from "./nowait.ts";
import { EAGAIN } from "../structs/errno.ts";
import { RWF_NOWAIT } from "../structs/constants.ts";

/**
 * The largest read done on the JS thread: a 256 KiB copy takes 20-40 µs;
 * larger reads go through the ring (where a tmpfs read is copied by an
 * io-wq worker, off the event loop).
 */
export const READ_NOW_MAX = 256 * 1024;

/** One iovec (two u64 words, in u32 halves) for preadv2. */
const iovec = new Uint32Array(4);

/**
 * Reads `len` bytes at `offset` into `view`, whose memory is at `address`,
 * now, on this thread, when `fd` is a tmpfs file or (`cached` true) its
 * data is in the page cache. Returns `len` when it read all of them, else
 * -1 (not such a file, not cached, a short read, an error): the request
 * should then go through the ring, which reads it again and reports what
 * happened. What a failed attempt wrote is overwritten by that read.
 *
 * @example
 * ```ts
 * import { readNow } from "./read_now.ts";
 * import { addressNumber } from "../ffi/mod.ts";
 * import { openFd } from "./fd.ts";
 * const out = new Uint8Array(4);
 * readNow(openFd("/etc/hostname", 0), out, addressNumber(out), 4, 0, true); // 4, or -1
 * ```
 */
export function readNow(
  fd: number,
  view: ArrayBufferView,
  address: number,
  len: number,
  offset: number,
  cached: boolean,
): number {
  let n: number;
  if (memoryFileHint(fd)) {
    n = Number(libc().pread(fd, address, len, offset));
  } else if (cached && nowaitReadHint(fd) && !directIoHint(fd)) {
    iovec[0] = address >>> 0;
    iovec[1] = Math.floor(address / 0x1_0000_0000);
    iovec[2] = len;
    n = Number(
      libc().preadv2(fd, cachedAddress(iovec), 1, offset, RWF_NOWAIT),
    );
    // Not cached: the next few requests on fd go straight to the ring.
    if (n < 0 && errno() === EAGAIN) noteNowaitRead(fd, false);
  } else {
    return -1;
  }
  // `view` is used after the call, so it is alive during it: the caller's
  // buffer may have no other reference, and its memory must outlive the
  // system call that writes it (a collected view's memory may be freed).
  return n === len && view.byteLength === len ? n : -1;
}
