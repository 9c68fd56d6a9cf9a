/**
 * `struct statx` (256 bytes) as filled by statx(2) and IORING_OP_STATX.
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct statx` (STATX_SIZE is the kernel's mask bit for stx_size). */
export const STATX_STRUCT_SIZE = 256;

/**
 * Byte offsets inside `struct statx`.
 *
 * @example
 * ```ts
 * import { STATX_OFFSETS } from "./statx.ts";
 * STATX_OFFSETS.size; // 40
 * ```
 */
export const STATX_OFFSETS = {
  mask: 0,
  blksize: 4,
  attributes: 8,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28,
  ino: 32,
  size: 40,
  blocks: 48,
  attributesMask: 56,
  atime: 64,
  btime: 80,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
  mntId: 144,
  dioMemAlign: 152,
  dioOffsetAlign: 156,
  subvol: 160,
  atomicWriteUnitMin: 168,
  atomicWriteUnitMax: 172,
  atomicWriteSegmentsMax: 176,
  dioReadOffsetAlign: 180,
} as const;

/**
 * A statx timestamp as seconds and nanoseconds.
 *
 * @example
 * ```ts
 * import type { StatxTimestamp } from "./statx.ts";
 * const t: StatxTimestamp = { sec: 0n, nsec: 0 };
 * ```
 */
export interface StatxTimestamp {
  sec: bigint;
  nsec: number;
}

/**
 * A plain object with the fields of a `struct statx`, numbers where they are
 * safe integers in practice (sizes and counts), bigint for inode and mount ids.
 *
 * @example
 * ```ts
 * import type { Statx } from "./statx.ts";
 * function isDir(s: Statx) { return (s.mode & 0o170000) === 0o040000; }
 * ```
 */
export interface Statx {
  mask: number;
  blksize: number;
  attributes: bigint;
  nlink: number;
  uid: number;
  gid: number;
  mode: number;
  ino: bigint;
  size: number;
  blocks: number;
  atime: StatxTimestamp;
  btime: StatxTimestamp;
  ctime: StatxTimestamp;
  mtime: StatxTimestamp;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
  mntId: bigint;
  /** Required memory alignment for O_DIRECT buffers (STATX_DIOALIGN), 0 if unknown. */
  dioMemAlign: number;
  /** Required file offset alignment for O_DIRECT (STATX_DIOALIGN), 0 if unknown. */
  dioOffsetAlign: number;
}

/**
 * A typed view of `struct statx`.
 *
 * @example
 * ```ts
 * import { StatxView } from "./statx.ts";
 * const sx = new StatxView(new Uint8Array(256));
 * sx.toObject().size; // 0
 * ```
 */
export class StatxView extends StructView {
  /** 256 bytes. */
  static readonly SIZE = STATX_STRUCT_SIZE;
  constructor(bytes: Uint8Array) {
    super(bytes, STATX_STRUCT_SIZE);
  }
  get mask(): number {
    return this.u32(STATX_OFFSETS.mask);
  }
  get size(): number {
    return Number(this.u64(STATX_OFFSETS.size));
  }
  get mode(): number {
    return this.u16(STATX_OFFSETS.mode);
  }
  private timestamp(offset: number): StatxTimestamp {
    return { sec: this.i64(offset), nsec: this.u32(offset + 8) };
  }
  /** Every field as a plain object. */
  toObject(): Statx {
    const o = STATX_OFFSETS;
    return {
      mask: this.u32(o.mask),
      blksize: this.u32(o.blksize),
      attributes: this.u64(o.attributes),
      nlink: this.u32(o.nlink),
      uid: this.u32(o.uid),
      gid: this.u32(o.gid),
      mode: this.u16(o.mode),
      ino: this.u64(o.ino),
      size: Number(this.u64(o.size)),
      blocks: Number(this.u64(o.blocks)),
      atime: this.timestamp(o.atime),
      btime: this.timestamp(o.btime),
      ctime: this.timestamp(o.ctime),
      mtime: this.timestamp(o.mtime),
      rdevMajor: this.u32(o.rdevMajor),
      rdevMinor: this.u32(o.rdevMinor),
      devMajor: this.u32(o.devMajor),
      devMinor: this.u32(o.devMinor),
      mntId: this.u64(o.mntId),
      dioMemAlign: this.u32(o.dioMemAlign),
      dioOffsetAlign: this.u32(o.dioOffsetAlign),
    };
  }
}
