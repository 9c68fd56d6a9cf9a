/**
 * Registration argument structs: `struct io_uring_rsrc_register` (32 bytes)
 * and `struct io_uring_rsrc_update` / `io_uring_files_update` (16 bytes).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct io_uring_rsrc_register`. */
export const RSRC_REGISTER_SIZE = 32;
/** Size of `struct io_uring_rsrc_update` (the same layout as io_uring_files_update). */
export const RSRC_UPDATE_SIZE = 16;

/**
 * A typed view of `struct io_uring_rsrc_register` (IORING_REGISTER_FILES2,
 * IORING_REGISTER_BUFFERS2).
 *
 * @example
 * ```ts
 * import { RsrcRegisterView, IORING_RSRC_REGISTER_SPARSE } from "./mod.ts";
 * const r = new RsrcRegisterView(new Uint8Array(32));
 * r.nr = 16;
 * r.flags = IORING_RSRC_REGISTER_SPARSE;
 * ```
 */
export class RsrcRegisterView extends StructView {
  /** 32 bytes. */
  static readonly SIZE: number = RSRC_REGISTER_SIZE;
  /** Views the first 32 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, RSRC_REGISTER_SIZE);
  }
  /** `nr`: number of table entries. */
  get nr(): number {
    return this.u32(0);
  }
  set nr(v: number) {
    this.setU32(0, v);
  }
  /** `flags`: IORING_RSRC_REGISTER_* bits. */
  get flags(): number {
    return this.u32(4);
  }
  set flags(v: number) {
    this.setU32(4, v);
  }
  /** `data`: address of the fd or iovec array. */
  get data(): bigint {
    return this.u64(16);
  }
  set data(v: bigint | number) {
    this.setU64(16, v);
  }
  /** `tags`: address of a u64 tag per entry, or 0. */
  get tags(): bigint {
    return this.u64(24);
  }
  set tags(v: bigint | number) {
    this.setU64(24, v);
  }
}

/**
 * A typed view of `struct io_uring_rsrc_update` (IORING_REGISTER_FILES_UPDATE).
 *
 * @example
 * ```ts
 * import { RsrcUpdateView } from "./rsrc.ts";
 * const u = new RsrcUpdateView(new Uint8Array(16));
 * u.offset = 3;
 * ```
 */
export class RsrcUpdateView extends StructView {
  /** 16 bytes. */
  static readonly SIZE: number = RSRC_UPDATE_SIZE;
  /** Views the first 16 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, RSRC_UPDATE_SIZE);
  }
  /** `offset`: first table slot to update. */
  get offset(): number {
    return this.u32(0);
  }
  set offset(v: number) {
    this.setU32(0, v);
  }
  /** `data`: address of the replacement fd array. */
  get data(): bigint {
    return this.u64(8);
  }
  set data(v: bigint | number) {
    this.setU64(8, v);
  }
}
