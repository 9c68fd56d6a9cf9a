/**
 * `uring`: io_uring for Deno and Bun, with read/write attributes and
 * T10/NVMe Protection Information.
 *
 * What applications use: {@linkcode Ring} (the Promise API on io_uring;
 * `Ring.open({ fallback: true })` for a thread-pool fallback where io_uring
 * is unavailable), {@linkcode openFile} (a file handle over a shared ring),
 * the errors, the PI functions and formats ({@linkcode generatePi},
 * {@linkcode verifyPi}), {@linkcode probe}, {@linkcode alignedBuffer}, and
 * the `O_*`, `AT_*`, `FALLOC_FL_*` and `STATX_*` constants the methods
 * take. The liburing-style layer (`RingCore`, `prep*`, struct views, every
 * kernel constant) is in `./raw.ts`.
 *
 * @example
 * ```ts
 * import { O_CREAT, O_RDWR, Ring } from "./mod.ts";
 * await using ring = new Ring();
 * const fd = await ring.openat("/dev/shm/uring-mod-example", O_RDWR | O_CREAT);
 * await ring.write(fd, new TextEncoder().encode("hello"), 0);
 * const back = new Uint8Array(5);
 * await ring.read(fd, back, 0);
 * await ring.closeFd(fd);
 * ```
 *
 * @module
 */
export { Ring, type RingSetupOptions } from "./ring/ring.ts";
export type { RegisteredBuffersOption, RingOptions } from "./ring/setup.ts";
export {
  AsyncRing,
  type DataOpOptions,
  type OpOptions,
} from "./ring/async_ring.ts";
export { FallbackRing, type FallbackRingOptions } from "./ring/fallback.ts";
export {
  defaultRing,
  openFile,
  type OpenFileOptions,
  openFlags,
  type SeekFrom,
  UringFile,
} from "./ring/file.ts";
export {
  type FileData,
  type FsOptions,
  readFile,
  writeFile,
  type WriteFileOptions,
} from "./ring/fs.ts";
export { copyFile } from "./ring/copy_file.ts";
export { FfiPermissionError } from "./ffi/permission.ts";
export {
  RingClosedError,
  SubmissionQueueFullError,
  UringError,
  type UringErrorContext,
} from "./ring/errors.ts";
export {
  FallbackUnsupportedError,
  IoUringUnavailableError,
  MemlockError,
  type UnavailableKind,
} from "./ring/setup_errors.ts";
export { type IoUringStatus, ioUringStatus } from "./ring/diagnose.ts";
export { memlockLimit } from "./ring/io_uring_environment.ts";
export {
  IntegrityError,
  type IntegrityInterval,
} from "./ring/integrity_error.ts";
export { piFormatOf, type PiLayout } from "./ring/integrity_diagnosis.ts";
export {
  type DirectAlignment,
  directAlignment,
  KernelTooOldError,
  PiUnsupportedError,
} from "./ring/pi_validate.ts";
export type { PiChecks, PiOptions } from "./ring/pi_attribute.ts";
export type { KernelProfile } from "./ring/kernel_probe.ts";
export { probe, type ProbeResult } from "./ring/probe.ts";
export type {
  ProbeGuard,
  TargetFormat,
  TargetProfile,
} from "./ring/target_probe.ts";
export {
  crc16T10Dif,
  crc32c,
  crc64Nvme,
  type CrcBackend,
  crcBackend,
  generatePi,
  nativeCrcAvailable,
  type PiError,
  type PiFormatOptions,
  type PiGuard,
  piMetadataLength,
  type PiRefTag,
  piTupleSize,
  type PiVerifyOptions,
  type PiVerifyResult,
  useCrcBackend,
  verifyPi,
} from "./pi/mod.ts";
export { alignedBuffer } from "./sys/memory.ts";
export {
  allocateBuffer,
  type AllocateOptions,
  isLibraryOwned,
  releaseBuffer,
} from "./memory/owned.ts";
export { closeFd, openFd } from "./sys/fd.ts";
export { statxFd, statxPath } from "./sys/stat.ts";
export type { Statx, StatxTimestamp } from "./structs/statx.ts";
export { NativeLibraryError, releaseOrphanedRings } from "./ffi/mod.ts";
export {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_DSYNC,
  O_EXCL,
  O_LARGEFILE,
  O_NOATIME,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_SYNC,
  O_TRUNC,
  O_WRONLY,
  STATX_BASIC_STATS,
  STATX_BTIME,
  STATX_DIOALIGN,
} from "./structs/constants.ts";
