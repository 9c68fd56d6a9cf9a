/**
 * `uring`: io_uring for Deno and Bun, with read/write attributes and
 * T10/NVMe Protection Information.
 *
 * @example
 * ```ts
 * import { Ring } from "./mod.ts";
 * using ring = new Ring({ entries: 8 });
 * ring.prepNop().userData = 1n;
 * ring.submitAndWait(1);
 * console.log(ring.peekCqe()?.res); // 0
 * ring.cqAdvance(1);
 * ```
 *
 * @module
 */
export {
  type DataOpOptions,
  type OpOptions,
  Ring,
  type RingSetupOptions,
} from "./ring/ring.ts";
export {
  createFallbackIfAllowed,
  type FallbackOpOptions,
  FallbackRing,
  type FallbackRingOptions,
} from "./ring/fallback.ts";
export {
  diagnoseSetupFailure,
  formatBytes,
  type IoUringEnvironment,
  type IoUringStatus,
  ioUringStatus,
  memlockError,
  memlockLimit,
  pinnedBytes,
  readIoUringEnvironment,
  type SetupDiagnosis,
  setupFailure,
  type SetupRequest,
} from "./ring/diagnose.ts";
export {
  FallbackUnsupportedError,
  IoUringUnavailableError,
  MemlockError,
  type MemlockInit,
  type UnavailableInit,
  type UnavailableKind,
} from "./ring/setup_errors.ts";
export {
  applyAttributes,
  type AttributeKind,
  attributeNames,
  type AttributeOptions,
  attributesFrom,
  AttributeTable,
  DEFAULT_ATTRIBUTES,
  defineAttribute,
  packAttributes,
  type PackedAttributes,
  PI_ATTRIBUTE,
  type PiAttribute,
  piCheckFlags,
  type PiChecks,
  type PiOptions,
  type SqeWordWriter,
} from "./ring/attributes.ts";
export {
  type DirectAlignment,
  directAlignment,
  KernelTooOldError,
  type PiRequest,
  requireRwAttr,
  targetOfFd,
  validatePiRequest,
} from "./ring/pi_validate.ts";
export {
  type AttributeRequestInfo,
  checksOf,
  type DiagnoseInput,
  diagnoseIntegrity,
  explainAttributeError,
  type IntegrityDiagnosis,
  IntegrityError,
  type IntegrityInterval,
  piFormatOf,
  type PiLayout,
  rereadFor,
} from "./ring/integrity.ts";
export {
  featureNames,
  type KernelProfile,
  kernelRelease,
  probe,
  probeFd,
  type ProbeGuard,
  probeKernel,
  type ProbeResult,
  probeTarget,
  releaseAtLeast,
  sysfsFormat,
  type TargetFormat,
  type TargetProfile,
} from "./ring/probe.ts";
export { statxFd, statxPath } from "./sys/stat.ts";
export {
  defaultRing,
  openFile,
  type OpenFileOptions,
  openFlags,
  UringFile,
} from "./ring/file.ts";
export * from "./pi/mod.ts";
export {
  buildIovecs,
  type CompletionHandler,
  describeSetupFlags,
  type PinnedBuffers,
  RingCore,
  type RingOptions,
} from "./ring/core.ts";
export { type OpcodeName, OPCODES, type OpcodeSpec } from "./ring/opcodes.ts";
export {
  RingClosedError,
  SubmissionQueueFullError,
  UringError,
  type UringErrorContext,
} from "./ring/errors.ts";
export {
  closeFd,
  eventFd,
  fileStatusFlags,
  openFd,
  pipeFds,
  writeFd,
} from "./sys/fd.ts";
export { alignedBuffer } from "./sys/memory.ts";
export {
  addressOf,
  NativeLibraryError,
  releaseOrphanedRings,
  runtimeName,
} from "./ffi/mod.ts";
export * from "./structs/mod.ts";
