/**
 * ftruncate(2) through libc. io_uring has IORING_OP_FTRUNCATE only from
 * Linux 6.9; the call is a metadata update, so doing it on the JS thread
 * costs microseconds on the file systems this library targets.
 *
 * @module
 */
import { errno, libc } from "../ffi/mod.ts";
import { UringError } from "./errors.ts";
import { EINTR } from "../structs/errno.ts";

/**
 * Sets the size of the open file `fd` to `length` bytes (cutting or
 * extending with zeros).
 *
 * @throws {UringError} with the errno (EBADF, EINVAL for a file not open
 * for writing, EFBIG, ...).
 * @example
 * ```ts
 * import { truncateFd } from "./truncate.ts";
 * import { closeFd, openFd } from "./fd.ts";
 * import { O_CREAT, O_RDWR } from "../structs/constants.ts";
 * const fd = openFd("/dev/shm/uring-truncate", O_RDWR | O_CREAT);
 * truncateFd(fd, 4096);
 * closeFd(fd);
 * ```
 */
export function truncateFd(fd: number, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(
      `length must be a non-negative safe integer, got ${length}`,
    );
  }
  for (;;) {
    if (libc().ftruncate(fd, length) === 0) return;
    const e = errno();
    if (e !== EINTR) throw new UringError(e, { op: "ftruncate", fd });
  }
}
