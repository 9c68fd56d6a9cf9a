/**
 * Protection Information: the guard checksums (CRC16 T10-DIF, CRC32C,
 * CRC64-NVMe, IP) and the tuples built from them. Independent of the ring:
 * works on any `Uint8Array`.
 *
 * @example
 * ```ts
 * import { crc16T10Dif, generatePi, verifyPi } from "./mod.ts";
 * crc16T10Dif(new TextEncoder().encode("123456789")); // 0xD0DB
 * const data = new Uint8Array(4096);
 * const meta = new Uint8Array(64);
 * generatePi(data, meta, { guard: "crc16-t10dif", interval: 512 });
 * verifyPi(data, meta, { guard: "crc16-t10dif", interval: 512 }).ok; // true
 * ```
 *
 * @module
 */
export {
  crc16T10Dif,
  crc16T10DifNative,
  crc32c,
  crc32cNative,
  crcBackend,
  NATIVE_MIN_BYTES,
  nativeCrcAvailable,
  useCrcBackend,
} from "./native.ts";
export type { CrcBackend } from "./native.ts";
export { crc16T10DifPortable } from "./crc16.ts";
export { crc32cPortable } from "./crc32c.ts";
export { crc64Backend, crc64Nvme } from "./crc64.ts";
export { ipChecksum } from "./ip.ts";
export {
  generatePi,
  piMetadataLength,
  piTupleSize,
  verifyPi,
} from "./tuples.ts";
export type {
  PiError,
  PiFormatOptions,
  PiGuard,
  PiRefTag,
  PiVerifyOptions,
  PiVerifyResult,
} from "./tuples.ts";
