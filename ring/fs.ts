/**
 * The everyday file calls, on a ring: `readFile`, `writeFile` (and
 * `copyFile`, in copy_file.ts, over the helpers here).
 *
 * Each splits large files into requests and keeps several in flight, all
 * issued in the same tick so they reach the kernel in one submission; the
 * sizes and depths below are what measured best (bench/fs.ts). Cached
 * small reads skip the ring (sys/cached.ts) and large copies use
 * copy_file_range(2) off the JS thread. Every file
 * they open is closed again on every path, errors included. With no `ring` option they
 * use {@linkcode defaultRing}, which keeps nothing running while idle.
 *
 * @module
 */
import type { Ring } from "./ring.ts";
import type { OpOptions } from "./ring.ts";
import { UringError } from "./errors.ts";
import { checkOptions } from "./validate.ts";
import { defaultRing } from "./default_ring.ts";
import { readFull, writeFull } from "./full_io.ts";
import { dataBuffer, publish } from "./io_buffers.ts";
import {
  O_APPEND,
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../structs/constants.ts";
import { EISDIR } from "../structs/errno.ts";
import { closeFd } from "../sys/fd.ts";
import { truncateFd } from "../sys/truncate.ts";
import { openCachedReadOnly, readCached, typeAndSize } from "../sys/cached.ts";

/**
 * readFile: 64 MiB requests, 2 in flight. Reading cached data is a copy
 * into fresh memory whose page faults serialize on the process's address
 * space, so more requests in flight did not pay: a 256 MiB cached file
 * took 250-370 ms as 1 MiB x 8 and 115-185 ms as 64 MiB x 1-2 (both
 * runtimes, same run). Uncached files still get the kernel's readahead.
 */
const READ_CHUNK = 64 << 20;
const READ_IN_FLIGHT = 2;

/** writeFile: 1 MiB requests, 8 in flight (261 ms for 256 MiB, against 330-650 ms for 4-256 MiB requests). */
const WRITE_CHUNK = 1 << 20;
const WRITE_IN_FLIGHT = 8;

/**
 * readFile of a file up to this size first tries to read it from the page
 * cache on the JS thread (sys/cached.ts), the way a ring read of cached
 * data completes inside the submit; larger ones go through the ring as
 * before (what costs there is faulting in the fresh result memory).
 */
const CACHED_READ_MAX = 1 << 20;

/** Files of unknown size (procfs, pipes) are read in chunks of this size first. */
const UNKNOWN_SIZE_CHUNK = 64 * 1024;

/**
 * Options every file call takes.
 *
 * @example
 * ```ts
 * import type { FsOptions } from "./fs.ts";
 * const opts: FsOptions = { signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface FsOptions {
  /** The ring to use (default: {@linkcode defaultRing}). */
  ring?: Ring;
  /** Aborting cancels the requests in flight and rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode writeFile}.
 *
 * @example
 * ```ts
 * import type { WriteFileOptions } from "./fs.ts";
 * const opts: WriteFileOptions = { append: true, mode: 0o600 };
 * ```
 */
export interface WriteFileOptions extends FsOptions {
  /** Add to the end instead of replacing the contents (default false). */
  append?: boolean;
  /** Create the file when missing (default true); false: ENOENT instead. */
  create?: boolean;
  /** Permission bits of a newly created file (default 0o644, less the umask). */
  mode?: number;
}

/** What {@linkcode writeFile} accepts: bytes, or a string written as UTF-8. */
export type FileData = ArrayBufferView | ArrayBuffer | string;

/** The option names every file call takes. */
export const FS_OPTION_NAMES = ["ring", "signal"];
const WRITE_OPTION_NAMES = [...FS_OPTION_NAMES, "append", "create", "mode"];

/** The ring and per-request options from the user's options. */
export function resolveOptions(
  options: FsOptions | undefined,
  names: readonly string[],
  what: string,
): { ring: Ring; op: OpOptions | undefined } {
  if (options === undefined) return { ring: defaultRing(), op: undefined };
  checkOptions(options, names, `${what} options`);
  const { ring, signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${what} option signal must be an AbortSignal`);
  }
  if (
    ring !== undefined &&
    (ring === null || typeof ring !== "object" ||
      typeof ring.openat !== "function")
  ) {
    throw new TypeError(`${what} option ring must be a Ring`);
  }
  return {
    ring: ring ?? defaultRing(),
    op: signal === undefined ? undefined : { signal },
  };
}

/** `path` if it is a non-empty string; a TypeError naming `name` if not. */
export function checkPath(
  path: unknown,
  name: string,
  what: string,
): string {
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError(`${what}: ${name} must be a non-empty string`);
  }
  return path;
}

/**
 * openat through the ring, with the path in the error (the ring's own error
 * only knows the directory fd).
 *
 * @example
 * ```ts
 * import { openPath } from "./fs.ts";
 * import { defaultRing } from "./default_ring.ts";
 * const fd = await openPath(defaultRing(), "/etc/hostname", 0, 0, undefined);
 * ```
 */
export async function openPath(
  ring: Ring,
  path: string,
  flags: number,
  mode: number,
  op: OpOptions | undefined,
): Promise<number> {
  try {
    return await ring.openat(path, flags, mode, op);
  } catch (error) {
    if (error instanceof UringError) {
      throw new UringError(error.errno, { op: "openat", path });
    }
    throw error;
  }
}

/**
 * Runs `body` with `fd` and closes `fd` afterwards on every path. A close
 * error is reported only when `body` succeeded (it may mean lost writes).
 *
 * `readOnly` descriptors are closed with close(2) on the JS thread: closing
 * a file that was only read does no I/O, while a close through the ring
 * costs a trip through the completion waiter (measured on Bun: 4 KiB
 * readFile 17 us with the ring's close, 10 us without; see bench/fs.ts).
 *
 * @example
 * ```ts
 * import { closingAfter, openPath } from "./fs.ts";
 * import { readFull } from "./full_io.ts";
 * import { defaultRing } from "./default_ring.ts";
 * const ring = defaultRing();
 * const fd = await openPath(ring, "/etc/hostname", 0, 0, undefined);
 * const n = await closingAfter(ring, fd, true, () => readFull(ring, fd, new Uint8Array(64), 0));
 * ```
 */
export async function closingAfter<T>(
  ring: Ring,
  fd: number,
  readOnly: boolean,
  body: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (error) {
    if (readOnly) closeQuietly(fd);
    else await ring.closeFd(fd).catch(() => {});
    throw error;
  }
  if (readOnly) closeFd(fd);
  else await ring.closeFd(fd);
  return result;
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    // The body's error is the one to report.
  }
}

/**
 * Runs `task(0)`, `task(1)`, ... while `more(index)`, with at most `lanes`
 * running at once (each task also gets its lane's number, for per-lane
 * buffers), all started in the same tick. After the first failure no new task starts;
 * the running ones are awaited (their buffers stay in use until then) and
 * the first error is thrown.
 *
 * @example
 * ```ts
 * import { inFlight } from "./fs.ts";
 * const done: number[] = [];
 * await inFlight(4, (i) => i < 10, async (i) => void done.push(i));
 * ```
 */
export async function inFlight(
  lanes: number,
  more: (index: number) => boolean,
  task: (index: number, lane: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (_: unknown, laneIndex: number) => {
    while (failure === undefined && more(next)) {
      const index = next++;
      try {
        await task(index, laneIndex);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  if (failure !== undefined) throw failure.error;
}

export function fileType(mode: number): number {
  return mode & S_IFMT;
}

/**
 * Reads a whole file through the ring.
 *
 * The file is read straight into the result (large files in 64 MiB
 * requests, two in flight); a one-byte read past the end in the same
 * batch notices a file that grew meanwhile. A path and data already in
 * the kernel's caches are opened and read on the JS thread without
 * waiting (io_uring's own first attempt, minus a round trip; see
 * `sys/cached.ts`), anything else through the ring.
 *
 * @throws {UringError} ENOENT, EACCES, EISDIR, ... (the file is closed again).
 * @example
 * ```ts
 * import { readFile } from "./fs.ts";
 * const bytes = await readFile("/etc/hostname");
 * console.log(new TextDecoder().decode(bytes));
 * ```
 */
export async function readFile(
  path: string,
  options?: FsOptions,
): Promise<Uint8Array> {
  checkPath(path, "path", "readFile");
  const { ring, op } = resolveOptions(options, FS_OPTION_NAMES, "readFile");
  op?.signal?.throwIfAborted();
  // A path in the dentry cache opens on the JS thread, as io_uring's own
  // first attempt would inside the submit (sys/cached.ts); else the ring.
  let fd = openCachedReadOnly(path);
  if (fd < 0) fd = await openPath(ring, path, O_RDONLY, 0, op);
  // Not closingAfter: one async layer less per call (4 KiB files are a
  // few microseconds each; see readSized). A read-only fd is closed
  // with close(2) on the JS thread (see closingAfter).
  let bytes: Uint8Array;
  try {
    const read = readOpenFile(ring, fd, path, op);
    bytes = read instanceof Uint8Array ? read : await read;
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
  closeFd(fd);
  return publish(bytes);
}

/**
 * The body of {@linkcode readFile}: `fd` is open for reading. Returns the
 * bytes themselves when they were read without the ring.
 */
function readOpenFile(
  ring: Ring,
  fd: number,
  path: string,
  op: OpOptions | undefined,
): Uint8Array | Promise<Uint8Array> {
  // statx on the JS thread: it answers from the inode in about a
  // microsecond, where IORING_OP_STATX always goes through an io-wq
  // thread and a waiter wake-up (4 KiB readFile on Deno: 48 us -> 39 us).
  const { type, size } = typeAndSize(fd);
  if (type === S_IFDIR) throw new UringError(EISDIR, { op: "read", path });
  if (type !== S_IFREG || size === 0) {
    return readToEnd(ring, fd, new Uint8Array(UNKNOWN_SIZE_CHUNK), 0, op);
  }
  // Every byte is written by the reads below before `out` is returned; a
  // short file is returned as a copy of what was read. Until readFile
  // publishes it, the ring reads into it without staging.
  const out = dataBuffer(size, false);
  if (size <= CACHED_READ_MAX) {
    // Cached data is copied on the JS thread either way (a cached read
    // completes inside the submitting io_uring_enter); preadv2 with
    // RWF_NOWAIT saves the ring's round trip and never waits for a disk.
    const got = readCached(fd, out);
    if (got === size) return out;
    if (got > size) return readOn(ring, fd, out, op);
    if (got > 0) return readSized(ring, fd, out, op, got);
  }
  return readSized(ring, fd, out, op);
}

/**
 * Reads a file of known size into `out`: one request for a file of up to
 * READ_CHUNK bytes (cached data completes during the submit), else 64 MiB
 * requests two at a time; with them, in the same submission, a one-byte
 * read past the expected end. The probe finding a byte means the file
 * grew since the statx: it is read on to its end.
 */
async function readSized(
  ring: Ring,
  fd: number,
  out: Uint8Array,
  op: OpOptions | undefined,
  start = 0,
): Promise<Uint8Array> {
  const size = out.byteLength;
  const probe = new Uint8Array(1);
  let [got, extra] = await Promise.all([
    start > 0
      ? Promise.resolve(start) // read before: the rest follows below
      : size <= READ_CHUNK
      ? ring.read(fd, out, 0, op)
      : readRange(ring, fd, out, op),
    ring.read(fd, probe, size, op),
  ]);
  if (got < size) {
    // A short read, or the file shrank: on to the end of the file.
    got += await readFull(ring, fd, out.subarray(got), got, op);
    if (got < size) return out.slice(0, got);
    extra = await ring.read(fd, probe, size, op);
  }
  return extra === 0 ? out : readOn(ring, fd, out, op);
}

/** `out` holds the file's first bytes and the file goes on: reads the rest. */
function readOn(
  ring: Ring,
  fd: number,
  out: Uint8Array,
  op: OpOptions | undefined,
): Promise<Uint8Array> {
  const grown = new Uint8Array(out.byteLength * 2 + UNKNOWN_SIZE_CHUNK);
  grown.set(out);
  return readToEnd(ring, fd, grown, out.byteLength, op);
}

/** Reads `out.length` bytes from offset 0 in chunks; resolves to the bytes before EOF. */
async function readRange(
  ring: Ring,
  fd: number,
  out: Uint8Array,
  op: OpOptions | undefined,
): Promise<number> {
  const size = out.byteLength;
  const chunks = Math.ceil(size / READ_CHUNK);
  let end = size;
  await inFlight(
    Math.min(READ_IN_FLIGHT, chunks),
    (i) => i < chunks,
    async (i) => {
      const start = i * READ_CHUNK;
      const len = Math.min(READ_CHUNK, size - start);
      const n = await readFull(
        ring,
        fd,
        out.subarray(start, start + len),
        start,
        op,
      );
      if (n < len) end = Math.min(end, start + n);
    },
  );
  return end;
}

/** Reads from `filled` to EOF, growing `buf` as needed. */
async function readToEnd(
  ring: Ring,
  fd: number,
  buf: Uint8Array,
  filled: number,
  op: OpOptions | undefined,
): Promise<Uint8Array> {
  for (;;) {
    if (filled === buf.byteLength) {
      const bigger = new Uint8Array(buf.byteLength * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await ring.read(fd, buf.subarray(filled), filled, op);
    if (n === 0) return buf.slice(0, filled);
    filled += n;
  }
}

const encoder = new TextEncoder();

function bytesOf(data: FileData): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(
    "writeFile: data must be a string, an ArrayBuffer or a typed array",
  );
}

/** writeFile allocates the blocks of a file this large in one fallocate first. */
const FALLOCATE_MIN = 1 << 20;

/** Appends go out in pieces this large, one after another (order matters). */
const APPEND_CHUNK = 64 << 20;

/**
 * Writes `data` to `path` through the ring: replaces the contents, or adds
 * to the end with `{ append: true }`. A new file gets `mode` (default
 * 0o644, less the umask); an existing file keeps its permissions. A
 * regular file is replaced by writing over it and cutting it to the new
 * length (not by truncating first), so if a write fails part of the old
 * contents may remain after what was written.
 *
 * @throws {UringError} ENOENT (with `create: false`), EACCES, EISDIR,
 * ENOSPC, ... (the file is closed again).
 * @example
 * ```ts
 * import { readFile, writeFile } from "./fs.ts";
 * await writeFile("/dev/shm/uring-hello.txt", "hello\n");
 * await writeFile("/dev/shm/uring-hello.txt", "again\n", { append: true });
 * console.log(new TextDecoder().decode(await readFile("/dev/shm/uring-hello.txt")));
 * ```
 */
export async function writeFile(
  path: string,
  data: FileData,
  options?: WriteFileOptions,
): Promise<void> {
  checkPath(path, "path", "writeFile");
  const bytes = bytesOf(data);
  const { ring, op } = resolveOptions(options, WRITE_OPTION_NAMES, "writeFile");
  const append = options?.append ?? false;
  const create = options?.create ?? true;
  const mode = options?.mode ?? 0o644;
  for (const [name, value] of [["append", append], ["create", create]]) {
    if (typeof value !== "boolean") {
      throw new TypeError(`writeFile option ${name} must be a boolean`);
    }
  }
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(
      `writeFile option mode must be an integer from 0 to 0o7777, got ${mode}`,
    );
  }
  // Not O_TRUNC: a replaced file is written over and cut to length last
  // (see below).
  const flags = O_WRONLY | (create ? O_CREAT : 0) | (append ? O_APPEND : 0);
  const fd = await openPath(ring, path, flags, mode, op);
  await closingAfter(ring, fd, false, async () => {
    if (append) {
      for (let at = 0; at < bytes.byteLength; at += APPEND_CHUNK) {
        await writeFull(
          ring,
          fd,
          bytes.subarray(at, at + APPEND_CHUNK),
          -1,
          op,
        );
      }
      return;
    }
    // A regular file is written over in place and then cut to the new
    // length, as Bun's node:fs writeFile does: an existing file keeps its
    // blocks and cached pages, where O_TRUNC would free them all and
    // allocate anew (256 MiB over an existing file on ext4, Bun: 233-286
    // ms with O_TRUNC, 54-109 ms this way with the fallocate). Large
    // files get their blocks in one fallocate first; its errors are left
    // to the writes to meet (EOPNOTSUPP is common, ENOSPC is reported by
    // the write that runs out).
    const regular = typeAndSize(fd).type === S_IFREG;
    // (O_TRUNC does nothing to other files: a device, a FIFO.)
    if (regular && bytes.byteLength >= FALLOCATE_MIN) {
      await ring.fallocate(fd, 0, 0, bytes.byteLength, op).catch(() => {});
    }
    const chunks = Math.ceil(bytes.byteLength / WRITE_CHUNK);
    await inFlight(
      Math.min(WRITE_IN_FLIGHT, chunks),
      (i) => i < chunks,
      (i) => {
        const start = i * WRITE_CHUNK;
        return writeFull(
          ring,
          fd,
          bytes.subarray(start, start + WRITE_CHUNK),
          start,
          op,
        );
      },
    );
    if (regular) truncateFd(fd, bytes.byteLength);
  });
}
