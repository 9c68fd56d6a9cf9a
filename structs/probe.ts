/**
 * `struct io_uring_probe` with its `struct io_uring_probe_op` array, filled
 * by IORING_REGISTER_PROBE.
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of the `struct io_uring_probe` header. */
export const PROBE_HEADER_SIZE = 16;
/** Size of one `struct io_uring_probe_op`. */
export const PROBE_OP_SIZE = 8;
/** IO_URING_OP_SUPPORTED: the op's flag bit when the kernel supports it. */
export const IO_URING_OP_SUPPORTED = 1 << 0;

/**
 * Bytes needed for a probe with room for `ops` opcodes.
 *
 * @example
 * ```ts
 * import { probeSize } from "./probe.ts";
 * probeSize(256); // 2064
 * ```
 */
export function probeSize(ops: number): number {
  return PROBE_HEADER_SIZE + ops * PROBE_OP_SIZE;
}

/**
 * A typed view of a probe result.
 *
 * @example
 * ```ts
 * import { ProbeView, probeSize } from "./probe.ts";
 * const p = new ProbeView(new Uint8Array(probeSize(256)));
 * p.supported(0); // false until the kernel fills it
 * ```
 */
export class ProbeView extends StructView {
  /** Views `bytes`: the probe header plus as many op entries as fit. */
  constructor(bytes: Uint8Array) {
    super(bytes, PROBE_HEADER_SIZE);
  }
  /** How many op entries fit in the bytes given. */
  get capacity(): number {
    return Math.floor(
      (this.bytes.byteLength - PROBE_HEADER_SIZE) / PROBE_OP_SIZE,
    );
  }
  /** Last opcode the kernel knows. */
  get lastOp(): number {
    return this.u8(0);
  }
  /** Number of op entries the kernel filled. */
  get opsLen(): number {
    return this.u8(1);
  }
  /** The flags of op entry `op` (IO_URING_OP_SUPPORTED). */
  opFlags(op: number): number {
    if (op < 0 || op >= this.opsLen || op >= this.capacity) return 0;
    const at = this.bytes.byteOffset + PROBE_HEADER_SIZE + op * PROBE_OP_SIZE;
    return new DataView(this.bytes.buffer).getUint16(at + 2, true);
  }
  /** Whether the kernel supports opcode `op`. */
  supported(op: number): boolean {
    return (this.opFlags(op) & IO_URING_OP_SUPPORTED) !== 0;
  }
}
