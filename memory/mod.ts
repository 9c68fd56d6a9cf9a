/**
 * Library-owned I/O memory: buffers the kernel uses directly
 * (`allocateBuffer`), staging slices for caller-owned buffers
 * (`StagingPool`), a ring's registered buffers (`RegisteredPool`, the
 * `registeredBuffers` Ring option), and direct-I/O alignment
 * (`directIoAlignment`).
 * See docs/memory.md for what the engines do with transferred buffers and
 * why the design follows from it.
 *
 * @module
 */
export {
  allocateBuffer,
  type AllocateOptions,
  idleOwnedBytes,
  isLibraryOwned,
  MAX_BUFFER_BYTES,
  OwnedRegion,
  releaseBuffer,
  releaseIo,
  retainIo,
} from "./owned.ts";
export {
  MAX_STAGING_ALIGNMENT,
  StagingPool,
  type StagingPoolOptions,
  type StagingSlab,
  StagingSlice,
  type StagingStats,
} from "./staging.ts";
export {
  fixedIndexOf,
  MAX_REGISTERED_COUNT,
  MAX_REGISTERED_SIZE,
  RegisteredPool,
  RegisteredSlot,
} from "./registered.ts";
export {
  alignmentError,
  alignmentFromStatx,
  type AlignmentSource,
  checkDirectIo,
  describeAlignmentSource,
  type DirectIoAlignment,
  directIoAlignment,
  type DirectIoRequest,
  logicalBlockSize,
  type StatxAlignmentFields,
} from "./alignment.ts";
