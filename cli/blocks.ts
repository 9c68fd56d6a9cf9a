/**
 * Streaming a file through the ring in big blocks with several reads in
 * flight, handed to the caller strictly in order (so reports come out
 * sorted and the caller can keep state from one block to the next).
 *
 * @module
 */
import type { Ring } from "../ring/ring.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { readFull } from "../ring/full_io.ts";
import { EnvironmentError } from "./errors.ts";
import { failureNaming } from "./files.ts";

/**
 * One block of the file, as handed to the callback of
 * {@linkcode streamBlocks}. `data` is only valid during the callback: its
 * buffer is reused for a later block.
 *
 * @example
 * ```ts
 * import type { FileBlock } from "./blocks.ts";
 * const sum = (b: FileBlock<void>) => b.data.reduce((s, x) => s + x, 0);
 * ```
 */
export interface FileBlock<T> {
  /** Block number, from 0. */
  readonly index: number;
  /** File offset of the first byte. */
  readonly offset: number;
  /** Bytes of file data in the block (the last block may be short). */
  readonly length: number;
  /** The data, zero-padded to a multiple of `padTo`. */
  readonly data: Uint8Array;
  /** What `companion` returned for this block. */
  readonly extra: T;
}

/**
 * How {@linkcode streamBlocks} reads.
 *
 * @example
 * ```ts
 * import type { StreamOptions } from "./blocks.ts";
 * const opts: StreamOptions<void> = { fd: 3, size: 1 << 30, blockSize: 1 << 20, depth: 4, padTo: 4096 };
 * ```
 */
export interface StreamOptions<T> {
  readonly fd: number;
  /** Bytes to read from offset `start`. */
  readonly size: number;
  /** First byte to read (default 0). */
  readonly start?: number;
  /** Bytes per read; a multiple of `padTo`. */
  readonly blockSize: number;
  /** Reads in flight. */
  readonly depth: number;
  /** The last block is zero-padded to a multiple of this. */
  readonly padTo: number;
  /** For messages: the file's name. */
  readonly name?: string;
  /** Options passed to every read (e.g. `{ pi }` for a PI device). */
  readonly readOptions?: (offset: number, length: number) => object | undefined;
  /** Started together with each block's read (e.g. reading its tuples). */
  readonly companion?: (
    index: number,
    offset: number,
    length: number,
  ) => Promise<T>;
}

/**
 * Reads `size` bytes of `fd` in blocks of `blockSize`, `depth` reads in
 * flight, and calls `onBlock` for each block in file order. The next read
 * into a buffer starts only after `onBlock` for its previous block is done.
 *
 * @throws {EnvironmentError} when the file ends early (it shrank while read).
 * @example
 * ```ts
 * import { Ring } from "../ring/ring.ts";
 * import { openFd } from "../sys/fd.ts";
 * import { streamBlocks } from "./blocks.ts";
 * await using ring = new Ring();
 * const fd = openFd("/etc/hostname", 0);
 * await streamBlocks(ring, { fd, size: 4, blockSize: 4096, depth: 2, padTo: 512 }, (b) => {
 *   console.log(b.index, b.length);
 * });
 * ```
 */
export async function streamBlocks<T = void>(
  ring: Ring,
  options: StreamOptions<T>,
  onBlock: (block: FileBlock<T>) => void | Promise<void>,
): Promise<void> {
  const { fd, size, blockSize, depth, padTo } = options;
  const start = options.start ?? 0;
  const blocks = Math.ceil(size / blockSize);
  const buffers = Array.from(
    { length: Math.min(depth, blocks) },
    () => alignedBuffer(blockSize),
  );
  type Arrived = { index: number; slot: number; read: number; extra: T };
  const queue: Promise<Arrived>[] = [];
  let next = 0;
  const launch = (slot: number) => {
    const index = next++;
    const offset = index * blockSize;
    const length = Math.min(blockSize, size - offset);
    const padded = Math.ceil(length / padTo) * padTo;
    const buf = buffers[slot].subarray(0, padded);
    const readOpts = options.readOptions?.(start + offset, padded);
    // Device reads must be whole intervals; file reads stop at the data.
    const target = readOpts ? buf : buf.subarray(0, length);
    const reading = readFull(
      ring,
      fd,
      target,
      start + offset,
      readOpts,
      failureNaming(options.name, "reading"),
    );
    const companion = options.companion?.(index, start + offset, length);
    queue.push(
      Promise.all([reading, companion]).then(([read, extra]) => ({
        index,
        slot,
        read,
        extra: extra as T,
      })),
    );
  };
  for (let slot = 0; slot < buffers.length; slot++) launch(slot);
  try {
    while (queue.length > 0) {
      const { index, slot, read, extra } = await queue.shift()!;
      const offset = index * blockSize;
      const length = Math.min(blockSize, size - offset);
      if (read < length) {
        throw new EnvironmentError(
          `${options.name ?? "the file"} ended at byte ${
            start + offset + read
          } while being read (expected ${
            start + size
          }): it changed during the run`,
        );
      }
      const padded = Math.ceil(length / padTo) * padTo;
      const data = buffers[slot].subarray(0, padded);
      if (padded > length) data.fill(0, length);
      await onBlock({ index, offset: start + offset, length, data, extra });
      if (next < blocks) launch(slot);
    }
  } finally {
    // Reads still in flight must finish before their buffers are dropped
    // or the ring closes; their errors are already superseded.
    await Promise.allSettled(queue);
  }
}
