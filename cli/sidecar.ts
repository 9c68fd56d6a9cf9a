/**
 * The PI sidecar file: protection information for a file kept next to it,
 * in the exact bytes a PI device would store, so it can be checked in
 * software today and written to a PI-formatted device later.
 *
 * Layout (header integers little-endian; tuples big-endian, as on a device):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `"uring-pi"` |
 * | 8 | 2 | format version (1) |
 * | 10 | 2 | header size (64): where the tuples start |
 * | 12 | 1 | guard: 1 crc16-t10dif, 2 crc64-nvme, 3 crc32c, 4 ip |
 * | 13 | 1 | reference tag type: 1, 2 or 3 |
 * | 14 | 2 | application tag |
 * | 16 | 4 | protection interval, bytes |
 * | 20 | 2 | tuple size, bytes (8 or 16) |
 * | 22 | 2 | reserved, 0 |
 * | 24 | 8 | reference tag seed (first interval's ref tag) |
 * | 32 | 8 | size of the protected file, bytes |
 * | 40 | 8 | number of tuples: ceil(file size / interval) |
 * | 48 | 12 | reserved, 0 |
 * | 60 | 4 | CRC32C of bytes 0-59 |
 * | 64 | count × tuple size | the tuples, one per interval |
 *
 * A last partial interval is protected as if padded with zero bytes to the
 * full interval, as it would be in a device block.
 *
 * @module
 */
import { crc32c, type PiGuard, piTupleSize } from "../pi/mod.ts";

/** The first 8 bytes of every sidecar. */
export const SIDECAR_MAGIC = "uring-pi";
/** The format version this code writes and the newest it reads. */
export const SIDECAR_VERSION = 1;
/** Bytes before the first tuple. */
export const SIDECAR_HEADER_SIZE = 64;

const GUARD_CODES: Record<PiGuard, number> = {
  "crc16-t10dif": 1,
  "crc64-nvme": 2,
  "crc32c": 3,
  "ip": 4,
};
const GUARD_BY_CODE = new Map(
  Object.entries(GUARD_CODES).map(([g, c]) => [c, g as PiGuard]),
);

/**
 * What a sidecar header says.
 *
 * @example
 * ```ts
 * import type { SidecarHeader } from "./sidecar.ts";
 * const h: SidecarHeader = {
 *   guard: "crc16-t10dif", interval: 4096, tupleSize: 8, refType: 1,
 *   seed: 0, appTag: 0, fileSize: 8192, count: 2,
 * };
 * ```
 */
export interface SidecarHeader {
  readonly guard: PiGuard;
  readonly interval: number;
  readonly tupleSize: 8 | 16;
  readonly refType: 1 | 2 | 3;
  readonly seed: number;
  readonly appTag: number;
  /** Size of the protected file when the sidecar was made. */
  readonly fileSize: number;
  /** Number of tuples that follow the header. */
  readonly count: number;
}

/**
 * Why a file is not a usable sidecar (the CLI exits with 2).
 *
 * @example
 * ```ts
 * import { SidecarError } from "./sidecar.ts";
 * new SidecarError("x.pi is not a uring PI sidecar (wrong magic)");
 * ```
 */
export class SidecarError extends Error {
  override name = "SidecarError";
}

/**
 * The header for a file of `fileSize` bytes.
 *
 * @example
 * ```ts
 * import { sidecarHeader } from "./sidecar.ts";
 * sidecarHeader({ guard: "crc64-nvme", interval: 512, refType: 1, seed: 0, appTag: 0 }, 1000).count; // 2
 * ```
 */
export function sidecarHeader(
  format: Omit<SidecarHeader, "fileSize" | "count" | "tupleSize">,
  fileSize: number,
): SidecarHeader {
  return {
    ...format,
    tupleSize: piTupleSize(format.guard),
    fileSize,
    count: Math.ceil(fileSize / format.interval),
  };
}

/**
 * The 64 header bytes of a sidecar.
 *
 * @example
 * ```ts
 * import { encodeSidecarHeader, sidecarHeader } from "./sidecar.ts";
 * const bytes = encodeSidecarHeader(
 *   sidecarHeader({ guard: "crc16-t10dif", interval: 4096, refType: 1, seed: 0, appTag: 0 }, 8192),
 * );
 * bytes.length; // 64
 * ```
 */
export function encodeSidecarHeader(header: SidecarHeader): Uint8Array {
  const bytes = new Uint8Array(SIDECAR_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(SIDECAR_MAGIC), 0);
  view.setUint16(8, SIDECAR_VERSION, true);
  view.setUint16(10, SIDECAR_HEADER_SIZE, true);
  view.setUint8(12, GUARD_CODES[header.guard]);
  view.setUint8(13, header.refType);
  view.setUint16(14, header.appTag, true);
  view.setUint32(16, header.interval, true);
  view.setUint16(20, header.tupleSize, true);
  view.setBigUint64(24, BigInt(header.seed), true);
  view.setBigUint64(32, BigInt(header.fileSize), true);
  view.setBigUint64(40, BigInt(header.count), true);
  view.setUint32(60, crc32c(bytes.subarray(0, 60)), true);
  return bytes;
}

/**
 * Parses and checks a sidecar header; `name` is used in messages.
 *
 * @throws {SidecarError} for a file that is not a sidecar, a newer
 * version, or a header whose checksum or fields are wrong.
 * @example
 * ```ts
 * import { decodeSidecarHeader, encodeSidecarHeader, sidecarHeader } from "./sidecar.ts";
 * const h = sidecarHeader({ guard: "crc32c", interval: 512, refType: 3, seed: 7, appTag: 1 }, 512);
 * decodeSidecarHeader(encodeSidecarHeader(h), "f.pi").seed; // 7
 * ```
 */
export function decodeSidecarHeader(
  bytes: Uint8Array,
  name: string,
): SidecarHeader {
  if (bytes.length < SIDECAR_HEADER_SIZE) {
    throw new SidecarError(
      `${name} is not a uring PI sidecar: ${bytes.length} bytes, shorter than the ${SIDECAR_HEADER_SIZE}-byte header`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== SIDECAR_MAGIC) {
    throw new SidecarError(
      `${name} is not a uring PI sidecar (it does not start with "${SIDECAR_MAGIC}")`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version > SIDECAR_VERSION || version === 0) {
    throw new SidecarError(
      `${name} has sidecar format version ${version}; this uring reads version ${SIDECAR_VERSION}`,
    );
  }
  const stored = view.getUint32(60, true);
  const computed = crc32c(bytes.subarray(0, 60));
  if (stored !== computed) {
    throw new SidecarError(
      `${name}: the sidecar header is damaged (header checksum 0x${
        stored.toString(16).padStart(8, "0")
      }, computed 0x${computed.toString(16).padStart(8, "0")})`,
    );
  }
  const guard = GUARD_BY_CODE.get(view.getUint8(12));
  const refType = view.getUint8(13);
  const interval = view.getUint32(16, true);
  const tupleSize = view.getUint16(20, true);
  const seed = Number(view.getBigUint64(24, true));
  const fileSize = Number(view.getBigUint64(32, true));
  const count = Number(view.getBigUint64(40, true));
  const invalid = (what: string) =>
    new SidecarError(`${name}: the sidecar header is invalid (${what})`);
  if (!guard) throw invalid(`unknown guard code ${view.getUint8(12)}`);
  if (refType !== 1 && refType !== 2 && refType !== 3) {
    throw invalid(`reference tag type ${refType}`);
  }
  if (tupleSize !== piTupleSize(guard)) {
    throw invalid(`tuple size ${tupleSize} for ${guard}`);
  }
  if (interval === 0 || view.getUint16(10, true) !== SIDECAR_HEADER_SIZE) {
    throw invalid("interval or header size");
  }
  if (
    !Number.isSafeInteger(fileSize) || count !== Math.ceil(fileSize / interval)
  ) {
    throw invalid(`${count} tuples for ${fileSize} bytes`);
  }
  return {
    guard,
    interval,
    tupleSize: tupleSize as 8 | 16,
    refType,
    seed,
    appTag: view.getUint16(14, true),
    fileSize,
    count,
  };
}

/**
 * Total size in bytes of the sidecar for `header`.
 *
 * @example
 * ```ts
 * import { sidecarLength, sidecarHeader } from "./sidecar.ts";
 * sidecarLength(sidecarHeader({ guard: "crc16-t10dif", interval: 4096, refType: 1, seed: 0, appTag: 0 }, 1 << 20)); // 64 + 256 * 8
 * ```
 */
export function sidecarLength(header: SidecarHeader): number {
  return SIDECAR_HEADER_SIZE + header.count * header.tupleSize;
}
