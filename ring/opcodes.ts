/**
 * What an opcode is to the library ({@linkcode OpcodeSpec}; the rows are in
 * ops.ts) and the one function that fills an SQE's common fields: every
 * prep helper and the Promise layer end in {@linkcode fillSqe}.
 *
 * @module
 */
/**
 * One io_uring operation as the library knows it.
 *
 * @example
 * ```ts
 * import type { OpcodeSpec } from "./opcodes.ts";
 * const nop: OpcodeSpec = { opcode: 0, name: "nop", attributes: false, writesMemory: false };
 * ```
 */
export interface OpcodeSpec {
  /** The kernel's opcode number. */
  readonly opcode: number;
  /** Lower-case name used in errors (`"read"`). */
  readonly name: string;
  /** Whether the kernel accepts read/write attributes on it (Linux 6.14). */
  readonly attributes: boolean;
  /** Whether the kernel writes into the buffer (a read of some kind). */
  readonly writesMemory: boolean;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Fills the SQE at word index `base` of the SQE array (viewed as u32 words)
 * as liburing's `io_uring_prep_rw` does: opcode, fd, addr, len, off and
 * user_data (its low 32 bits) set; every other field zeroed. Numbers up to
 * 2^53 (and -1 for "current file position") are split into two
 * little-endian u32 words with no bigint. `wide`, a Float64Array over the
 * same memory, lets 8-byte fields that are zero be written as one store
 * instead of two (all-zero bits are +0.0): fewer checked stores per SQE,
 * the NOP benchmark's hot path on Deno. `base` must be even (SQEs are 64 or
 * 128 bytes).
 *
 * @example
 * ```ts
 * import { fillSqe } from "./opcodes.ts";
 * const sqe = new ArrayBuffer(64);
 * const words = new Uint32Array(sqe);
 * // IORING_OP_READ of 4 KiB from fd 3 at offset 0, user_data 1
 * fillSqe(words, 0, 22, 3, 0x1000, 4096, 0, 1, new Float64Array(sqe));
 * ```
 */
export function fillSqe(
  words: Uint32Array,
  base: number,
  opcode: number,
  fd: number,
  addr: number,
  len: number,
  off: number,
  userData: number,
  wide: Float64Array,
): void {
  const at = base >>> 1;
  words[base] = opcode; // flags = 0, ioprio = 0
  words[base + 1] = fd;
  if (off === 0) wide[at + 1] = 0;
  else setU64Words(words, base + 2, off);
  if (addr === 0) wide[at + 2] = 0;
  else setU64Words(words, base + 4, addr);
  if (len === 0) wide[at + 3] = 0; // len, rw_flags
  else {
    words[base + 6] = len;
    words[base + 7] = 0; // rw_flags and its union
  }
  words[base + 8] = userData;
  words[base + 9] = 0;
  // buf_index, personality, file_index, addr3 / attr_ptr, __pad2 /
  // attr_type_mask: words 10-15 = doubles 5-7 of this SQE.
  wide[at + 5] = 0;
  wide[at + 6] = 0;
  wide[at + 7] = 0;
}

/**
 * A number up to 2^53 (or -1) as two little-endian u32 words. ToUint32 keeps
 * the low 32 bits; the division is only needed for the high word of values
 * outside [0, 2^32) (-1 included: all ones).
 */
function setU64Words(words: Uint32Array, at: number, value: number): void {
  words[at] = value;
  words[at + 1] = value >= 0 && value < TWO_32 ? 0 : Math.floor(value / TWO_32);
}
