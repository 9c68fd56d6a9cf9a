/**
 * Where the file helpers get their scratch memory (copy buffers, staged
 * stream writes). One place on purpose: when the library gets its own
 * registered buffer pool, only this file changes.
 *
 * Scratch buffers are library-owned (`alignedBuffer`, 4096-aligned): the
 * ring hands them to the kernel without staging, for O_DIRECT files too,
 * and they are reused, so a copy of many files allocates them once.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { alignedBuffer } from "../sys/memory.ts";

/** Free buffers by size; a few per size are kept, the rest left to the GC. */
const free = new Map<number, Uint8Array[]>();
const KEEP_PER_SIZE = 32;

/**
 * A 4096-aligned buffer of `size` bytes, reused when one is free. Its
 * contents are whatever the last user left.
 *
 * @example
 * ```ts
 * import { releaseIoBuffer, takeIoBuffer } from "./io_buffers.ts";
 * const buf = takeIoBuffer(1 << 20);
 * releaseIoBuffer(buf);
 * ```
 */
export function takeIoBuffer(size: number): Uint8Array {
  return free.get(size)?.pop() ?? alignedBuffer(size);
}

/**
 * Gives a buffer from {@linkcode takeIoBuffer} back. Only call this once
 * no request that uses it is still in flight.
 *
 * @example
 * ```ts
 * import { releaseIoBuffer, takeIoBuffer } from "./io_buffers.ts";
 * releaseIoBuffer(takeIoBuffer(4096));
 * ```
 */
export function releaseIoBuffer(buf: Uint8Array): void {
  let list = free.get(buf.byteLength);
  if (list === undefined) free.set(buf.byteLength, list = []);
  if (list.length < KEEP_PER_SIZE) list.push(buf);
}

/**
 * A plain `Uint8Array` of `size` bytes whose contents are NOT cleared, for
 * a result the kernel is about to fill completely (readFile). It skips the
 * zeroing and, on Bun, reuses freed memory instead of faulting in fresh
 * pages: a 1 MiB buffer allocated and touched took 17 us this way against
 * 63 us for `new Uint8Array` (Bun 1.4, measured in one run; on Deno both
 * cost the same). The view has its own ArrayBuffer (never a shared pool).
 *
 * @example
 * ```ts
 * import { uninitializedBytes } from "./io_buffers.ts";
 * const out = uninitializedBytes(4096); // fill every byte before exposing it
 * ```
 */
export function uninitializedBytes(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * ArrayBuffers the library allocated for a result it has not handed out
 * yet (readFile's bytes, a stream's chunk): no one else holds them, so no
 * one can detach, transfer or shrink them while the kernel writes, and
 * the ring reads into them directly instead of through a staging slice
 * (`RequestMemory.hold`). The staging copy was most of the gap on large
 * reads: 256 MiB on Bun, 560-640 ms through staging against 230 ms for
 * one read(2) into the same kind of memory.
 */
const unpublished = new WeakSet<ArrayBufferLike>();

/**
 * A buffer for file data the kernel fills, to be handed to the caller
 * later through {@linkcode publish}: uninitialized memory
 * ({@linkcode uninitializedBytes}) that the ring reads into without
 * staging until then. An O_DIRECT read into it is staged through the
 * ring's aligned memory all the same, a copy that costs about what zeroing
 * a fresh buffer would, and cheaper than a library-owned buffer per chunk
 * (a new WebAssembly.Memory each: up to 0.5 ms on Bun). `direct` is kept
 * for callers that say which it is.
 *
 * @example
 * ```ts
 * import { dataBuffer, publish } from "./io_buffers.ts";
 * const buf = dataBuffer(1 << 20, false);
 * // ... reads into buf, all of them complete ...
 * const bytes = publish(buf); // now the caller's, staged like any other
 * ```
 */
export function dataBuffer(size: number, _direct: boolean): Uint8Array {
  const buf = uninitializedBytes(size);
  unpublished.add(buf.buffer);
  return buf;
}

/**
 * Hands a {@linkcode dataBuffer} to the caller: from now on the ring
 * stages reads and writes on it like on any caller memory. Call it before
 * the buffer (or any view of it) becomes reachable from outside, and only
 * once no read into it is in flight. Returns `view`.
 *
 * @example
 * ```ts
 * import { dataBuffer, isUnpublished, publish } from "./io_buffers.ts";
 * const buf = publish(dataBuffer(16, false));
 * isUnpublished(buf); // false
 * ```
 */
export function publish<T extends ArrayBufferView>(view: T): T {
  unpublished.delete(view.buffer);
  return view;
}

/**
 * Whether `view` lies in a {@linkcode dataBuffer} not yet published.
 *
 * @example
 * ```ts
 * import { dataBuffer, isUnpublished } from "./io_buffers.ts";
 * isUnpublished(dataBuffer(16, false)); // true
 * ```
 */
export function isUnpublished(view: ArrayBufferView): boolean {
  return unpublished.has(view.buffer);
}
