/**
 * `FallbackRing`: the Promise API of `Ring` without io_uring, for hosts that
 * block it (sysctl, seccomp, old kernels). Every request is the plain libc
 * call (pread, pwritev, fsync, openat, statx, ...) made on a small thread
 * pool (`blockingIo` in ffi/), so the event loop never blocks; it is slower
 * than a ring and cannot carry read/write attributes, so a `pi` option is
 * refused instead of being silently dropped.
 *
 * An abort or timeout cancels the call on its thread: a read or write on a
 * pipe, socket or tty stops before it consumes anything (the thread waits
 * in poll on the fd and a cancel eventfd), and the request settles with
 * the thread's answer, as a ring's cancel does; a call stuck where no
 * cancel reaches is given up on after a short grace period, its buffer
 * kept alive until it returns. The liburing-style low-level methods
 * (`prep*`, `submit`, `peekCqe`) do not exist.
 *
 * @module
 */
import {
  addressNumber,
  blockingIo,
  cachedAddress,
  cString,
} from "../ffi/mod.ts";
import type { BlockingIo, BlockingOp } from "../ffi/mod.ts";
import { buildIovecs, RING_OPTION_NAMES, type RingOptions } from "./core.ts";
import { RingClosedError, UringError } from "./errors.ts";
import {
  FallbackUnsupportedError,
  IoUringUnavailableError,
  type UnavailableKind,
} from "./setup_errors.ts";
import {
  checkBuffer,
  checkFd,
  checkInteger,
  checkOffset,
  checkOptions,
  OP_OPTION_NAMES,
  openatArguments,
  statxArguments,
} from "./validate.ts";
import { attributeNames } from "./attributes.ts";
import { type Statx, StatxView } from "../structs/statx.ts";
import { O_CLOEXEC } from "../structs/constants.ts";
import { forgetFd } from "../sys/fd.ts";
import { EBUSY, ECANCELED, EFAULT } from "../structs/errno.ts";

/** errno ENXIO: what the kernel answers when no buffers are registered. */
const ENXIO = 6;

/**
 * Options every Promise method of {@linkcode FallbackRing} takes (the same
 * as `Ring`'s `OpOptions`).
 *
 * @example
 * ```ts
 * import type { FallbackOpOptions } from "./fallback.ts";
 * const o: FallbackOpOptions = { timeoutMs: 100 };
 * ```
 */
export interface FallbackOpOptions {
  /** Aborting rejects the request with the signal's reason. */
  signal?: AbortSignal;
  /** Rejects with a `TimeoutError` after this many ms. */
  timeoutMs?: number;
}

/** Option names `Ring` accepts at setup; the fallback accepts and ignores them. */
const FALLBACK_SETUP_OPTION_NAMES = [
  ...RING_OPTION_NAMES,
  "fallback",
  "threads",
  "inlineWaitBudgetUs",
];

/**
 * Setup options of {@linkcode FallbackRing}: `Ring`'s options (validated,
 * otherwise ignored) plus the pool size.
 *
 * @example
 * ```ts
 * import type { FallbackRingOptions } from "./fallback.ts";
 * const o: FallbackRingOptions = { entries: 256, threads: 8 };
 * ```
 */
export interface FallbackRingOptions extends RingOptions {
  /** Accepted so `new Ring({ fallback: true })` options pass through. */
  fallback?: boolean;
  /** Threads making blocking calls (default 4, like libuv's pool). */
  threads?: number;
  /** Accepted so `Ring` options pass through; the fallback never waits inline. */
  inlineWaitBudgetUs?: number;
}

// Memory a pool thread may still write into, kept reachable until its call
// returns, even if the request was aborted or the ring closed meanwhile.
const memoryInUse = new Set<object>();

/** One request between its method and its settlement. */
interface Request {
  settled: boolean;
  /** Cancels the call; the request settles with the thread's answer. */
  fail(reason: unknown): void;
  /** Rejects now (the ring is closing), whatever the thread answers. */
  rejectNow(reason: unknown): void;
}

/**
 * The Promise API of `Ring` on a thread pool: the backend used when
 * io_uring is unavailable. File descriptors are real OS fds.
 *
 * @example
 * ```ts
 * import { FallbackRing } from "./fallback.ts";
 * import { O_CREAT, O_RDWR } from "../structs/constants.ts";
 * await using ring = new FallbackRing();
 * const fd = await ring.openat("/dev/shm/uring-fallback-example", O_RDWR | O_CREAT);
 * await ring.write(fd, new TextEncoder().encode("hello"), 0);
 * const buf = new Uint8Array(5);
 * await ring.read(fd, buf, 0);
 * await ring.close(fd);
 * ```
 */
export class FallbackRing {
  /** Which engine serves the requests. */
  readonly backend = "fallback" as const;
  /** Why io_uring could not be used, when this ring replaced one. */
  readonly setupError: IoUringUnavailableError | undefined;
  readonly #io: BlockingIo;
  readonly #live = new Set<Request>();
  #pendingCount = 0;
  #closed = false;
  #buffers: readonly ArrayBufferView[] | null = null;

  /** `setupError` is why io_uring was not used, when replacing a ring. */
  constructor(
    options: FallbackRingOptions = {},
    setupError?: IoUringUnavailableError,
  ) {
    checkOptions(options, FALLBACK_SETUP_OPTION_NAMES, "Ring options");
    if (options.entries !== undefined) {
      checkInteger(options.entries, "entries", 1, 32768);
    }
    const threads = options.threads === undefined
      ? 4
      : checkInteger(options.threads, "threads", 1, 64);
    this.setupError = setupError;
    this.#io = blockingIo(threads);
  }

  /** Requests not yet settled. */
  get pending(): number {
    return this.#pendingCount;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads into `buf` from `offset` (-1: the current file position).
   * Resolves to the number of bytes read.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * const n = await ring.read(openFd("/etc/hostname", 0), new Uint8Array(64), 0);
   * ```
   */
  read(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#rw("read", "pread", fd, buf, offset, options);
  }

  /**
   * Writes `buf` at `offset` (-1: the current file position). Resolves to
   * the number of bytes written.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * const fd = openFd("/dev/shm/uring-fb-write", 0o102);
   * await ring.write(fd, new Uint8Array([1, 2, 3]), 0);
   * ```
   */
  write(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#rw("write", "pwrite", fd, buf, offset, options);
  }

  /** read/write: one pread/pwrite of `buf` on a pool thread. */
  #rw(
    op: "read" | "write",
    call: "pread" | "pwrite",
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options: FallbackOpOptions | undefined,
  ): Promise<number> {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    return this.#run(
      op,
      options,
      true,
      call,
      [fd, cachedAddress(buf), buf.byteLength, off],
      buf,
      fd,
    );
  }

  /**
   * Scatter read into `buffers` from `offset`. Resolves to the total read.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * await ring.readv(openFd("/etc/hostname", 0), [new Uint8Array(2), new Uint8Array(30)], 0);
   * ```
   */
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#vectored("readv", "preadv", fd, buffers, offset, options);
  }

  /**
   * Gather write of `buffers` at `offset`. Resolves to the total written.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * const fd = openFd("/dev/shm/uring-fb-writev", 0o102);
   * await ring.writev(fd, [new Uint8Array([1]), new Uint8Array([2, 3])], 0);
   * ```
   */
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#vectored("writev", "pwritev", fd, buffers, offset, options);
  }

  /**
   * A plain read into `buf`, which must lie inside registered buffer
   * `bufIndex` (checked as the kernel would: EFAULT otherwise).
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * await ring.readFixed(openFd("/etc/hostname", 0), pool.subarray(0, 4096), 0, 0);
   * ```
   */
  readFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#fixed(
      "read_fixed",
      "pread",
      fd,
      buf,
      offset,
      bufIndex,
      options,
    );
  }

  /**
   * A plain write of `buf`, which must lie inside registered buffer `bufIndex`.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * const fd = openFd("/dev/shm/uring-fb-wf", 0o102);
   * await ring.writeFixed(fd, pool.subarray(0, 4096), 0, 0);
   * ```
   */
  writeFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: FallbackOpOptions,
  ): Promise<number> {
    return this.#fixed(
      "write_fixed",
      "pwrite",
      fd,
      buf,
      offset,
      bufIndex,
      options,
    );
  }

  /**
   * fsync(2) on a pool thread.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * await ring.fsync(openFd("/dev/shm/uring-fb-sync", 0o101));
   * ```
   */
  fsync(fd: number, options?: FallbackOpOptions): Promise<number> {
    checkFd(fd);
    return this.#run("fsync", options, false, "fsync", [fd], null, fd);
  }

  /**
   * fdatasync(2) on a pool thread.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * await ring.fdatasync(openFd("/dev/shm/uring-fb-dsync", 0o101));
   * ```
   */
  fdatasync(fd: number, options?: FallbackOpOptions): Promise<number> {
    checkFd(fd);
    return this.#run("fsync", options, false, "fdatasync", [fd], null, fd);
  }

  /**
   * openat(2): resolves to a real OS file descriptor. O_CLOEXEC is always
   * added.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing();
   * const fd = await ring.openat("/etc/hostname", 0);
   * await ring.close(fd);
   * ```
   */
  openat(
    path: string,
    flags: number,
    mode = 0o644,
    options?: FallbackOpOptions & { dirfd?: number },
  ): Promise<number> {
    const { pathBytes: bytes, dirfd } = openatArguments(
      path,
      flags,
      mode,
      options,
    );
    return this.#run(
      "openat",
      options,
      false,
      "openat",
      [dirfd, addressNumber(bytes), flags | O_CLOEXEC, mode],
      bytes,
      undefined,
      ["dirfd"],
    ).then((opened) => {
      // A reused descriptor number: what directIoHint knew is stale.
      forgetFd(opened);
      return opened;
    });
  }

  /**
   * close(2) of `fd`; with no argument, closes the ring itself: requests
   * not yet settled reject with `RingClosedError`, and the pool threads
   * stop (a thread inside a call stops when the call returns).
   */
  close(): Promise<void>;
  /** close(2) of `fd` on a pool thread; resolves to 0. */
  close(fd: number, options?: FallbackOpOptions): Promise<number>;
  close(fd?: number, options?: FallbackOpOptions): Promise<number | void> {
    if (fd === undefined) {
      if (this.#closed) return Promise.reject(new RingClosedError("close"));
      this.#shutdown();
      return Promise.resolve();
    }
    checkFd(fd);
    forgetFd(fd);
    return this.#run("close", options, false, "close", [fd], null, fd);
  }

  /**
   * statx(2) of a path or an open fd. Resolves to the same {@linkcode Statx}
   * object as `Ring.statx`.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing();
   * const st = await ring.statx("/etc/hostname");
   * ```
   */
  statx(
    target: string | number,
    options?: FallbackOpOptions & { flags?: number; mask?: number },
  ): Promise<Statx> {
    const { dirfd, path, flags, mask } = statxArguments(target, options);
    const pathBytes = cString(path);
    const out = new Uint8Array(StatxView.SIZE);
    return this.#run(
      "statx",
      options,
      false,
      "statx",
      [dirfd, addressNumber(pathBytes), flags, mask, addressNumber(out)],
      [pathBytes, out],
      typeof target === "number" ? target : undefined,
      ["flags", "mask"],
      () => new StatxView(out).toObject(),
    );
  }

  /**
   * fallocate(2) on a pool thread.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * import { openFd } from "../sys/fd.ts";
   * await using ring = new FallbackRing();
   * await ring.fallocate(openFd("/dev/shm/uring-fb-falloc", 0o102), 0, 0, 1 << 20);
   * ```
   */
  fallocate(
    fd: number,
    mode: number,
    offset: number | bigint,
    length: number | bigint,
    options?: FallbackOpOptions,
  ): Promise<number> {
    checkFd(fd);
    checkInteger(mode, "mode", 0, 0xff);
    const off = checkOffset(offset, "offset", false);
    const len = checkOffset(length, "length", false);
    return this.#run(
      "fallocate",
      options,
      false,
      "fallocate",
      [fd, mode, off, len],
      null,
      fd,
    );
  }

  /**
   * Resolves to 0 (there is no kernel to round-trip through).
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing();
   * await ring.nop(); // 0
   * ```
   */
  nop(options?: FallbackOpOptions): Promise<number> {
    const checked = this.#begin("nop", options, false, []);
    if (checked instanceof Promise) return checked as Promise<number>;
    return Promise.resolve(0);
  }

  /**
   * Remembers `buffers` for `readFixed`/`writeFixed` (buffer i is `bufIndex`
   * i), with the same checks as the kernel's registration. Nothing is
   * pinned, so RLIMIT_MEMLOCK does not apply.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing();
   * ring.registerBuffers([new Uint8Array(4096)]);
   * ```
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    if (this.#closed) throw new RingClosedError("register_buffers");
    buildIovecs(buffers, "buffers");
    if (this.#buffers !== null) {
      throw new UringError(EBUSY, {
        op: "register_buffers",
        detail: "buffers are registered already: unregister them first",
      });
    }
    this.#buffers = [...buffers];
  }

  /** Forgets the registered buffers (ENXIO when there are none, as the kernel says). */
  unregisterBuffers(): void {
    if (this.#closed) throw new RingClosedError("unregister_buffers");
    if (this.#buffers === null) {
      throw new UringError(ENXIO, { op: "unregister_buffers" });
    }
    this.#buffers = null;
  }

  /** The registered buffers, or null. */
  get registeredBuffers(): readonly ArrayBufferView[] | null {
    return this.#buffers;
  }

  /** Closes the ring at scope end (`using`); nothing to wait for. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.#shutdown();
  }

  /** `await using ring = new FallbackRing()` closes it at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) await this.close();
  }

  // ---------------------------------------------------------- the machinery

  #vectored(
    name: string,
    call: BlockingOp,
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options: FallbackOpOptions | undefined,
  ): Promise<number> {
    checkFd(fd);
    const iovecs = buildIovecs(buffers);
    const off = checkOffset(offset);
    return this.#run(
      name,
      options,
      true,
      call,
      [
        fd,
        addressNumber(iovecs),
        buffers.length,
        off,
      ],
      [iovecs, [...buffers]],
      fd,
    );
  }

  #fixed(
    name: string,
    call: BlockingOp,
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options: FallbackOpOptions | undefined,
  ): Promise<number> {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    checkInteger(bufIndex, "bufIndex", 0, 0xffff);
    const checked = this.#begin(name, options, true, []);
    if (checked instanceof Promise) return checked as Promise<number>;
    const registered = this.#buffers?.[bufIndex];
    const address = cachedAddress(buf);
    if (registered === undefined) {
      return Promise.reject(
        new UringError(EFAULT, {
          op: name,
          fd,
          detail: `no buffer is registered at index ${bufIndex}`,
        }),
      );
    }
    const base = cachedAddress(registered);
    if (
      buf.byteLength > 0 &&
      (address < base ||
        address + buf.byteLength > base + registered.byteLength)
    ) {
      return Promise.reject(
        new UringError(EFAULT, {
          op: name,
          fd,
          detail: `buf is not inside registered buffer ${bufIndex}`,
        }),
      );
    }
    return this.#run(
      name,
      options,
      true,
      call,
      [
        fd,
        address,
        buf.byteLength,
        off,
      ],
      buf,
      fd,
    );
  }

  /**
   * Checks the ring and the per-request options. Returns a rejected promise
   * when the request must not start, otherwise the parsed options.
   */
  #begin(
    name: string,
    options: FallbackOpOptions | undefined,
    takesAttributes: boolean,
    extraOptions: readonly string[],
  ): Promise<never> | { signal?: AbortSignal; timeoutMs: number } {
    if (this.#closed) return Promise.reject(new RingClosedError(name));
    if (options === undefined) return { timeoutMs: 0 };
    const attributes = takesAttributes ? attributeNames() : [];
    checkOptions(
      options,
      [...OP_OPTION_NAMES, ...extraOptions, ...attributes],
      `${name} options`,
    );
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("signal must be an AbortSignal");
    }
    let timeoutMs = 0;
    if (options.timeoutMs !== undefined) {
      const t = options.timeoutMs;
      if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
        throw new RangeError(`timeoutMs must be a positive number, got ${t}`);
      }
      timeoutMs = t;
    }
    for (const attribute of attributes) {
      if ((options as Record<string, unknown>)[attribute] !== undefined) {
        // Dropping the attribute would drop the integrity checks silently.
        return Promise.reject(new FallbackUnsupportedError(name, attribute));
      }
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return { signal, timeoutMs };
  }

  #run<T = number>(
    name: string,
    options: FallbackOpOptions | undefined,
    takesAttributes: boolean,
    call: BlockingOp,
    args: readonly number[],
    keep: object | null,
    fd: number | undefined,
    extraOptions: readonly string[] = [],
    transform?: () => T,
  ): Promise<T> {
    const checked = this.#begin(name, options, takesAttributes, extraOptions);
    if (checked instanceof Promise) return checked;
    const { signal, timeoutMs } = checked;
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      // An abort or timeout cancels the call on its thread and the request
      // settles with the thread's answer: -ECANCELED (nothing was consumed)
      // rejects with `reason`, a result that came first resolves, as a
      // ring's cancel that loses the race does.
      const cancel = new AbortController();
      let reason: unknown;
      const request: Request = {
        settled: false,
        fail: (why) => {
          if (request.settled || cancel.signal.aborted) return;
          reason = why;
          cancel.abort();
        },
        rejectNow: (why) => settle(() => reject(why)),
      };
      const settle = (action: () => void) => {
        if (request.settled) return;
        request.settled = true;
        this.#pendingCount--;
        this.#live.delete(request);
        if (timer !== undefined) clearTimeout(timer);
        if (onAbort !== undefined) {
          signal!.removeEventListener("abort", onAbort);
        }
        action();
      };
      this.#pendingCount++;
      this.#live.add(request);
      if (signal !== undefined) {
        onAbort = () => request.fail(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }
      if (timeoutMs > 0) {
        timer = setTimeout(
          () =>
            request.fail(
              new DOMException(
                `${name} timed out after ${timeoutMs} ms`,
                "TimeoutError",
              ),
            ),
          timeoutMs,
        );
      }
      // One holder per request: two requests may share a buffer. It goes
      // when the thread has let go of the memory, which may be after the
      // request settled (a call given up on, or the ring closed).
      const holder = { keep };
      memoryInUse.add(holder);
      const released = () => memoryInUse.delete(holder);
      this.#io.call(call, args, { signal: cancel.signal, released }).then(
        (res) =>
          settle(() => {
            if (res === -ECANCELED && cancel.signal.aborted) {
              reject(reason);
            } else if (res < 0) {
              reject(UringError.from(res, { op: name, fd }));
            } else {
              resolve(transform ? transform() : res as T);
            }
          }),
        (error) =>
          settle(() =>
            reject(this.#closed ? new RingClosedError(name) : error)
          ),
      );
    });
  }

  #shutdown(): void {
    this.#closed = true;
    for (const request of [...this.#live]) {
      // Cancelled on its thread (the pool closing cancels every call) and
      // rejected now: the ring is closed, whatever the thread answers.
      request.rejectNow(new RingClosedError("close"));
    }
    this.#buffers = null;
    this.#io.close();
  }
}

/**
 * Setup failures after which the fallback backend may stand in: io_uring
 * itself is unavailable to this process (sysctl, group, seccomp, a kernel
 * without it, a security module). Not EINVAL ("flags": a bad queue size,
 * SQPOLL CPU or flag bit is the caller's mistake, which a fallback would
 * hide) nor ENOMEM/EMFILE (limits the caller can raise).
 */
const FALLBACK_KINDS: ReadonlySet<UnavailableKind> = new Set<UnavailableKind>([
  "disabled",
  "group",
  "seccomp",
  "unsupported",
  "denied",
]);

/**
 * The fallback for a failed ring setup, when the caller asked for one
 * (`options.fallback === true`) and the failure means io_uring cannot be
 * used here (sysctl, seccomp, a kernel without io_uring, a security
 * module); otherwise `undefined`, and the caller rethrows `error`, which
 * names the real cause.
 *
 * @example
 * ```ts
 * import { createFallbackIfAllowed } from "./fallback.ts";
 * import { RingCore } from "./core.ts";
 * let ring;
 * try {
 *   ring = new RingCore();
 * } catch (error) {
 *   ring = createFallbackIfAllowed(error, { fallback: true });
 *   if (ring === undefined) throw error;
 * }
 * ```
 */
export function createFallbackIfAllowed(
  error: unknown,
  options: unknown,
): FallbackRing | undefined {
  if (options === null || typeof options !== "object") return undefined;
  if ((options as FallbackRingOptions).fallback !== true) return undefined;
  if (!(error instanceof IoUringUnavailableError)) return undefined;
  if (!FALLBACK_KINDS.has(error.kind)) return undefined;
  return new FallbackRing(options as FallbackRingOptions, error);
}
