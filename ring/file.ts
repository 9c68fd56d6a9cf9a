/**
 * `openFile`: the file handle users expect, on top of a ring's Promise API.
 * It keeps its own position (reads and writes without an offset continue
 * where the last one ended), and offers web streams and async iteration.
 *
 * @module
 */
import { Ring } from "./ring.ts";
import type { OpOptions } from "./ring.ts";
import type { Statx } from "../structs/statx.ts";
import { checkOffset, checkOptions } from "./validate.ts";
import { defaultRing } from "./default_ring.ts";
import { openPath } from "./fs.ts";
import { readFull, writeFull } from "./full_io.ts";
import {
  byteSink,
  byteStream,
  ReadAhead,
  type ReadAt,
  STREAM_CHUNK,
  STREAM_READ_AHEAD,
} from "./file_streams.ts";
import { fileStatusFlags } from "../sys/fd.ts";
import { truncateFd } from "../sys/truncate.ts";
import {
  O_APPEND,
  O_CREAT,
  O_DIRECT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from "../structs/constants.ts";

/**
 * How to open a file with {@linkcode openFile}.
 *
 * @example
 * ```ts
 * import type { OpenFileOptions } from "./file.ts";
 * const opts: OpenFileOptions = { write: true, create: true, direct: true };
 * ```
 */
export interface OpenFileOptions {
  /** Open for reading (default true). */
  read?: boolean;
  /** Open for writing (default false). */
  write?: boolean;
  /** Create the file if missing (implies write). */
  create?: boolean;
  /** Fail if it exists (with create). */
  exclusive?: boolean;
  /** Truncate to 0 bytes (implies write). */
  truncate?: boolean;
  /** Writes go to the end. */
  append?: boolean;
  /** O_DIRECT: bypass the page cache (needed for PI; buffers must be aligned). */
  direct?: boolean;
  /** Permission bits for a created file (default 0o644). */
  mode?: number;
  /** The ring to use (default: one shared ring per thread). */
  ring?: Ring;
}

const OPEN_OPTION_NAMES = [
  "read",
  "write",
  "create",
  "exclusive",
  "truncate",
  "append",
  "direct",
  "mode",
  "ring",
];

export { defaultRing };

/**
 * Open flags for the options (exported for tests and tools).
 *
 * @example
 * ```ts
 * import { openFlags } from "./file.ts";
 * openFlags({ write: true, create: true }); // O_RDWR | O_CREAT
 * ```
 */
export function openFlags(options: OpenFileOptions): number {
  const write = options.write || options.create || options.truncate ||
    options.append;
  const read = options.read ?? true;
  let flags = write ? (read ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (options.create) flags |= O_CREAT;
  if (options.exclusive) flags |= O_EXCL;
  if (options.truncate) flags |= O_TRUNC;
  if (options.append) flags |= O_APPEND;
  if (options.direct) flags |= O_DIRECT;
  return flags;
}

/**
 * Where {@linkcode UringFile.seek} counts from: the start, the current
 * position, or the end of the file (the values of Deno's `SeekMode`).
 *
 * @example
 * ```ts
 * import type { SeekFrom } from "./file.ts";
 * const end: SeekFrom = "end"; // or 2
 * ```
 */
export type SeekFrom = "start" | "current" | "end" | 0 | 1 | 2;

/**
 * An open file whose I/O goes through a ring.
 *
 * `read(buf)` and `write(buf)` without an offset use the file's own
 * position and move it by the bytes transferred; such calls (and `seek`,
 * `truncate`, `close`) run in the order they were made. With an offset
 * they are independent requests that can all be in flight at once and
 * leave the position alone (`-1` means the kernel's file position).
 *
 * @example
 * ```ts
 * import { openFile } from "./file.ts";
 * await using f = await openFile("/dev/shm/uring-file", { create: true, truncate: true });
 * await f.write(new TextEncoder().encode("hello "));
 * await f.write(new TextEncoder().encode("world"));
 * await f.seek(0);
 * const buf = new Uint8Array(11);
 * await f.read(buf); // 11, "hello world"
 * ```
 */
export class UringFile {
  /** The OS file descriptor. */
  readonly fd: number;
  /** The path it was opened with. */
  readonly path: string;
  /** The ring its requests go through. */
  readonly ring: Ring;
  #closed = false;
  #position = 0;
  readonly #append: boolean;
  /** Positional calls run one after another, in call order. */
  #order: Promise<unknown> = Promise.resolve();

  /**
   * Wraps an fd already open on `ring`; {@linkcode openFile} is the usual
   * way in. `append`: the fd has O_APPEND (writes go to the end).
   */
  constructor(ring: Ring, fd: number, path: string, append = false) {
    this.ring = ring;
    this.fd = fd;
    this.path = path;
    this.#append = append;
  }

  /** The position the next `read(buf)` or `write(buf)` without an offset uses. */
  get position(): number {
    return this.#position;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  #check(what: string): void {
    if (this.#closed) throw new TypeError(`${what}: ${this.path} is closed`);
  }

  /** Runs `body` after every positional call made before it has settled. */
  #inOrder<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#order.then(body);
    this.#order = run.catch(() => {});
    return run;
  }

  /**
   * Reads into `buf`; resolves to the bytes read (0 at the end of the
   * file). Without `offset`, reads at the file's position and moves it.
   */
  read(
    buf: ArrayBufferView,
    offset?: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("read");
    if (offset !== undefined) {
      return this.ring.read(this.fd, buf, offset, options);
    }
    return this.#inOrder(async () => {
      const n = await this.ring.read(this.fd, buf, this.#position, options);
      this.#position += n;
      return n;
    });
  }

  /**
   * Writes `buf`; resolves to the bytes written. Without `offset`, writes
   * at the file's position and moves it (on an `append` file: at the end,
   * and the position does not move).
   */
  write(
    buf: ArrayBufferView,
    offset?: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("write");
    if (offset !== undefined) {
      return this.ring.write(this.fd, buf, offset, options);
    }
    return this.#inOrder(async () => {
      if (this.#append) return this.ring.write(this.fd, buf, -1, options);
      const n = await this.ring.write(this.fd, buf, this.#position, options);
      this.#position += n;
      return n;
    });
  }

  /**
   * Moves the position to `offset` counted from the start (default), the
   * current position or the end; resolves to the new position.
   */
  seek(offset: number | bigint, from: SeekFrom = "start"): Promise<number> {
    this.#check("seek");
    const delta = typeof offset === "bigint"
      ? checkOffset(offset < 0n ? -offset : offset, "offset", false) *
        (offset < 0n ? -1 : 1)
      : offset;
    if (!Number.isSafeInteger(delta)) {
      throw new TypeError(`seek: offset must be an integer, got ${offset}`);
    }
    const base = { start: 0, current: 1, end: 2 }[from as string] ?? from;
    if (base !== 0 && base !== 1 && base !== 2) {
      throw new TypeError(
        `seek: from must be "start", "current" or "end", got ${String(from)}`,
      );
    }
    return this.#inOrder(async () => {
      const origin = base === 0
        ? 0
        : base === 1
        ? this.#position
        : (await this.ring.statx(this.fd)).size;
      const target = origin + delta;
      if (target < 0) {
        throw new RangeError(`seek: position ${target} is before the start`);
      }
      return this.#position = target;
    });
  }

  /**
   * Sets the file's size to `length` bytes (default 0), cutting it or
   * extending it with zeros. The position does not move.
   */
  truncate(length: number = 0): Promise<void> {
    this.#check("truncate");
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(
        `truncate: length must be a non-negative integer, got ${length}`,
      );
    }
    return this.#inOrder(() => {
      truncateFd(this.fd, length);
      return Promise.resolve();
    });
  }

  /** Scatter read at `offset`. */
  readv(
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("readv");
    return this.ring.readv(this.fd, buffers, offset, options);
  }

  /** Gather write at `offset`. */
  writev(
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("writev");
    return this.ring.writev(this.fd, buffers, offset, options);
  }

  /** statx of the open file. */
  stat(options?: OpOptions): Promise<Statx> {
    this.#check("stat");
    return this.ring.statx(this.fd, options);
  }

  /** fsync; `{ datasync: true }` for fdatasync. */
  sync(options?: OpOptions & { datasync?: boolean }): Promise<number> {
    this.#check("sync");
    const { datasync, ...rest } = options ?? {};
    return datasync
      ? this.ring.fdatasync(this.fd, rest)
      : this.ring.fsync(this.fd, rest);
  }

  /**
   * The rest of the file from the position, as a byte stream (default
   * and BYOB readers). Several reads run ahead of the consumer. The file
   * is closed when the stream ends, fails or is cancelled, as Deno's
   * `FsFile.readable` does.
   *
   * @example
   * ```ts
   * import { openFile } from "./file.ts";
   * const f = await openFile("/etc/hostname");
   * const text = await new Response(f.readable).text();
   * ```
   */
  get readable(): ReadableStream<Uint8Array> {
    this.#check("readable");
    const direct = this.#isDirect();
    return byteStream(
      this.#streamReader(direct),
      this.#position,
      () => this.#closeOnce(),
      direct,
    );
  }

  /**
   * A stream that writes each chunk at the position and after the
   * previous one; closing or aborting it closes the file, as Deno's
   * `FsFile.writable` does.
   *
   * @example
   * ```ts
   * import { openFile } from "./file.ts";
   * const f = await openFile("/dev/shm/uring-copy", { create: true, truncate: true });
   * await (await openFile("/etc/hostname")).readable.pipeTo(f.writable);
   * ```
   */
  get writable(): WritableStream<Uint8Array> {
    this.#check("writable");
    return byteSink(
      (buf, offset) =>
        writeFull(
          this.ring,
          this.fd,
          buf,
          this.#append ? -1 : offset,
          undefined,
        ),
      this.#position,
      () => this.#closeOnce(),
    );
  }

  /**
   * `for await (const chunk of file)`: the rest of the file from the
   * position, in chunks (with reads in flight ahead). The position moves
   * past each chunk handed out; the file stays open.
   *
   * @example
   * ```ts
   * import { openFile } from "./file.ts";
   * await using f = await openFile("/etc/hostname");
   * let bytes = 0;
   * for await (const chunk of f) bytes += chunk.byteLength;
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, unknown> {
    this.#check("iterate");
    const direct = this.#isDirect();
    const ahead = new ReadAhead(
      this.#streamReader(direct),
      this.#position,
      STREAM_CHUNK,
      STREAM_READ_AHEAD,
      direct,
    );
    try {
      for (let chunk = await ahead.next(); chunk; chunk = await ahead.next()) {
        this.#position += chunk.byteLength;
        yield chunk;
      }
    } finally {
      await ahead.settle();
    }
  }

  /**
   * How a stream reads a chunk: until it is full, except on an O_DIRECT
   * file, where only the end of the file gives a short read and a retry at
   * the unaligned offset after it would fail with EINVAL.
   */
  #streamReader(direct: boolean): ReadAt {
    return direct
      ? (buf, offset) => this.ring.read(this.fd, buf, offset)
      : (buf, offset) => readFull(this.ring, this.fd, buf, offset);
  }

  /** Whether the fd is O_DIRECT now (one fcntl, when a stream starts). */
  #isDirect(): boolean {
    return (fileStatusFlags(this.fd) & O_DIRECT) !== 0;
  }

  #closeOnce(): Promise<void> {
    return this.#closed ? Promise.resolve() : this.close();
  }

  /**
   * Closes the file (through the ring), after the positional calls made
   * before it. A second close throws.
   */
  close(): Promise<void> {
    this.#check("close");
    this.#closed = true;
    return this.#inOrder(async () => {
      await this.ring.closeFd(this.fd);
    });
  }

  /** `await using f = await openFile(...)` closes it at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) await this.close();
  }
}

/**
 * Opens `path` through the ring (IORING_OP_OPENAT) and returns a
 * {@linkcode UringFile}.
 *
 * @example
 * ```ts
 * import { openFile } from "./file.ts";
 * await using f = await openFile("/etc/hostname");
 * const buf = new Uint8Array(64);
 * const n = await f.read(buf, 0);
 * ```
 */
export async function openFile(
  path: string,
  options: OpenFileOptions = {},
): Promise<UringFile> {
  checkOptions(options, OPEN_OPTION_NAMES, "openFile options");
  for (const key of OPEN_OPTION_NAMES) {
    const value = (options as Record<string, unknown>)[key];
    if (
      key !== "mode" && key !== "ring" && value !== undefined &&
      typeof value !== "boolean"
    ) {
      throw new TypeError(`openFile option ${key} must be a boolean`);
    }
  }
  if (options.ring !== undefined && !(options.ring instanceof Ring)) {
    throw new TypeError("openFile option ring must be a Ring");
  }
  const ring = options.ring ?? defaultRing();
  const flags = openFlags(options);
  const fd = await openPath(
    ring,
    path,
    flags,
    options.mode ?? 0o644,
    undefined,
  );
  return new UringFile(ring, fd, path, options.append === true);
}
