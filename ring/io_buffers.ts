/**
 * Where the file helpers get their scratch memory (copy buffers, staged
 * stream writes). One place on purpose: when the library gets its own
 * registered buffer pool, only this file changes.
 *
 * Buffers are 4096-aligned (so they also serve O_DIRECT files) and reused:
 * a copy of many files allocates its buffers once.
 *
 * @module
 */
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
