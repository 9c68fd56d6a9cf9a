/**
 * `struct io_uring_params` with its embedded `io_sqring_offsets` and
 * `io_cqring_offsets` (120 bytes), filled in by io_uring_setup(2).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct io_uring_params`. */
export const PARAMS_SIZE = 120;

/**
 * Byte offsets inside `struct io_uring_params`.
 *
 * @example
 * ```ts
 * import { PARAMS_OFFSETS } from "./params.ts";
 * PARAMS_OFFSETS.features; // 20
 * ```
 */
export const PARAMS_OFFSETS = {
  sqEntries: 0,
  cqEntries: 4,
  flags: 8,
  sqThreadCpu: 12,
  sqThreadIdle: 16,
  features: 20,
  wqFd: 24,
  resv: 28,
  sqOff: 40,
  cqOff: 80,
} as const;

/**
 * Offsets inside `struct io_sqring_offsets` (40 bytes).
 *
 * @example
 * ```ts
 * import { SQ_OFFSETS } from "./params.ts";
 * SQ_OFFSETS.array; // 24
 * ```
 */
export const SQ_OFFSETS = {
  head: 0,
  tail: 4,
  ringMask: 8,
  ringEntries: 12,
  flags: 16,
  dropped: 20,
  array: 24,
  resv1: 28,
  userAddr: 32,
} as const;

/**
 * Offsets inside `struct io_cqring_offsets` (40 bytes).
 *
 * @example
 * ```ts
 * import { CQ_OFFSETS } from "./params.ts";
 * CQ_OFFSETS.cqes; // 20
 * ```
 */
export const CQ_OFFSETS = {
  head: 0,
  tail: 4,
  ringMask: 8,
  ringEntries: 12,
  overflow: 16,
  cqes: 20,
  flags: 24,
  resv1: 28,
  userAddr: 32,
} as const;

/**
 * Where, inside the mmap'd SQ ring, each of its fields lives.
 *
 * @example
 * ```ts
 * import type { SqRingOffsets } from "./params.ts";
 * const o: Partial<SqRingOffsets> = { head: 0 };
 * ```
 */
export interface SqRingOffsets {
  /** `head`: offset of the SQ head index (advanced by the kernel). */
  head: number;
  /** `tail`: offset of the SQ tail index (advanced by the application). */
  tail: number;
  /** `ring_mask`: offset of the mask applied to head and tail. */
  ringMask: number;
  /** `ring_entries`: offset of the SQ entry count. */
  ringEntries: number;
  /** `flags`: offset of the IORING_SQ_* flags word. */
  flags: number;
  /** `dropped`: offset of the count of invalid SQEs the kernel skipped. */
  dropped: number;
  /** `array`: offset of the SQE index array. */
  array: number;
}

/**
 * Where, inside the mmap'd CQ ring, each of its fields lives.
 *
 * @example
 * ```ts
 * import type { CqRingOffsets } from "./params.ts";
 * const o: Partial<CqRingOffsets> = { cqes: 64 };
 * ```
 */
export interface CqRingOffsets {
  /** `head`: offset of the CQ head index (advanced by the application). */
  head: number;
  /** `tail`: offset of the CQ tail index (advanced by the kernel). */
  tail: number;
  /** `ring_mask`: offset of the mask applied to head and tail. */
  ringMask: number;
  /** `ring_entries`: offset of the CQ entry count. */
  ringEntries: number;
  /** `overflow`: offset of the count of completions dropped on overflow. */
  overflow: number;
  /** `cqes`: offset of the CQE array. */
  cqes: number;
  /** `flags`: offset of the IORING_CQ_* flags word. */
  flags: number;
}

/**
 * A typed view of `struct io_uring_params`.
 *
 * @example
 * ```ts
 * import { ParamsView } from "./params.ts";
 * const p = new ParamsView(new Uint8Array(120));
 * p.flags = 0;
 * p.sqThreadIdle = 10;
 * ```
 */
export class ParamsView extends StructView {
  /** 120 bytes. */
  static readonly SIZE: number = PARAMS_SIZE;
  /** Views the first 120 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, PARAMS_SIZE);
  }
  /** `sq_entries`: SQ ring size; the kernel rounds it up to a power of two. */
  get sqEntries(): number {
    return this.u32(PARAMS_OFFSETS.sqEntries);
  }
  set sqEntries(v: number) {
    this.setU32(PARAMS_OFFSETS.sqEntries, v);
  }
  /** `cq_entries`: CQ ring size (input with IORING_SETUP_CQSIZE). */
  get cqEntries(): number {
    return this.u32(PARAMS_OFFSETS.cqEntries);
  }
  set cqEntries(v: number) {
    this.setU32(PARAMS_OFFSETS.cqEntries, v);
  }
  /** IORING_SETUP_* flags. */
  get flags(): number {
    return this.u32(PARAMS_OFFSETS.flags);
  }
  set flags(v: number) {
    this.setU32(PARAMS_OFFSETS.flags, v);
  }
  /** `sq_thread_cpu`: CPU for the SQPOLL thread (with IORING_SETUP_SQ_AFF). */
  get sqThreadCpu(): number {
    return this.u32(PARAMS_OFFSETS.sqThreadCpu);
  }
  set sqThreadCpu(v: number) {
    this.setU32(PARAMS_OFFSETS.sqThreadCpu, v);
  }
  /** SQPOLL idle time in milliseconds. */
  get sqThreadIdle(): number {
    return this.u32(PARAMS_OFFSETS.sqThreadIdle);
  }
  set sqThreadIdle(v: number) {
    this.setU32(PARAMS_OFFSETS.sqThreadIdle, v);
  }
  /** IORING_FEAT_* bits reported by the kernel. */
  get features(): number {
    return this.u32(PARAMS_OFFSETS.features);
  }
  set features(v: number) {
    this.setU32(PARAMS_OFFSETS.features, v);
  }
  /** `wq_fd`: ring whose async backend to share (with IORING_SETUP_ATTACH_WQ). */
  get wqFd(): number {
    return this.u32(PARAMS_OFFSETS.wqFd);
  }
  set wqFd(v: number) {
    this.setU32(PARAMS_OFFSETS.wqFd, v);
  }
  /** The SQ ring's field offsets, as the kernel filled them in. */
  get sqOff(): SqRingOffsets {
    const b = PARAMS_OFFSETS.sqOff;
    return {
      head: this.u32(b + SQ_OFFSETS.head),
      tail: this.u32(b + SQ_OFFSETS.tail),
      ringMask: this.u32(b + SQ_OFFSETS.ringMask),
      ringEntries: this.u32(b + SQ_OFFSETS.ringEntries),
      flags: this.u32(b + SQ_OFFSETS.flags),
      dropped: this.u32(b + SQ_OFFSETS.dropped),
      array: this.u32(b + SQ_OFFSETS.array),
    };
  }
  /** The CQ ring's field offsets, as the kernel filled them in. */
  get cqOff(): CqRingOffsets {
    const b = PARAMS_OFFSETS.cqOff;
    return {
      head: this.u32(b + CQ_OFFSETS.head),
      tail: this.u32(b + CQ_OFFSETS.tail),
      ringMask: this.u32(b + CQ_OFFSETS.ringMask),
      ringEntries: this.u32(b + CQ_OFFSETS.ringEntries),
      overflow: this.u32(b + CQ_OFFSETS.overflow),
      cqes: this.u32(b + CQ_OFFSETS.cqes),
      flags: this.u32(b + CQ_OFFSETS.flags),
    };
  }
}
