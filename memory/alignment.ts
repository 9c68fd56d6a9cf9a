/**
 * Direct-I/O alignment: what an O_DIRECT file needs of buffer addresses,
 * file offsets and lengths, where that rule came from, and the RangeError
 * that names both when a request breaks it (instead of the kernel's bare
 * EINVAL).
 *
 * @module
 */
import { addressNumber, errno, libc } from "../ffi/mod.ts";
import { UringError } from "../sys/errors.ts";
import { statxFd } from "../sys/stat.ts";
import { BLKSSZGET, S_IFBLK, S_IFMT } from "../structs/constants.ts";

/**
 * Where an alignment came from:
 * - `"statx"`: the kernel's own answer, statx `STATX_DIOALIGN`
 *   (`stx_dio_mem_align`, `stx_dio_offset_align`; Linux 6.1+);
 * - `"BLKSSZGET"`: the block device's logical block size (ioctl);
 * - `"st_blksize"`: the file's preferred I/O size, a conservative guess
 *   when the file system reports nothing better.
 *
 * @example
 * ```ts
 * import type { AlignmentSource } from "./alignment.ts";
 * const source: AlignmentSource = "statx";
 * ```
 */
export type AlignmentSource = "statx" | "BLKSSZGET" | "st_blksize";

/**
 * The O_DIRECT alignment of one file.
 *
 * @example
 * ```ts
 * import type { DirectIoAlignment } from "./alignment.ts";
 * const ext4: DirectIoAlignment = { memory: 4, offset: 512, source: "statx" };
 * ```
 */
export interface DirectIoAlignment {
  /** Buffer addresses must be multiples of this. */
  readonly memory: number;
  /** File offsets and lengths must be multiples of this. */
  readonly offset: number;
  /** Where the numbers came from. */
  readonly source: AlignmentSource;
}

const SOURCE_TEXT: Record<AlignmentSource, string> = {
  statx: "statx STATX_DIOALIGN",
  BLKSSZGET: "the device's logical block size (BLKSSZGET)",
  st_blksize: "the file's st_blksize (the file system reports no " +
    "direct-I/O alignment)",
};

/**
 * The logical block size of the block device open at `fd` (ioctl
 * BLKSSZGET).
 *
 * @throws {UringError} ENOTTY when `fd` is not a block device.
 * @example
 * ```ts
 * import { logicalBlockSize } from "./alignment.ts";
 * import { openFd } from "../sys/fd.ts";
 * logicalBlockSize(openFd("/dev/loop0", 0)); // 512
 * ```
 */
export function logicalBlockSize(fd: number): number {
  const out = new Int32Array(1);
  if (libc().ioctl(fd, BLKSSZGET, addressNumber(out)) !== 0) {
    throw new UringError(errno(), { op: "ioctl(BLKSSZGET)", fd });
  }
  return out[0];
}

/**
 * The direct-I/O alignment of the file open at `fd`: statx STATX_DIOALIGN
 * where the kernel reports it (Linux 6.1+, most local file systems and
 * block devices), else a block device's logical block size (for memory
 * too, the rule before Linux 6.0), else st_blksize.
 *
 * @throws {UringError} when `fd` cannot be examined (EBADF, ...).
 * @example
 * ```ts
 * import { directIoAlignment } from "./alignment.ts";
 * import { openFd } from "../sys/fd.ts";
 * directIoAlignment(openFd("/etc/hostname", 0)); // { memory: 4, offset: 512, source: "statx" } on ext4
 * ```
 */
export function directIoAlignment(fd: number): DirectIoAlignment {
  return alignmentFromStatx(fd, statxFd(fd));
}

/**
 * The statx fields the alignment is decided from (a `Statx` has them).
 *
 * @example
 * ```ts
 * import type { StatxAlignmentFields } from "./alignment.ts";
 * const st: StatxAlignmentFields = { dioMemAlign: 4, dioOffsetAlign: 512, mode: 0o100644, blksize: 4096 };
 * ```
 */
export interface StatxAlignmentFields {
  /** `stx_dio_mem_align` (0: not reported). */
  readonly dioMemAlign: number;
  /** `stx_dio_offset_align` (0: not reported). */
  readonly dioOffsetAlign: number;
  /** `stx_mode`. */
  readonly mode: number;
  /** `stx_blksize`. */
  readonly blksize: number;
}

/**
 * {@linkcode directIoAlignment} from a statx result already in hand (also
 * how the tests reach the fallbacks on kernels that answer STATX_DIOALIGN
 * for everything).
 *
 * @example
 * ```ts
 * import { alignmentFromStatx } from "./alignment.ts";
 * import { statxFd } from "../sys/stat.ts";
 * import { openFd } from "../sys/fd.ts";
 * const fd = openFd("/etc/hostname", 0);
 * alignmentFromStatx(fd, statxFd(fd)).source; // "statx" on ext4
 * ```
 */
export function alignmentFromStatx(
  fd: number,
  st: StatxAlignmentFields,
): DirectIoAlignment {
  if (st.dioOffsetAlign > 0) {
    return {
      memory: st.dioMemAlign || 1,
      offset: st.dioOffsetAlign,
      source: "statx",
    };
  }
  if ((st.mode & S_IFMT) === S_IFBLK) {
    const lbs = logicalBlockSize(fd);
    return { memory: lbs, offset: lbs, source: "BLKSSZGET" };
  }
  const size = st.blksize || 4096;
  return { memory: size, offset: size, source: "st_blksize" };
}

/**
 * Words for an alignment's source, for messages.
 *
 * @example
 * ```ts
 * import { describeAlignmentSource } from "./alignment.ts";
 * describeAlignmentSource("statx"); // "statx STATX_DIOALIGN"
 * ```
 */
export function describeAlignmentSource(source: AlignmentSource): string {
  return SOURCE_TEXT[source];
}

/**
 * What {@linkcode checkDirectIo} looks at. `address` is left out when the
 * library stages the buffer (staging memory is aligned already).
 *
 * @example
 * ```ts
 * import type { DirectIoRequest } from "./alignment.ts";
 * const req: DirectIoRequest = { op: "read", offset: 4096, length: 4096 };
 * ```
 */
export interface DirectIoRequest {
  /** The operation, for the message (`"read"`, `"writev"`). */
  readonly op: string;
  /** File offset in bytes (-1: the current position, not checked). */
  readonly offset: number;
  /** Total length in bytes. */
  readonly length: number;
  /** Buffer address, when the kernel will use the caller's memory. */
  readonly address?: number;
}

/**
 * The RangeError for an O_DIRECT request whose offset, length or buffer
 * address is not a multiple of the file's alignment, or `null` when it is
 * aligned. The message names the value, the alignment and its source.
 *
 * @example
 * ```ts
 * import { checkDirectIo } from "./alignment.ts";
 * const a = { memory: 512, offset: 512, source: "BLKSSZGET" } as const;
 * checkDirectIo(a, { op: "read", offset: 100, length: 512 })?.message;
 * // "read: offset 100 is not a multiple of 512, the direct-I/O alignment ..."
 * ```
 */
export function checkDirectIo(
  alignment: DirectIoAlignment,
  request: DirectIoRequest,
): RangeError | null {
  const { op, offset, length, address } = request;
  if (offset >= 0 && offset % alignment.offset !== 0) {
    return alignmentError(op, "offset", offset, alignment.offset, alignment);
  }
  if (length % alignment.offset !== 0) {
    return alignmentError(op, "length", length, alignment.offset, alignment);
  }
  if (address !== undefined && address % alignment.memory !== 0) {
    return alignmentError(
      op,
      "buffer address",
      address,
      alignment.memory,
      alignment,
    );
  }
  return null;
}

/**
 * The RangeError for one misaligned value of an O_DIRECT request.
 *
 * @example
 * ```ts
 * import { alignmentError } from "./alignment.ts";
 * const a = { memory: 4, offset: 512, source: "statx" } as const;
 * alignmentError("write", "length", 100, 512, a) instanceof RangeError; // true
 * ```
 */
export function alignmentError(
  op: string,
  what: string,
  value: number,
  multiple: number,
  alignment: DirectIoAlignment,
): RangeError {
  return new RangeError(
    `${op}: ${what} ${value} is not a multiple of ${multiple}, the ` +
      `direct-I/O alignment of this O_DIRECT file (from ` +
      `${describeAlignmentSource(alignment.source)})`,
  );
}
