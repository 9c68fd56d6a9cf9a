/**
 * A ring's registered buffer pool (the `registeredBuffers: { count, size }`
 * Ring option): `count` slots of `size` bytes, each its own never-grown
 * `WebAssembly.Memory` (library-owned memory, docs/memory.md), registered
 * as the ring's fixed-buffer table (IORING_REGISTER_BUFFERS), slot i at
 * index i.
 *
 * A slot serves one user at a time:
 * - **staging**: a read or write of a caller-owned buffer of at most `size`
 *   bytes is staged in a free slot (instead of the ring's `StagingPool`)
 *   and goes to the kernel as READ_FIXED / WRITE_FIXED;
 * - **lent**: `ring.buffer()` hands a free slot to the caller as a
 *   library-owned buffer (zero-copy, and fixed) until `releaseBuffer()`
 *   gives it back; `grow(0)` then detaches the caller's views, the bytes
 *   and the address (so the registration) stay.
 *
 * When every slot is busy, staging uses the `StagingPool` and `ring.buffer()`
 * an ordinary `allocateBuffer()` buffer: nothing waits for a slot.
 *
 * @module
 */
import { addressNumber } from "../ffi/mod.ts";
import { lendMemory, type OwnedRegion } from "./owned.ts";

const WASM_PAGE = 65536;

/**
 * Largest `size` of a registered buffer: the kernel refuses a fixed buffer
 * above 1 GiB (EFAULT).
 *
 * @example
 * ```ts
 * import { MAX_REGISTERED_SIZE } from "./registered.ts";
 * MAX_REGISTERED_SIZE; // 1073741824
 * ```
 */
export const MAX_REGISTERED_SIZE: number = 1 << 30;

/**
 * Largest `count`: what `registerBuffers` takes (UIO_MAXIOV, the limit of
 * the kernels before 5.13; newer ones take up to 16384).
 *
 * @example
 * ```ts
 * import { MAX_REGISTERED_COUNT } from "./registered.ts";
 * MAX_REGISTERED_COUNT; // 1024
 * ```
 */
export const MAX_REGISTERED_COUNT: number = 1024;

/**
 * One slot of a {@linkcode RegisteredPool}: its memory, its fixed-buffer
 * index, and (while it stages a read) where the bytes go.
 *
 * @example
 * ```ts
 * import { RegisteredPool } from "./registered.ts";
 * const pool = new RegisteredPool(1, 4096);
 * const slot = pool.acquire(4096)!;
 * slot.index; // 0
 * pool.release(slot);
 * ```
 */
export class RegisteredSlot {
  /** Index in the fixed-buffer table (`sqe->buf_index`). */
  readonly index: number;
  /** The slot's memory (never grown; `grow(0)` only revokes views). */
  readonly memory: WebAssembly.Memory;
  /** 64 KiB pages of `memory`. */
  readonly pages: number;
  /** Address of the first byte (what is registered). */
  readonly address: number;
  /** Registered bytes. */
  readonly capacity: number;
  /** The pool it belongs to. */
  readonly pool: RegisteredPool;
  /** The library's view of the slot (renewed after a lend). */
  bytes: Uint8Array;
  /** Staging a request, or lent to the caller. */
  busy = false;
  /** Lent to the caller by {@linkcode RegisteredPool.lend}. */
  lent = false;
  /** A staged read's target, copied to at completion; null otherwise. */
  target: ArrayBufferView | null = null;
  /** The staged request's operation name, for errors. */
  op = "read";

  /** Made by the pool only. */
  constructor(pool: RegisteredPool, index: number, size: number) {
    this.pool = pool;
    this.index = index;
    this.capacity = size;
    this.pages = Math.max(1, Math.ceil(size / WASM_PAGE));
    this.memory = new WebAssembly.Memory({
      initial: this.pages,
      maximum: this.pages,
    });
    this.bytes = new Uint8Array(this.memory.buffer, 0, size);
    // Engines place a Memory on a page boundary (64 KiB on V8, 4 KiB on
    // JavaScriptCore), so the slot is page-aligned for O_DIRECT.
    this.address = addressNumber(this.bytes);
  }
}

/**
 * `count` registered slots of `size` bytes (see the module text). Made by
 * a `Ring` with the `registeredBuffers` option, which registers
 * {@linkcode RegisteredPool.views} as its fixed-buffer table.
 *
 * @example
 * ```ts
 * import { RegisteredPool } from "./registered.ts";
 * const pool = new RegisteredPool(4, 4096);
 * pool.views().length; // 4
 * ```
 */
export class RegisteredPool {
  /** Bytes per slot. */
  readonly size: number;
  /** The slots, by fixed-buffer index. */
  readonly slots: readonly RegisteredSlot[];
  readonly #free: RegisteredSlot[];
  #closed = false;

  /** Allocates the slots (their memory is not registered here). */
  constructor(count: number, size: number) {
    this.size = size;
    const slots: RegisteredSlot[] = [];
    for (let i = 0; i < count; i++) {
      slots.push(new RegisteredSlot(this, i, size));
    }
    this.slots = slots;
    // Popped from the end: slot 0 first.
    this.#free = slots.slice().reverse();
  }

  /** One view per slot over its registered bytes, for the registration. */
  views(): Uint8Array[] {
    return this.slots.map((slot) => slot.bytes);
  }

  /** Slots neither staging nor lent. */
  get free(): number {
    return this.#free.length;
  }

  /**
   * A free slot to stage `length` bytes in, or null when the request does
   * not fit a slot or every slot is busy (the caller stages elsewhere).
   */
  acquire(length: number): RegisteredSlot | null {
    if (length > this.size || this.#closed) return null;
    const slot = this.#free.pop();
    if (slot === undefined) return null;
    slot.busy = true;
    return slot;
  }

  /** Returns a staging slot (after its request's completion). */
  release(slot: RegisteredSlot): void {
    if (!slot.busy || slot.lent || slot.pool !== this) {
      throw new Error("RegisteredPool.release: slot is not staging here");
    }
    slot.busy = false;
    slot.target = null;
    this.#free.push(slot);
  }

  /**
   * A free slot as a library-owned, zero-filled buffer of `length` bytes
   * (at most `size`), or null when none is free. `releaseBuffer()` gives it
   * back. Requests on it through the owning ring are fixed-buffer requests.
   */
  lend(length: number): Uint8Array | null {
    if (length > this.size || this.#closed) return null;
    const slot = this.#free.pop();
    if (slot === undefined) return null;
    slot.busy = true;
    slot.lent = true;
    const { view, region } = lendMemory(
      slot.memory,
      slot.pages,
      this.size,
      () => this.#returned(slot),
    );
    region.fixedPool = this;
    region.fixedIndex = slot.index;
    region.fixedEnd = slot.address + this.size;
    return length === this.size ? view : view.subarray(0, length);
  }

  /** A lent slot came back: `grow(0)` detached every view of it. */
  #returned(slot: RegisteredSlot): void {
    slot.bytes = new Uint8Array(slot.memory.buffer, 0, this.size);
    slot.lent = false;
    slot.busy = false;
    if (!this.#closed) this.#free.push(slot);
  }

  /** No more slots are handed out; lent buffers stay valid. */
  close(): void {
    this.#closed = true;
    this.#free.length = 0;
  }
}

/**
 * The fixed-buffer index of `region` in `pool`'s table for a request on
 * `[addr, addr + len)`, or -1 when it is not one of the pool's lent slots.
 *
 * @example
 * ```ts
 * import { RegisteredPool, fixedIndexOf } from "./registered.ts";
 * import { retainIo } from "./owned.ts";
 * const pool = new RegisteredPool(1, 4096);
 * const buf = pool.lend(4096)!;
 * fixedIndexOf(pool, retainIo(buf)!, 0, 0); // 0 when addr is inside the slot
 * ```
 */
export function fixedIndexOf(
  pool: RegisteredPool,
  region: OwnedRegion,
  addr: number,
  len: number,
): number {
  if (region.fixedPool !== pool || addr + len > region.fixedEnd) return -1;
  return region.fixedIndex;
}
