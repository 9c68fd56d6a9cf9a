/**
 * `struct io_uring_cqe`: the completion queue entry (16 bytes, or 32 with
 * IORING_SETUP_CQE32).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of a completion queue entry. */
export const CQE_SIZE = 16;
/** Size of an entry on a ring set up with IORING_SETUP_CQE32. */
export const CQE32_SIZE = 32;

/**
 * Byte offsets of the CQE fields.
 *
 * @example
 * ```ts
 * import { CQE_OFFSETS } from "./cqe.ts";
 * CQE_OFFSETS.res; // 8
 * ```
 */
export const CQE_OFFSETS = {
  userData: 0,
  res: 8,
  flags: 12,
  /** big_cqe[2] of a CQE32 entry */
  bigCqe: 16,
} as const;

/**
 * A typed view of one CQE.
 *
 * @example
 * ```ts
 * import { CqeView } from "./cqe.ts";
 * const cqe = new CqeView(new Uint8Array(16));
 * cqe.res; // 0
 * ```
 */
export class CqeView extends StructView {
  /** 16 bytes. */
  static readonly SIZE: number = CQE_SIZE;
  /** Views the first `size` bytes of `bytes` (16, or 32 for CQE32). */
  constructor(bytes: Uint8Array, size: number = CQE_SIZE) {
    super(bytes, size);
  }
  /** `user_data`: copied from the SQE that produced this completion. */
  get userData(): bigint {
    return this.u64(CQE_OFFSETS.userData);
  }
  set userData(v: bigint | number) {
    this.setU64(CQE_OFFSETS.userData, v);
  }
  /** The result: bytes, an fd, 0, or `-errno`. */
  get res(): number {
    return this.i32(CQE_OFFSETS.res);
  }
  set res(v: number) {
    this.setI32(CQE_OFFSETS.res, v);
  }
  /** IORING_CQE_F_* flags. */
  get flags(): number {
    return this.u32(CQE_OFFSETS.flags);
  }
  set flags(v: number) {
    this.setU32(CQE_OFFSETS.flags, v);
  }
}

/**
 * A 32-byte CQE (IORING_SETUP_CQE32) with its two extra u64 words.
 *
 * @example
 * ```ts
 * import { Cqe32View } from "./cqe.ts";
 * new Cqe32View(new Uint8Array(32)).bigCqe0; // 0n
 * ```
 */
export class Cqe32View extends CqeView {
  /** 32 bytes. */
  static override readonly SIZE: number = CQE32_SIZE;
  /** Views the first 32 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, CQE32_SIZE);
  }
  /** `big_cqe[0]`: first extra word (per-opcode, e.g. uring_cmd results). */
  get bigCqe0(): bigint {
    return this.u64(CQE_OFFSETS.bigCqe);
  }
  /** `big_cqe[1]`: second extra word. */
  get bigCqe1(): bigint {
    return this.u64(CQE_OFFSETS.bigCqe + 8);
  }
}
