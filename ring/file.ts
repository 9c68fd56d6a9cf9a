/**
 * `openFile`: the file handle users expect, on top of a ring's Promise API.
 *
 * @module
 */
import { Ring } from "./ring.ts";
import type { OpOptions } from "./ring.ts";
import type { Statx } from "../structs/statx.ts";
import { checkOptions } from "./validate.ts";
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

let sharedRing: Ring | undefined;

/**
 * The ring `openFile` uses when none is given: created on first use, it
 * keeps nothing running while idle.
 *
 * @example
 * ```ts
 * import { defaultRing } from "./file.ts";
 * await defaultRing().nop();
 * ```
 */
export function defaultRing(): Ring {
  if (sharedRing === undefined || sharedRing.closed) {
    sharedRing = new Ring({ entries: 256 });
  }
  return sharedRing;
}

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
 * An open file whose I/O goes through a ring. Offsets are explicit; `-1`
 * means the current file position.
 *
 * @example
 * ```ts
 * import { openFile } from "./file.ts";
 * await using f = await openFile("/dev/shm/uring-file", { create: true });
 * await f.write(new TextEncoder().encode("hi"), 0);
 * console.log((await f.stat()).size); // 2
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

  /** Wraps an fd already open on `ring`; {@linkcode openFile} is the usual way in. */
  constructor(ring: Ring, fd: number, path: string) {
    this.ring = ring;
    this.fd = fd;
    this.path = path;
  }

  #check(what: string): void {
    if (this.#closed) throw new TypeError(`${what}: ${this.path} is closed`);
  }

  /** Reads into `buf` at `offset`; resolves to the bytes read. */
  read(
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("read");
    return this.ring.read(this.fd, buf, offset, options);
  }

  /** Writes `buf` at `offset`; resolves to the bytes written. */
  write(
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    this.#check("write");
    return this.ring.write(this.fd, buf, offset, options);
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

  /** Closes the file (through the ring). A second close throws. */
  async close(): Promise<void> {
    this.#check("close");
    this.#closed = true;
    await this.ring.closeFd(this.fd);
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
  const fd = await ring.openat(path, openFlags(options), options.mode ?? 0o644);
  return new UringFile(ring, fd, path);
}
