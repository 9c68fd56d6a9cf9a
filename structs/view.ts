/**
 * The base of every typed struct view: a `DataView` over caller-provided
 * bytes, with the little-endian accessors the kernel structs need.
 * Views never copy and never allocate native memory.
 *
 * @module
 */

/**
 * A fixed-size kernel struct seen through a byte array. Subclasses add one
 * getter/setter pair per field, with offsets from a single offsets table.
 *
 * @example
 * ```ts
 * import { StructView } from "./view.ts";
 * class Pair extends StructView {
 *   constructor(bytes: Uint8Array) { super(bytes, 8); }
 *   get a(): number { return this.u32(0); }
 * }
 * new Pair(new Uint8Array(8)).a; // 0
 * ```
 */
export abstract class StructView {
  /** The bytes this view reads and writes. */
  readonly bytes: Uint8Array;
  /** DataView over exactly those bytes. */
  protected readonly dv: DataView;

  /** Views the first `size` bytes of `bytes`; throws if there are fewer. */
  constructor(bytes: Uint8Array, size: number) {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`${new.target.name} needs a Uint8Array`);
    }
    if (bytes.byteLength < size) {
      throw new RangeError(
        `${new.target.name} needs ${size} bytes, got ${bytes.byteLength}`,
      );
    }
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  }

  /** Sets every byte of the struct to zero. */
  clear(): void {
    this.bytes.fill(0, 0, this.dv.byteLength);
  }

  /** Reads a u8. */
  protected u8(offset: number): number {
    return this.dv.getUint8(offset);
  }
  /** Writes a u8. */
  protected setU8(offset: number, value: number): void {
    this.dv.setUint8(offset, value);
  }
  /** Reads a little-endian u16. */
  protected u16(offset: number): number {
    return this.dv.getUint16(offset, true);
  }
  /** Writes a little-endian u16. */
  protected setU16(offset: number, value: number): void {
    this.dv.setUint16(offset, value, true);
  }
  /** Reads a little-endian i32. */
  protected i32(offset: number): number {
    return this.dv.getInt32(offset, true);
  }
  /** Writes a little-endian i32. */
  protected setI32(offset: number, value: number): void {
    this.dv.setInt32(offset, value, true);
  }
  /** Reads a little-endian u32. */
  protected u32(offset: number): number {
    return this.dv.getUint32(offset, true);
  }
  /** Writes a little-endian u32. */
  protected setU32(offset: number, value: number): void {
    this.dv.setUint32(offset, value, true);
  }
  /** Reads a little-endian u64 as a bigint. */
  protected u64(offset: number): bigint {
    return this.dv.getBigUint64(offset, true);
  }
  /** Reads a little-endian i64 as a bigint. */
  protected i64(offset: number): bigint {
    return this.dv.getBigInt64(offset, true);
  }
  /** Writes a u64 from a bigint or a non-negative safe integer. */
  protected setU64(offset: number, value: bigint | number): void {
    if (typeof value === "number") setU64Number(this.dv, offset, value);
    else this.dv.setBigUint64(offset, BigInt.asUintN(64, value), true);
  }
  /** Writes an i64 from a bigint or a safe integer. */
  protected setI64(offset: number, value: bigint | number): void {
    this.dv.setBigInt64(offset, BigInt(value), true);
  }
}

/**
 * Writes a non-negative integer below 2^53 as a little-endian u64 without
 * allocating a bigint (the hot path for addresses and offsets).
 *
 * @example
 * ```ts
 * import { setU64Number } from "./view.ts";
 * const dv = new DataView(new ArrayBuffer(8));
 * setU64Number(dv, 0, 2 ** 40);
 * dv.getBigUint64(0, true); // 1099511627776n
 * ```
 */
export function setU64Number(
  dv: DataView,
  offset: number,
  value: number,
): void {
  dv.setUint32(offset, value >>> 0, true);
  dv.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000) >>> 0, true);
}
