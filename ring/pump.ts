/**
 * The completion pump of `Ring`: the pending table (slot → request, with
 * a generation per slot), the backlog, batched submits (in chunks for
 * O_DIRECT), the waiter (the realm's shared poll thread, which wakes when
 * the CQ is not empty), the timer marker, deadlines, and the drain at
 * close. It drives the ring's
 * `RingCore` and settles each request's promise from its CQE.
 *
 * One rule keeps the waiter from sleeping through a completion: while it is
 * armed, the JS thread never advances the CQ head, so any completion posted
 * after it went to sleep is still counted when it wakes.
 *
 * @module
 */
import { cachedAddress, completionWaiter } from "../ffi/mod.ts";
import type { CompletionWaiter } from "../ffi/mod.ts";
import type { RingCore } from "./core.ts";
import { OPS, type OpSpec } from "./ops.ts";
import type { DataOpOptions } from "./async_ring.ts";
import { RingClosedError, UringError } from "./errors.ts";
import { TimespecView } from "../structs/iovec.ts";
import { SQE_FLAGS_SHIFT, SQE_WORDS } from "../structs/sqe.ts";
import { directIoHint } from "../sys/fd.ts";
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_ENTER_GETEVENTS,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_SQPOLL,
  IORING_SQ_TASKRUN,
  IOSQE_IO_LINK,
} from "../structs/constants.ts";
import { EAGAIN, EBADF, EBUSY, ECANCELED, EINTR } from "../structs/errno.ts";
import { applyAttributes, type PackedAttributes } from "./attributes.ts";
import { rejectAttributeFailure } from "./integrity.ts";
import {
  clearDeadline,
  DISPOSE_WAIT_MS,
  startDeadline,
  timeoutError,
} from "./deadlines.ts";
import { finishIo, type Held } from "./io_memory.ts";

/** How the pump reads a range again to explain an integrity failure. */
type RereadFn = (
  fd: number,
  data: Uint8Array,
  offset: number,
  options: DataOpOptions,
) => Promise<number>;

/**
 * Memory of requests failed without a completion (a broken ring): the
 * kernel may still write to it, so it is never let go.
 */
const abandonedMemory: unknown[] = [];

/**
 * How often, while requests are in flight, the JS thread looks for
 * completion work the kernel queued for it (IORING_SQ_TASKRUN) and runs it,
 * so a completion can never wait on a JS thread asleep in its event loop.
 */
const TASKRUN_CHECK_MS = 5;

/**
 * How many flushes in a row may reap completions inline (from microtasks)
 * before the ring goes back through the event loop: large enough that
 * inline completions rarely cost a waiter round trip, small enough that a
 * stream of always-inline requests cannot starve timers.
 */
const MAX_INLINE_ROUNDS = 32;

/**
 * How long completion handling may go on without the event loop turning
 * (so without timers getting a turn) before the ring holds its waiter back
 * until it has. Under 1 ms so that a 1 ms interval timer can keep its pace:
 * measured on Bun, 1 ms let it fire 42-61 % of its ticks during a full-speed
 * read loop, 0.5 ms 72-75 %, with the same throughput.
 */
const TIMER_TURN_MS = 0.5;

/**
 * Longest single wait of the JS thread in the kernel for a completion right
 * after a submit, when `inlineWaitBudgetUs` allows any. The thread sleeps in
 * the kernel; it does not spin.
 */
const INLINE_WAIT_US = 50;
/**
 * Off by default: measured with 64 reads in flight on /dev/shm, a 250 µs
 * budget raised Deno's event-loop lag p99 from 0.5-1 ms to about 4.4 ms,
 * because the rounds it lets run inline each reap a large batch.
 */
const DEFAULT_INLINE_WAIT_BUDGET_US = 0;

/**
 * Largest number of SQEs handed to the kernel in one io_uring_enter when a
 * flush is mostly O_DIRECT reads and writes (device I/O). The kernel plugs
 * a multi-request submit and starts the device only at its end, so a flush
 * of 64 reads reaches the disk as one burst that also completes as one; in
 * chunks of 4 the disk starts on the first while the rest are still being
 * issued. Measured on O_DIRECT 4 KiB reads at depth 64 (docs/perf.md):
 * 0.82-0.84x fio in one enter, 0.88-0.92x in chunks of 16, 0.90-1.01x in
 * chunks of 4 (1 was no better). Memory-backed files lose about 10 % in
 * chunks, hence the O_DIRECT test.
 */
const DEVICE_SUBMIT_CHUNK = 4;

/** Flushes smaller than this go in one enter whatever they hold. */
const SUBMIT_CHUNKED_MIN = 2 * DEVICE_SUBMIT_CHUNK;
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
  /** The `timeoutMs` deadline's timer (deadlines.ts), until it settles. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /**
   * Staging slices and owned regions of a read or write: released only
   * when its own CQE arrives (or when it never reached the kernel).
   */
  memory: Held | null;
}

/** Lets go of the memory of a request the kernel never saw. */
function releaseUnsubmitted(op: PendingOp): void {
  if (op.memory !== null) {
    finishIo(op.memory, -ECANCELED, false);
    op.memory = null;
  }
}

export const QUEUED = 0; // in the backlog
const PREPARED = 1; // in an SQE, possibly not yet submitted
const SETTLED = 2;

/** user_data high word of internal requests (cancels, linked timeouts, wakeups). */
const INTERNAL = 1;

/**
 * The pending table, the backlog and the completion machinery of one
 * `Ring`.
 *
 * @example
 * ```ts
 * import { Ring } from "../mod.ts";
 * await using ring = new Ring(); // holds a CompletionPump over ring.core
 * await ring.nop();
 * ```
 */
export class CompletionPump {
  /** The ring it drives. */
  readonly core: RingCore;
  // Pending table: slot → op, with a free list and a generation per slot so
  // a late cancel can never hit a newer request that reused the slot.
  #ops: (PendingOp | undefined)[] = [];
  #generation: number[] = [];
  #freeSlots: number[] = [];
  #backlog: PendingOp[] = [];
  #backlogHead = 0;
  /** CQEs the kernel still owes us (requests + internal SQEs in flight). */
  #inFlight = 0;
  /** Requests not yet settled (backlog + in flight). */
  #pendingCount = 0;
  readonly #capacity: number;
  readonly #read: RereadFn;
  #flushScheduled = false;
  #waiter: CompletionWaiter | undefined;
  #armed = false;
  #waiterDone: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  /** Set as close() starts: new requests are refused, cancelled ones say why. */
  #shuttingDown = false;
  #drained: (() => void) | undefined;
  readonly #flush = () => this.#flushNow();
  readonly #reapOne = (low: number, res: number, _f: number, high: number) =>
    this.#complete(low, res, high);

  /**
   * Drives `core`. `read` re-reads a range to explain an integrity
   * failure; `inlineWaitBudgetUs` is `RingSetupOptions.inlineWaitBudgetUs`.
   */
  constructor(core: RingCore, read: RereadFn, inlineWaitBudgetUs?: number) {
    this.core = core;
    this.#read = read;
    // Never have more CQE producers in flight than the CQ holds, so the
    // kernel never has to keep completions in its overflow list.
    this.#capacity = Math.min(core.cqEntries, 65535);
    this.#sqpollRing = (core.flags & IORING_SETUP_SQPOLL) !== 0;
    if (inlineWaitBudgetUs !== undefined) {
      this.#inlineWaitBudgetUs = inlineWaitBudgetUs;
    }
  }

  /** Takes a new request: into the SQ now, or into the backlog in order. */
  enqueue(op: PendingOp): void {
    if (op.signal !== undefined) {
      op.onAbort = () => this.#abort(op);
      op.signal.addEventListener("abort", op.onAbort, { once: true });
    }
    startDeadline(op, this.#deadlines);
    this.#pendingCount++;
    // Keep order: nothing overtakes requests already waiting in the backlog.
    if (this.#backlogHead < this.#backlog.length || !this.#prepare(op)) {
      this.#backlog.push(op);
    }
    this.#scheduleFlush();
  }

  /** Requests submitted or queued and not yet settled. */
  get pending(): number {
    return this.#pendingCount;
  }

  /** Whether close() has started: new requests are refused. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Fills the SQE(s) for `op`; false when the CQ budget or SQ is full. */
  #prepare(op: PendingOp): boolean {
    const needed = op.timeoutMs > 0 ? 2 : 1;
    if (this.#inFlight + needed > this.#capacity) return false;
    if (this.core.sqSpaceLeft() < needed) {
      // The SQ is full of entries for this tick: hand them over now. An
      // SQPOLL thread takes them on its own time, and may not have
      // published its head yet even when nothing is in flight any more:
      // waiting for SQ space is then the only way forward.
      this.#submitPrepared();
      while (
        this.core.sqSpaceLeft() < needed && this.#sqpollRing
      ) {
        this.core.sqringWait();
      }
      if (this.core.sqSpaceLeft() < needed) return false;
    }
    // Everything that can throw (directIoHint asks fcntl) runs before an
    // SQE is taken: a throw after it would leave an uncounted SQE behind.
    // The opcodes that take attributes are exactly the read/write family.
    const direct = op.spec.attributes && directIoHint(op.fd);
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#ops.length;
      this.#ops.push(undefined);
      this.#generation.push(0);
    }
    const generation = (this.#generation[slot] + 1) & 0xffff;
    this.#generation[slot] = generation;
    const userData = ((generation << 16) | slot) >>> 0;
    const index = this.core.prepRaw(
      op.spec.opcode,
      op.fd,
      op.addr,
      op.len,
      op.off,
      userData,
    );
    if (op.opFlags !== 0) {
      this.core.setSqeWord(index, SQE_WORDS.rwFlags, op.opFlags);
    }
    if (op.bufIndex >= 0) {
      this.core.setSqeWord(index, SQE_WORDS.bufIndex, op.bufIndex);
    }
    if (op.attrs !== null) applyAttributes(this.core, index, op.attrs);
    if (direct) {
      op.direct = true;
      this.#directPrepared++;
    }
    this.#ops[slot] = op;
    op.slot = slot;
    op.userData = userData;
    op.state = PREPARED;
    this.#inFlight++;
    if (op.timeoutMs > 0) {
      this.core.setSqeWord(
        index,
        SQE_WORDS.opcode,
        this.core.sqeWord(index, SQE_WORDS.opcode) |
          (IOSQE_IO_LINK << SQE_FLAGS_SHIFT),
      );
      const ts = new TimespecView(new Uint8Array(16));
      ts.setMilliseconds(op.timeoutMs);
      const t = this.core.prepRaw(
        OPS.linkTimeout.opcode,
        -1,
        cachedAddress(ts.bytes),
        1,
        0,
        0,
      );
      this.core.setSqeWord(t, SQE_WORDS.userDataHigh, INTERNAL);
      // The kernel copies the timespec when it takes the SQE.
      this.core.keepUntilReuse(t, ts);
      this.#inFlight++;
    }
    return true;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flush);
  }

  #submitPrepared(): void {
    // Entries left by an EAGAIN/EBUSY submit count too: flushSq() is the
    // number published but not yet taken by the kernel.
    const pending = this.core.flushSq();
    if (pending === 0) return;
    const direct = this.#directPrepared;
    this.#directPrepared = 0;
    try {
      // A large flush that is mostly O_DIRECT reads and writes goes to the
      // kernel in small chunks, so the device starts on the first requests
      // while the rest are still being issued (see DEVICE_SUBMIT_CHUNK).
      // Everything else goes in one enter, the cheapest.
      if (
        pending >= SUBMIT_CHUNKED_MIN && direct * 2 >= pending &&
        !this.#sqpollRing
      ) {
        let left = pending;
        while (left > DEVICE_SUBMIT_CHUNK) {
          const taken = this.core.enter(DEVICE_SUBMIT_CHUNK, 0, 0);
          // An error (EAGAIN, EBUSY, ...) is met again and handled by the
          // submit below, which takes what is left.
          if (taken <= 0) break;
          left -= taken;
        }
      }
      this.core.submit();
    } catch (error) {
      // Out of kernel resources for now: the SQEs stay in the ring and go
      // with the next io_uring_enter.
      if (
        error instanceof UringError &&
        (error.errno === EAGAIN || error.errno === EBUSY)
      ) {
        return;
      }
      this.#failPrepared(error);
    }
  }

  #flushNow(): void {
    this.#flushScheduled = false;
    if (this.core.closed) return;
    this.#submitPrepared();
    if (!this.#armed) {
      // Completions that finished inline during submit are reaped now,
      // saving a trip through the waiter. Only a bounded number of times
      // in a row, though: requests that always complete inline (NOPs,
      // cached data) would otherwise chain microtasks forever and starve
      // timers and I/O callbacks. Past the bound the waiter is armed, and
      // its wake-up comes back through the event loop.
      if (this.#inlineRounds < MAX_INLINE_ROUNDS) {
        this.#inlineRounds++;
        this.#reapAll();
        this.#refill();
        this.#submitPrepared();
        if (this.#inFlight > 0 && this.#inlineWaitBudgetUs > 0) {
          // A short wait in the kernel while this turn of the event loop is
          // younger than the budget: a completion that arrives within
          // microseconds is handled now. The budget counts the whole turn,
          // JS work included, so timers are never held up longer.
          const leftUs = (this.#turnDeadline - performance.now()) * 1000;
          if (leftUs > 1) {
            this.core.waitCqeTimeout(1, Math.min(INLINE_WAIT_US, leftUs));
            this.#reapAll();
            this.#refill();
            this.#submitPrepared();
          }
        }
      }
      if (this.#inFlight === 0) {
        this.#stopTaskrunCheck();
        this.#drained?.();
      } else if (this.#waiter?.canStarveTimers && this.#timersStarved()) {
        // The marker arms the waiter once the event loop has turned.
        this.#armAfterTimers = true;
      } else {
        this.#arm();
      }
    }
  }

  /** Whether the marker (a setImmediate) is scheduled and has not run. */
  #markerPending = false;
  /** performance.now() when the pending marker was scheduled. */
  #markerSetAt = 0;
  /** Whether the waiter is left unarmed until the marker fires. */
  #armAfterTimers = false;

  /**
   * Whether timers have been kept waiting: the marker, a setImmediate set
   * while completions kept coming, has not run for TIMER_TURN_MS, so the
   * event loop has not turned (and timers have had no turn) since. Only
   * asked where the waiter's wake-ups can run ahead of due timers (Bun):
   * with 64 reads in flight on /dev/shm a 1 ms interval timer was late by
   * up to 12-39 ms without it, and about 1-1.5 ms (p99) with it. On Deno
   * the check only cost throughput (860K to 650K IOPS with a setTimeout
   * marker); its timers were on time without it.
   */
  #timersStarved(): boolean {
    const now = performance.now();
    if (!this.#markerPending) {
      this.#markerPending = true;
      this.#markerSetAt = now;
      // setImmediate, not setTimeout(0): Bun clamps the latter to 1 ms, and
      // the ring would sit idle waiting for it. Referenced: while the waiter
      // is held back, the marker is what keeps the process alive and brings
      // the ring back.
      setImmediate(this.#marker);
      return false;
    }
    return now - this.#markerSetAt > TIMER_TURN_MS;
  }

  readonly #marker = (): void => {
    this.#markerPending = false;
    if (!this.#armAfterTimers) return;
    this.#armAfterTimers = false;
    if (this.core.closed || this.#armed) return;
    // A new turn: what completed meanwhile is reaped inline, then the
    // waiter is armed (or the ring drains) as after any flush.
    this.#inlineRounds = 0;
    this.#scheduleFlush();
  };

  /** O_DIRECT reads and writes prepared since the last submit. */
  #directPrepared = 0;
  /** SQPOLL rings submit through their kernel thread (never in chunks). */
  readonly #sqpollRing: boolean;
  #taskrunTimer: ReturnType<typeof setInterval> | undefined;
  /** Flushes in a row that reaped inline without a trip through the event loop. */
  #inlineRounds = 0;
  /** performance.now() after which this turn of the event loop waits no more. */
  #turnDeadline = 0;
  readonly #inlineWaitBudgetUs: number = DEFAULT_INLINE_WAIT_BUDGET_US;

  readonly #taskrunCheck = (): void => {
    if (this.core.closed || this.#inFlight === 0) {
      return this.#stopTaskrunCheck();
    }
    if (this.core.sqFlags() & IORING_SQ_TASKRUN) {
      // Runs the queued task work, which posts the CQEs and wakes the
      // waiter; the CQ head is not touched, so the waiter rule holds.
      this.core.enter(0, 0, IORING_ENTER_GETEVENTS);
    }
  };

  #stopTaskrunCheck(): void {
    if (this.#taskrunTimer !== undefined) {
      clearInterval(this.#taskrunTimer);
      this.#taskrunTimer = undefined;
    }
  }

  #arm(): void {
    this.#armed = true;
    if (
      this.#taskrunTimer === undefined &&
      (this.core.flags & IORING_SETUP_COOP_TASKRUN)
    ) {
      this.#taskrunTimer = setInterval(this.#taskrunCheck, TASKRUN_CHECK_MS);
    }
    this.#waiter ??= completionWaiter(this.core.fd);
    this.#waiterDone = this.#waiter.wait().then(this.#onWake, this.#onWake);
  }

  /** Whether the last wake-up was an EBADF treated as spurious (#onWake). */
  #badFdWake = false;

  readonly #onWake = (result: unknown): void => {
    this.#armed = false;
    this.#inlineRounds = 0;
    this.#turnDeadline = performance.now() + this.#inlineWaitBudgetUs / 1000;
    if (this.core.closed) return;
    // The process-wide poller answers EBADF (POLLNVAL) for a fd number that
    // was closed while it polled; a ring that reuses the number may get
    // that answer once. Our fd is open (only close() closes it), so one such
    // wake-up is spurious; two in a row mean the fd really went away.
    const staleBadFd = result === -EBADF && !this.#badFdWake;
    this.#badFdWake = result === -EBADF;
    if (staleBadFd) result = 0;
    if (typeof result !== "number" || (result < 0 && result !== -EINTR)) {
      // The waiter itself failed (this should not happen on a healthy
      // ring): fail what is in flight rather than spin re-arming it.
      this.#failInFlight(
        typeof result === "number"
          ? UringError.from(result, { op: "io_uring_enter", fd: this.core.fd })
          : result,
      );
      return;
    }
    this.#reapAll();
    this.#refill();
    // Arming waits for the flush microtask, which runs after the promise
    // continuations just released have queued their next requests: one
    // io_uring_enter submits them all, and completions that finish inline
    // are reaped before the waiter is armed again.
    this.#scheduleFlush();
  };

  #reapAll(): void {
    this.core.reap(this.#reapOne);
  }

  /** Moves backlog requests into the SQ while the CQ budget allows. */
  #refill(): void {
    const backlog = this.#backlog;
    while (this.#backlogHead < backlog.length) {
      const op = backlog[this.#backlogHead];
      if (op.state === SETTLED) {
        backlog[this.#backlogHead++] = undefined as unknown as PendingOp;
        continue;
      }
      if (!this.#prepare(op)) break;
      backlog[this.#backlogHead++] = undefined as unknown as PendingOp;
    }
    if (this.#backlogHead === backlog.length) {
      backlog.length = 0;
      this.#backlogHead = 0;
    } else if (
      this.#backlogHead > 1024 && this.#backlogHead * 2 > backlog.length
    ) {
      backlog.splice(0, this.#backlogHead);
      this.#backlogHead = 0;
    }
  }

  #complete(low: number, res: number, high: number): void {
    this.#inFlight--;
    if (high !== 0) return; // a cancel, linked timeout or wakeup
    const slot = low & 0xffff;
    const op = this.#ops[slot];
    if (op === undefined || op.userData !== low) return;
    this.#ops[slot] = undefined;
    this.#freeSlots.push(slot);
    let failure: unknown = null;
    if (op.memory !== null) {
      // The kernel is done with it: copy a staged read out, then release.
      failure = finishIo(op.memory, res, op.state !== SETTLED);
      op.memory = null;
    }
    this.#settle(op, res, failure);
    if (op.direct && ++this.#directSettled >= DEVICE_SUBMIT_CHUNK) {
      // A flush after every few O_DIRECT continuations, not only after the
      // last: the requests they make reach the device while the rest of a
      // burst of completions is still being handled (+1-5 % at QD64).
      this.#directSettled = 0;
      queueMicrotask(this.#flush);
    }
  }

  /** O_DIRECT requests settled since the last early flush was queued. */
  #directSettled = 0;

  #settle(op: PendingOp, res: number, failure: unknown = null): void {
    if (op.state === SETTLED) return;
    if (op.state === QUEUED) releaseUnsubmitted(op);
    op.state = SETTLED;
    this.#pendingCount--;
    clearDeadline(op);
    if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
    // Dropping the references only now is what keeps buffers alive and
    // unmoved until the kernel is done with them.
    op.keep = null;
    if (failure !== null) {
      op.reject(failure);
      return;
    }
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
      // Never reached the kernel: settle now; #refill skips it.
      this.#rejectUnsubmitted(op, op.signal!.reason);
      return;
    }
    this.#cancelUserData(op.userData, 0);
  }

  /** Settles a request still in the backlog: it never reached the kernel. */
  #rejectUnsubmitted(op: PendingOp, reason: unknown): void {
    op.state = SETTLED;
    this.#pendingCount--;
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
   * its slot (and `keep`) stays in the table until its CQE (#complete).
   */
  readonly #deadlines = {
    settled: (op: PendingOp) => op.state === SETTLED,
    expire: (op: PendingOp): boolean => {
      if (op.state === QUEUED) {
        this.#rejectUnsubmitted(op, timeoutError(op.spec.name, op.timeoutMs));
        return false;
      }
      this.#cancelUserData(op.userData, 0);
      return true;
    },
    giveUp: (op: PendingOp) => {
      op.state = SETTLED;
      this.#pendingCount--;
      if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
      op.reject(timeoutError(op.spec.name, op.timeoutMs));
    },
  };

  /** Queues an ASYNC_CANCEL (internal user_data); submitted with the next flush. */
  #cancelUserData(userData: number, flags: number): void {
    if (this.core.closed) return;
    if (this.core.sqSpaceLeft() < 1) this.#submitPrepared();
    const index = this.core.prepRaw(OPS.cancel.opcode, -1, userData, 0, 0, 0);
    if (index < 0) return;
    this.core.setSqeWord(index, SQE_WORDS.rwFlags, flags);
    this.core.setSqeWord(index, SQE_WORDS.userDataHigh, INTERNAL);
    this.#inFlight++;
    this.#scheduleFlush();
  }

  /**
   * Every unsettled request fails with `error`; nothing is waited for
   * again. The kernel may still own their memory, so their buffers are
   * kept reachable for the life of the process.
   */
  #failInFlight(error: unknown): void {
    for (const op of this.#ops) {
      if (op && op.state !== SETTLED) this.#failKeepingMemory(op, error);
    }
    this.#ops = [];
    this.#freeSlots = [];
    this.#inFlight = 0;
    this.#stopTaskrunCheck();
    this.#drained?.();
  }

  #failKeepingMemory(op: PendingOp, error: unknown): void {
    op.state = SETTLED;
    this.#pendingCount--;
    abandonedMemory.push(op.keep, op.memory);
    op.keep = null;
    op.memory = null;
    op.reject(error);
  }

  /**
   * io_uring_enter failed for good (not EAGAIN/EBUSY, which leave the SQEs
   * in the ring for the next flush): every prepared request fails.
   */
  #failPrepared(error: unknown): void {
    for (const op of this.#ops) {
      if (op && op.state === PREPARED) this.#failKeepingMemory(op, error);
    }
  }

  /** Closes the ring: see `AsyncRing.close()`. */
  close(): Promise<void> {
    if (this.core.closed) return Promise.reject(new RingClosedError("close"));
    this.#shuttingDown = true;
    if (
      this.#closing === undefined && !this.#armed && this.#inFlight === 0 &&
      this.core.sqReady() === 0 && this.#backlogHead === this.#backlog.length
    ) {
      // Nothing in flight: the ring closes now, not a microtask later, so
      // `ring.close(); ring.closed` is already true.
      this.#stopTaskrunCheck();
      this.#waiter?.close();
      this.core.close();
      return Promise.resolve();
    }
    this.#closing ??= this.#drainAndClose();
    return this.#closing;
  }

  async #drainAndClose(): Promise<void> {
    // Requests that never reached the kernel are settled right away.
    for (let i = this.#backlogHead; i < this.#backlog.length; i++) {
      const op = this.#backlog[i];
      if (op.state !== SETTLED) {
        this.#rejectUnsubmitted(op, new RingClosedError(op.spec.name));
      }
    }
    this.#backlog.length = 0;
    this.#backlogHead = 0;
    if (this.#inFlight > 0) {
      // Cancel everything in flight, then wait until the kernel has
      // posted every completion: only then is their memory free to go.
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      this.#cancelUserData(
        0,
        IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
      );
      this.#flushNow();
      await drained;
    }
    await this.#waiterDone;
    this.#stopTaskrunCheck();
    this.#waiter?.close();
    this.core.close();
  }

  /**
   * Closes the ring without waiting asynchronously: requests in flight are
   * cancelled and the thread blocks until the kernel has returned them, at
   * most DISPOSE_WAIT_MS; what the kernel still holds then is left to the
   * asynchronous close, and the ring closes once the last completion is in.
   */
  dispose(): void {
    if (this.core.closed) return;
    this.#shuttingDown = true;
    if (this.#inFlight > 0 || this.#backlog.length > this.#backlogHead) {
      for (let i = this.#backlogHead; i < this.#backlog.length; i++) {
        const op = this.#backlog[i];
        if (op.state !== SETTLED) this.#settle(op, -ECANCELED);
      }
      this.#backlog.length = 0;
      this.#backlogHead = 0;
      this.#cancelUserData(
        0,
        IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
      );
      this.core.submit();
      const giveUpAt = performance.now() + DISPOSE_WAIT_MS;
      while (this.#inFlight > 0) {
        const leftUs = (giveUpAt - performance.now()) * 1000;
        if (leftUs < 1) break;
        this.core.waitCqeTimeout(1, leftUs);
        this.#reapAll();
      }
      if (this.#inFlight > 0) {
        // I/O the kernel cannot cancel yet: the JS thread does not wait for
        // it. The close goes on asynchronously, as close() does.
        this.#closing ??= this.#drainAndClose();
        this.#closing.catch(() => {});
        return;
      }
    }
    if (this.#armed) {
      // The waiter may be asleep in the kernel after the reaping above: a
      // NOP left unreaped in the CQ makes its wait return.
      const index = this.core.prepRaw(OPS.nop.opcode, -1, 0, 0, 0, 0);
      if (index >= 0) {
        this.core.setSqeWord(index, SQE_WORDS.userDataHigh, INTERNAL);
      }
      this.core.submit();
    }
    this.#stopTaskrunCheck();
    this.#waiter?.close();
    this.core.close();
  }
}
