/**
 * Staging memory for caller-owned buffers. The kernel never sees a caller's
 * ArrayBuffer: a read lands in a staging slice and is copied into the
 * caller's view when its completion is reaped; a write is copied out of the
 * caller's view when it is prepared (so it has snapshot semantics). Whatever
 * happens to the caller's buffer meanwhile (transfer, structuredClone,
 * postMessage, resize, garbage collection) cannot make the kernel touch
 * freed memory.
 *
 * Slices come from mmap'd slabs, one free list per power-of-two size class
 * from 4 KiB up; a slice of class C starts on a C-byte boundary (up to
 * 2 MiB), so any alignment a direct-I/O target asks for is met. After
 * warm-up, acquire/release allocate nothing: slices and their views are
 * made once per slab and recycled.
 *
 * @module
 */
import { memoryAt } from "../ffi/mod.ts";
import { mmap, munmap } from "../sys/memory.ts";
import { checkAlignment, MAX_BUFFER_BYTES } from "./owned.ts";

const PROT_READ_WRITE = 0x3; // PROT_READ | PROT_WRITE
const MAP_PRIVATE_ANONYMOUS = 0x22; // MAP_PRIVATE | MAP_ANONYMOUS
const PAGE = 4096;
/** Smallest class: one page, the usual O_DIRECT memory alignment. */
const MIN_CLASS_SHIFT = 12;
/** Slabs of small classes are this big; larger classes get one slice each. */
const SLAB_BYTES = 1 << 20;
/** Slab bases are aligned to their class up to this (huge-page size). */
const MAX_SLAB_ALIGN = 1 << 21;
/**
 * Largest alignment {@linkcode StagingPool.acquire} takes (2 MiB).
 *
 * @example
 * ```ts
 * import { MAX_STAGING_ALIGNMENT } from "./staging.ts";
 * MAX_STAGING_ALIGNMENT; // 2097152
 * ```
 */
export const MAX_STAGING_ALIGNMENT: number = MAX_SLAB_ALIGN;

/**
 * One mmap'd region that slices are carved from (internal to the pool;
 * exported for its type only).
 *
 * @example
 * ```ts
 * import { StagingPool, type StagingSlab } from "./staging.ts";
 * const slab: StagingSlab = new StagingPool().acquire(16).slab;
 * ```
 */
export interface StagingSlab {
  /** The pool that mapped it (release checks the slice comes from it). */
  readonly owner: StagingPool;
  /** Base address of the mapping. */
  readonly address: number;
  /** Length of the mapping in bytes. */
  readonly bytes: number;
  /** Slices of this slab currently acquired. */
  inUse: number;
}

/**
 * A library-owned, aligned piece of staging memory. `address` is what goes
 * into the SQE; `bytes` is the library's own view of it, for the copies
 * (never hand it to caller code: it must not escape the library).
 *
 * @example
 * ```ts
 * import { StagingPool } from "./staging.ts";
 * const pool = new StagingPool();
 * const slice = pool.acquire(4096);
 * slice.address % 4096; // 0
 * pool.release(slice);
 * ```
 */
export class StagingSlice {
  /** Address of the first byte. */
  readonly address: number;
  /** Usable bytes (the size class). */
  readonly capacity: number;
  /** The library's view of all `capacity` bytes. */
  readonly bytes: Uint8Array;
  /** Bytes asked for by the last {@linkcode StagingPool.acquire}. */
  length = 0;
  /** Acquired and not yet released. */
  inUse = false;
  /** Size class index (log2 of capacity). */
  readonly shift: number;
  /** The slab it belongs to. */
  readonly slab: StagingSlab;
  /** A staged read's target, copied to at completion (set by the Ring). */
  target: ArrayBufferView | null = null;
  /** The staged request's operation name, for errors. */
  op = "read";

  /** Made by the pool only; `whole` is the slab's memory. */
  constructor(
    address: number,
    shift: number,
    slab: StagingSlab,
    whole: ArrayBuffer,
  ) {
    this.address = address;
    this.capacity = 2 ** shift;
    this.shift = shift;
    this.slab = slab;
    // A view into the slab's one ArrayBuffer: one object less per slice.
    this.bytes = new Uint8Array(whole, address - slab.address, this.capacity);
  }
}

/**
 * What the copies need of staging memory: a {@linkcode StagingSlice}, or a
 * slot of a registered pool (memory/registered.ts).
 *
 * @example
 * ```ts
 * import type { StagedBytes } from "./staging.ts";
 * const staged: StagedBytes = { bytes: new Uint8Array(4096), capacity: 4096 };
 * ```
 */
export interface StagedBytes {
  /** The library's view of the staging memory. */
  readonly bytes: Uint8Array;
  /** Its usable length. */
  readonly capacity: number;
}

/**
 * Options of {@linkcode StagingPool}.
 *
 * @example
 * ```ts
 * import type { StagingPoolOptions } from "./staging.ts";
 * const options: StagingPoolOptions = { maxIdleBytes: 16 << 20 };
 * ```
 */
export interface StagingPoolOptions {
  /**
   * Idle bytes of large classes (one slice per slab) kept mapped for reuse;
   * beyond this a released large slice is unmapped at once. Default 64 MiB.
   */
  maxIdleBytes?: number;
}

/**
 * Counters of a {@linkcode StagingPool}.
 *
 * @example
 * ```ts
 * import { StagingPool } from "./staging.ts";
 * new StagingPool().stats().mappedBytes; // 0 before the first acquire
 * ```
 */
export interface StagingStats {
  /** Bytes mapped in slabs now. */
  mappedBytes: number;
  /** Slabs mapped since the pool was made (growth; flat in steady state). */
  slabsMapped: number;
  /** Slices acquired and not released. */
  inUse: number;
}

/** Maps `bytes` of anonymous memory whose base is a multiple of `align`. */
function mapAligned(bytes: number, align: number): number {
  if (align <= PAGE) {
    return mmap(bytes, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
  }
  // Over-map, then give back the unaligned head and the unused tail.
  const raw = mmap(
    bytes + align,
    PROT_READ_WRITE,
    MAP_PRIVATE_ANONYMOUS,
    -1,
    0,
  );
  const base = Math.ceil(raw / align) * align;
  if (base > raw) munmap(raw, base - raw);
  const tail = raw + bytes + align - (base + bytes);
  if (tail > 0) munmap(base + bytes, tail);
  return base;
}

/**
 * The size class (log2 of the slice capacity) for `length` bytes at
 * `alignment`: a power of two of at least 4 KiB.
 *
 * @example
 * ```ts
 * import { stagingClass } from "./staging.ts";
 * stagingClass(5000, 512); // 13 (8 KiB)
 * ```
 */
export function stagingClass(length: number, alignment: number): number {
  const need = length > alignment ? length : alignment;
  if (need <= 1 << MIN_CLASS_SHIFT) return MIN_CLASS_SHIFT;
  // ceil(log2(need)) without floating point: need <= 2^31 fits in 32 bits.
  return 32 - Math.clz32(need - 1);
}

/**
 * A pool of staging slices. One per Ring is the intent (single-threaded, no
 * locking); slices must be released exactly once, after the request's
 * completion has been reaped (the kernel may write until then).
 *
 * @example
 * ```ts
 * import { StagingPool } from "./staging.ts";
 * const pool = new StagingPool();
 * const slice = pool.acquire(3);
 * pool.copyIn(slice, new Uint8Array([1, 2, 3])); // for a write
 * pool.release(slice);
 * pool.close();
 * ```
 */
export class StagingPool {
  readonly #free: StagingSlice[][] = [];
  readonly #slabs = new Set<StagingSlab>();
  readonly #maxIdleBytes: number;
  #idleLargeBytes = 0;
  #mappedBytes = 0;
  #slabsMapped = 0;
  #inUse = 0;
  #closed = false;

  /** An empty pool; slabs are mapped on demand. */
  constructor(options: StagingPoolOptions = {}) {
    const max = options.maxIdleBytes ?? 64 * 1024 * 1024;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(
        `maxIdleBytes must be a non-negative integer, got ${max}`,
      );
    }
    this.#maxIdleBytes = max;
  }

  /**
   * A slice of at least `length` bytes whose address is a multiple of
   * `alignment` (a power of two up to 2 MiB; 4096 by default).
   *
   * @throws {RangeError} for a bad length or alignment.
   * @throws {Error} when the pool is closed.
   */
  acquire(length: number, alignment = PAGE): StagingSlice {
    if (this.#closed) throw new Error("StagingPool is closed");
    if (
      !Number.isSafeInteger(length) || length < 0 || length > MAX_BUFFER_BYTES
    ) {
      throw new RangeError(
        `length must be an integer from 0 to ${MAX_BUFFER_BYTES}, got ${length}`,
      );
    }
    if (alignment !== PAGE) checkAlignment(alignment, MAX_SLAB_ALIGN);
    const shift = stagingClass(length, alignment);
    const list = this.#free[shift] ??= [];
    let slice = list.pop();
    if (slice === undefined) {
      this.#grow(shift, list);
      slice = list.pop()!;
    } else if (slice.slab.bytes === slice.capacity) {
      this.#idleLargeBytes -= slice.capacity;
    }
    slice.inUse = true;
    slice.length = length;
    slice.slab.inUse++;
    this.#inUse++;
    return slice;
  }

  #grow(shift: number, list: StagingSlice[]): void {
    const size = 2 ** shift;
    const bytes = Math.max(size, SLAB_BYTES);
    const address = mapAligned(bytes, Math.min(size, MAX_SLAB_ALIGN));
    const slab: StagingSlab = { owner: this, address, bytes, inUse: 0 };
    this.#slabs.add(slab);
    this.#mappedBytes += bytes;
    this.#slabsMapped++;
    const whole = memoryAt(address, bytes);
    // Pushed in reverse so slices are handed out from the slab's start.
    for (let i = bytes / size - 1; i >= 0; i--) {
      list.push(new StagingSlice(address + i * size, shift, slab, whole));
    }
  }

  /**
   * Copies `source` into `slice` (a write's data, at prepare time). The
   * write then sends these bytes whatever happens to `source` afterwards.
   *
   * @throws {TypeError} when `source` is detached.
   * @throws {RangeError} when `source` is longer than the slice.
   */
  copyIn(slice: StagedBytes, source: ArrayBufferView): void {
    stageIn(slice, source);
  }

  /**
   * Copies the first `count` bytes of `slice` into `target` (a read's data,
   * when its completion is reaped).
   *
   * @throws {TypeError} when `target` was detached, transferred or shrunk
   *   below `count` bytes while the request was in flight; `target` is not
   *   touched then.
   */
  copyOut(
    slice: StagedBytes,
    target: ArrayBufferView,
    count: number,
    op = "read",
  ): void {
    stageOut(slice, target, count, op);
  }

  /**
   * {@linkcode copyIn} for a writev: the sources one after another.
   *
   * @throws {TypeError} when a source is detached.
   * @throws {RangeError} when they do not fit the slice.
   */
  copyInAll(slice: StagedBytes, sources: readonly ArrayBufferView[]): void {
    let at = 0;
    for (const source of sources) {
      if (source.byteLength === 0 && isDetached(source)) {
        throw new TypeError("a buffer is detached and cannot be written");
      }
      if (at + source.byteLength > slice.capacity) {
        throw new RangeError(
          `the buffers do not fit a ${slice.capacity}-byte staging slice`,
        );
      }
      slice.bytes.set(asBytes(source), at);
      at += source.byteLength;
    }
  }

  /**
   * {@linkcode copyOut} for a readv: `count` bytes scattered over `targets`
   * the way the kernel filled the staged iovecs, whose lengths were
   * `lengths` (the targets' byte lengths at prepare time). Every target
   * that receives bytes is checked first, so either all of them get their
   * bytes or none is touched.
   *
   * @throws {TypeError} as {@linkcode copyOut}.
   */
  copyOutAll(
    slice: StagedBytes,
    targets: readonly ArrayBufferView[],
    lengths: readonly number[],
    count: number,
    op = "readv",
  ): void {
    let left = count;
    for (let i = 0; i < targets.length && left > 0; i++) {
      const n = Math.min(left, lengths[i]);
      checkTarget(targets[i], n, op);
      left -= n;
    }
    left = count;
    let at = 0;
    for (let i = 0; i < targets.length && left > 0; i++) {
      const n = Math.min(left, lengths[i]);
      asBytes(targets[i]).set(slice.bytes.subarray(at, at + n));
      at += n;
      left -= n;
    }
  }

  /**
   * Returns `slice` to its free list. Call once per acquire, only after the
   * request's completion has been reaped.
   *
   * @throws {Error} on a double release or a slice of another pool.
   */
  release(slice: StagingSlice): void {
    if (!slice.inUse || slice.slab.owner !== this) {
      throw new Error("StagingPool.release: slice is not acquired from here");
    }
    slice.inUse = false;
    slice.target = null;
    const slab = slice.slab;
    slab.inUse--;
    this.#inUse--;
    if (this.#closed) {
      // close() dropped the free lists: the slab goes with its last slice.
      if (slab.inUse === 0) this.#unmap(slab);
      return;
    }
    if (slab.bytes === slice.capacity) {
      // A large class: one slice per slab, kept only within the budget.
      if (this.#idleLargeBytes + slice.capacity > this.#maxIdleBytes) {
        this.#unmap(slab);
        return;
      }
      this.#idleLargeBytes += slice.capacity;
    }
    this.#free[slice.shift].push(slice);
  }

  #unmap(slab: StagingSlab): void {
    this.#slabs.delete(slab);
    this.#mappedBytes -= slab.bytes;
    munmap(slab.address, slab.bytes);
  }

  /** Counters for tests and diagnostics. */
  stats(): StagingStats {
    return {
      mappedBytes: this.#mappedBytes,
      slabsMapped: this.#slabsMapped,
      inUse: this.#inUse,
    };
  }

  /**
   * Unmaps every slab with no slice in use; the others are unmapped as
   * their last slice is released. Idempotent.
   */
  close(): void {
    this.#closed = true;
    for (const slab of [...this.#slabs]) {
      if (slab.inUse === 0) this.#unmap(slab);
    }
    this.#free.length = 0;
    this.#idleLargeBytes = 0;
  }
}

/**
 * Copies `source` into staging memory (a write's data, at prepare time):
 * {@linkcode StagingPool.copyIn} for any {@linkcode StagedBytes}.
 *
 * @throws {TypeError} when `source` is detached.
 * @throws {RangeError} when `source` is longer than the staging memory.
 * @example
 * ```ts
 * import { stageIn } from "./staging.ts";
 * const staged = { bytes: new Uint8Array(4096), capacity: 4096 };
 * stageIn(staged, new Uint8Array([1, 2, 3])); // staged.bytes[2] === 3
 * ```
 */
export function stageIn(slice: StagedBytes, source: ArrayBufferView): void {
  const n = source.byteLength;
  // Only an empty view can be over a detached buffer.
  if (n === 0 && isDetached(source)) {
    throw new TypeError("the buffer is detached and cannot be written");
  }
  if (n > slice.capacity) {
    throw new RangeError(
      `${n} bytes do not fit a ${slice.capacity}-byte staging slice`,
    );
  }
  slice.bytes.set(
    source instanceof Uint8Array
      ? source
      : new Uint8Array(source.buffer, source.byteOffset, n),
  );
}

/**
 * Copies the first `count` bytes of staging memory into `target` (a read's
 * data, at completion): {@linkcode StagingPool.copyOut} for any
 * {@linkcode StagedBytes}.
 *
 * @throws {TypeError} when `target` was detached, transferred or shrunk
 *   below `count` bytes; `target` is not touched then.
 * @example
 * ```ts
 * import { stageOut } from "./staging.ts";
 * const staged = { bytes: new Uint8Array(4096).fill(7), capacity: 4096 };
 * const target = new Uint8Array(4);
 * stageOut(staged, target, 4); // target is [7, 7, 7, 7]
 * ```
 */
export function stageOut(
  slice: StagedBytes,
  target: ArrayBufferView,
  count: number,
  op = "read",
): void {
  if (count === 0) return;
  // A detached buffer's views have byteLength 0, and count > 0 here, so
  // one length check covers detached, transferred and shrunk alike (and
  // skips the `detached` getter, measured at ~100 ns on Deno).
  if (target.byteLength < count) throw shrunk(target, count, op);
  const bytes = slice.bytes;
  const source = count === bytes.length ? bytes : bytes.subarray(0, count);
  if (target instanceof Uint8Array) target.set(source);
  else new Uint8Array(target.buffer, target.byteOffset, count).set(source);
}

function shrunk(target: ArrayBufferView, count: number, op: string): TypeError {
  return new TypeError(
    `${op}: the buffer was detached, transferred or shrunk while the ` +
      `request was in flight (it has ${target.byteLength} bytes, ` +
      `${count} were read); the bytes read were not delivered`,
  );
}

function isDetached(view: ArrayBufferView): boolean {
  return (view.buffer as ArrayBuffer & { detached?: boolean }).detached ===
    true;
}

function checkTarget(target: ArrayBufferView, count: number, op: string): void {
  if (target.byteLength < count) throw shrunk(target, count, op);
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array
    ? view
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
