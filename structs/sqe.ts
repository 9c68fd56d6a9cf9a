/**
 * `struct io_uring_sqe`: the submission queue entry (64 bytes, or 128 with
 * IORING_SETUP_SQE128).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of a submission queue entry. */
export const SQE_SIZE = 64;
/** Size of an entry on a ring set up with IORING_SETUP_SQE128. */
export const SQE128_SIZE = 128;

/**
 * Byte offsets of the SQE fields (include/uapi/linux/io_uring.h). Unions are
 * listed under each of their names.
 *
 * @example
 * ```ts
 * import { SQE_OFFSETS } from "./sqe.ts";
 * SQE_OFFSETS.attrPtr; // 48
 * ```
 */
export const SQE_OFFSETS = {
  opcode: 0,
  flags: 1,
  ioprio: 2,
  fd: 4,
  /** union: off, addr2 */
  off: 8,
  /** union: addr, splice_off_in */
  addr: 16,
  len: 24,
  /** union: rw_flags, fsync_flags, timeout_flags, open_flags, statx_flags, ... */
  rwFlags: 28,
  userData: 32,
  /** union: buf_index, buf_group */
  bufIndex: 40,
  personality: 42,
  /** union: splice_fd_in, file_index, addr_len */
  fileIndex: 44,
  /** union: addr3, attr_ptr (Linux 6.14) */
  attrPtr: 48,
  /** union: __pad2[0], attr_type_mask (Linux 6.14) */
  attrTypeMask: 56,
  /** The 80-byte command area of an SQE128 entry starts over addr3. */
  cmd: 48,
} as const;

/**
 * Index of the 32-bit word that holds each 4-byte-aligned SQE field (byte
 * offset / 4), for code that writes SQEs through a Uint32Array without
 * creating a view. 8-byte fields name their low word; the high word is the
 * next one. `flags` shares word 0 with `opcode` and `ioprio`: shift by
 * {@linkcode SQE_FLAGS_SHIFT}.
 *
 * @example
 * ```ts
 * import { SQE_WORDS } from "./sqe.ts";
 * SQE_WORDS.rwFlags; // 7
 * ```
 */
export const SQE_WORDS = {
  opcode: SQE_OFFSETS.opcode >>> 2,
  fd: SQE_OFFSETS.fd >>> 2,
  off: SQE_OFFSETS.off >>> 2,
  addr: SQE_OFFSETS.addr >>> 2,
  len: SQE_OFFSETS.len >>> 2,
  rwFlags: SQE_OFFSETS.rwFlags >>> 2,
  userData: SQE_OFFSETS.userData >>> 2,
  /** The high 32 bits of `user_data`. */
  userDataHigh: (SQE_OFFSETS.userData >>> 2) + 1,
  /** `buf_index` (u16) and `personality` (u16) share this word. */
  bufIndex: SQE_OFFSETS.bufIndex >>> 2,
  attrPtr: SQE_OFFSETS.attrPtr >>> 2,
  attrTypeMask: SQE_OFFSETS.attrTypeMask >>> 2,
} as const;

/**
 * Bit position of the IOSQE_* `flags` byte inside SQE word 0 (little
 * endian: opcode is byte 0, flags byte 1).
 *
 * @example
 * ```ts
 * import { SQE_FLAGS_SHIFT } from "./sqe.ts";
 * const IOSQE_IO_LINK = 1 << 2;
 * (IOSQE_IO_LINK << SQE_FLAGS_SHIFT).toString(16); // "400"
 * ```
 */
export const SQE_FLAGS_SHIFT: number = 8 * SQE_OFFSETS.flags;

/**
 * A typed view of one SQE. Fields are the kernel's, in camelCase; u64 fields
 * read as bigint and accept a bigint or a safe integer.
 *
 * @example
 * ```ts
 * import { SqeView, IORING_OP_NOP } from "./mod.ts";
 * const sqe = new SqeView(new Uint8Array(64));
 * sqe.opcode = IORING_OP_NOP;
 * sqe.userData = 42n;
 * ```
 */
export class SqeView extends StructView {
  /** 64 bytes. */
  static readonly SIZE: number = SQE_SIZE;
  /** Views the first `size` bytes of `bytes` (64, or 128 for SQE128). */
  constructor(bytes: Uint8Array, size: number = SQE_SIZE) {
    super(bytes, size);
  }
  /** `opcode`: the IORING_OP_* operation. */
  get opcode(): number {
    return this.u8(SQE_OFFSETS.opcode);
  }
  set opcode(v: number) {
    this.setU8(SQE_OFFSETS.opcode, v);
  }
  /** IOSQE_* flags. */
  get flags(): number {
    return this.u8(SQE_OFFSETS.flags);
  }
  set flags(v: number) {
    this.setU8(SQE_OFFSETS.flags, v);
  }
  /** `ioprio`: I/O priority, or per-opcode flags (e.g. IORING_RECVSEND_*). */
  get ioprio(): number {
    return this.u16(SQE_OFFSETS.ioprio);
  }
  set ioprio(v: number) {
    this.setU16(SQE_OFFSETS.ioprio, v);
  }
  /** `fd`: the file descriptor, or fixed-file index with IOSQE_FIXED_FILE. */
  get fd(): number {
    return this.i32(SQE_OFFSETS.fd);
  }
  set fd(v: number) {
    this.setI32(SQE_OFFSETS.fd, v);
  }
  /** `off` / `addr2`: file offset (-1 for the current position), or a second address. */
  get off(): bigint {
    return this.u64(SQE_OFFSETS.off);
  }
  set off(v: bigint | number) {
    this.setU64(SQE_OFFSETS.off, v);
  }
  /** `addr` / `splice_off_in`: buffer or iovec array address. */
  get addr(): bigint {
    return this.u64(SQE_OFFSETS.addr);
  }
  set addr(v: bigint | number) {
    this.setU64(SQE_OFFSETS.addr, v);
  }
  /** `len`: buffer length in bytes, or iovec count. */
  get len(): number {
    return this.u32(SQE_OFFSETS.len);
  }
  set len(v: number) {
    this.setU32(SQE_OFFSETS.len, v);
  }
  /** The per-opcode flags word (rw_flags, fsync_flags, timeout_flags, ...). */
  get rwFlags(): number {
    return this.u32(SQE_OFFSETS.rwFlags);
  }
  set rwFlags(v: number) {
    this.setU32(SQE_OFFSETS.rwFlags, v);
  }
  /** `user_data`: opaque value copied into the matching CQE. */
  get userData(): bigint {
    return this.u64(SQE_OFFSETS.userData);
  }
  set userData(v: bigint | number) {
    this.setU64(SQE_OFFSETS.userData, v);
  }
  /** `buf_index` / `buf_group`: registered buffer index or provided-buffer group. */
  get bufIndex(): number {
    return this.u16(SQE_OFFSETS.bufIndex);
  }
  set bufIndex(v: number) {
    this.setU16(SQE_OFFSETS.bufIndex, v);
  }
  /** `personality`: registered credentials id, 0 for the submitter's. */
  get personality(): number {
    return this.u16(SQE_OFFSETS.personality);
  }
  set personality(v: number) {
    this.setU16(SQE_OFFSETS.personality, v);
  }
  /** `splice_fd_in` / `file_index` / `addr_len`: splice input fd, or fixed-file slot + 1 for direct opens. */
  get fileIndex(): number {
    return this.u32(SQE_OFFSETS.fileIndex);
  }
  set fileIndex(v: number) {
    this.setU32(SQE_OFFSETS.fileIndex, v);
  }
  /** Address of the attribute (compound) buffer, Linux 6.14+. */
  get attrPtr(): bigint {
    return this.u64(SQE_OFFSETS.attrPtr);
  }
  set attrPtr(v: bigint | number) {
    this.setU64(SQE_OFFSETS.attrPtr, v);
  }
  /** IORING_RW_ATTR_FLAG_* bits describing the attribute buffer. */
  get attrTypeMask(): bigint {
    return this.u64(SQE_OFFSETS.attrTypeMask);
  }
  set attrTypeMask(v: bigint | number) {
    this.setU64(SQE_OFFSETS.attrTypeMask, v);
  }
}

/**
 * A 128-byte SQE (IORING_SETUP_SQE128): the 64-byte entry plus an 80-byte
 * command area starting at byte 48.
 *
 * @example
 * ```ts
 * import { Sqe128View } from "./sqe.ts";
 * const sqe = new Sqe128View(new Uint8Array(128));
 * sqe.cmd.length; // 80
 * ```
 */
export class Sqe128View extends SqeView {
  /** 128 bytes. */
  static override readonly SIZE: number = SQE128_SIZE;
  /** The command area (bytes 48 to 127). */
  readonly cmd: Uint8Array;
  /** Views the first 128 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, SQE128_SIZE);
    this.cmd = bytes.subarray(SQE_OFFSETS.cmd, SQE128_SIZE);
  }
}
