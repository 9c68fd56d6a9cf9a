/**
 * `struct iovec` (16 bytes) and `struct __kernel_timespec` (16 bytes).
 *
 * @module
 */
import { StructView } from "./view.ts";

/** Size of `struct iovec`. */
export const IOVEC_SIZE = 16;
/** Size of `struct __kernel_timespec`. */
export const TIMESPEC_SIZE = 16;

/**
 * A typed view of one `struct iovec`.
 *
 * @example
 * ```ts
 * import { IovecView } from "./iovec.ts";
 * const iov = new IovecView(new Uint8Array(16));
 * iov.len = 4096n;
 * ```
 */
export class IovecView extends StructView {
  /** 16 bytes. */
  static readonly SIZE: number = IOVEC_SIZE;
  /** Views the first 16 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, IOVEC_SIZE);
  }
  /** iov_base: address of the segment. */
  get base(): bigint {
    return this.u64(0);
  }
  set base(v: bigint | number) {
    this.setU64(0, v);
  }
  /** iov_len: length of the segment. */
  get len(): bigint {
    return this.u64(8);
  }
  set len(v: bigint | number) {
    this.setU64(8, v);
  }
}

/**
 * A typed view of `struct __kernel_timespec`, used by timeouts.
 *
 * @example
 * ```ts
 * import { TimespecView } from "./iovec.ts";
 * const ts = new TimespecView(new Uint8Array(16));
 * ts.setMilliseconds(1500); // tvSec 1n, tvNsec 500000000n
 * ```
 */
export class TimespecView extends StructView {
  /** 16 bytes. */
  static readonly SIZE: number = TIMESPEC_SIZE;
  /** Views the first 16 bytes of `bytes`. */
  constructor(bytes: Uint8Array) {
    super(bytes, TIMESPEC_SIZE);
  }
  /** `tv_sec`: whole seconds. */
  get tvSec(): bigint {
    return this.i64(0);
  }
  set tvSec(v: bigint | number) {
    this.setI64(0, v);
  }
  /** `tv_nsec`: nanoseconds, 0 to 999999999. */
  get tvNsec(): bigint {
    return this.i64(8);
  }
  set tvNsec(v: bigint | number) {
    this.setI64(8, v);
  }
  /** Sets both fields from a (possibly fractional) millisecond count. */
  setMilliseconds(ms: number): void {
    const seconds = Math.floor(ms / 1000);
    this.tvSec = seconds;
    this.tvNsec = Math.round((ms - seconds * 1000) * 1e6);
  }
}
