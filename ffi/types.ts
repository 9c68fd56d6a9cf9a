/**
 * The neutral vocabulary of the FFI boundary: symbol tables are written once
 * in these types and translated to `Deno.dlopen` or `bun:ffi` by the runtime
 * file that loads them.
 *
 * @module
 */

/**
 * A native value type in a neutral symbol table.
 *
 * - `i8` … `u32`, `f64`: plain numbers.
 * - `i64`, `u64`: 64-bit integers; arguments take a number or bigint, results
 *   come back as a number (they are used for sizes, offsets and addresses,
 *   which stay below 2^53 on x86_64 and arm64 user space).
 * - `address`: a raw memory address as a number (argument or result); an
 *   argument may also be `NULL_ADDRESS` (a bigint 0 on Deno, see ffi/mod.ts).
 * - `buffer`: a typed array whose first byte is passed as a pointer
 *   (arguments only).
 * - `void`: no result.
 *
 * @example
 * ```ts
 * import type { NativeType } from "./types.ts";
 * const t: NativeType = "u32";
 * ```
 */
export type NativeType =
  | "void"
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "f64"
  | "address"
  | "buffer";

/**
 * One foreign function: its argument types and result type.
 *
 * @example
 * ```ts
 * import type { SymbolSpec } from "./types.ts";
 * const close: SymbolSpec = { args: ["i32"], result: "i32" };
 * ```
 */
export interface SymbolSpec {
  readonly args: readonly NativeType[];
  readonly result: NativeType;
  /** Symbol may be absent from older library versions without failing the load. */
  readonly optional?: boolean;
}

/**
 * A table of foreign functions by their exported names.
 *
 * @example
 * ```ts
 * import type { SymbolTable } from "./types.ts";
 * const table = { getpid: { args: [], result: "i32" } } satisfies SymbolTable;
 * ```
 */
export type SymbolTable = Record<string, SymbolSpec>;

/**
 * Value a caller may pass for an argument of a native function.
 *
 * @example
 * ```ts
 * import type { NativeArg } from "./types.ts";
 * const fd: NativeArg = 3;
 * ```
 */
// deno-lint-ignore no-explicit-any
export type NativeArg = number | bigint | ArrayBufferView | any;

/**
 * The callable symbols of a loaded library; every result is a number
 * (0 for `void`). Optional symbols the library lacks are `undefined`.
 *
 * @example
 * ```ts
 * import type { LoadedSymbols } from "./types.ts";
 * declare const libc: LoadedSymbols<{ getpid: { args: []; result: "i32" } }>;
 * ```
 */
export type LoadedSymbols<T extends SymbolTable> = {
  [K in keyof T]: (...args: NativeArg[]) => number;
};

/**
 * What each runtime file (`deno.ts`, `bun.ts`) provides. Nothing else in the
 * project touches `Deno.*` FFI or `bun:ffi`.
 *
 * @example
 * ```ts
 * import type { RuntimeFfi } from "./types.ts";
 * declare const rt: RuntimeFfi;
 * rt.name; // "deno" | "bun"
 * ```
 */
export interface RuntimeFfi {
  /** Which runtime this is. */
  readonly name: "deno" | "bun";
  /** Opens a shared library; throws the runtime's error if it cannot. */
  open<T extends SymbolTable>(path: string, table: T): LoadedSymbols<T>;
  /** Address of the first byte of a view, as a number (0 for an empty view). */
  addressOf(view: ArrayBufferView | ArrayBufferLike): number;
  /** An ArrayBuffer over `length` bytes of native memory at `address`. */
  memoryAt(address: number, length: number): ArrayBuffer;
  /**
   * A thread that blocks in libc's poll(2) off the JS thread: Deno runs a
   * `nonblocking` FFI call, Bun a Worker. One per realm serves every ring
   * (see `completion_poller.ts`).
   */
  pollThread(): PollThread;
  /** Starts a module Worker for the blocking-call pool (see `blocking_io.ts`). */
  startWorker(url: URL): PoolWorker;
  /**
   * copy_file_range(2) of `length` bytes from the file positions of
   * `fdIn` to `fdOut`, off the JS thread, where the runtime can make a
   * libc call on its own threads (Deno: a `nonblocking` FFI call, whose
   * thread's errno cannot be read, so a failure resolves to -1); null
   * where it cannot (Bun: the blocking-call pool's Worker makes it).
   */
  readonly copyFileRange:
    | ((fdIn: number, fdOut: number, length: number) => Promise<number>)
    | null;
}

/**
 * Waits for completions of one ring on another thread, so the event loop
 * stays free. At most one `wait()` is outstanding at a time.
 *
 * @example
 * ```ts
 * import type { CompletionWaiter } from "./types.ts";
 * declare const waiter: CompletionWaiter;
 * const result = await waiter.wait(); // >= 0, or -errno
 * ```
 */
export interface CompletionWaiter {
  /**
   * Resolves once the ring's CQ holds at least one completion (the raw
   * io_uring_enter result: >= 0, or -errno).
   */
  wait(): Promise<number>;
  /** Releases the thread; call only when no wait() is outstanding. */
  close(): void;
  /**
   * Whether wake-ups can be handled back to back ahead of due timers, so a
   * steady stream of completions may keep timers waiting unless the ring
   * holds the waiter back now and then. True on Bun (Atomics.waitAsync);
   * false on Deno, whose FFI call results come back through the event loop
   * with timers in between.
   */
  readonly canStarveTimers: boolean;
}

/**
 * The libc calls the completion poller and the blocking-call pool make on
 * the JS thread to steer their threads: eventfds and native memory.
 *
 * @example
 * ```ts
 * import type { ThreadLibc } from "./types.ts";
 * declare const libc: ThreadLibc;
 * const fd = libc.nonblockingEventfd();
 * ```
 */
export interface ThreadLibc {
  /** eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): an fd, or -1. */
  nonblockingEventfd(): number;
  read(fd: number, address: number, length: number): number;
  write(fd: number, address: number, length: number): number;
  close(fd: number): number;
  malloc(size: number): number;
  free(address: number): void;
  memoryAt(address: number, length: number): ArrayBuffer;
  addressOf(view: ArrayBufferView): number;
}

/**
 * The one blocking call of the shared completion waiter: libc's
 * `poll(fds, nfds, -1)` made on another thread.
 *
 * @example
 * ```ts
 * import type { PollThread } from "./types.ts";
 * declare const thread: PollThread;
 * declare const pollfds: number; // malloc'd struct pollfd[2]
 * await thread.poll(pollfds, 2); // ready count, or -1
 * ```
 */
export interface PollThread {
  /**
   * poll(address, nfds, -1) on the thread; resolves to its result. The
   * array must be native memory that outlives the call (the kernel writes
   * the revents back when it returns).
   */
  poll(address: number, nfds: number): Promise<number>;
  /** See {@linkcode CompletionWaiter.canStarveTimers}. */
  readonly canStarveTimers: boolean;
}

/**
 * The calls a {@linkcode BlockingIo} pool runs (libc names). `read`/`write`
 * with offset -1 use the current file position.
 *
 * @example
 * ```ts
 * import type { BlockingOp } from "./types.ts";
 * const op: BlockingOp = "pread";
 * ```
 */
export type BlockingOp =
  | "pread"
  | "pwrite"
  | "preadv"
  | "pwritev"
  | "fsync"
  | "fdatasync"
  | "openat"
  | "close"
  | "statx"
  | "fallocate"
  | "ftruncate"
  | "copy_file_range";

/**
 * Per-call options of {@linkcode BlockingIo.call}.
 *
 * @example
 * ```ts
 * import type { BlockingCallOptions } from "./types.ts";
 * const o: BlockingCallOptions = { signal: AbortSignal.timeout(100) };
 * ```
 */
export interface BlockingCallOptions {
  /**
   * Cancels the call: a queued one never runs, a running read or write on
   * a pipe, socket or tty stops without consuming anything, and one stuck
   * elsewhere is given up on after a short grace period. The promise then
   * resolves to -ECANCELED (or to the call's result, when it finished
   * first).
   */
  signal?: AbortSignal;
  /**
   * Runs once no thread will touch the call's memory again: when the call
   * has returned, or when it never started.
   */
  released?: () => void;
}

/**
 * A small pool of threads that make blocking file system calls, so the JS
 * thread never waits on one. Arguments are numbers (fds, raw addresses of
 * memory the caller keeps alive until `released` runs, lengths, offsets);
 * the result is the call's return value, or `-errno` (errno is read on the
 * thread that made the call).
 *
 * @example
 * ```ts
 * import type { BlockingIo } from "./types.ts";
 * declare const io: BlockingIo;
 * const res = await io.call("fsync", [3]); // 0, or -errno
 * ```
 */
export interface BlockingIo {
  /** Runs `op(...args)` on a pool thread; resolves to its result or -errno. */
  call(
    op: BlockingOp,
    args: readonly number[],
    options?: BlockingCallOptions,
  ): Promise<number>;
  /** Calls started and not yet returned (or given up on). */
  readonly running: number;
  /** Threads started and not yet stopped, those given up on included. */
  readonly threads: number;
  /**
   * Stops the threads. Idle ones stop now; running calls are cancelled as
   * by their signal, and each thread stops when its call returns, so the
   * process is not held open by a call that can be interrupted.
   */
  close(): void;
}

/**
 * What the runtime files add to the neutral worker pool: how to start a
 * module Worker and whether an idle one keeps the process alive.
 *
 * @example
 * ```ts
 * import type { PoolWorker } from "./types.ts";
 * declare const w: PoolWorker;
 * w.setBusy(true);
 * ```
 */
export interface PoolWorker {
  /** The Worker itself. */
  readonly worker: Worker;
  /**
   * Busy workers keep the process alive, idle ones should not. Bun can
   * unref a Worker; Deno cannot, so its pool stops idle workers instead.
   */
  setBusy(busy: boolean): void;
  /** Whether an idle worker still keeps the process alive. */
  readonly idleKeepsAlive: boolean;
}
