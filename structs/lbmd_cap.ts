/**
 * `struct logical_block_metadata_cap` (Linux 6.17): what
 * FS_IOC_GETLBMD_CAP reports about a block device's integrity metadata.
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct logical_block_metadata_cap`. */
export const LBMD_CAP_SIZE = 16;

/**
 * Byte offsets inside `struct logical_block_metadata_cap`.
 *
 * @example
 * ```ts
 * import { LBMD_CAP_OFFSETS } from "./lbmd_cap.ts";
 * LBMD_CAP_OFFSETS.guardTagType; // 11
 * ```
 */
export const LBMD_CAP_OFFSETS = {
  flags: 0,
  interval: 4,
  size: 6,
  opaqueSize: 7,
  opaqueOffset: 8,
  piSize: 9,
  piOffset: 10,
  guardTagType: 11,
  appTagSize: 12,
  refTagSize: 13,
  storageTagSize: 14,
  pad: 15,
} as const;

/**
 * A typed view of `struct logical_block_metadata_cap`. Field names drop the
 * `lbmd_` prefix.
 *
 * @example
 * ```ts
 * import { LbmdCapView } from "./lbmd_cap.ts";
 * const cap = new LbmdCapView(new Uint8Array(16));
 * cap.interval; // 0 until the ioctl fills it
 * ```
 */
export class LbmdCapView extends StructView {
  /** 16 bytes. */
  static readonly SIZE: number = LBMD_CAP_SIZE;
  /** Views the first 16 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, LBMD_CAP_SIZE);
  }
  /** LBMD_PI_CAP_* bits. */
  get flags(): number {
    return this.u32(LBMD_CAP_OFFSETS.flags);
  }
  set flags(v: number) {
    this.setU32(LBMD_CAP_OFFSETS.flags, v);
  }
  /** Protection interval in bytes. */
  get interval(): number {
    return this.u16(LBMD_CAP_OFFSETS.interval);
  }
  set interval(v: number) {
    this.setU16(LBMD_CAP_OFFSETS.interval, v);
  }
  /** Metadata bytes per interval. */
  get size(): number {
    return this.u8(LBMD_CAP_OFFSETS.size);
  }
  set size(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.size, v);
  }
  /** `lbmd_opaque_size`: bytes of opaque (non-PI) metadata per interval. */
  get opaqueSize(): number {
    return this.u8(LBMD_CAP_OFFSETS.opaqueSize);
  }
  set opaqueSize(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.opaqueSize, v);
  }
  /** `lbmd_opaque_offset`: offset of the opaque metadata within an interval's metadata. */
  get opaqueOffset(): number {
    return this.u8(LBMD_CAP_OFFSETS.opaqueOffset);
  }
  set opaqueOffset(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.opaqueOffset, v);
  }
  /** PI tuple size: 8 (16-bit guard) or 16 (64-bit guard). */
  get piSize(): number {
    return this.u8(LBMD_CAP_OFFSETS.piSize);
  }
  set piSize(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.piSize, v);
  }
  /** `lbmd_pi_offset`: offset of the PI tuple within an interval's metadata. */
  get piOffset(): number {
    return this.u8(LBMD_CAP_OFFSETS.piOffset);
  }
  set piOffset(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.piOffset, v);
  }
  /** LBMD_PI_CSUM_* value. */
  get guardTagType(): number {
    return this.u8(LBMD_CAP_OFFSETS.guardTagType);
  }
  set guardTagType(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.guardTagType, v);
  }
  /** `lbmd_app_tag_size`: application tag size in bytes. */
  get appTagSize(): number {
    return this.u8(LBMD_CAP_OFFSETS.appTagSize);
  }
  set appTagSize(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.appTagSize, v);
  }
  /** `lbmd_ref_tag_size`: reference tag size in bytes. */
  get refTagSize(): number {
    return this.u8(LBMD_CAP_OFFSETS.refTagSize);
  }
  set refTagSize(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.refTagSize, v);
  }
  /** `lbmd_storage_tag_size`: storage tag size in bytes. */
  get storageTagSize(): number {
    return this.u8(LBMD_CAP_OFFSETS.storageTagSize);
  }
  set storageTagSize(v: number) {
    this.setU8(LBMD_CAP_OFFSETS.storageTagSize, v);
  }
}
