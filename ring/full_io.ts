/**
 * Reads and writes that loop over short transfers until the buffer is
 * done: one read or write may move fewer bytes than asked (a signal, a
 * pipe, the end of a device's queue limits), and the callers want all of
 * them. `readFile`/`writeFile`/`copyFile`, `UringFile` and the CLI's
 * streaming commands share these.
 *
 * @module
 */
import type { DataOpOptions, Ring } from "./ring.ts";
import { UringError } from "./errors.ts";
import { ENOSPC } from "../structs/errno.ts";

/**
 * What a failed {@linkcode readFull} or {@linkcode writeFull} throws
 * instead of the error itself, given that error and the file offset the
 * failed request was at (the CLI names the file and the byte with it).
 *
 * @example
 * ```ts
 * import type { TransferFailure } from "./full_io.ts";
 * const where: TransferFailure = (error, offset) =>
 *   new Error(`data.bin at byte ${offset}: ${error}`);
 * ```
 */
export type TransferFailure = (error: unknown, offset: number) => unknown;

/**
 * Reads until `buf` is full or the file ends; resolves to the bytes read
 * (fewer only at the end of the file). With `failed`, a failed read
 * rejects with what `failed` makes of its error.
 *
 * @example
 * ```ts
 * import { readFull } from "./full_io.ts";
 * import { defaultRing } from "./default_ring.ts";
 * import { openFd } from "../sys/fd.ts";
 * const fd = openFd("/etc/hostname", 0);
 * const n = await readFull(defaultRing(), fd, new Uint8Array(1 << 20), 0);
 * ```
 */
export async function readFull(
  ring: Ring,
  fd: number,
  buf: Uint8Array,
  offset: number,
  op?: DataOpOptions,
  failed?: TransferFailure,
): Promise<number> {
  let done = 0;
  while (done < buf.byteLength) {
    let n: number;
    try {
      n = await ring.read(
        fd,
        done === 0 ? buf : buf.subarray(done),
        offset + done,
        op,
      );
    } catch (error) {
      throw failed ? failed(error, offset + done) : error;
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Writes all of `buf` at `offset` (-1: the file position), retrying short
 * writes; a write that takes nothing is ENOSPC. With `failed`, a failed
 * write rejects with what `failed` makes of its error.
 *
 * @example
 * ```ts
 * import { writeFull } from "./full_io.ts";
 * import { defaultRing } from "./default_ring.ts";
 * import { openFd } from "../sys/fd.ts";
 * const fd = openFd("/dev/shm/uring-write-full", 0o102); // O_RDWR | O_CREAT
 * await writeFull(defaultRing(), fd, new Uint8Array(4096), 0, undefined);
 * ```
 */
export async function writeFull(
  ring: Ring,
  fd: number,
  buf: Uint8Array,
  offset: number,
  op: DataOpOptions | undefined,
  failed?: TransferFailure,
): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const at = offset < 0 ? -1 : offset + done;
    let n: number;
    try {
      n = await ring.write(fd, done === 0 ? buf : buf.subarray(done), at, op);
    } catch (error) {
      throw failed ? failed(error, at) : error;
    }
    if (n === 0) {
      // A regular file that takes no bytes and reports no error is full.
      const full = new UringError(ENOSPC, { op: "write", fd });
      throw failed ? failed(full, at) : full;
    }
    done += n;
  }
}
