/**
 * `copyFile` on a ring: copy_file_range(2) off the JS thread for large
 * regular files, the ring's read/write loop for the rest and wherever the
 * kernel cannot (EXDEV, EINVAL, a pseudo-file). Both files are closed
 * again on every path, errors included.
 *
 * @module
 */
import type { OpOptions, Ring } from "./ring.ts";
import { UringError } from "./errors.ts";
import { readFull, writeFull } from "./full_io.ts";
import { releaseIoBuffer, takeIoBuffer } from "./io_buffers.ts";
import {
  checkPath,
  closingAfter,
  fileType,
  FS_OPTION_NAMES,
  type FsOptions,
  inFlight,
  openPath,
  resolveOptions,
} from "./fs.ts";
import {
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  S_IFDIR,
  S_IFREG,
} from "../structs/constants.ts";
import { EISDIR } from "../structs/errno.ts";
import { statxFd } from "../sys/stat.ts";
import { truncateFd } from "../sys/truncate.ts";
import { copyFileRange } from "../ffi/mod.ts";

/**
 * copyFile: 8 lanes with a 512 KiB buffer each; a chunk is still in the
 * CPU cache when it is written out (256 MiB: 230-290 ms, against 230-390
 * ms with 1 MiB and 250-360 ms with 128-256 KiB buffers).
 */
const COPY_CHUNK = 512 << 10;
const COPY_IN_FLIGHT = 8;

/**
 * copyFile of a regular file of at least this size goes through
 * copy_file_range(2) off the JS thread, in calls of COPY_RANGE_CHUNK
 * bytes (an abort is seen between calls); smaller files take the ring's
 * read/write loop, which needs no thread.
 */
const COPY_RANGE_MIN = 1 << 20;
const COPY_RANGE_CHUNK = 64 << 20;

/**
 * Copies the file `src` to `dst`, replacing `dst`. A regular file of 1
 * MiB or more is copied inside the kernel with copy_file_range(2), called
 * off the JS thread; smaller files, and what copy_file_range cannot do
 * (across file systems on most kernels, a full disk: the error is then
 * the ring's), go through the ring, 8 lanes each reading a chunk into its
 * own buffer and writing it out. An existing `dst` is written over and
 * cut to the copy's length; a new `dst` gets the permission bits of `src`.
 *
 * @throws {UringError} ENOENT, EACCES, EISDIR, ENOSPC, ... (both files are
 * closed again).
 * @example
 * ```ts
 * import { copyFile } from "./copy_file.ts";
 * import { writeFile } from "./fs.ts";
 * await writeFile("/dev/shm/uring-src.bin", new Uint8Array(3 << 20));
 * await copyFile("/dev/shm/uring-src.bin", "/dev/shm/uring-dst.bin");
 * ```
 */
export async function copyFile(
  src: string,
  dst: string,
  options?: FsOptions,
): Promise<void> {
  checkPath(src, "src", "copyFile");
  checkPath(dst, "dst", "copyFile");
  const { ring, op } = resolveOptions(options, FS_OPTION_NAMES, "copyFile");
  const from = await openPath(ring, src, O_RDONLY, 0, op);
  await closingAfter(ring, from, true, async () => {
    const st = statxFd(from);
    if (fileType(st.mode) === S_IFDIR) {
      throw new UringError(EISDIR, { op: "read", path: src });
    }
    // Not O_TRUNC: when dst is src under another name, truncating on open
    // would destroy the data before the check below could see it.
    const to = await openPath(
      ring,
      dst,
      O_WRONLY | O_CREAT,
      st.mode & 0o7777,
      op,
    );
    await closingAfter(ring, to, false, async () => {
      const target = statxFd(to);
      if (
        target.ino === st.ino && target.devMajor === st.devMajor &&
        target.devMinor === st.devMinor
      ) {
        return; // the same file: already a copy of itself
      }
      // The data goes over what dst held, and dst is cut to the copy's
      // length last: an existing dst keeps its blocks and cached pages,
      // where truncating it first would free them and allocate anew
      // (Bun's copyFile does the same).
      let end = -1;
      if (fileType(st.mode) === S_IFREG && st.size >= COPY_RANGE_MIN) {
        const done = await copyInKernel(from, to, op?.signal);
        if (done < 0) end = -done - 1; // the whole file, to its end
        else end = await copyData(ring, from, to, st.size, op, done);
      } else {
        end = await copyData(ring, from, to, st.size, op, 0);
      }
      truncateFd(to, end);
    });
  });
}

/**
 * Copies from the file position of `from` (0) to that of `to` with
 * copy_file_range(2), which the kernel serves without bringing the data
 * to user space (ext4, xfs and tmpfs copy page cache to page cache; btrfs
 * and xfs may share the extents). Resolves to `-(length + 1)` once it
 * reached the end of `from` after `length` bytes, or to the bytes copied
 * so far when a call failed or the first call copied nothing: EXDEV
 * across file systems, EINVAL where a file system does not do it,
 * ENOSPC, a pseudo-file whose size is a guess. The caller's read/write
 * loop goes on from there and reports the error with its errno, if there
 * is one.
 */
async function copyInKernel(
  from: number,
  to: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  let done = 0;
  for (;;) {
    signal?.throwIfAborted();
    const n = await copyFileRange(from, to, COPY_RANGE_CHUNK);
    if (n < 0) return done;
    if (n === 0) return done === 0 ? 0 : -(done + 1);
    done += n;
  }
}

/**
 * The copy loop of {@linkcode copyFile} from byte `start` on (the same
 * offset in both files): lanes run until one meets EOF. Resolves to the
 * offset of that end of file.
 */
async function copyData(
  ring: Ring,
  from: number,
  to: number,
  size: number,
  op: OpOptions | undefined,
  start = 0,
): Promise<number> {
  // One lane more than the chunks the size calls for, so a file that grew
  // since the statx is still read to its end.
  const lanes = Math.min(
    COPY_IN_FLIGHT,
    Math.ceil(Math.max(0, size - start) / COPY_CHUNK) + 1,
  );
  const buffers = Array.from(
    { length: lanes },
    () => takeIoBuffer(COPY_CHUNK),
  );
  let eof = false;
  let end = Infinity;
  try {
    await inFlight(lanes, () => !eof, async (i, lane) => {
      const buf = buffers[lane];
      const at = start + i * COPY_CHUNK;
      const n = await readFull(ring, from, buf, at, op);
      if (n < COPY_CHUNK) {
        eof = true;
        end = Math.min(end, at + n);
      }
      if (n > 0) await writeFull(ring, to, buf.subarray(0, n), at, op);
    });
  } finally {
    // inFlight returns only when no request is in flight.
    for (const buf of buffers) releaseIoBuffer(buf);
  }
  return end;
}
