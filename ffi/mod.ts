/**
 * The runtime boundary. Picks the Deno or Bun implementation once, loads the
 * native libraries lazily, and offers the few memory primitives the rest of
 * the project needs. Nothing outside `ffi/` knows which runtime it is on.
 *
 * @module
 */
import type {
  BlockingIo,
  CompletionWaiter,
  LoadedSymbols,
  RuntimeFfi,
  ThreadLibc,
} from "./types.ts";
import {
  BLOCKING_IO_SYMBOLS,
  ISAL_SYMBOLS,
  LIBC_SYMBOLS,
  LIBURING_SYMBOLS,
} from "./symbols.ts";
import { WorkerPool } from "./blocking_io.ts";
import { CompletionPoller } from "./completion_poller.ts";
import { type OrphanLibc, releaseOrphans, tagOwner } from "./orphans.ts";
import { procReader } from "./procfs.ts";
import { FfiPermissionError } from "./permission.ts";

export { FfiPermissionError };

export type {
  BlockingCallOptions,
  BlockingIo,
  BlockingOp,
  CompletionWaiter,
  LoadedSymbols,
  NativeType,
  SymbolSpec,
  SymbolTable,
} from "./types.ts";

// deno-lint-ignore no-explicit-any
const isDeno = typeof (globalThis as any).Deno?.dlopen === "function";

/** The runtime's FFI implementation, chosen once at load. */
const rt: RuntimeFfi = isDeno
  ? (await import("./deno.ts")).runtime
  : (await import("./bun.ts")).runtime;

/**
 * Which runtime the library runs on.
 *
 * @example
 * ```ts
 * import { runtimeName } from "./mod.ts";
 * console.log(runtimeName); // "deno" or "bun"
 * ```
 */
export const runtimeName: "deno" | "bun" = rt.name;

/**
 * Whether a `u64` size argument is passed as a bigint. Deno's fast FFI path
 * takes a `u64` argument only as a bigint; a number falls back to the slow
 * path (measured 110 ns against 25 ns per call). Bun is fastest with a
 * number (17 ns against 29 ns with a bigint).
 *
 * @example
 * ```ts
 * import { U64_AS_BIGINT } from "./mod.ts";
 * const length = 4096;
 * const arg = U64_AS_BIGINT ? BigInt(length) : length;
 * ```
 */
export const U64_AS_BIGINT: boolean = rt.name === "deno";

/**
 * The NULL pointer to pass for an `address` argument on a hot path. Deno
 * takes a 64-bit argument given as a number on a slow path (about 130 ns
 * more per call, measured on io_uring_enter) but a bigint on its fast path;
 * Bun takes a plain number.
 *
 * @example
 * ```ts
 * import { liburing, NULL_ADDRESS } from "./mod.ts";
 * declare const ringFd: number;
 * liburing().io_uring_enter(ringFd, 0, 0, 0, NULL_ADDRESS);
 * ```
 */
export const NULL_ADDRESS: number | bigint = rt.name === "deno" ? 0n : 0;

/**
 * Milliseconds on a monotonic clock, for the Promise layer's per-request
 * timing: only differences between its own readings mean anything. On
 * Deno `performance.now()` is an op, about 85 ns a call, and libc's
 * `clock_gettime` (vDSO, no system call) through a fast FFI call about
 * 35 ns; on Bun `performance.now()` is about 30 ns already.
 *
 * @example
 * ```ts
 * import { monotonicMs } from "./mod.ts";
 * const start = monotonicMs();
 * const tookMs = monotonicMs() - start; // >= 0
 * ```
 */
export const monotonicMs: () => number = rt.name === "deno"
  ? ffiClock()
  : () => performance.now();

function ffiClock(): () => number {
  // struct timespec { i64 tv_sec; i64 tv_nsec }: seconds since boot fit
  // the low 32 bits, and nanoseconds always do.
  const words = new Int32Array(4);
  const bytes = new Uint8Array(words.buffer);
  let clockGettime: ((clock: number, ts: Uint8Array) => number) | undefined;
  return () => {
    (clockGettime ??= libc().clock_gettime)(CLOCK_MONOTONIC, bytes);
    return words[0] * 1000 + words[2] / 1e6;
  };
}

const CLOCK_MONOTONIC = 1;

/**
 * A native library could not be loaded. The message names the Debian
 * package that provides it.
 *
 * @example
 * ```ts
 * import { NativeLibraryError } from "./mod.ts";
 * const e = new NativeLibraryError("liburing.so.2", "liburing2", "not found");
 * e.packageName; // "liburing2"
 * ```
 */
export class NativeLibraryError extends Error {
  /** Always `"NativeLibraryError"`. */
  override name = "NativeLibraryError";
  /** The shared object that failed to load. */
  readonly library: string;
  /** The Debian package that installs it. */
  readonly packageName: string;
  /** `cause` is the loader's error; its message is appended. */
  constructor(library: string, packageName: string, cause: unknown) {
    super(
      `cannot load ${library}: install the Debian package ${packageName} ` +
        `(apt-get install ${packageName}) (${
          cause instanceof Error ? cause.message : String(cause)
        })`,
      { cause },
    );
    this.library = library;
    this.packageName = packageName;
  }
}

function load<T extends Record<string, { args: readonly unknown[] }>>(
  names: readonly string[],
  packageName: string,
  table: T,
): LoadedSymbols<T & Record<string, never>> {
  let lastError: unknown;
  for (const name of names) {
    try {
      // deno-lint-ignore no-explicit-any
      return rt.open(name, table as any) as any;
    } catch (error) {
      // A missing permission is the same for every name: no point trying on.
      if (error instanceof FfiPermissionError) throw error;
      lastError = error;
    }
  }
  throw new NativeLibraryError(names[0], packageName, lastError);
}

let liburingSymbols: LoadedSymbols<typeof LIBURING_SYMBOLS> | undefined;
let libcSymbols: LoadedSymbols<typeof LIBC_SYMBOLS> | undefined;
let isalSymbols: LoadedSymbols<typeof ISAL_SYMBOLS> | null | undefined;

/**
 * The system liburing's raw syscall wrappers, loaded on first use.
 *
 * @throws {NativeLibraryError} when `liburing.so.2` is not installed.
 * @example
 * ```ts
 * import { liburing } from "./mod.ts";
 * const params = new Uint8Array(120);
 * const fd = liburing().io_uring_setup(4, params); // fd or -errno
 * ```
 */
export function liburing(): LoadedSymbols<typeof LIBURING_SYMBOLS> {
  return liburingSymbols ??= load(
    ["liburing.so.2", "liburing.so"],
    "liburing2",
    LIBURING_SYMBOLS,
  );
}

/**
 * The C library, loaded on first use.
 *
 * @example
 * ```ts
 * import { libc } from "./mod.ts";
 * libc().close(-1); // -1, errno EBADF
 * ```
 */
export function libc(): LoadedSymbols<typeof LIBC_SYMBOLS> {
  return libcSymbols ??= load(["libc.so.6"], "libc6", LIBC_SYMBOLS);
}

/**
 * ISA-L's checksum kernels, or `null` when `libisal.so.2` is not installed.
 *
 * @example
 * ```ts
 * import { isal } from "./mod.ts";
 * const lib = isal();
 * if (lib) lib.crc16_t10dif(0, new TextEncoder().encode("123456789"), 9);
 * ```
 */
export function isal(): LoadedSymbols<typeof ISAL_SYMBOLS> | null {
  if (isalSymbols !== undefined) return isalSymbols;
  try {
    isalSymbols = load(
      ["libisal.so.2", "libisal.so"],
      "libisal2",
      ISAL_SYMBOLS,
    );
  } catch {
    isalSymbols = null;
  }
  return isalSymbols;
}

let errnoView: Int32Array | undefined;

/**
 * The calling thread's errno, to be read right after a failed libc call.
 *
 * @example
 * ```ts
 * import { errno, libc } from "./mod.ts";
 * if (libc().close(-1) < 0) console.log(errno()); // 9 (EBADF)
 * ```
 */
export function errno(): number {
  // The location is thread-local but fixed for the JS thread, so one view
  // serves every read.
  errnoView ??= new Int32Array(rt.memoryAt(libc().__errno_location(), 4));
  return errnoView[0];
}

/**
 * Address of the first byte of a typed array or ArrayBuffer as a bigint
 * (0n for an empty one). The view is first moved out of the GC heap if the
 * runtime kept it there, so the address stays valid while the view is alive.
 *
 * @example
 * ```ts
 * import { addressOf } from "./mod.ts";
 * const buf = new Uint8Array(4096);
 * console.log(addressOf(buf) > 0n); // true
 * ```
 */
export function addressOf(view: ArrayBufferView | ArrayBufferLike): bigint {
  return BigInt(rt.addressOf(view));
}

/**
 * {@linkcode addressOf} as a plain number: what the SQE writers use, since
 * user-space addresses fit in 2^53 and numbers avoid bigint allocation.
 *
 * @example
 * ```ts
 * import { addressNumber } from "./mod.ts";
 * addressNumber(new Uint8Array(8)) > 0; // true
 * ```
 */
export function addressNumber(view: ArrayBufferView | ArrayBufferLike): number {
  return rt.addressOf(view);
}

/**
 * An ArrayBuffer over native memory (an mmap'd ring, a malloc'd block).
 * The caller must stop using it once that memory is unmapped or freed.
 *
 * @example
 * ```ts
 * import { addressNumber, memoryAt } from "./mod.ts";
 * const buf = new Uint8Array(16);
 * new Uint8Array(memoryAt(addressNumber(buf), 16))[0] = 7; // buf[0] === 7
 * ```
 */
export function memoryAt(address: number, length: number): ArrayBuffer {
  return rt.memoryAt(address, length);
}

const encoder = new TextEncoder();

/**
 * A NUL-terminated UTF-8 copy of a string, for C `const char *` arguments.
 *
 * @example
 * ```ts
 * import { cString } from "./mod.ts";
 * cString("/tmp").length; // 5
 * ```
 */
export function cString(text: string): Uint8Array {
  if (text.includes("\0")) {
    throw new TypeError("path must not contain NUL characters");
  }
  const bytes = new Uint8Array(encoder.encode(text).length + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/**
 * The libc calls the completion poller and the blocking-call pool make on
 * the JS thread to steer their threads (eventfds, their memory).
 */
const threadLibc: ThreadLibc = {
  nonblockingEventfd: () => {
    const fd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    // A terminated Worker's waiter may sleep on it: a sweep wakes it.
    if (fd >= 0) tagOwner(orphanLibc, fd);
    return fd;
  },
  read: (fd, address, length) => libc().read(fd, address, length),
  write: (fd, address, length) => libc().write(fd, address, length),
  close: (fd) => libc().close(fd),
  malloc: (size) => libc().malloc(size),
  free: (address) => void libc().free(address),
  memoryAt: rt.memoryAt,
  addressOf: rt.addressOf,
};

const orphanLibc: OrphanLibc = {
  fcntl: (fd, cmd, arg) => libc().fcntl(fd, cmd, arg),
  close: (fd) => libc().close(fd),
  write: (fd, address, length) => libc().write(fd, address, length),
  munmap: (address, length) => libc().munmap(address, length),
  gettid: () => libc().gettid(),
  addressOf: rt.addressOf,
  proc: procReader({
    open: (path, flags, mode) => libc().open(path, flags, mode),
    read: (fd, address, length) => libc().read(fd, address, length),
    close: (fd) => libc().close(fd),
    opendir: (path) => libc().opendir(path),
    readdir: (dir) => libc().readdir(dir),
    closedir: (dir) => libc().closedir(dir),
    readlink: (path, buf, size) => libc().readlink(path, buf, size),
    statx: (dirfd, path, flags, mask, buf) =>
      libc().statx(dirfd, path, flags, mask, buf),
    addressOf: rt.addressOf,
    memoryAt: rt.memoryAt,
    cString,
  }),
};

/** At most one automatic sweep for orphaned rings per this many ms. */
const SWEEP_INTERVAL_MS = 1000;
let lastSweep = -Infinity;

/**
 * Closes the rings a terminated Worker left behind (their fds, mappings and
 * queued requests; no runtime runs a terminated Worker's code, so they
 * cannot close themselves) and wakes its waiter thread. Returns how many
 * fds were released. Runs by itself, at most once a second, when a ring
 * starts waiting; call it after `worker.terminate()` to release them now.
 *
 * @example
 * ```ts
 * import { releaseOrphanedRings } from "./mod.ts";
 * declare const worker: Worker;
 * worker.terminate();
 * await new Promise((resolve) => setTimeout(resolve, 100)); // its thread ends
 * releaseOrphanedRings(); // the Worker's ring fds and waiter eventfd
 * ```
 */
export function releaseOrphanedRings(): number {
  lastSweep = performance.now();
  return releaseOrphans(orphanLibc);
}

let poller: CompletionPoller | undefined;

/**
 * A waiter for `ringFd`'s completions off the JS thread. Every ring of this
 * realm shares one thread blocked in poll(2) (see `completion_poller.ts`).
 *
 * @example
 * ```ts
 * import { completionWaiter } from "./mod.ts";
 * declare const ringFd: number;
 * const waiter = completionWaiter(ringFd);
 * ```
 */
export function completionWaiter(ringFd: number): CompletionWaiter {
  tagOwner(orphanLibc, ringFd);
  if (performance.now() - lastSweep > SWEEP_INTERVAL_MS) releaseOrphanedRings();
  poller ??= new CompletionPoller(threadLibc, () => rt.pollThread());
  return poller.waiter(ringFd);
}

/**
 * Rings of this realm with a completion wait outstanding (all served by one
 * thread).
 *
 * @example
 * ```ts
 * import { ringsWaiting } from "./mod.ts";
 * ringsWaiting(); // 0 when no ring is waiting
 * ```
 */
export function ringsWaiting(): number {
  return poller?.waiting ?? 0;
}

// Base address of each ArrayBuffer seen, so the hot path pays for one
// WeakMap lookup instead of a pointer-of call (about 240 ns on Deno).
// Fixed-length ArrayBuffers never move, so a cached base stays right.
const bufferBases = new WeakMap<ArrayBufferLike, number>();

/**
 * {@linkcode addressNumber} with the buffer's base address cached: for
 * views over fixed-length (non-resizable) buffers the kernel will use.
 *
 * @example
 * ```ts
 * import { cachedAddress } from "./mod.ts";
 * const buf = new Uint8Array(4096);
 * cachedAddress(buf.subarray(8)) - cachedAddress(buf); // 8
 * ```
 */
export function cachedAddress(view: ArrayBufferView): number {
  if (view.byteLength === 0) return 0;
  const buffer = view.buffer; // also moves a small typed array off the GC heap
  let base = bufferBases.get(buffer);
  if (base === undefined) {
    base = rt.addressOf(buffer);
    bufferBases.set(buffer, base);
  }
  return base + view.byteOffset;
}

/**
 * The libc calls of the blocking-call pool, loaded in each pool thread.
 *
 * @example
 * ```ts
 * import { blockingIoSymbols } from "./mod.ts";
 * blockingIoSymbols().fsync(-1); // -1 (EBADF)
 * ```
 */
export function blockingIoSymbols(): LoadedSymbols<
  typeof BLOCKING_IO_SYMBOLS
> {
  return load(["libc.so.6"], "libc6", BLOCKING_IO_SYMBOLS);
}

const WORKER_URL = new URL("./blocking_io_worker.ts", import.meta.url);

/**
 * A new pool of up to `threads` threads for blocking file calls (the
 * fallback backend's engine). Close it when done.
 *
 * @example
 * ```ts
 * import { blockingIo } from "./mod.ts";
 * const io = blockingIo(4);
 * const res = await io.call("fsync", [-1]); // -9 (EBADF)
 * io.close();
 * ```
 */
export function blockingIo(threads: number): BlockingIo {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`threads must be from 1 to 64, got ${threads}`);
  }
  return new WorkerPool(threads, () => rt.startWorker(WORKER_URL), threadLibc);
}

/** The pool that makes copy_file_range where the runtime has no off-thread call. */
let copyPool: BlockingIo | undefined;

/**
 * copy_file_range(2) of up to `length` bytes from the file position of
 * `fdIn` to that of `fdOut`, off the JS thread (Deno: a `nonblocking` FFI
 * call; Bun: a thread of a process-wide blocking-call pool, whose idle
 * Worker does not hold the process open). Resolves to the bytes copied (0
 * at the end of `fdIn`), or a negative number when the call failed:
 * -errno on Bun, -1 on Deno, whose off-thread calls cannot read errno.
 * Both fds must stay open until the promise settles.
 *
 * @example
 * ```ts
 * import { copyFileRange } from "./mod.ts";
 * import { closeFd, openFd } from "../sys/fd.ts";
 * const from = openFd("/etc/hostname", 0);
 * const to = openFd("/dev/shm/uring-cfr", 0o1101); // O_WRONLY|O_CREAT|O_TRUNC
 * const n = await copyFileRange(from, to, 1 << 20);
 * closeFd(from);
 * closeFd(to);
 * ```
 */
export function copyFileRange(
  fdIn: number,
  fdOut: number,
  length: number,
): Promise<number> {
  if (rt.copyFileRange !== null) return rt.copyFileRange(fdIn, fdOut, length);
  copyPool ??= blockingIo(1);
  return copyPool.call("copy_file_range", [fdIn, fdOut, length]);
}
