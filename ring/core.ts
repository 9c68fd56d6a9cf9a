/**
 * `RingCore`: one io_uring instance, without the Promise layer (which
 * `Ring` in `ring.ts` adds on top). It owns the ring fd and the three mmap'd
 * regions (SQ ring, CQ ring, SQE array) and drives them from TypeScript:
 * SQEs are filled in ring memory, the SQ tail is published with a release
 * store, completions are read after an acquire load of the CQ tail, and the
 * kernel is entered through liburing's raw `io_uring_enter` wrapper only when
 * it must be (to submit, to wait, or to flush overflowed completions).
 *
 * The SQ side is in `RingCore`'s own fields, so the Promise layer's
 * per-SQE calls reach them directly; the rest is in its parts: open.ts
 * (setup, mapping), enter.ts (io_uring_enter), completions.ts (the CQ),
 * prep.ts (SQEs from encoded requests) and registration.ts.
 *
 * @module
 */
import { liburing, NULL_ADDRESS } from "../ffi/mod.ts";
import { closeFd } from "../sys/fd.ts";
import { RingClosedError } from "./errors.ts";
import { fillSqe } from "./opcodes.ts";
import { fillRequestSqe, PrepHelpers } from "./prep.ts";
import type { RingOptions } from "./setup.ts";
import { openRing } from "./open.ts";
import type { RingMappings } from "./queues.ts";
import { IoUringEnter } from "./enter.ts";
import { type CompletionHandler, CompletionQueue } from "./completions.ts";
import { type PinnedBuffers, Registration } from "./registration.ts";
import type { OpRequest } from "./ops.ts";
import type { PackedAttributes } from "./attributes.ts";
import { checkInteger } from "./validate.ts";
import type { CqeView } from "../structs/cqe.ts";
import type { SqeView } from "../structs/sqe.ts";
import {
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_SQ_WAKEUP,
  IORING_SETUP_IOPOLL,
} from "../structs/constants.ts";

export type { CompletionHandler } from "./completions.ts";
export type { PinnedBuffers } from "./registration.ts";

/**
 * Covers every SQE word index (at most 32768 entries x 32 words = 2^20);
 * see prepRaw.
 */
const SQE_WORD_INDEX_MASK = 0x1fffff;

/**
 * One io_uring instance, driven from TypeScript. Method names follow
 * liburing: `getSqe`, `prep*`, `submit`, `submitAndWait`, `peekCqe`,
 * `waitCqe`, `cqAdvance`. Each `prep*` helper returns the entry's
 * {@linkcode SqeView}, so fields (`flags`, `userData`, ...) can still be set.
 *
 * Buffer lifetime: at this level the caller keeps every buffer alive until
 * its completion is reaped (the Promise API does that for you).
 *
 * @example
 * ```ts
 * import { RingCore } from "./core.ts";
 * using ring = new RingCore({ entries: 8 });
 * ring.prepNop().userData = 7n;
 * ring.submitAndWait(1);
 * const cqe = ring.peekCqe()!;
 * console.log(cqe.userData, cqe.res); // 7n 0
 * ring.cqAdvance(1);
 * ```
 */
export class RingCore extends PrepHelpers {
  /** The ring's file descriptor. */
  readonly fd: number;
  /** IORING_SETUP_* flags the ring was created with. */
  readonly flags: number;
  /** IORING_FEAT_* bits the kernel reported. */
  readonly features: number;
  /** Number of SQ entries. */
  readonly sqEntries: number;
  /** Number of CQ entries. */
  readonly cqEntries: number;

  #closed = false;
  /** The enters off the submit path (enter.ts). */
  readonly #enter: IoUringEnter;
  /** liburing's raw io_uring_enter, for submit() and enter() (enter.ts says why). */
  readonly #ioUringEnter: ReturnType<typeof liburing>["io_uring_enter"];
  readonly #sqpoll: boolean;
  readonly #needsGetevents: boolean;

  // The three regions, replaced by zero pages exactly once by close().
  readonly #mappings: RingMappings;

  // SQ ring, as u32 words.
  readonly #sq: Uint32Array;
  readonly #sqHead: number;
  readonly #sqTail: number;
  readonly #sqFlags: number;
  readonly #sqDropped: number;
  readonly #sqMask: number;
  // Local tail of prepared SQEs, and the tail last published to the kernel.
  #sqeTail = 0;
  #sqeHead = 0;
  // Last kernel SQ head seen; refreshed only when the ring looks full.
  #sqHeadCache = 0;

  // SQE array.
  readonly #sqeWords: Uint32Array;
  // The same memory as doubles, for fillSqe's 8-byte zero stores.
  readonly #sqeWide: Float64Array;
  readonly #sqeWordsPerEntry: number;
  readonly #sqeViews: SqeView[];
  // Per-slot references to argument memory the kernel reads at submit time
  // (iovec arrays, paths, timespecs): kept until the slot is reused.
  readonly #sqeKeep: unknown[];

  /** Reads the CQ ring. */
  readonly #cq: CompletionQueue;
  /** Buffers, files and eventfds registered with the kernel. */
  readonly #registration: Registration;

  /**
   * Sets up a ring. `extraOptionNames` lets a subclass accept options of its
   * own while every other unknown name is still refused.
   */
  constructor(
    options: RingOptions = {},
    extraOptionNames: readonly string[] = [],
  ) {
    super();
    const { fd, flags, params, mappings, queues: q } = openRing(
      options,
      extraOptionNames,
      (value) => value instanceof RingCore,
    );
    this.fd = fd;
    this.flags = flags;
    this.features = params.features;
    this.sqEntries = params.sqEntries;
    this.cqEntries = params.cqEntries;
    this.#registration = new Registration(fd, (op) => this.#assertOpen(op));
    this.#mappings = mappings;
    this.#sq = q.sq.ring;
    this.#sqHead = q.sq.head;
    this.#sqTail = q.sq.tail;
    this.#sqFlags = q.sq.flags;
    this.#sqDropped = q.sq.dropped;
    this.#sqMask = q.sq.mask;
    // The kernel may have consumed entries already only on a reused ring;
    // start from its view of head and tail.
    this.#sqeTail = this.#sqeHead = this.#sqHeadCache = Atomics.load(
      this.#sq,
      this.#sqTail,
    );
    this.#sqeWords = q.sq.sqeWords;
    this.#sqeWide = q.sq.sqeWide;
    this.#sqeWordsPerEntry = q.sq.sqeWordsPerEntry;
    this.#sqeViews = q.sq.sqeViews;
    this.#sqeKeep = new Array(this.sqEntries).fill(undefined);
    this.#enter = new IoUringEnter(fd, flags, q.sq.ring, q.sq.flags);
    this.#ioUringEnter = liburing().io_uring_enter;
    this.#sqpoll = this.#enter.sqpoll;
    this.#needsGetevents = (flags & IORING_SETUP_IOPOLL) !== 0;
    this.#cq = new CompletionQueue(q.cq, this.#enter);
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new RingClosedError(what);
  }

  // ---------------------------------------------------------------- SQ side

  /**
   * The next free SQE, cleared, or `null` when all entries are taken
   * (liburing's `io_uring_get_sqe`). Submit to make room.
   */
  getSqe(): SqeView | null {
    this.#assertOpen("getSqe");
    const index = this.#nextSqeIndex();
    if (index < 0) return null;
    const view = this.#sqeViews[index];
    view.clear();
    return view;
  }

  /** Slot index of the next free SQE (tail advanced), or -1 if full. */
  #nextSqeIndex(): number {
    const tail = this.#sqeTail;
    // u32 arithmetic: tail - head wraps correctly past 2^32.
    if (((tail - this.#sqHeadCache) >>> 0) >= this.sqEntries) {
      this.#sqHeadCache = Atomics.load(this.#sq, this.#sqHead);
      if (((tail - this.#sqHeadCache) >>> 0) >= this.sqEntries) return -1;
    }
    this.#sqeTail = (tail + 1) >>> 0;
    return tail & this.#sqMask;
  }

  /**
   * Low-level fast path for the Promise layer: fills an SQE with
   * {@linkcode fillSqe}, sets `user_data` to a 32-bit id and returns the slot
   * (or -1 when the SQ is full). No object is created.
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * const ring = new RingCore({ entries: 4 });
   * ring.prepRaw(0, -1, 0, 0, 0, 1); // IORING_OP_NOP, user_data 1
   * ring.submit();
   * ring.close();
   * ```
   */
  prepRaw(
    opcode: number,
    fd: number,
    addr: number,
    len: number,
    off: number,
    userData: number,
  ): number {
    if (this.#closed) throw new RingClosedError("prep");
    const index = this.#nextSqeIndex();
    if (index < 0) return -1;
    const words = this.#sqeWords;
    // The mask changes nothing (32768 entries of 32 words fit in 2^21) but
    // bounds the value, so the JIT drops its overflow checks on base + k.
    const base = (index * this.#sqeWordsPerEntry) & SQE_WORD_INDEX_MASK;
    fillSqe(words, base, opcode, fd, addr, len, off, userData, this.#sqeWide);
    return index;
  }

  /**
   * Sets a 32-bit word of a prepared SQE by word index (`SQE_WORDS.x`):
   * the Promise layer's way to add flags and op-specific fields without
   * allocating.
   */
  setSqeWord(index: number, word: number, value: number): void {
    this.#sqeWords[index * this.#sqeWordsPerEntry + word] = value;
  }

  /** Reads a 32-bit word of an SQE slot (see {@linkcode setSqeWord}). */
  sqeWord(index: number, word: number): number {
    return this.#sqeWords[index * this.#sqeWordsPerEntry + word];
  }

  /** Keeps `value` reachable until SQE slot `index` is reused. */
  keepUntilReuse(index: number, value: unknown): void {
    this.#sqeKeep[index] = value;
  }

  /** The cached view of SQE slot `index`. */
  sqeAt(index: number): SqeView {
    return this.#sqeViews[index];
  }

  /**
   * Takes an SQE and fills it from an encoded request of the operation
   * table (`OPS.x.encode(...)`, every argument already checked): the
   * common fields, the `rw_flags` union, `buf_index`, and the attributes.
   * Keeps the request's memory (`keep`, the packed attributes) until the
   * slot is reused; the kernel copies it when it takes the SQE.
   */
  override prepRequest(
    req: OpRequest,
    packed: PackedAttributes | null = null,
  ): SqeView {
    return fillRequestSqe(this, req, packed);
  }

  /** Number of SQEs prepared but not yet handed to the kernel. */
  sqReady(): number {
    return (this.#sqeTail - this.#sqeHead) >>> 0;
  }

  /**
   * Number of free SQEs. On an SQPOLL ring the kernel thread publishes its
   * new SQ head after the batch it took, so this can read 0 for a moment
   * even when the completions of those entries are already visible: wait
   * with {@linkcode sqringWait} rather than for a completion.
   */
  sqSpaceLeft(): number {
    this.#sqHeadCache = Atomics.load(this.#sq, this.#sqHead);
    return this.sqEntries - ((this.#sqeTail - this.#sqHeadCache) >>> 0);
  }

  /**
   * On an SQPOLL ring, blocks until the SQ has a free entry
   * (IORING_ENTER_SQ_WAIT, liburing's `io_uring_sqring_wait`); returns at
   * once when there is one, and on other rings (whose entries the kernel
   * takes during submit).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 4, sqpoll: true });
   * if (ring.sqSpaceLeft() === 0) ring.sqringWait();
   * ```
   */
  sqringWait(): void {
    this.#assertOpen("sqringWait");
    if (!this.#sqpoll) return;
    while (this.sqSpaceLeft() === 0) this.#enter.sqWait();
  }

  /** Submissions dropped by the kernel as invalid (sq.dropped). */
  sqDropped(): number {
    return Atomics.load(this.#sq, this.#sqDropped);
  }

  /**
   * Publishes the prepared SQEs (release store of the SQ tail) and returns
   * how many are in the ring waiting for the kernel to take them.
   */
  #flushSq(): number {
    const tail = this.#sqeTail;
    if (this.#sqeHead !== tail) {
      this.#sqeHead = tail;
      // Release: the SQE contents written above become visible before the
      // kernel can observe the new tail.
      Atomics.store(this.#sq, this.#sqTail, tail);
    }
    return (tail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
  }

  /** The SQ ring's flags word (IORING_SQ_NEED_WAKEUP, _CQ_OVERFLOW, _TASKRUN). */
  sqFlags(): number {
    this.#assertOpen("sqFlags");
    return Atomics.load(this.#sq, this.#sqFlags);
  }

  // Kept small (its rare paths are calls into enter.ts): V8 inlines a hot
  // caller's chain (prepRaw, submitAndWait, #submit) only while its
  // bytecode fits one budget, and io_uring_enter is a fast call only from
  // inlined, optimised code. When #submit stopped fitting, the NOP rate at
  // batch 128 on Deno fell 4-5 %.
  #submit(waitNr: number, getEvents: boolean): number {
    const submitted = this.#flushSq();
    let flags = 0;
    let needEnter = false;
    if (submitted > 0) {
      if (!this.#sqpoll) needEnter = true;
      // Seq-cst store above and load in sqpollAsleep: the full barrier
      // liburing uses before checking whether the SQPOLL thread went to sleep.
      else if (this.#enter.sqpollAsleep()) {
        flags |= IORING_ENTER_SQ_WAKEUP;
        needEnter = true;
      }
    }
    if (
      getEvents || waitNr > 0 || this.#needsGetevents ||
      this.#enter.cqNeedsFlush()
    ) {
      flags |= IORING_ENTER_GETEVENTS;
      needEnter = true;
    }
    if (!needEnter) return submitted;
    const result = this.#ioUringEnter(
      this.fd,
      submitted,
      waitNr,
      flags,
      NULL_ADDRESS,
    );
    if (result >= 0) return result;
    return this.#enter.submitFailed(result, submitted, waitNr, flags);
  }

  /**
   * Hands every prepared SQE to the kernel (liburing's `io_uring_submit`).
   * Returns how many the kernel took. Enters the kernel only when needed:
   * not at all for an SQPOLL ring whose thread is awake.
   */
  submit(): number {
    this.#assertOpen("submit");
    return this.#submit(0, false);
  }

  /**
   * Submits and waits until at least `waitNr` completions are in the CQ ring
   * (liburing's `io_uring_submit_and_wait`).
   */
  submitAndWait(waitNr: number): number {
    this.#assertOpen("submitAndWait");
    checkInteger(waitNr, "waitNr");
    return this.#submit(waitNr, waitNr > 0);
  }

  /**
   * Enters the kernel directly (io_uring_enter(2)) with a raw result:
   * the count, or `-errno`. For completion-delivery code that must not throw.
   */
  enter(toSubmit: number, minComplete: number, flags: number): number {
    this.#assertOpen("enter");
    return this.#ioUringEnter(
      this.fd,
      toSubmit,
      minComplete,
      flags,
      NULL_ADDRESS,
    );
  }

  /**
   * Waits in the calling thread until at least `minComplete` completions are
   * in the CQ ring or `timeoutUs` microseconds have passed (io_uring_enter2
   * with IORING_ENTER_EXT_ARG, Linux 5.11). Returns the raw result: >= 0,
   * `-ETIME` on timeout, or `-errno`. A bounded wait: the Promise layer uses
   * it to catch completions that arrive within microseconds without a
   * round trip through its waiter thread. With `submit`, the prepared SQEs
   * are submitted in the same system call (liburing's
   * `io_uring_submit_and_wait_timeout`); the result is then the number
   * submitted, or `-ETIME` (they were submitted all the same).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 2 });
   * ring.waitCqeTimeout(1, 50); // -62 (ETIME): nothing was in flight
   * ring.prepNop();
   * ring.waitCqeTimeout(1, 5000, true); // 1: submitted, and its CQE is in
   * ```
   */
  waitCqeTimeout(
    minComplete: number,
    timeoutUs: number,
    submit = false,
  ): number {
    this.#assertOpen("waitCqeTimeout");
    // An SQPOLL thread takes the SQEs itself; only the wait is ours.
    const toSubmit = submit && !this.#enter.sqpoll ? this.#flushSq() : 0;
    return this.#enter.waitTimeout(minComplete, timeoutUs, toSubmit);
  }

  /** SQ position (u32) the next prepared SQE takes. */
  get sqTail(): number {
    return this.#sqeTail;
  }

  /** The kernel's SQ head: it has taken the SQEs at positions before it. */
  sqTaken(): number {
    return Atomics.load(this.#sq, this.#sqHead);
  }

  /** {@linkcode CompletionQueue.holdsInOrder}: the prefix of `userData` in the CQ. */
  cqHoldsInOrder(userData: readonly number[], count: number): number {
    return this.#cq.holdsInOrder(userData, count);
  }

  /** Publishes prepared SQEs without entering the kernel; returns the count pending. */
  flushSq(): number {
    this.#assertOpen("flushSq");
    return this.#flushSq();
  }

  // ---------------------------------------------------------------- CQ side

  /** Number of completions in the CQ ring, ready to be read. */
  cqReady(): number {
    this.#assertOpen("cqReady");
    return this.#cq.ready();
  }

  /** Completions the kernel had to drop (only on kernels without FEAT_NODROP). */
  cqOverflow(): number {
    this.#assertOpen("cqOverflow");
    return this.#cq.overflow();
  }

  /**
   * The oldest unseen completion, or `null` if there is none. When the
   * kernel holds completions back (CQ overflow, deferred task work) it is
   * entered once to flush them, so none is ever missed.
   * Call {@linkcode cqAdvance} after reading it.
   */
  peekCqe(): CqeView | null {
    this.#assertOpen("peekCqe");
    return this.#cq.peek();
  }

  /** Waits (blocking the thread) for a completion and returns it. */
  waitCqe(): CqeView {
    for (;;) {
      const cqe = this.peekCqe();
      if (cqe !== null) return cqe;
      this.#enter.getEvents(1);
    }
  }

  /** Marks `n` completions as seen, handing their slots back to the kernel. */
  cqAdvance(n: number): void {
    this.#assertOpen("cqAdvance");
    this.#cq.advance(n);
  }

  /** {@linkcode cqAdvance} by one. */
  cqeSeen(): void {
    this.cqAdvance(1);
  }

  /**
   * Calls `handler` for every completion in the CQ ring (flushing overflow
   * first when needed), then advances past them. Allocates nothing.
   * Returns how many completions were handled.
   */
  reap(handler: CompletionHandler): number {
    this.#assertOpen("reap");
    return this.#cq.reap(handler);
  }

  // ----------------------------------------------------------- registration

  /**
   * Registers `buffers` as fixed buffers (IORING_REGISTER_BUFFERS) for
   * `prepReadFixed`/`prepWriteFixed`; buffer i is `bufIndex` i. The ring
   * keeps the views reachable until {@linkcode unregisterBuffers} or close.
   * Pinned pages count against RLIMIT_MEMLOCK (`MemlockError` says so).
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    this.#registration.registerBuffers(buffers);
  }

  /** Drops the fixed buffers. */
  unregisterBuffers(): void {
    this.#registration.unregisterBuffers();
  }

  /** The registered buffers, or null. */
  get registeredBuffers(): PinnedBuffers | null {
    return this.#registration.registeredBuffers;
  }

  /**
   * Registers `fds` as fixed files (IORING_REGISTER_FILES); -1 leaves a
   * slot empty. Use the index as fd with IOSQE_FIXED_FILE.
   */
  registerFiles(fds: readonly number[]): void {
    this.#registration.registerFiles(fds);
  }

  /**
   * Registers an empty fixed-file table of `count` slots
   * (IORING_RSRC_REGISTER_SPARSE); more than RLIMIT_NOFILE is EMFILE.
   */
  registerFilesSparse(count: number): void {
    this.#registration.registerFilesSparse(count);
  }

  /**
   * Replaces fixed-file slots from `offset` on with `fds` (-1 clears a slot,
   * IORING_REGISTER_FILES_SKIP leaves it). Returns how many were updated.
   */
  registerFilesUpdate(offset: number, fds: readonly number[]): number {
    return this.#registration.registerFilesUpdate(offset, fds);
  }

  /** Drops the fixed-file table. */
  unregisterFiles(): void {
    this.#registration.unregisterFiles();
  }

  /** Whether a fixed-file table is registered. */
  get hasRegisteredFiles(): boolean {
    return this.#registration.hasRegisteredFiles;
  }

  /**
   * Registers an eventfd the kernel signals on each completion
   * (`async: true` signals only for completions that went async).
   */
  registerEventfd(eventfd: number, options: { async?: boolean } = {}): void {
    this.#registration.registerEventfd(eventfd, options);
  }

  /** Unregisters the eventfd. */
  unregisterEventfd(): void {
    this.#registration.unregisterEventfd();
  }

  /**
   * Asks the kernel which opcodes it supports (IORING_REGISTER_PROBE).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 2 });
   * ring.probe().supported.has("READ"); // true
   * ```
   */
  probe(): { lastOp: number; ops: number[]; supported: Set<string> } {
    return this.#registration.probe();
  }

  // ------------------------------------------------------------------ close

  /**
   * Unmaps the rings and closes the fd, exactly once. A second call throws
   * {@linkcode RingClosedError}. Completions not yet reaped are dropped; the
   * kernel finishes in-flight requests on its own and frees them.
   */
  close(): void {
    this.#assertOpen("close");
    this.#closed = true;
    this.#mappings.release();
    closeFd(this.fd);
    this.#registration.forget();
    this.#sqeKeep.fill(undefined);
  }

  /** `using ring = new RingCore()` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}
