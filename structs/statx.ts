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
  /** `tv_sec`: seconds since the epoch. */
  sec: bigint;
  /** `tv_nsec`: nanoseconds. */
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
  /** `stx_mask`: STATX_* bits saying which fields were filled in. */
  mask: number;
  /** `stx_blksize`: preferred I/O block size. */
  blksize: number;
  /** `stx_attributes`: STATX_ATTR_* file attributes. */
  attributes: bigint;
  /** `stx_nlink`: hard link count. */
  nlink: number;
  /** `stx_uid`: owner user id. */
  uid: number;
  /** `stx_gid`: owner group id. */
  gid: number;
  /** `stx_mode`: file type and permission bits. */
  mode: number;
  /** `stx_ino`: inode number. */
  ino: bigint;
  /** `stx_size`: size in bytes. */
  size: number;
  /** `stx_blocks`: allocated 512-byte blocks. */
  blocks: number;
  /** `stx_atime`: last access. */
  atime: StatxTimestamp;
  /** `stx_btime`: creation (birth) time. */
  btime: StatxTimestamp;
  /** `stx_ctime`: last status change. */
  ctime: StatxTimestamp;
  /** `stx_mtime`: last modification. */
  mtime: StatxTimestamp;
  /** `stx_rdev_major`: device major number, for device files. */
  rdevMajor: number;
  /** `stx_rdev_minor`: device minor number, for device files. */
  rdevMinor: number;
  /** `stx_dev_major`: major number of the containing device. */
  devMajor: number;
  /** `stx_dev_minor`: minor number of the containing device. */
  devMinor: number;
  /** `stx_mnt_id`: mount id (STATX_MNT_ID). */
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
  static readonly SIZE: number = STATX_STRUCT_SIZE;
  /** Views the first 256 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, STATX_STRUCT_SIZE);
  }
  /** `stx_mask`: STATX_* bits saying which fields were filled in. */
  get mask(): number {
    return this.u32(STATX_OFFSETS.mask);
  }
  /** `stx_size`: file size in bytes. */
  get size(): number {
    return Number(this.u64(STATX_OFFSETS.size));
  }
  /** `stx_mode`: file type and permission bits. */
  get mode(): number {
    return this.u16(STATX_OFFSETS.mode);
  }
  /** Reads a `struct statx_timestamp` at `offset`. */
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
