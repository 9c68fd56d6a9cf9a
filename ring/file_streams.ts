/**
 * Web streams and async iteration over a file read or written at explicit
 * offsets: the engine behind `UringFile.readable`, `.writable` and
 * `for await (const chunk of file)`.
 *
 * Reads run ahead: {@linkcode STREAM_READ_AHEAD} requests of
 * {@linkcode STREAM_CHUNK} bytes are in flight while the consumer works on
 * the previous chunk, so the next one is usually there when it asks.
 *
 * @module
 */

import { dataBuffer, publish } from "./io_buffers.ts";

/** Bytes per chunk a file stream reads (and hands out). */
export const STREAM_CHUNK: number = 1 << 20;

/** Reads a file stream keeps in flight ahead of its consumer. */
export const STREAM_READ_AHEAD: number = 4;

/** Reads into `buf` at `offset`; resolves to the bytes read (0 at EOF). */
export type ReadAt = (buf: Uint8Array, offset: number) => Promise<number>;

/** Writes all of `buf` at `offset`. */
export type WriteAt = (buf: Uint8Array, offset: number) => Promise<void>;

/**
 * Sequential reads from `start`, with up to `depth` requests in flight.
 * `next()` resolves to the next chunk in file order, or `null` at EOF.
 *
 * @example
 * ```ts
 * import { ReadAhead } from "./file_streams.ts";
 * const file = new Uint8Array(3000).fill(7);
 * const readAt = (buf: Uint8Array, offset: number) => {
 *   const part = file.subarray(offset, offset + buf.byteLength);
 *   buf.set(part);
 *   return Promise.resolve(part.byteLength);
 * };
 * const ahead = new ReadAhead(readAt, 0, 1024, 2);
 * for (let c = await ahead.next(); c !== null; c = await ahead.next()) {}
 * ```
 */
export class ReadAhead {
  readonly #readAt: ReadAt;
  readonly #chunk: number;
  readonly #depth: number;
  readonly #direct: boolean;
  #offset: number;
  #queue: Promise<Uint8Array>[] = [];
  #done = false;

  /**
   * Starts reading at `start` on the first `next()`. `direct`: the file is
   * O_DIRECT, so chunks are 4096-aligned memory.
   */
  constructor(
    readAt: ReadAt,
    start: number,
    chunk: number = STREAM_CHUNK,
    depth: number = STREAM_READ_AHEAD,
    direct = false,
  ) {
    this.#readAt = readAt;
    this.#offset = start;
    this.#chunk = chunk;
    this.#depth = depth;
    this.#direct = direct;
  }

  #fill(): void {
    while (!this.#done && this.#queue.length < this.#depth) {
      // Uninitialized memory (no zeroing, reused on Bun): a full chunk is
      // all file data; a short one is copied out so the rest never shows.
      const buf = dataBuffer(this.#chunk, this.#direct);
      // Published once read: from then on the chunk is the consumer's.
      const read = this.#readAt(buf, this.#offset).then((n) =>
        publish(n === buf.byteLength ? buf : buf.slice(0, n))
      );
      // Marked handled here; the error reaches the consumer through next().
      read.catch(() => {});
      this.#queue.push(read);
      this.#offset += this.#chunk;
    }
  }

  /** The next chunk, or `null` once the file has ended. */
  async next(): Promise<Uint8Array | null> {
    this.#fill();
    const head = this.#queue.shift();
    if (head === undefined) return null;
    let chunk: Uint8Array;
    try {
      chunk = await head;
    } catch (error) {
      this.#done = true;
      await this.settle();
      throw error;
    }
    if (chunk.byteLength < this.#chunk) {
      // EOF (or a file shrinking under us): what was read ahead past it is
      // empty, or belongs to a file that changed; stop here.
      this.#done = true;
      await this.settle();
    }
    return chunk.byteLength === 0 ? null : chunk;
  }

  /** Stops reading ahead and waits for the reads still in flight. */
  async settle(): Promise<void> {
    this.#done = true;
    const rest = this.#queue;
    this.#queue = [];
    await Promise.allSettled(rest);
  }
}

/**
 * A byte `ReadableStream` over `readAt` from `start`. Default readers get
 * the chunks as read; BYOB readers get them copied into their views.
 * `finish` runs once when the stream ends, fails or is cancelled (after
 * every read in flight has settled), with the error if there was one.
 * `direct`: the file is O_DIRECT (aligned chunks; the position must be
 * block-aligned too).
 *
 * @example
 * ```ts
 * import { byteStream } from "./file_streams.ts";
 * const readAt = (_buf: Uint8Array, _offset: number) => Promise.resolve(0);
 * const stream = byteStream(readAt, 0, async () => {});
 * const reader = stream.getReader({ mode: "byob" });
 * ```
 */
export function byteStream(
  readAt: ReadAt,
  start: number,
  finish: (error?: unknown) => Promise<void>,
  direct = false,
): ReadableStream<Uint8Array> {
  const ahead = new ReadAhead(
    readAt,
    start,
    STREAM_CHUNK,
    STREAM_READ_AHEAD,
    direct,
  );
  let leftover: Uint8Array | null = null;
  let finished = false;
  const end = async (error?: unknown) => {
    if (finished) return;
    finished = true;
    await ahead.settle();
    await finish(error);
  };
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      let chunk = leftover;
      leftover = null;
      if (chunk === null) {
        try {
          chunk = await ahead.next();
        } catch (error) {
          await end(error).catch(() => {});
          controller.error(error);
          return;
        }
      }
      const request = controller.byobRequest;
      if (chunk === null) {
        await end();
        controller.close();
        // A pending BYOB read must be answered with 0 bytes after close.
        request?.respond(0);
        return;
      }
      const view = request?.view;
      if (request && view) {
        const target = new Uint8Array(
          view.buffer,
          view.byteOffset,
          view.byteLength,
        );
        const n = Math.min(target.byteLength, chunk.byteLength);
        target.set(chunk.subarray(0, n));
        if (n < chunk.byteLength) leftover = chunk.subarray(n);
        request.respond(n);
      } else {
        controller.enqueue(chunk);
      }
    },
    async cancel() {
      await end();
    },
  });
}

/**
 * A `WritableStream` that writes each chunk after the previous one, from
 * `start`. `finish` runs once on close or abort (with the abort reason).
 *
 * @example
 * ```ts
 * import { byteSink } from "./file_streams.ts";
 * const written: Uint8Array[] = [];
 * const writeAt = (buf: Uint8Array, _offset: number) => {
 *   written.push(buf.slice());
 *   return Promise.resolve();
 * };
 * const sink = byteSink(writeAt, 0, async () => {});
 * ```
 */
export function byteSink(
  writeAt: WriteAt,
  start: number,
  finish: (error?: unknown) => Promise<void>,
): WritableStream<Uint8Array> {
  let offset = start;
  let finished = false;
  const end = async (error?: unknown) => {
    if (finished) return;
    finished = true;
    await finish(error);
  };
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      // A failed write errors the stream, and an errored stream never calls
      // close or abort: the file is closed here, whatever went wrong.
      try {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError("file.writable takes Uint8Array chunks");
        }
        await writeAt(chunk, offset);
      } catch (error) {
        await end(error).catch(() => {});
        throw error;
      }
      offset += chunk.byteLength;
    },
    async close() {
      await end();
    },
    async abort(reason) {
      await end(reason);
    },
  });
}
