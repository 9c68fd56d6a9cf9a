/**
 * Library-owned I/O memory: buffers the kernel can read and write directly
 * (the zero-copy path) that no JavaScript operation can free or move while
 * a request uses them.
 *
 * Each buffer lives in its own `WebAssembly.Memory`, never grown. Measured
 * on Deno and Bun (docs/memory.md): an ArrayBuffer over FFI memory
 * (`Deno.UnsafePointerView.getArrayBuffer`, `toArrayBuffer` of bun:ffi) can
 * be detached by `transfer()`, `structuredClone(x, { transfer })` and
 * `postMessage(x, [x])`, and a same-size transfer hands the very same
 * memory to a new ArrayBuffer that the library cannot see. Freeing such
 * memory when the original view is collected would leave that alias
 * dangling. A WebAssembly.Memory buffer cannot be detached from
 * JavaScript at all: all four throw a `TypeError` on both engines, so no
 * alias beyond ordinary views can exist, and the engine frees the memory
 * only once every view of it and the Memory itself are unreachable. The
 * library keeps the Memory reachable for as long as a request uses it
 * ({@linkcode retainIo}), so memory the kernel writes is never freed early.
 *
 * The Memory object also gives the library what no other buffer offers:
 * `grow(0)` detaches every view of the old buffer (their length becomes 0)
 * while the bytes stay where they are. {@linkcode releaseBuffer} uses it to
 * revoke the caller's views before the memory is reused, so a stale view
 * can never see or change another owner's bytes.
 *
 * @module
 */
import { addressNumber } from "../ffi/mod.ts";

/** Bytes per WebAssembly page. */
const WASM_PAGE = 65536;

/**
 * Largest buffer: the kernel moves at most INT_MAX rounded down to a page
 * per read or write (MAX_RW_COUNT), so 2 GiB covers every single request.
 *
 * @example
 * ```ts
 * import { MAX_BUFFER_BYTES } from "./owned.ts";
 * MAX_BUFFER_BYTES; // 2147483648
 * ```
 */
export const MAX_BUFFER_BYTES: number = 2 ** 31;

/** Idle released memory kept for reuse, per process (beyond it, GC frees). */
const MAX_IDLE_BYTES = 64 * 1024 * 1024;

/**
 * One library-owned allocation: its Memory, where the caller's bytes start,
 * and how many requests use it. Opaque to callers; the Ring passes it from
 * {@linkcode retainIo} to {@linkcode releaseIo}.
 *
 * @example
 * ```ts
 * import { allocateBuffer, type OwnedRegion, releaseIo, retainIo } from "./owned.ts";
 * const region: OwnedRegion | null = retainIo(allocateBuffer(4096));
 * if (region) releaseIo(region);
 * ```
 */
export class OwnedRegion {
  /** The engine memory; reachable from here keeps the bytes alive. */
  readonly memory: WebAssembly.Memory;
  /** Number of 64 KiB pages of `memory`. */
  readonly pages: number;
  /** The ArrayBuffer currently handed out (replaced on every reuse). */
  buffer: ArrayBuffer;
  /** Requests that may still make the kernel touch this memory. */
  holds = 0;
  /** `releaseBuffer` was called while requests held it. */
  releasePending = false;
  /** Released: the caller's views are (or will be) detached. */
  released = false;
  /**
   * The registered pool (memory/registered.ts) whose fixed-buffer slot this
   * memory is, or null; a ring submits requests on it as READ_FIXED /
   * WRITE_FIXED when the pool is its own.
   */
  fixedPool: object | null = null;
  /** The slot's index in the ring's fixed-buffer table (-1: none). */
  fixedIndex = -1;
  /** First address past the registered range (the slot's size). */
  fixedEnd = 0;
  /** Takes the memory back on release instead of the idle pool. */
  home: ((region: OwnedRegion) => void) | null = null;

  /** Wraps a fresh or recycled Memory of `pages` pages. */
  constructor(memory: WebAssembly.Memory, pages: number) {
    this.memory = memory;
    this.pages = pages;
    this.buffer = memory.buffer as ArrayBuffer; // not shared: never a SAB
  }
}

/** ArrayBuffer handed out → its region. Weak: dropping every view frees it. */
const regions = new WeakMap<ArrayBufferLike, OwnedRegion>();
/** Released Memories by page count, ready for reuse. */
const idle = new Map<number, WebAssembly.Memory[]>();
let idleBytes = 0;

/**
 * Options of {@linkcode allocateBuffer}.
 *
 * @example
 * ```ts
 * import type { AllocateOptions } from "./owned.ts";
 * const options: AllocateOptions = { alignment: 4096 };
 * ```
 */
export interface AllocateOptions {
  /** Address alignment of the first byte, a power of two (default 4096). */
  alignment?: number;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BUFFER_BYTES) {
    throw new RangeError(
      `size must be an integer from 0 to ${MAX_BUFFER_BYTES}, got ${size}`,
    );
  }
}

/**
 * Checks that `alignment` is a power of two no larger than `max`.
 *
 * @example
 * ```ts
 * import { checkAlignment } from "./owned.ts";
 * checkAlignment(4096, 1 << 21); // ok; 3 would throw a RangeError
 * ```
 */
export function checkAlignment(alignment: number, max: number): void {
  if (
    !Number.isSafeInteger(alignment) || alignment <= 0 ||
    (alignment & (alignment - 1)) !== 0 || alignment > max
  ) {
    throw new RangeError(
      `alignment must be a power of two up to ${max}, got ${alignment}`,
    );
  }
}

function takeMemory(pages: number): WebAssembly.Memory {
  const list = idle.get(pages);
  const reused = list?.pop();
  if (reused !== undefined) {
    idleBytes -= pages * WASM_PAGE;
    // The previous owner's bytes must not leak into the new buffer.
    new Uint8Array(reused.buffer).fill(0);
    return reused;
  }
  // maximum === initial: the memory can never move, only be refreshed by
  // grow(0), which the library alone can call.
  return new WebAssembly.Memory({ initial: pages, maximum: pages });
}

/**
 * A zero-filled buffer of `size` bytes in memory the library owns: reads
 * and writes on it go to the kernel without a copy, and nothing the caller
 * does (transfer, structuredClone, postMessage, dropping it) can free that
 * memory while a request uses it. `buf.buffer.transfer()` and transferring
 * it to a Worker throw a `TypeError`; copy it (`buf.slice()`) to send it
 * elsewhere. Give it back early with {@linkcode releaseBuffer}; otherwise
 * the garbage collector frees it once no view of it is reachable.
 *
 * @throws {RangeError} for a size above 2 GiB or an alignment that is not a
 *   power of two up to 64 KiB.
 * @example
 * ```ts
 * import { allocateBuffer } from "./owned.ts";
 * const buf = allocateBuffer(8192);
 * buf.byteLength; // 8192, first byte 4096-aligned
 * ```
 */
export function allocateBuffer(
  size: number,
  options: AllocateOptions = {},
): Uint8Array {
  checkSize(size);
  const alignment = options.alignment ?? 4096;
  checkAlignment(alignment, WASM_PAGE);
  // Engines place a Memory on a page boundary at least (V8 on 64 KiB,
  // JavaScriptCore on 4 KiB); larger alignments get room to skip ahead.
  const slack = alignment > 4096 ? alignment : 0;
  const pages = Math.max(1, Math.ceil((size + slack) / WASM_PAGE));
  const memory = takeMemory(pages);
  const region = new OwnedRegion(memory, pages);
  const base = addressNumber(region.buffer);
  const skip = (alignment - (base % alignment)) % alignment;
  regions.set(region.buffer, region);
  return new Uint8Array(region.buffer, skip, size);
}

/**
 * Hands out `memory` (kept by the caller, e.g. a registered pool) as a
 * library-owned buffer of `size` bytes from its first byte, zero-filled:
 * `retainIo`, `releaseBuffer` and `isLibraryOwned` treat it like one from
 * {@linkcode allocateBuffer}. On release its views are detached as usual
 * and `home` gets the region back instead of the idle pool.
 *
 * @example
 * ```ts
 * import { lendMemory, releaseBuffer } from "./owned.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
 * const { view } = lendMemory(memory, 1, 4096, () => {});
 * releaseBuffer(view); // home() runs; view.byteLength is 0
 * ```
 */
export function lendMemory(
  memory: WebAssembly.Memory,
  pages: number,
  size: number,
  home: (region: OwnedRegion) => void,
): { view: Uint8Array; region: OwnedRegion } {
  const region = new OwnedRegion(memory, pages);
  region.home = home;
  const view = new Uint8Array(region.buffer, 0, size);
  view.fill(0);
  regions.set(region.buffer, region);
  return { view, region };
}

/**
 * Whether `view` lies in a live buffer from {@linkcode allocateBuffer}.
 *
 * @example
 * ```ts
 * import { allocateBuffer, isLibraryOwned } from "./owned.ts";
 * isLibraryOwned(allocateBuffer(16)); // true
 * isLibraryOwned(new Uint8Array(16)); // false
 * ```
 */
export function isLibraryOwned(view: ArrayBufferView): boolean {
  const region = regions.get(view.buffer);
  return region !== undefined && !region.released &&
    region.buffer === view.buffer;
}

/**
 * The region of a live library-owned buffer `view` lies in, or null (for
 * caller memory, or a released buffer). Counts no request.
 *
 * @example
 * ```ts
 * import { allocateBuffer, ownedRegionOf } from "./owned.ts";
 * ownedRegionOf(allocateBuffer(16)) !== null; // true
 * ownedRegionOf(new Uint8Array(16)); // null
 * ```
 */
export function ownedRegionOf(view: ArrayBufferView): OwnedRegion | null {
  const region = regions.get(view.buffer);
  return region === undefined || region.released ||
      region.buffer !== view.buffer
    ? null
    : region;
}

function revoke(region: OwnedRegion): void {
  regions.delete(region.buffer);
  // Detaches every view the caller still holds; the bytes stay in place.
  region.memory.grow(0);
  region.buffer = region.memory.buffer as ArrayBuffer;
  if (region.home !== null) {
    region.home(region);
    return;
  }
  const bytes = region.pages * WASM_PAGE;
  if (idleBytes + bytes > MAX_IDLE_BYTES) return; // left to the GC
  let list = idle.get(region.pages);
  if (list === undefined) idle.set(region.pages, list = []);
  list.push(region.memory);
  idleBytes += bytes;
}

/**
 * Gives a buffer from {@linkcode allocateBuffer} back to the library. Every
 * view of it becomes detached (length 0), so no stale view can see the
 * memory's next owner. If requests still use it, this happens when the
 * last of them completes ({@linkcode releaseIo}); the views stay usable
 * until then. Releasing twice is a no-op.
 *
 * @throws {TypeError} when `view` is not library-owned memory.
 * @example
 * ```ts
 * import { allocateBuffer, releaseBuffer } from "./owned.ts";
 * const buf = allocateBuffer(4096);
 * releaseBuffer(buf);
 * buf.byteLength; // 0
 * ```
 */
export function releaseBuffer(view: ArrayBufferView): void {
  const region = regions.get(view.buffer);
  if (region === undefined) {
    if (isDetached(view)) return; // released before: views are detached
    throw new TypeError(
      "releaseBuffer: the buffer is not from allocateBuffer()",
    );
  }
  if (region.released) return;
  region.released = true;
  if (region.holds > 0) region.releasePending = true;
  else revoke(region);
}

function isDetached(view: ArrayBufferView): boolean {
  return (view.buffer as ArrayBuffer & { detached?: boolean }).detached ===
    true;
}

/**
 * The Ring's hook at prepare time: if `view` is library-owned, counts one
 * more request using it and returns its region (pass it to
 * {@linkcode releaseIo} once the request's completion has been reaped,
 * whatever its result); returns `null` for any other buffer, which must
 * then be staged. Allocates nothing.
 *
 * @throws {TypeError} when the buffer was released.
 * @example
 * ```ts
 * import { allocateBuffer, releaseIo, retainIo } from "./owned.ts";
 * const region = retainIo(allocateBuffer(4096)); // an OwnedRegion
 * // ... submit, reap the completion ...
 * if (region) releaseIo(region);
 * ```
 */
export function retainIo(view: ArrayBufferView): OwnedRegion | null {
  const region = regions.get(view.buffer);
  if (region === undefined) {
    // Only an empty view can be over a detached buffer, and the `detached`
    // getter costs about 100 ns on Deno: ask it only then.
    if (view.byteLength === 0 && isDetached(view)) {
      throw new TypeError(
        "the buffer is detached (released or transferred) and cannot be used for I/O",
      );
    }
    return null;
  }
  if (region.released) {
    throw new TypeError(
      "the buffer was released with releaseBuffer() and cannot be used for I/O",
    );
  }
  region.holds++;
  return region;
}

/**
 * The Ring's hook once a request's completion has been reaped (success,
 * error or cancellation alike, never earlier: the kernel may write until
 * the CQE arrives). A release deferred by {@linkcode releaseBuffer} happens
 * when the last request lets go.
 *
 * @throws {Error} when the region has no outstanding request (a Ring bug).
 * @example
 * ```ts
 * import { allocateBuffer, releaseIo, retainIo } from "./owned.ts";
 * const region = retainIo(allocateBuffer(4096))!;
 * releaseIo(region);
 * ```
 */
export function releaseIo(region: OwnedRegion): void {
  if (region.holds <= 0) {
    throw new Error("releaseIo: no request holds this buffer");
  }
  region.holds--;
  if (region.holds === 0 && region.releasePending) {
    region.releasePending = false;
    revoke(region);
  }
}

/**
 * Bytes of released memory kept for reuse (for tests and diagnostics).
 *
 * @example
 * ```ts
 * import { idleOwnedBytes } from "./owned.ts";
 * idleOwnedBytes() >= 0; // true
 * ```
 */
export function idleOwnedBytes(): number {
  return idleBytes;
}
