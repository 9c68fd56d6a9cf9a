/**
 * Native memory: mmap/munmap of ring regions, and page-aligned buffers for
 * O_DIRECT I/O.
 *
 * @module
 */
import { allocateBuffer, MAX_BUFFER_BYTES } from "../memory/owned.ts";
import { addressNumber, errno, libc } from "../ffi/mod.ts";
import { UringError } from "./errors.ts";

/**
 * mmap(2). Returns the address; throws `UringError` on failure.
 *
 * @example
 * ```ts
 * import { mmap, munmap } from "./memory.ts";
 * const addr = mmap(4096, 3, 0x22, -1, 0); // anonymous read/write page
 * munmap(addr, 4096);
 * ```
 */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
  address = 0,
): number {
  const result = libc().mmap(address, length, prot, flags, fd, offset);
  // MAP_FAILED is (void *)-1.
  if (result === -1 || result === 2 ** 64 - 1) {
    throw new UringError(errno(), { op: "mmap", fd });
  }
  return result;
}

/**
 * munmap(2). Throws `UringError` on failure.
 *
 * @example
 * ```ts
 * import { mmap, munmap } from "./memory.ts";
 * munmap(mmap(4096, 3, 0x22, -1, 0), 4096);
 * ```
 */
export function munmap(address: number, length: number): void {
  if (libc().munmap(address, length) !== 0) {
    throw new UringError(errno(), { op: "munmap" });
  }
}

/** Largest alignment `allocateBuffer` gives (one WebAssembly page). */
const OWNED_MAX_ALIGNMENT = 65536;

/**
 * A zero-filled buffer whose first byte is aligned to `alignment` (4096 by
 * default), as O_DIRECT needs. Up to 64 KiB alignment it is library-owned
 * memory (`allocateBuffer`): reads and writes on it go to the kernel
 * without staging, and transferring it throws a TypeError instead of
 * pulling memory away from the kernel. Larger alignments get an ordinary
 * typed array (which the ring stages like any caller buffer).
 *
 * @example
 * ```ts
 * import { alignedBuffer } from "./memory.ts";
 * const buf = alignedBuffer(8192);
 * buf.byteLength; // 8192
 * ```
 */
export function alignedBuffer(size: number, alignment = 4096): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`size must be a non-negative integer, got ${size}`);
  }
  if (
    !Number.isSafeInteger(alignment) || alignment <= 0 ||
    (alignment & (alignment - 1)) !== 0
  ) {
    throw new RangeError(`alignment must be a power of two, got ${alignment}`);
  }
  if (alignment <= OWNED_MAX_ALIGNMENT && size <= MAX_BUFFER_BYTES) {
    return allocateBuffer(size, { alignment });
  }
  const backing = new Uint8Array(size + alignment);
  const address = addressNumber(backing);
  const skip = (alignment - (address % alignment)) % alignment;
  return backing.subarray(skip, skip + size);
}
