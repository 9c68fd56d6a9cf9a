/**
 * `Ring`: the Promise API on io_uring. It holds a `RingCore` (`ring.core`,
 * the liburing-style ring) and a `CompletionPump` (pump.ts: the completion
 * machinery, over the pending table and the backlog of pending.ts); the
 * operations themselves come from `AsyncRing` (async_ring.ts) over the
 * operation table (ops.ts).
 *
 * How a request travels: a Promise method validates its arguments, takes a
 * slot in the pending table (which keeps every buffer, iovec array and
 * attribute struct reachable until the completion), and either fills an SQE
 * right away or, when as many requests are in flight as the CQ can hold,
 * waits in the backlog in order. All SQEs filled in one tick go to the
 * kernel from a microtask: in one io_uring_enter, or, when they are mostly
 * O_DIRECT reads and writes, in enters of 4, so the disk starts on the
 * first while the rest are still being issued (the kernel plugs a batch).
 *
 * How completions come back, first on the JS thread itself: each flush
 * reaps what completed, and while requests are in flight and recent ones
 * completed within about 250 µs, sleeps in the kernel for the next one
 * (inline_chain.ts). Such a chain of flushes holds the thread for at most
 * 0.5 ms; then the event loop gets its turn. What is still in flight after
 * that goes to the ring's waiter: one thread per realm, shared by every
 * ring, sleeps in poll(2) until the ring's CQ is not empty
 * (ffi/completion_poller.ts; Deno: a `nonblocking` FFI call; Bun: a
 * Worker). When it wakes, the JS thread reaps every CQE, settles the
 * promises, refills the SQ from the backlog and starts a new chain. Nothing
 * runs and no thread spins while idle. Where the waiter's wake-ups can be
 * handled back to back ahead of due timers (Bun), the ring holds the waiter
 * back until the event loop has turned whenever it has not for 0.5 ms, so
 * timers keep their pace.
 *
 * One rule keeps the waiter from sleeping through a completion: while it is
 * armed, the JS thread never advances the CQ head, so any completion posted
 * after it went to sleep is still counted when it wakes.
 *
 * @module
 */
import { RingCore } from "./core.ts";
import {
  checkRegisteredBuffers,
  PROMISE_OPTION_NAMES,
  type RegisteredBuffersOption,
  type RingOptions,
} from "./setup.ts";
import type { OpRequest } from "./ops.ts";
import { AsyncRing, type DataOpOptions, type OpOptions } from "./async_ring.ts";
import { CompletionPump } from "./pump.ts";
import { type PendingOp, QUEUED } from "./pending.ts";
import { RingClosedError, UringError } from "./errors.ts";
import { checkInteger } from "./validate.ts";
import { EBUSY, EINVAL } from "../structs/errno.ts";
import {
  IORING_SETUP_IOPOLL,
  IORING_SETUP_SQPOLL,
} from "../structs/constants.ts";
import { createFallbackIfAllowed } from "./fallback.ts";
import { attributesFrom, type PackedAttributes } from "./attributes.ts";
import { requireRwAttr, targetOfFd, validatePiRequest } from "./pi_validate.ts";
import { RequestMemory } from "./io_memory.ts";
import { OPS } from "./ops.ts";
import { READ_NOW_MAX, readNow } from "../sys/read_now.ts";
import { memoryFileHint } from "../sys/fd.ts";
import { StagingPool } from "../memory/staging.ts";
import { fixedIndexOf, RegisteredPool } from "../memory/registered.ts";
import { allocateBuffer, ownedRegionOf } from "../memory/owned.ts";
import { addressNumber, cachedAddress } from "../ffi/mod.ts";

export type { DataOpOptions, OpOptions } from "./async_ring.ts";

/**
 * Setup flags the Promise API runs fastest with (measured: about 1.3-1.6x
 * the default flags on 4 KiB reads at depth 64, see README): completions
 * are not pushed at the JS thread with interrupts, and only one thread
 * submits. Used unless the caller sets any of them, or a raw `flags`.
 */
function withFastDefaults(options: RingSetupOptions): RingSetupOptions {
  if (options === null || typeof options !== "object") return options;
  const chosen = options.coopTaskrun !== undefined ||
    options.taskrunFlag !== undefined || options.singleIssuer !== undefined ||
    options.deferTaskrun !== undefined || options.sqpoll !== undefined ||
    options.flags !== undefined;
  if (chosen || !fastDefaultsSupported()) return options;
  return {
    coopTaskrun: true,
    taskrunFlag: true,
    singleIssuer: true,
    ...options,
  };
}

let fastDefaults: boolean | undefined;

/**
 * Whether this kernel takes the fast default flags (Linux 6.0+): asked once
 * per process with a one-entry ring, so an older kernel gets a ring with
 * the flags it has instead of an error.
 */
function fastDefaultsSupported(): boolean {
  if (fastDefaults === undefined) {
    try {
      new RingCore({
        entries: 1,
        coopTaskrun: true,
        taskrunFlag: true,
        singleIssuer: true,
      }).close();
      fastDefaults = true;
    } catch (error) {
      // Unavailable altogether: the real setup will say why.
      fastDefaults = !(error instanceof UringError && error.errno === EINVAL);
    }
  }
  return fastDefaults;
}

/**
 * Setup options of {@linkcode Ring}: those of `RingCore` plus the Promise
 * layer's.
 *
 * @example
 * ```ts
 * import { Ring, type RingSetupOptions } from "./ring.ts";
 * const options: RingSetupOptions = { entries: 128, fallback: true };
 * await using ring = Ring.open(options); // new Ring() refuses `fallback`
 * ```
 */
export interface RingSetupOptions extends RingOptions {
  /** `Ring.open` only: where io_uring is unavailable, a `FallbackRing` instead of an error. */
  fallback?: boolean;
  /** Threads of the fallback backend's pool (default 4). */
  threads?: number;
  /**
   * Microseconds a chain of inline completion handling may hold the JS
   * thread before the event loop gets its turn (default 500; 0: one
   * reaping pass per turn of the event loop and no sleeping in the kernel). The
   * default adapts by itself: the thread only sleeps in the kernel for
   * completions that recently came within about 250 µs (see docs/perf.md).
   */
  inlineWaitBudgetUs?: number;
  /**
   * Whether small reads (up to 256 KiB) of a tmpfs file, and of data in
   * the page cache while requests come one at a time, are done at once on
   * the JS thread with one system call, where that is faster than a trip
   * through the ring (default true; false on SQPOLL and IOPOLL rings).
   * Such a read never waits for a device: a tmpfs read that io_uring would
   * hand to a worker thread is a copy from memory, and a page-cached read
   * is what io_uring itself does inside the submit (sys/read_now.ts,
   * docs/perf.md). Its Promise settles like any other: while the ring's
   * chain budget lasts, or after the event loop has turned. false sends
   * every request through io_uring.
   */
  readNow?: boolean;
  /**
   * `count` buffers of `size` bytes that the ring allocates (library-owned
   * memory) and registers as its fixed-buffer table at setup. Reads and
   * writes whose memory is one of them go out as READ_FIXED / WRITE_FIXED
   * by themselves: buffers from {@linkcode Ring.buffer}, and caller-owned
   * buffers of up to `size` bytes, which are staged in a free one. The
   * pinned memory counts against RLIMIT_MEMLOCK: setup throws a
   * `MemlockError` (with the limit and the bytes needed) when the kernel
   * refuses it. The table then belongs to the ring: `registerBuffers`
   * refuses (EBUSY). The fallback backend accepts and ignores it.
   */
  registeredBuffers?: RegisteredBuffersOption;
}

/** Placeholder settle functions of a request until its Promise is made. */
const unsettled = (_: unknown): void => {};

/** The request {@linkcode promiseFor} is making a Promise for. */
let promiseTarget: PendingOp | undefined;

/**
 * One executor for every request's Promise: it runs synchronously inside
 * `new Promise`, so a module variable hands it the request, and no
 * closure (nor its context) is made per request (~100 bytes of the ~1 KB
 * a request allocated, docs/perf.md).
 */
function captureSettlers(
  resolve: (value: unknown) => void,
  reject: (reason: unknown) => void,
): void {
  promiseTarget!.resolve = resolve;
  promiseTarget!.reject = reject;
}

/** A Promise that `op.resolve` / `op.reject` settle. */
function promiseFor(op: PendingOp): Promise<unknown> {
  promiseTarget = op;
  const promise = new Promise<unknown>(captureSettlers);
  promiseTarget = undefined;
  return promise;
}

/**
 * One io_uring instance behind a Promise API that batches requests, keeps
 * their buffers alive and delivers completions without blocking the event
 * loop. The liburing-style ring under it is `ring.core`, a `RingCore`
 * (from `raw.ts`): use either its
 * CQ methods (`peekCqe`, `reap`, ...) or the Promise methods on one ring,
 * since once a Promise method has been called, the completion pump owns
 * the CQ.
 *
 * `new Ring()` always sets up io_uring (and throws, with the reason, where
 * it cannot); {@linkcode Ring.open} returns the thread-pool fallback
 * instead when asked to.
 *
 * @example
 * ```ts
 * import { O_CREAT, O_RDWR, Ring } from "../mod.ts";
 * await using ring = new Ring({ entries: 64 });
 * const fd = await ring.openat("/dev/shm/uring-example", O_RDWR | O_CREAT);
 * await ring.write(fd, new TextEncoder().encode("hello"), 0);
 * const buf = new Uint8Array(5);
 * await ring.read(fd, buf, 0);
 * await ring.closeFd(fd);
 * ```
 */
export class Ring extends AsyncRing {
  /**
   * The liburing-style ring under the Promise API (a `RingCore`, documented
   * with the low-level layer in `raw.ts`).
   *
   * @ignore
   */
  readonly core: RingCore;
  readonly #pump: CompletionPump;
  /** Staging for caller-owned buffers; zero-copy for library-owned ones. */
  readonly #memory: RequestMemory;
  /** The registered pool of the `registeredBuffers` option, or null. */
  readonly #registered: RegisteredPool | null;
  /** The `readNow` option, false on SQPOLL and IOPOLL rings. */
  readonly #readsNow: boolean;

  /** Which engine serves the Promise API. */
  readonly backend = "io_uring" as const;

  /**
   * Sets up an io_uring instance. Throws where io_uring cannot be used
   * here (`IoUringUnavailableError`, with the reason); see
   * {@linkcode Ring.open} for the fallback.
   */
  constructor(options: RingSetupOptions = {}) {
    super();
    if (options !== null && typeof options === "object") {
      if (options.deferTaskrun) {
        throw new TypeError(
          "Ring option deferTaskrun: the Promise API waits for completions on " +
            "another thread, which IORING_SETUP_DEFER_TASKRUN forbids; use " +
            "RingCore for a DEFER_TASKRUN ring driven from one thread",
        );
      }
      if (options.fallback !== undefined) {
        throw new TypeError(
          "Ring option fallback: new Ring() always sets up io_uring; " +
            "Ring.open({ fallback: true }) returns the fallback backend " +
            "where io_uring is unavailable",
        );
      }
    }
    const registered = checkRegisteredBuffers(options?.registeredBuffers);
    const readNow = options?.readNow ?? true;
    if (typeof readNow !== "boolean") {
      throw new TypeError(
        `Ring option readNow must be a boolean, got ${typeof readNow}`,
      );
    }
    this.core = new RingCore(withFastDefaults(options), PROMISE_OPTION_NAMES);
    this.#registered = null;
    if (registered !== undefined) {
      try {
        const pool = new RegisteredPool(registered.count, registered.size);
        // A refusal (RLIMIT_MEMLOCK: MemlockError) fails the setup.
        this.core.registerBuffers(pool.views());
        this.#registered = pool;
      } catch (error) {
        this.core.close();
        throw error;
      }
    }
    // In-place reads need the pump's checks around its own submits, and
    // reads done at once bypass its submits: neither on a ring whose SQ
    // thread submits (SQPOLL) or that polls (IOPOLL).
    const pumpSubmits =
      (this.core.flags & (IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL)) === 0;
    this.#memory = new RequestMemory(
      new StagingPool(),
      this.#registered,
      pumpSubmits,
    );
    this.#readsNow = readNow && pumpSubmits;
    const budgetUs = options?.inlineWaitBudgetUs === undefined
      ? undefined
      : checkInteger(
        options.inlineWaitBudgetUs,
        "inlineWaitBudgetUs",
        0,
        100_000,
      );
    this.#pump = new CompletionPump(
      this.core,
      (fd: number, data: Uint8Array, offset: number, options: DataOpOptions) =>
        this.read(fd, data, offset, options),
      budgetUs,
      this.#memory,
    );
  }

  /**
   * A ring with the Promise API: io_uring when it can be set up; with
   * `fallback: true`, where io_uring is unavailable (disabled by sysctl,
   * filtered by seccomp, too old a kernel), a `FallbackRing` on the
   * runtime's thread pool instead of an error. Argument mistakes are
   * errors either way.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = Ring.open({ fallback: true });
   * console.log(ring.backend); // "io_uring" or "fallback"
   * await ring.nop();
   * ```
   */
  static open(options: RingSetupOptions = {}): AsyncRing {
    let ringOptions = options;
    if (options !== null && typeof options === "object") {
      if (
        options.fallback !== undefined && typeof options.fallback !== "boolean"
      ) {
        throw new TypeError("Ring option fallback must be a boolean");
      }
      const { fallback: _, ...rest } = options;
      ringOptions = rest;
    }
    try {
      return new Ring(ringOptions);
    } catch (error) {
      const fallback = createFallbackIfAllowed(error, options);
      if (fallback === undefined) throw error;
      return fallback;
    }
  }

  /** Requests submitted or queued and not yet settled. */
  get pending(): number {
    return this.#pump.pending;
  }

  /** Whether the ring is closed. */
  get closed(): boolean {
    return this.core.closed;
  }

  /**
   * Registers `buffers` as fixed buffers (IORING_REGISTER_BUFFERS) for
   * `readFixed`/`writeFixed`; buffer i is `bufIndex` i.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * ring.registerBuffers([new Uint8Array(4096)]);
   * ```
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    this.#ownTable("register_buffers");
    this.core.registerBuffers(buffers);
  }

  /** Drops the fixed buffers. */
  unregisterBuffers(): void {
    this.#ownTable("unregister_buffers");
    this.core.unregisterBuffers();
  }

  /**
   * The buffers registered with `registerBuffers`, or null (also with the
   * `registeredBuffers` option, whose buffers are the ring's own: take
   * one with {@linkcode buffer}).
   */
  get registeredBuffers(): readonly ArrayBufferView[] | null {
    return this.#registered === null ? this.core.registeredBuffers : null;
  }

  /** With the `registeredBuffers` option the table is the ring's. */
  #ownTable(op: string): void {
    if (this.#registered !== null) {
      throw new UringError(EBUSY, {
        op,
        detail: "the ring's registeredBuffers option owns the fixed-buffer " +
          "table; take buffers of it with ring.buffer()",
      });
    }
  }

  /**
   * A zero-filled, library-owned buffer of `size` bytes (default: the
   * `registeredBuffers` size, else 4096), zero-copy like one from
   * `allocateBuffer`. With the `registeredBuffers` option and a free
   * registered buffer of at least `size` bytes, it is that registered
   * buffer: reads and writes on it through this ring are READ_FIXED /
   * WRITE_FIXED. Give it back with `releaseBuffer(buf)` (the registered
   * buffer then returns to the ring's pool); otherwise a registered one
   * stays taken. When none is free it is an ordinary owned buffer.
   *
   * @throws {RangeError} for a size above 2 GiB.
   * @example
   * ```ts
   * import { O_RDONLY, openFd, releaseBuffer, Ring } from "../mod.ts";
   * await using ring = new Ring({ registeredBuffers: { count: 4, size: 4096 } });
   * const buf = ring.buffer();
   * ring.fixedBufferIndex(buf); // 0: a registered buffer
   * const fd = openFd("/dev/zero", O_RDONLY);
   * await ring.read(fd, buf, 0); // a READ_FIXED
   * releaseBuffer(buf);
   * ```
   */
  buffer(size?: number): Uint8Array {
    const pool = this.#registered;
    const length = size === undefined
      ? pool?.size ?? 4096
      : checkInteger(size, "size", 0, 2 ** 31);
    return pool?.lend(length) ?? allocateBuffer(length);
  }

  /**
   * The index in this ring's fixed-buffer table of the registered buffer
   * `view` lies in (a buffer from {@linkcode buffer} with the
   * `registeredBuffers` option), or -1: reads and writes on `view` are
   * fixed-buffer requests exactly when this is not -1.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * ring.fixedBufferIndex(new Uint8Array(16)); // -1
   * ```
   */
  fixedBufferIndex(view: ArrayBufferView): number {
    const pool = this.#registered;
    const region = pool === null ? null : ownedRegionOf(view);
    if (region === null) return -1;
    return fixedIndexOf(
      pool!,
      region,
      addressNumber(view),
      view.byteLength,
    );
  }

  /**
   * Validates and packs the read/write attributes of a data request (null
   * when it has none). PI requests are checked against the kernel, the fd
   * (O_DIRECT, alignment) and the target's probed profile before anything
   * is submitted.
   */
  #attributes(
    req: OpRequest,
    options: DataOpOptions | undefined,
  ): PackedAttributes | null {
    if (options === undefined || options === null) return null;
    const attrs = attributesFrom(options, req.spec);
    if (attrs === null) return null;
    requireRwAttr(this.core.features);
    if (attrs.pi) {
      validatePiRequest({
        op: req.spec.name,
        fd: req.fd,
        data: req.data!,
        offset: req.off,
        pi: attrs.pi,
        features: this.core.features,
        target: targetOfFd(req.fd),
      });
    }
    return attrs;
  }

  // ----------------------------------------------------- to the pump

  /**
   * Takes a checked request into the pending table (and the SQ, or the
   * backlog).
   *
   * @ignore
   */
  protected submitRequest(
    req: OpRequest,
    options: OpOptions | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    if (this.core.closed || this.#pump.shuttingDown) {
      return Promise.reject(new RingClosedError(req.spec.name));
    }
    const attrs = req.spec.attributes ? this.#attributes(req, options) : null;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (
      // Reads without options were offered to readAtOnce already.
      options !== undefined && this.#readsNow && req.spec === OPS.read &&
      attrs === null && timeoutMs === 0 && req.opFlags === 0 &&
      req.bufIndex < 0 && req.off >= 0 && req.len > 0 &&
      (this.#pump.unbatched || memoryFileHint(req.fd))
    ) {
      const view = req.data as ArrayBufferView; // OPS.read: one buffer
      const done = this.#readNow(req.fd, view, req.addr, req.len, req.off);
      if (done !== undefined) return done;
    }
    // Last, as it takes memory: every check that can refuse has run.
    const held = this.#memory;
    const memory = held.hold(req, attrs);
    const op: PendingOp = {
      spec: held.spec,
      fd: req.fd,
      addr: held.addr,
      len: held.len,
      off: req.off,
      opFlags: held.opFlags,
      bufIndex: held.bufIndex,
      keep: attrs ? [req.keep, attrs] : req.keep,
      transform: req.transform,
      path: req.path,
      resolve: unsettled,
      reject: unsettled,
      signal,
      onAbort: undefined,
      timeoutMs,
      slot: -1,
      userData: 0,
      state: QUEUED,
      attrs,
      data: req.data,
      direct: false,
      quick: false,
      deadline: undefined,
      memory,
      base: 0,
    };
    const promise = promiseFor(op);
    this.#pump.enqueue(op);
    return promise;
  }

  /**
   * The fast lane of `read()` without options: arguments the usual path
   * would take unchanged go to {@linkcode Ring.#readNow}; anything else
   * (a bigint offset, a resizable buffer, a wrong type) takes the usual
   * path, whose checks say what is wrong.
   *
   * @ignore
   */
  protected override readAtOnce(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
  ): Promise<number> | undefined {
    if (
      !this.#readsNow || typeof fd !== "number" || (fd >>> 0) !== fd ||
      fd > 0x7fffffff || Object.is(fd, -0) ||
      // Cached data in batches goes through the ring: skip the rest.
      !(this.#pump.unbatched || memoryFileHint(fd)) ||
      typeof offset !== "number" || !Number.isSafeInteger(offset) ||
      offset < 0 || Object.is(offset, -0) || !ArrayBuffer.isView(buf)
    ) {
      return undefined;
    }
    const backing = buf.buffer as { resizable?: boolean; growable?: boolean };
    if (backing.resizable === true || backing.growable === true) {
      return undefined;
    }
    if (this.core.closed || this.#pump.shuttingDown) return undefined;
    const len = buf.byteLength;
    // byteLength 0: nothing to read, or a detached buffer (the usual path
    // throws for that).
    if (len === 0) return undefined;
    return this.#readNow(fd, buf, cachedAddress(buf), len, offset);
  }

  /**
   * A read of `len` (> 0) bytes at `off` (≥ 0) into `view` (at `addr`)
   * done at once on this thread (sys/read_now.ts), on a ring that reads
   * now: tmpfs, or cached data while requests come one per io_uring_enter;
   * never ahead of requests made before it and not yet submitted. Its
   * Promise, or undefined when it was not done in full and the request
   * goes through the ring. Both callers have checked the rest.
   */
  #readNow(
    fd: number,
    view: ArrayBufferView,
    addr: number,
    len: number,
    off: number,
  ): Promise<number> | undefined {
    if (len > READ_NOW_MAX || !this.#pump.nothingQueued) return undefined;
    const n = readNow(fd, view, addr, len, off, this.#pump.unbatched);
    return n === len ? this.#pump.settleDoneNow(n) : undefined;
  }

  /** Closes the ring: see `close()`. */
  protected closeRing(): Promise<void> {
    const closing = this.#pump.close();
    // Once drained, every request's memory is back: the slabs can go.
    closing.then(() => this.#memory.close(), () => {});
    return closing;
  }

  /**
   * Closes the ring without waiting asynchronously: requests in flight are
   * cancelled and the thread blocks until the kernel has returned them.
   */
  [Symbol.dispose](): void {
    this.#pump.dispose();
    this.#memory.close();
  }
}
