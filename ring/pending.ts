/**
 * The requests of a `Ring` between their Promise method and their
 * completion: the {@linkcode PendingOp} record, the pending table (slot →
 * request, with a generation per slot), the backlog of requests not yet in
 * the SQ, and every way a request settles (completion, abort, deadline,
 * close, a broken ring), with the release of its memory.
 *
 * The completion pump (pump.ts) decides when requests go to the kernel and
 * when completions are read; this module is the bookkeeping it does that
 * for.
 *
 * @module
 */
import type { OpSpec } from "./ops.ts";
import type { DataOpOptions } from "./async_ring.ts";
import { RingClosedError, UringError } from "./errors.ts";
import { EAGAIN, ECANCELED, EINTR, EOPNOTSUPP } from "../structs/errno.ts";
import type { PackedAttributes } from "./attributes.ts";
import { rejectAttributeFailure } from "./integrity.ts";
import { clearDeadline, startDeadline, timeoutError } from "./deadlines.ts";
import { finishIo, type Held, type RequestMemory } from "./io_memory.ts";
import { inPlaceCounts, InPlaceRead } from "./in_place.ts";
import { RWF_NOWAIT } from "../structs/constants.ts";
import { noteNowaitRead } from "../sys/nowait.ts";

/**
 * A slot's generation has 14 bits, so a user_data (generation << 16 |
 * slot) stays below 2^30: a small integer to V8 (31 bits with pointer
 * compression) and to JSC. With 16 bits, the 32768th request through a
 * slot (at depth 1, slot 0: about 0.1 s into a program) stored a double
 * into `PendingOp.userData` (track()), and V8 replaced the op's map. The
 * optimised `submitRequest` went on allocating its object literal with
 * the old, deprecated map, and every request after was migrated in the
 * pump's first access to it (an inline cache miss, ~1.5 µs), which also
 * kept `#prepare` from being optimised again: on Deno a program's first
 * ring ran cached 4 KiB reads at depth 1 at ~300K IOPS instead of ~700K,
 * until something else made V8 recompile `submitRequest` (docs/perf.md,
 * "The per-request cost at depth 1"). A late cancel or CQE still finds
 * its request's generation changed unless the slot was reused a multiple
 * of 16384 times in between.
 */
const GENERATION_MASK = 0x3fff;

/** How the ring reads a range again to explain an integrity failure. */
export type RereadFn = (
  fd: number,
  data: Uint8Array,
  offset: number,
  options: DataOpOptions,
) => Promise<number>;

/** One request between its Promise method and its completion. */
export interface PendingOp {
  spec: OpSpec;
  fd: number;
  addr: number;
  len: number;
  off: number;
  /** The SQE's rw_flags union (fsync_flags, open_flags, ...). */
  opFlags: number;
  /** The SQE's buf_index, or -1. */
  bufIndex: number;
  /** Everything the kernel may touch, kept reachable until completion. */
  keep: unknown;
  transform: ((res: number) => unknown) | null;
  /** A path involved, named in errors. */
  path: string | undefined;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timeoutMs: number;
  /** Slot in the pending table and the user_data it was submitted with. */
  slot: number;
  userData: number;
  state: number;
  /** Packed read/write attributes, or null. */
  attrs: PackedAttributes | null;
  /** The data buffer(s), for explaining an integrity failure. */
  data: ArrayBufferView | readonly ArrayBufferView[] | null;
  /** Whether it is a read or write on an O_DIRECT fd (set when prepared). */
  direct: boolean;
  /**
   * Whether it completes on its own, soon: anything but a timeout, and a
   * read or write only on a regular file or block device (set when
   * prepared; the pump only sleeps in the kernel for such requests).
   */
  quick: boolean;
  /** The `timeoutMs` deadline's timer (deadlines.ts), until it settles. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /**
   * Staging slices and owned regions of a read or write: released only
   * when its own CQE arrives (or when it never reached the kernel).
   */
  memory: Held | null;
  /**
   * Bytes an in-place read delivered before the rest went on as a staged
   * read (in_place.ts): added to that read's result.
   */
  base: number;
}

/** `PendingOp.state` of a request in the backlog. */
export const QUEUED = 0;
/** `PendingOp.state` of a request in an SQE, possibly not yet submitted. */
const PREPARED = 1;
/** `PendingOp.state` of a request whose promise has settled. */
const SETTLED = 2;

/**
 * Memory of requests failed without a completion (a broken ring): the
 * kernel may still write to it, so it is never let go.
 */
const abandonedMemory: unknown[] = [];

/** Lets go of the memory of a request the kernel never saw. */
function releaseUnsubmitted(op: PendingOp): void {
  if (op.memory !== null) {
    finishIo(op.memory, -ECANCELED, false);
    op.memory = null;
  }
}

/**
 * The unsettled requests of one ring: where each one waits (the backlog,
 * or a slot of the pending table while the kernel has it) and how its
 * promise settles. The pump moves requests from the backlog into SQEs
 * ({@linkcode PendingRequests.track}) and hands each CQE over
 * ({@linkcode PendingRequests.complete}).
 *
 * @example
 * ```ts
 * import { PendingRequests } from "./pending.ts";
 * const requests = new PendingRequests(
 *   () => Promise.resolve(0), // re-reads a range after an integrity failure
 *   (userData) => console.log("cancel", userData), // queues an ASYNC_CANCEL
 * );
 * console.log(requests.count); // 0
 * ```
 */
export class PendingRequests {
  // Pending table: slot → op, with a free list and a generation per slot so
  // a late cancel can never hit a newer request that reused the slot.
  #ops: (PendingOp | undefined)[] = [];
  #generation: number[] = [];
  #freeSlots: number[] = [];
  #backlog: PendingOp[] = [];
  #backlogHead = 0;
  /** Requests not yet settled (backlog + in flight). */
  #count = 0;
  /** Set as close() starts: cancelled requests say why. */
  #shuttingDown = false;
  readonly #read: RereadFn;
  readonly #cancel: (userData: number) => void;
  readonly #memory: RequestMemory | undefined;
  readonly #flush: () => void;

  /**
   * `read` re-reads a range to explain an integrity failure; `cancel`
   * queues an ASYNC_CANCEL of a request in the kernel by its user_data;
   * `memory` (the ring's) stages what an in-place read left to do, and
   * `flush` has the pump submit it.
   */
  constructor(
    read: RereadFn,
    cancel: (userData: number) => void,
    memory?: RequestMemory,
    flush: () => void = () => {},
  ) {
    this.#read = read;
    this.#cancel = cancel;
    this.#memory = memory;
    this.#flush = flush;
  }

  /** Requests submitted or queued and not yet settled. */
  get count(): number {
    return this.#count;
  }

  /** Whether the ring is closing: cancelled requests reject as closed. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Marks the ring as closing (see {@linkcode shuttingDown}). */
  shutDown(): void {
    this.#shuttingDown = true;
  }

  /** Counts a new request and arms its abort listener and deadline. */
  add(op: PendingOp): void {
    if (op.signal !== undefined) {
      op.onAbort = () => this.#abort(op);
      op.signal.addEventListener("abort", op.onAbort, { once: true });
    }
    startDeadline(op, this.#deadlines);
    this.#count++;
  }

  // ------------------------------------------------------------- backlog

  /** Backlog entries not yet taken, settled ones still among them. */
  get backlogSize(): number {
    return this.#backlog.length - this.#backlogHead;
  }

  /** Appends `op` to the backlog: it waits for room in the SQ and CQ. */
  defer(op: PendingOp): void {
    this.#backlog.push(op);
  }

  /**
   * The oldest request of the backlog, dropping those settled meanwhile
   * (aborted, timed out), or undefined when none is left.
   */
  nextDeferred(): PendingOp | undefined {
    const backlog = this.#backlog;
    while (this.#backlogHead < backlog.length) {
      const op = backlog[this.#backlogHead];
      if (op.state !== SETTLED) return op;
      backlog[this.#backlogHead++] = undefined as unknown as PendingOp;
    }
    return undefined;
  }

  /** Removes the request {@linkcode nextDeferred} returned (it is in an SQE). */
  takeDeferred(): void {
    this.#backlog[this.#backlogHead++] = undefined as unknown as PendingOp;
  }

  /** Gives back the space of the backlog entries taken. */
  compactBacklog(): void {
    const backlog = this.#backlog;
    if (backlog.length === 0) return; // the common case: nothing deferred
    if (this.#backlogHead === backlog.length) {
      // A length store is a runtime call in V8, not free: only when needed.
      backlog.length = 0;
      this.#backlogHead = 0;
    } else if (
      this.#backlogHead > 1024 && this.#backlogHead * 2 > backlog.length
    ) {
      backlog.splice(0, this.#backlogHead);
      this.#backlogHead = 0;
    }
  }

  /** close(): the backlog's requests never reached the kernel; they reject as closed. */
  rejectBacklog(): void {
    this.#emptyBacklog((op) =>
      this.#rejectUnsubmitted(op, new RingClosedError(op.spec.name))
    );
  }

  /**
   * The blocking dispose: the backlog's requests settle as cancelled
   * (-ECANCELED), so an aborted or timed-out one still says so.
   */
  cancelBacklog(): void {
    this.#emptyBacklog((op) => this.#settle(op, -ECANCELED));
  }

  #emptyBacklog(settle: (op: PendingOp) => void): void {
    for (let i = this.#backlogHead; i < this.#backlog.length; i++) {
      const op = this.#backlog[i];
      if (op.state !== SETTLED) settle(op);
    }
    this.#backlog.length = 0;
    this.#backlogHead = 0;
  }

  // ------------------------------------------------------- pending table

  /**
   * Takes a free slot of the pending table and returns the user_data (slot
   * and the slot's next generation) to submit with; the request goes into
   * the slot with {@linkcode track} once its SQE is filled.
   */
  reserveSlot(): number {
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#ops.length;
      this.#ops.push(undefined);
      this.#generation.push(0);
    }
    const generation = (this.#generation[slot] + 1) & GENERATION_MASK;
    this.#generation[slot] = generation;
    return (generation << 16) | slot;
  }

  /** Puts `op`, now in an SQE with `userData`, into its reserved slot. */
  track(op: PendingOp, userData: number): void {
    const slot = userData & 0xffff;
    this.#ops[slot] = op;
    op.slot = slot;
    op.userData = userData;
    op.state = PREPARED;
  }

  /**
   * Hands a request its CQE (by the low word of its user_data): its slot
   * is freed, its memory released (a staged read copied out first) and its
   * promise settled. Returns the request, or undefined when the slot holds
   * no request of that generation any more.
   */
  complete(userDataLow: number, res: number): PendingOp | undefined {
    const slot = userDataLow & 0xffff;
    const op = this.#ops[slot];
    if (op === undefined || op.userData !== userDataLow) return undefined;
    this.#ops[slot] = undefined;
    this.#freeSlots.push(slot);
    if (op.memory instanceof InPlaceRead) {
      if (this.#goesOn(op, res)) return op;
      // EAGAIN and EOPNOTSUPP are this library's own (RWF_NOWAIT): a read
      // that does not go on was aborted or its ring is closing.
      if (res === -EAGAIN || res === -EOPNOTSUPP) res = -ECANCELED;
    }
    let failure: unknown = null;
    if (op.memory !== null) {
      // The kernel is done with it: copy a staged read out, then release.
      failure = finishIo(op.memory, res, op.state !== SETTLED);
      op.memory = null;
    }
    this.#settle(op, res, failure);
    return op;
  }

  /**
   * An in-place read that found its data not cached (EAGAIN; EOPNOTSUPP:
   * the fd now names a file on a file system without RWF_NOWAIT reads, a
   * number reused behind the fd cache), or only its
   * first `res` bytes: the rest goes on as a staged read, back in the
   * backlog (its promise, deadline and abort listener stay as they are).
   * Returns false when it settles now instead.
   */
  #goesOn(op: PendingOp, res: number): boolean {
    const read = op.memory as InPlaceRead;
    if (read.lost || op.state === SETTLED || this.#shuttingDown) return false;
    const refused = res === -EAGAIN || res === -EOPNOTSUPP;
    noteNowaitRead(op.fd, !refused);
    if (
      !(refused || (res > 0 && res < read.length)) ||
      this.#memory === undefined || op.signal?.aborted === true
    ) {
      return false;
    }
    const done = res > 0 ? res : 0;
    const view = read.view;
    const rest = new Uint8Array(
      view.buffer,
      view.byteOffset + done,
      read.length - done,
    );
    const memory = this.#memory;
    let held: Held | null;
    try {
      held = memory.hold(
        {
          spec: op.spec,
          fd: op.fd,
          addr: 0,
          len: rest.byteLength,
          off: op.off + done,
          opFlags: op.opFlags & ~RWF_NOWAIT,
          bufIndex: -1,
          keep: null,
          data: rest,
          path: op.path,
          transform: null,
        },
        null,
        false,
      );
    } catch {
      return false; // the pool is closed: the ring is closing
    }
    op.base += done;
    op.spec = memory.spec;
    op.addr = memory.addr;
    op.len = memory.len;
    op.off += done;
    op.opFlags = memory.opFlags;
    op.bufIndex = memory.bufIndex;
    op.memory = held;
    op.data = rest;
    op.state = QUEUED;
    inPlaceCounts.retried++;
    this.defer(op);
    this.#flush();
    return true;
  }

  // ------------------------------------------------------------- settling

  #settle(op: PendingOp, res: number, failure: unknown = null): void {
    if (op.state === SETTLED) return;
    if (op.state === QUEUED) releaseUnsubmitted(op);
    op.state = SETTLED;
    this.#count--;
    clearDeadline(op);
    if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
    // Dropping the references only now is what keeps buffers alive and
    // unmoved until the kernel is done with them.
    op.keep = null;
    if (failure !== null) {
      op.reject(failure);
      return;
    }
    // What an in-place read delivered before its rest was staged counts;
    // an error on the rest leaves those bytes as the result.
    if (op.base > 0) res = res >= 0 ? res + op.base : op.base;
    if (res >= 0) {
      try {
        op.resolve(op.transform ? op.transform(res) : res);
      } catch (error) {
        op.reject(error);
      }
      return;
    }
    if ((res === -ECANCELED || res === -EINTR) && op.signal?.aborted) {
      op.reject(op.signal.reason);
    } else if (res === -ECANCELED && op.timeoutMs > 0) {
      op.reject(timeoutError(op.spec.name, op.timeoutMs));
    } else if (res === -ECANCELED && this.#shuttingDown) {
      op.reject(new RingClosedError(op.spec.name));
    } else if (op.attrs !== null) {
      rejectAttributeFailure(
        op as PendingOp & { attrs: PackedAttributes },
        res,
        this.#shuttingDown ? undefined : this.#read,
      );
    } else {
      op.reject(
        UringError.from(res, {
          op: op.spec.name,
          fd: op.fd < 0 ? undefined : op.fd,
          path: op.path,
        }),
      );
    }
  }

  #abort(op: PendingOp): void {
    if (op.state === SETTLED) return;
    if (op.state === QUEUED) {
      // Never reached the kernel: settle now; nextDeferred skips it.
      this.#rejectUnsubmitted(op, op.signal!.reason);
      return;
    }
    this.#cancel(op.userData);
  }

  /** Settles a request still in the backlog: it never reached the kernel. */
  #rejectUnsubmitted(op: PendingOp, reason: unknown): void {
    op.state = SETTLED;
    this.#count--;
    op.keep = null;
    releaseUnsubmitted(op);
    clearDeadline(op);
    if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
    op.reject(reason);
  }

  /**
   * At `timeoutMs` (deadlines.ts) a backlogged request rejects; one in the
   * kernel is cancelled once more (its linked timeout may have started
   * late). Given up on after the grace, it is settled for the caller while
   * its slot (and `keep`) stays in the table until its CQE (complete()).
   */
  readonly #deadlines = {
    settled: (op: PendingOp) => op.state === SETTLED,
    expire: (op: PendingOp): boolean => {
      if (op.state === QUEUED) {
        this.#rejectUnsubmitted(op, timeoutError(op.spec.name, op.timeoutMs));
        return false;
      }
      this.#cancel(op.userData);
      return true;
    },
    giveUp: (op: PendingOp) => {
      op.state = SETTLED;
      this.#count--;
      if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
      op.reject(timeoutError(op.spec.name, op.timeoutMs));
    },
  };

  /**
   * Every unsettled request of the pending table fails with `error`, and
   * the table is emptied: no completion of theirs is waited for again. The
   * kernel may still own their memory, so their buffers are kept
   * reachable for the life of the process.
   */
  failTracked(error: unknown): void {
    for (const op of this.#ops) {
      if (op && op.state !== SETTLED) this.#failKeepingMemory(op, error);
    }
    this.#ops = [];
    this.#freeSlots = [];
  }

  /**
   * io_uring_enter failed for good: every request in an SQE fails, its
   * memory kept as in {@linkcode failTracked}.
   */
  failPrepared(error: unknown): void {
    for (const op of this.#ops) {
      if (op && op.state === PREPARED) this.#failKeepingMemory(op, error);
    }
  }

  #failKeepingMemory(op: PendingOp, error: unknown): void {
    op.state = SETTLED;
    this.#count--;
    abandonedMemory.push(op.keep, op.memory);
    op.keep = null;
    op.memory = null;
    op.reject(error);
  }
}
