/**
 * `struct io_uring_attr_pi` (Linux 6.14): the Protection Information
 * attribute of a read or write (32 bytes).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct io_uring_attr_pi`. */
export const ATTR_PI_SIZE = 32;

/**
 * Byte offsets inside `struct io_uring_attr_pi`.
 *
 * @example
 * ```ts
 * import { ATTR_PI_OFFSETS } from "./attr_pi.ts";
 * ATTR_PI_OFFSETS.seed; // 16
 * ```
 */
export const ATTR_PI_OFFSETS = {
  flags: 0,
  appTag: 2,
  len: 4,
  addr: 8,
  seed: 16,
  rsvd: 24,
} as const;

/**
 * A typed view of `struct io_uring_attr_pi`.
 *
 * @example
 * ```ts
 * import { AttrPiView, IO_INTEGRITY_CHK_GUARD } from "./mod.ts";
 * const pi = new AttrPiView(new Uint8Array(32));
 * pi.flags = IO_INTEGRITY_CHK_GUARD;
 * pi.len = 64;
 * pi.seed = 2048n;
 * ```
 */
export class AttrPiView extends StructView {
  /** 32 bytes. */
  static readonly SIZE: number = ATTR_PI_SIZE;
  /** Views the first 32 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, ATTR_PI_SIZE);
  }
  /** IO_INTEGRITY_CHK_* bits: which fields the device checks. */
  get flags(): number {
    return this.u16(ATTR_PI_OFFSETS.flags);
  }
  set flags(v: number) {
    this.setU16(ATTR_PI_OFFSETS.flags, v);
  }
  /** Application tag to check against. */
  get appTag(): number {
    return this.u16(ATTR_PI_OFFSETS.appTag);
  }
  set appTag(v: number) {
    this.setU16(ATTR_PI_OFFSETS.appTag, v);
  }
  /** Length of the metadata buffer in bytes. */
  get len(): number {
    return this.u32(ATTR_PI_OFFSETS.len);
  }
  set len(v: number) {
    this.setU32(ATTR_PI_OFFSETS.len, v);
  }
  /** Address of the metadata buffer. */
  get addr(): bigint {
    return this.u64(ATTR_PI_OFFSETS.addr);
  }
  set addr(v: bigint | number) {
    this.setU64(ATTR_PI_OFFSETS.addr, v);
  }
  /** Initial reference tag. */
  get seed(): bigint {
    return this.u64(ATTR_PI_OFFSETS.seed);
  }
  set seed(v: bigint | number) {
    this.setU64(ATTR_PI_OFFSETS.seed, v);
  }
  /** Reserved: must be 0 or the kernel fails the request with EINVAL. */
  get rsvd(): bigint {
    return this.u64(ATTR_PI_OFFSETS.rsvd);
  }
  set rsvd(v: bigint | number) {
    this.setU64(ATTR_PI_OFFSETS.rsvd, v);
  }
}
