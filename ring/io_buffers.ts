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
 * A buffer for file data the kernel fills, handed to the caller: ordinary
 * uninitialized memory ({@linkcode uninitializedBytes}) for every file.
 * An O_DIRECT read into it is staged through the ring's aligned memory, a
 * copy that costs about what zeroing a fresh buffer would, and cheaper
 * than a library-owned buffer per chunk (a new WebAssembly.Memory each:
 * up to 0.5 ms on Bun). `direct` is kept for callers that say which it is.
 *
 * @example
 * ```ts
 * import { dataBuffer } from "./io_buffers.ts";
 * const buf = dataBuffer(1 << 20, true); // for an O_DIRECT read
 * ```
 */
export function dataBuffer(size: number, _direct: boolean): Uint8Array {
  return uninitializedBytes(size);
}
