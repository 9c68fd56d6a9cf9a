/**
 * The low-level, liburing-shaped layer of `uring`, for experts and tests:
 * everything `./mod.ts` exports plus {@linkcode RingCore} (`getSqe`,
 * `prep*`, `submit`, `peekCqe`, `reap`, registration), the operation table
 * (`OPS`), the attribute table, setup diagnosis, the struct views over
 * kernel memory, every kernel constant and errno, and the few FFI and fd
 * helpers the tests use.
 *
 * At this level the caller keeps every buffer alive until its completion is
 * reaped; the Promise API in `./mod.ts` does that for you.
 *
 * @example
 * ```ts
 * import { RingCore } from "./raw.ts";
 * using ring = new RingCore({ entries: 8 });
 * ring.prepNop().userData = 1n;
 * ring.submitAndWait(1);
 * console.log(ring.peekCqe()?.res); // 0
 * ring.cqAdvance(1);
 * ```
 *
 * @module
 */
export * from "./mod.ts";
export {
  type CompletionHandler,
  type PinnedBuffers,
  RingCore,
} from "./ring/core.ts";
export {
  describeSetupFlags,
  PROMISE_OPTION_NAMES,
  RING_OPTION_NAMES,
  type RingOptions,
  SETUP_FLAGS,
  type SetupFlagRow,
  setupRequest,
} from "./ring/setup.ts";
export {
  type BlockingCall,
  buildIovecs,
  type Offset,
  type OpcodeName,
  OPCODES,
  type OpRequest,
  type OpRow,
  OPS,
  type OpSpec,
  type OpTable,
  snapshotBuffers,
} from "./ring/ops.ts";
export { fillSqe, type OpcodeSpec } from "./ring/opcodes.ts";
export { PrepHelpers } from "./ring/prep.ts";
export { OP_OPTION_NAMES } from "./ring/async_ring.ts";
export {
  createFallbackIfAllowed,
  type FallbackOpOptions,
} from "./ring/fallback.ts";
export { bytesInWords, memlockError, pinnedBytes } from "./ring/memlock.ts";
export {
  diagnoseSetupFailure,
  type SetupDiagnosis,
  setupFailure,
  type SetupRequest,
} from "./ring/diagnose.ts";
export {
  type IoUringEnvironment,
  openFileLimit,
  readIoUringEnvironment,
} from "./ring/io_uring_environment.ts";
export type { MemlockInit, UnavailableInit } from "./ring/setup_errors.ts";
export {
  applyAttributes,
  attributeNames,
  type AttributeOptions,
  attributesFrom,
  AttributeTable,
  DEFAULT_ATTRIBUTES,
  packAttributes,
  type PackedAttributes,
  type SqeWordWriter,
} from "./ring/attributes.ts";
export { type AttributeKind, defineAttribute } from "./ring/attribute_kind.ts";
export {
  PI_ATTRIBUTE,
  type PiAttribute,
  piCheckFlags,
} from "./ring/pi_attribute.ts";
export {
  type PiRequest,
  requireRwAttr,
  targetOfFd,
  validatePiRequest,
} from "./ring/pi_validate.ts";
export {
  type AttributeRequestInfo,
  explainAttributeError,
} from "./ring/integrity.ts";
export { checksOf, type IntegrityDiagnosis } from "./ring/integrity_error.ts";
export {
  type DiagnoseInput,
  diagnoseIntegrity,
  rereadFor,
} from "./ring/integrity_diagnosis.ts";
export {
  featureNames,
  kernelRelease,
  probeKernel,
  releaseAtLeast,
} from "./ring/kernel_probe.ts";
export {
  probeFd,
  type ProbeGuard,
  probeTarget,
  sysfsFormat,
} from "./ring/target_probe.ts";
export {
  crc16T10DifNative,
  crc16T10DifPortable,
  crc32cNative,
  crc32cPortable,
  crc64Backend,
  ipChecksum,
  NATIVE_MIN_BYTES,
} from "./pi/mod.ts";
export { eventFd, fileStatusFlags, pipeFds, writeFd } from "./sys/fd.ts";
export { addressOf, type BlockingOp, runtimeName } from "./ffi/mod.ts";
export * from "./structs/mod.ts";
