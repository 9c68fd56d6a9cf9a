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
import { blockingIo, cachedAddress } from "../ffi/mod.ts";
import type { BlockingIo } from "../ffi/mod.ts";
import {
  checkRegisteredBuffers,
  PROMISE_OPTION_NAMES,
  type RegisteredBuffersOption,
  RING_OPTION_NAMES,
  type RingOptions,
} from "./setup.ts";
import { RingClosedError, UringError } from "./errors.ts";
import {
  FallbackUnsupportedError,
  IoUringUnavailableError,
  type UnavailableKind,
} from "./setup_errors.ts";
import { checkInteger, checkOptions } from "./validate.ts";
import { timeoutError } from "./deadlines.ts";
import { attributeNames } from "./attributes.ts";
import { AsyncRing, type OpOptions } from "./async_ring.ts";
import { type OpRequest, snapshotBuffers } from "./ops.ts";
import { EBUSY, ECANCELED, EFAULT, ENXIO } from "../structs/errno.ts";
import { finishIo, heldRequest, RequestMemory } from "./io_memory.ts";
import { StagingPool } from "../memory/staging.ts";
import { allocateBuffer } from "../memory/owned.ts";

/**
 * Options every Promise method of {@linkcode FallbackRing} takes: the same
 * as `Ring`'s.
 *
 * @example
 * ```ts
 * import type { FallbackOpOptions } from "./fallback.ts";
 * const o: FallbackOpOptions = { timeoutMs: 100 };
 * ```
 */
export type FallbackOpOptions = OpOptions;

/** Option names `Ring` accepts at setup; the fallback accepts and ignores them. */
const FALLBACK_SETUP_OPTION_NAMES = [
  ...RING_OPTION_NAMES,
  ...PROMISE_OPTION_NAMES,
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
  /** Accepted so `Ring.open({ fallback: true })` options pass through. */
  fallback?: boolean;
  /** Threads making blocking calls (default 4, like libuv's pool). */
  threads?: number;
  /** Accepted so `Ring` options pass through; the fallback never waits inline. */
  inlineWaitBudgetUs?: number;
  /** Accepted so `Ring` options pass through; the pool makes every call. */
  readNow?: boolean;
  /**
   * Accepted (and validated) so `Ring` options pass through; nothing is
   * registered: `buffer()` gives ordinary library-owned buffers of this
   * size and every request stays a plain pread/pwrite.
   */
  registeredBuffers?: RegisteredBuffersOption;
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
 * await ring.closeFd(fd);
 * ```
 */
export class FallbackRing extends AsyncRing {
  /** Which engine serves the requests. */
  readonly backend = "fallback" as const;
  /** Why io_uring could not be used, when this ring replaced one. */
  readonly setupError: IoUringUnavailableError | undefined;
  readonly #io: BlockingIo;
  readonly #live = new Set<Request>();
  #pendingCount = 0;
  #closed = false;
  #buffers: readonly ArrayBufferView[] | null = null;
  readonly #bufferSize: number;
  /** Staging for caller-owned buffers; zero-copy for library-owned ones. */
  readonly #memory = new RequestMemory(new StagingPool());

  /** `setupError` is why io_uring was not used, when replacing a ring. */
  constructor(
    options: FallbackRingOptions = {},
    setupError?: IoUringUnavailableError,
  ) {
    super();
    checkOptions(options, FALLBACK_SETUP_OPTION_NAMES, "Ring options");
    if (options.entries !== undefined) {
      checkInteger(options.entries, "entries", 1, 32768);
    }
    const threads = options.threads === undefined
      ? 4
      : checkInteger(options.threads, "threads", 1, 64);
    this.#bufferSize = checkRegisteredBuffers(options.registeredBuffers)
      ?.size ?? 4096;
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
    const list = snapshotBuffers(buffers, "buffers");
    if (this.#buffers !== null) {
      throw new UringError(EBUSY, {
        op: "register_buffers",
        detail: "buffers are registered already: unregister them first",
      });
    }
    this.#buffers = list;
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

  /**
   * A zero-filled, library-owned buffer of `size` bytes (default: the
   * `registeredBuffers` size, else 4096): `allocateBuffer(size)`, since the
   * fallback registers nothing.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing({ registeredBuffers: { count: 2, size: 8192 } });
   * ring.buffer().byteLength; // 8192
   * ```
   */
  buffer(size?: number): Uint8Array {
    return allocateBuffer(
      size === undefined
        ? this.#bufferSize
        : checkInteger(size, "size", 0, 2 ** 31),
    );
  }

  /**
   * Always -1: the fallback has no fixed-buffer table of its own.
   *
   * @example
   * ```ts
   * import { FallbackRing } from "./fallback.ts";
   * await using ring = new FallbackRing();
   * ring.fixedBufferIndex(ring.buffer()); // -1
   * ```
   */
  fixedBufferIndex(_view: ArrayBufferView): number {
    return -1;
  }

  /** Closes the ring at scope end (`using`); nothing to wait for. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.#shutdown();
  }

  /**
   * Closes the ring: requests not yet settled reject with
   * `RingClosedError`, and the pool threads stop (a thread inside a call
   * stops when the call returns).
   */
  protected closeRing(): Promise<void> {
    if (this.#closed) return Promise.reject(new RingClosedError("close"));
    this.#shutdown();
    return Promise.resolve();
  }

  // ---------------------------------------------------------- the machinery

  /**
   * Runs the row's blocking equivalent on a pool thread. An attribute is
   * refused (dropping it would drop the integrity checks silently); a
   * fixed-buffer request is checked against the registration as the
   * kernel would (EFAULT).
   *
   * @ignore
   */
  protected submitRequest(
    req: OpRequest,
    options: OpOptions | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const name = req.spec.name;
    if (this.#closed) return Promise.reject(new RingClosedError(name));
    if (req.spec.attributes && options !== undefined) {
      for (const attribute of attributeNames()) {
        if ((options as Record<string, unknown>)[attribute] !== undefined) {
          return Promise.reject(new FallbackUnsupportedError(name, attribute));
        }
      }
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (req.bufIndex >= 0) {
      const outside = this.#outsideRegistered(req);
      if (outside !== undefined) return Promise.reject(outside);
    }
    const blocking = req.spec.blocking;
    // Nothing to call (a NOP): there is no kernel to round-trip through.
    if (blocking === null) return Promise.resolve(0);
    // The pool thread's call plays the CQE's part: staged memory and
    // retained regions are let go only when it returns.
    const memory = this.#memory.hold(req, null);
    const [call, args] = blocking(heldRequest(req, memory));
    const fd = req.fd >= 0 ? req.fd : undefined;
    return new Promise<unknown>((resolve, reject) => {
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
          () => request.fail(timeoutError(name, timeoutMs)),
          timeoutMs,
        );
      }
      // One holder per request: two requests may share a buffer. It goes
      // when the thread has let go of the memory, which may be after the
      // request settled (a call given up on, or the ring closed). The pool
      // answers before it calls `released`; a real result copies a staged
      // read out and lets the memory go in the answer's handler, an answer
      // without one (given up on, cancelled, pool closed) lets it go when
      // the thread has let go of it, whichever of the two comes last.
      const holder = { keep: req.keep, memory };
      memoryInUse.add(holder);
      let threadDone = false;
      let answeredWithoutResult = false;
      const finishMemory = (res: number, deliver: boolean): unknown => {
        if (holder.memory === null) return null;
        const failure = finishIo(holder.memory, res, deliver);
        holder.memory = null;
        return failure;
      };
      const released = () => {
        threadDone = true;
        memoryInUse.delete(holder);
        if (answeredWithoutResult) finishMemory(-ECANCELED, false);
      };
      const noResult = () => {
        answeredWithoutResult = true;
        if (threadDone) finishMemory(-ECANCELED, false);
      };
      this.#io.call(call, args, { signal: cancel.signal, released }).then(
        (res) => {
          if (res === -ECANCELED && cancel.signal.aborted) {
            noResult();
            settle(() => reject(reason));
            return;
          }
          const failure = finishMemory(res, !request.settled);
          settle(() => {
            if (failure !== null) {
              reject(failure);
            } else if (res < 0) {
              reject(UringError.from(res, { op: name, fd, path: req.path }));
            } else {
              resolve(req.transform ? req.transform(res) : res);
            }
          });
        },
        (error) => {
          noResult();
          settle(() =>
            reject(this.#closed ? new RingClosedError(name) : error)
          );
        },
      );
    });
  }

  /** Why `req`'s buffer is not inside its registered buffer, or undefined. */
  #outsideRegistered(req: OpRequest): UringError | undefined {
    const name = req.spec.name;
    const registered = this.#buffers?.[req.bufIndex];
    if (registered === undefined) {
      return new UringError(EFAULT, {
        op: name,
        fd: req.fd,
        detail: `no buffer is registered at index ${req.bufIndex}`,
      });
    }
    const base = cachedAddress(registered);
    if (
      req.len > 0 &&
      (req.addr < base || req.addr + req.len > base + registered.byteLength)
    ) {
      return new UringError(EFAULT, {
        op: name,
        fd: req.fd,
        detail: `buf is not inside registered buffer ${req.bufIndex}`,
      });
    }
    return undefined;
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
    this.#memory.close();
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
