/**
 * The completion pump of `Ring`: it moves requests from the backlog into
 * SQEs, submits them in batches (in chunks for O_DIRECT), reaps
 * completions inline or through the waiter (the realm's shared poll
 * thread, which wakes when the CQ is not empty), and drains the ring at
 * close. It drives the ring's `RingCore`; the requests themselves (the
 * pending table, the backlog, how each promise settles) are kept by
 * `PendingRequests` (pending.ts), and its event-loop timers are in
 * pump_timers.ts.
 *
 * One rule keeps the waiter from sleeping through a completion: while it is
 * armed, the JS thread never advances the CQ head, so any completion posted
 * after it went to sleep is still counted when it wakes.
 *
 * @module
 */
import { cachedAddress, completionWaiter, monotonicMs } from "../ffi/mod.ts";
import type { CompletionWaiter } from "../ffi/mod.ts";
import type { RingCore } from "./core.ts";
import { OPS } from "./ops.ts";
import { RingClosedError, UringError } from "./errors.ts";
import { TimespecView } from "../structs/iovec.ts";
import { SQE_FLAGS_SHIFT, SQE_WORDS } from "../structs/sqe.ts";
import { directIoHint, storageFdHint } from "../sys/fd.ts";
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_OP_TIMEOUT,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_SQPOLL,
  IOSQE_IO_LINK,
} from "../structs/constants.ts";
import { EAGAIN, EBADF, EBUSY, EINTR, ETIME } from "../structs/errno.ts";
import { applyAttributes } from "./attributes.ts";
import { DISPOSE_WAIT_MS } from "./deadlines.ts";
import { type PendingOp, PendingRequests, type RereadFn } from "./pending.ts";
import { TaskrunCheck, TimerTurnMarker } from "./pump_timers.ts";
import { InlineChain } from "./inline_chain.ts";
import { DoneNow } from "./done_now.ts";
import { InPlaceRead, InPlaceReads } from "./in_place.ts";
import type { RequestMemory } from "./io_memory.ts";

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

/**
 * A submit-and-sleep that returned within this many µs most likely found
 * its request completed inside the submit (page-cached data): there the
 * sleep's set-up in the kernel cost about 0.7 µs per request (cached 4 KiB
 * reads at depth 1 went from 595K to 413K IOPS on Deno, paired).
 */
const INLINE_SUBMIT_US = 3;

/** user_data high word of internal requests (cancels, linked timeouts, wakeups). */
const INTERNAL = 1;

/**
 * The completion machinery of one `Ring`: submits its requests and hands
 * their completions to its `PendingRequests`.
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
  /** The ring's unsettled requests: pending table, backlog, settling. */
  readonly #requests: PendingRequests;
  /** CQEs the kernel still owes us (requests + internal SQEs in flight). */
  #inFlight = 0;
  readonly #capacity: number;
  #flushScheduled = false;
  #waiter: CompletionWaiter | undefined;
  #armed = false;
  #waiterDone: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  readonly #flush = () => this.#flushNow(true);
  /**
   * The submit queued among a burst of O_DIRECT completions (#complete):
   * it hands the kernel what the continuations so far have queued, and
   * nothing more. Reaping, sleeping in the kernel and arming the waiter
   * are left to the flush queued after the burst: when this did them, it
   * armed the waiter mid-burst, and every later flush of the burst then
   * only submitted, so the chain never slept for the next completion and
   * each one came back through the waiter (O_DIRECT depth 16: 1.12-1.14x
   * with this, paired; docs/perf.md).
   */
  readonly #earlySubmit = () => {
    if (!this.core.closed) this.#submitPrepared();
  };
  readonly #reapOne = (low: number, res: number, _f: number, high: number) =>
    this.#complete(low, res, high);

  /**
   * Drives `core`. `read` re-reads a range to explain an integrity
   * failure; `inlineWaitBudgetUs` is `RingSetupOptions.inlineWaitBudgetUs`
   * (how long a chain of inline completion handling may hold the thread).
   */
  constructor(
    core: RingCore,
    read: RereadFn,
    inlineWaitBudgetUs?: number,
    memory?: RequestMemory,
  ) {
    this.core = core;
    this.#requests = new PendingRequests(
      read,
      (userData) => this.#cancelUserData(userData, 0),
      memory,
      () => this.#scheduleFlush(),
    );
    // Never have more CQE producers in flight than the CQ holds, so the
    // kernel never has to keep completions in its overflow list.
    this.#capacity = Math.min(core.cqEntries, 65535);
    this.#sqpollRing = (core.flags & IORING_SETUP_SQPOLL) !== 0;
    if (core.flags & IORING_SETUP_COOP_TASKRUN) {
      this.#taskrun = new TaskrunCheck(core, () => this.#inFlight !== 0);
    }
    this.#chain = new InlineChain(inlineWaitBudgetUs);
    this.#doneNow = new DoneNow(
      this.#chain,
      () => this.#marker.watchTurn(),
      (size) => this.#noteBatch(size),
    );
  }

  /** Takes a new request: into the SQ now, or into the backlog in order. */
  enqueue(op: PendingOp): void {
    const requests = this.#requests;
    requests.add(op);
    // Keep order: nothing overtakes requests already waiting in the backlog.
    if (requests.backlogSize > 0 || !this.#prepare(op)) requests.defer(op);
    this.#scheduleFlush();
  }

  /** Requests submitted or queued and not yet settled. */
  get pending(): number {
    return this.#requests.count;
  }

  /** Whether close() has started: new requests are refused. */
  get shuttingDown(): boolean {
    return this.#requests.shuttingDown;
  }

  /**
   * The Promise of a request already carried out on the JS thread (a read
   * done at once, sys/read_now.ts), resolving to `res`: see done_now.ts.
   */
  settleDoneNow(res: number): Promise<number> {
    return this.#doneNow.settle(res);
  }

  /**
   * Whether no request waits to go to the kernel (none prepared in the SQ,
   * none in the backlog): a request done at once then overtakes none that
   * was made before it (a write and then a read of the same bytes in one
   * tick keep their order of submission).
   */
  get nothingQueued(): boolean {
    return this.core.sqReady() === 0 && this.#requests.backlogSize === 0;
  }

  /**
   * Whether requests have lately come one at a time (about one per
   * io_uring_enter, or per burst of requests done at once): then a read of
   * cached data is done at once on the JS thread (sys/read_now.ts); in
   * batches, one io_uring_enter for all of them costs less.
   */
  get unbatched(): boolean {
    return this.#perBatch < 1.5;
  }

  /** Requests per io_uring_enter or burst lately (a moving average). */
  #perBatch = 1;

  #noteBatch(size: number): void {
    this.#perBatch += (size - this.#perBatch) / 8;
  }

  /** The event loop has turned (the marker ran): a new chain may start. */
  #turned(): void {
    this.#chain.reset();
    this.#doneNow.turned();
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
    // A read or write on a pipe, socket or terminal may wait for ever, and
    // so does a timeout: the pump never sleeps in the kernel for them.
    const quick = op.spec.attributes
      ? storageFdHint(op.fd)
      : op.spec.opcode !== IORING_OP_TIMEOUT;
    const userData = this.#requests.reserveSlot();
    const index = this.core.prepRaw(
      op.spec.opcode,
      op.fd,
      op.addr,
      op.len,
      op.off,
      userData,
    );
    if (op.memory instanceof InPlaceRead) {
      this.#inPlace.add(op.memory, (this.core.sqTail - 1) >>> 0, userData);
    }
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
    op.quick = quick;
    if (quick) this.#quickInFlight++;
    if (direct) this.#directInFlight++;
    this.#requests.track(op, userData);
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
    this.#settledAtQueue = this.#settled;
    queueMicrotask(this.#flush);
  }

  /**
   * Whether requests have been completing inside their submit (cached
   * data): then a flush submits alone, and sleeps only if it must.
   */
  #submitCompletes = false;

  /**
   * Submits the prepared SQEs and sleeps up to `us` µs for a completion in
   * the same io_uring_enter; a flush for the chunked O_DIRECT submit takes
   * #submitPrepared first. Errors are those of #submitPrepared. Returns
   * what the wait returned (-ETIME: nothing came).
   */
  #submitAndWait(us: number): number {
    if (this.#directPrepared >= SUBMIT_CHUNKED_MIN || this.#sqpollRing) {
      this.#submitPrepared();
      return this.core.waitCqeTimeout(1, us);
    }
    this.#directPrepared = 0;
    const inPlace = this.#inPlace;
    if (inPlace.size > 0) inPlace.beforeSubmit(this.core);
    const result = this.core.waitCqeTimeout(1, us, true);
    if (inPlace.size > 0) inPlace.afterSubmit(this.core);
    if (result >= 0 || result === -ETIME || result === -EINTR) return result;
    // Out of kernel resources for now: the SQEs stay in the ring and go
    // with the next io_uring_enter.
    if (result === -EAGAIN || result === -EBUSY) return result;
    this.#requests.failPrepared(
      UringError.from(result, { op: "io_uring_enter", fd: this.core.fd }),
    );
    return result;
  }

  #submitPrepared(): void {
    // Entries left by an EAGAIN/EBUSY submit count too: flushSq() is the
    // number published but not yet taken by the kernel.
    const pending = this.core.flushSq();
    if (pending === 0) return;
    const direct = this.#directPrepared;
    this.#directPrepared = 0;
    const inPlace = this.#inPlace;
    if (inPlace.size > 0) inPlace.beforeSubmit(this.core);
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
      // Failed for good: every prepared request fails.
      this.#requests.failPrepared(error);
    } finally {
      if (inPlace.size > 0) inPlace.afterSubmit(this.core);
    }
  }

  /**
   * Submits what was queued and handles completions. `mayWait`: whether
   * it may sleep in the kernel; not for a flush queued in the middle of a
   * burst of completions, whose later continuations still have to run.
   */
  #flushNow(mayWait: boolean): void {
    this.#flushScheduled = false;
    if (this.core.closed) return;
    const batch = this.core.sqReady();
    if (batch > 0) this.#noteBatch(batch);
    if (this.#armed) {
      this.#submitPrepared();
      return;
    }
    // A chain (inline_chain.ts): within its time budget this turn reaps
    // what completed, submits what that released, and sleeps briefly in
    // the kernel for a quick request about to complete, skipping the
    // waiter's round trip. Past the budget, the event loop gets its turn.
    const chain = this.#chain;
    let now = monotonicMs();
    const open = chain.open(now);
    // Sleep only once the program has had its say: no request settled
    // since this flush was queued (the continuations of those that did run
    // before it, in order), and none by the reap below (theirs run after
    // it). Sleeping while continuations are still to run would hold back
    // the requests they are about to make: at depth 16-64 on O_DIRECT
    // that cost 20-30 % of the throughput.
    let wait = open && mayWait && this.#settled === this.#settledAtQueue;
    if (
      wait && !this.#submitCompletes && this.#quickInFlight > 0 &&
      this.core.cqReady() === 0
    ) {
      // Nothing to reap yet: submit and sleep in one io_uring_enter, the
      // synchronous loop's shape (one system call per request at depth 1).
      wait = false;
      const us = chain.waitUs(now, this.#directInFlight > 0);
      if (us > 0) {
        const result = this.#submitAndWait(us);
        const after = monotonicMs();
        const tookUs = (after - now) * 1000;
        chain.waited(result, tookUs);
        now = after;
        // Back in a few µs: the request most likely completed inside the
        // submit (cached data), where the wait's set-up is pure cost.
        if (tookUs < INLINE_SUBMIT_US) this.#submitCompletes = true;
      } else {
        this.#submitPrepared();
      }
    } else {
      const before = this.core.cqReady();
      this.#submitPrepared();
      // A submit that completed nothing inline: the next flush that may
      // sleep submits and sleeps in one enter again.
      if (this.#submitCompletes && this.core.cqReady() === before) {
        this.#submitCompletes = false;
      }
    }
    if (open) {
      this.#reapAll();
      this.#refill();
      this.#submitPrepared();
      if (
        wait && this.#settled === this.#settledAtQueue &&
        this.#quickInFlight > 0
      ) {
        const us = chain.waitUs(now, this.#directInFlight > 0);
        if (us > 0) {
          const result = this.core.waitCqeTimeout(1, us);
          const after = monotonicMs();
          chain.waited(result, (after - now) * 1000);
          now = after;
          this.#reapAll();
          this.#refill();
          this.#submitPrepared();
        }
      }
    }
    if (this.#inFlight === 0) {
      // Requests settled some other way (an abort) leave no count behind.
      this.#quickInFlight = 0;
      this.#directInFlight = 0;
      this.#taskrun?.stop();
      this.#drained?.();
      // The next request may come turns later: the marker ends this chain
      // when the event loop turns, so that request starts a fresh one.
      this.#marker.watchTurn();
    } else if (
      !open && (this.core.cqReady() > 0 ||
        (this.#quickInFlight > 0 && chain.willWait()))
    ) {
      // The budget is spent; completions wait, or quick requests the next
      // chain would sleep for are in flight: a turn of the event loop (the
      // marker), then that reap or sleep, beats the waiter's round trip.
      this.#marker.watchTurn();
      this.#marker.callAfterTurn();
    } else if (
      this.#waiter?.canStarveTimers && this.#marker.timersStarved()
    ) {
      // The marker arms the waiter once the event loop has turned.
      this.#marker.callAfterTurn();
    } else {
      this.#arm();
    }
  }

  /**
   * Ends the chain when the event loop turns, and holds the waiter back
   * while timers are kept waiting (Bun).
   */
  readonly #marker = new TimerTurnMarker(() => {
    if (this.core.closed || this.#armed) return;
    // What completed meanwhile is reaped inline, then the waiter is armed
    // (or the ring drains) as after any flush.
    this.#scheduleFlush();
  }, () => this.#turned());

  /** O_DIRECT reads and writes prepared since the last submit. */
  #directPrepared = 0;
  /** SQPOLL rings submit through their kernel thread (never in chunks). */
  readonly #sqpollRing: boolean;
  /** Runs deferred completion work on COOP_TASKRUN rings, else undefined. */
  readonly #taskrun: TaskrunCheck | undefined;
  /** The current chain of inline completion handling (inline_chain.ts). */
  readonly #chain: InlineChain;
  /** Requests done at once on the JS thread and their Promises. */
  readonly #doneNow: DoneNow;
  /** Requests in flight that complete on their own, soon (PendingOp.quick). */
  #quickInFlight = 0;
  /** O_DIRECT requests in flight: a chain's sleeps end with its budget. */
  #directInFlight = 0;
  /** In-place reads whose SQEs the kernel may not have taken yet. */
  readonly #inPlace = new InPlaceReads();
  /** Requests settled by completions so far (a running count). */
  #settled = 0;
  /** `#settled` when the pending flush was queued. */
  #settledAtQueue = 0;

  #arm(): void {
    this.#armed = true;
    this.#taskrun?.start();
    this.#waiter ??= completionWaiter(this.core.fd);
    this.#waiterDone = this.#waiter.wait().then(this.#onWake, this.#onWake);
  }

  /** Whether the last wake-up was an EBADF treated as spurious (#onWake). */
  #badFdWake = false;

  readonly #onWake = (result: unknown): void => {
    this.#armed = false;
    this.#chain.reset(true);
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
    const requests = this.#requests;
    for (let op = requests.nextDeferred(); op !== undefined;) {
      if (!this.#prepare(op)) break;
      requests.takeDeferred();
      op = requests.nextDeferred();
    }
    requests.compactBacklog();
  }

  #complete(low: number, res: number, high: number): void {
    this.#inFlight--;
    if (high !== 0) return; // a cancel, linked timeout or wakeup
    const op = this.#requests.complete(low, res);
    if (op === undefined) return;
    this.#settled++;
    if (op.quick) this.#quickInFlight--;
    if (op.direct) {
      this.#directInFlight--;
      if (++this.#directSettled >= DEVICE_SUBMIT_CHUNK) {
        // A submit after every few O_DIRECT continuations, not only after
        // the last: the requests they make reach the device while the rest
        // of a burst of completions is still being handled (+1-5 % at QD64).
        this.#directSettled = 0;
        queueMicrotask(this.#earlySubmit);
      }
    }
  }

  /** O_DIRECT requests settled since the last early submit was queued. */
  #directSettled = 0;

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
   * Every unsettled request fails with `error` (its memory kept for good:
   * the kernel may still own it); nothing is waited for again.
   */
  #failInFlight(error: unknown): void {
    this.#requests.failTracked(error);
    this.#inFlight = 0;
    this.#quickInFlight = 0;
    this.#directInFlight = 0;
    this.#taskrun?.stop();
    this.#drained?.();
  }

  /** Closes the ring: see `AsyncRing.close()`. */
  close(): Promise<void> {
    if (this.core.closed) return Promise.reject(new RingClosedError("close"));
    this.#requests.shutDown();
    if (
      this.#closing === undefined && !this.#armed && this.#inFlight === 0 &&
      this.core.sqReady() === 0 && this.#requests.backlogSize === 0
    ) {
      // Nothing in flight: the ring closes now, not a microtask later, so
      // `ring.close(); ring.closed` is already true.
      this.#closeNow();
      return Promise.resolve();
    }
    this.#closing ??= this.#drainAndClose();
    return this.#closing;
  }

  async #drainAndClose(): Promise<void> {
    // Requests that never reached the kernel are settled right away.
    this.#requests.rejectBacklog();
    if (this.#inFlight > 0) {
      // Cancel everything in flight, then wait until the kernel has
      // posted every completion: only then is their memory free to go.
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      this.#cancelUserData(
        0,
        IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
      );
      // No sleeping in the kernel while closing: the waiter collects.
      this.#flushNow(false);
      await drained;
    }
    await this.#waiterDone;
    this.#closeNow();
  }

  /**
   * Closes the ring without waiting asynchronously: requests in flight are
   * cancelled and the thread blocks until the kernel has returned them, at
   * most DISPOSE_WAIT_MS; what the kernel still holds then is left to the
   * asynchronous close, and the ring closes once the last completion is in.
   */
  dispose(): void {
    if (this.core.closed) return;
    this.#requests.shutDown();
    if (this.#inFlight > 0 || this.#requests.backlogSize > 0) {
      this.#requests.cancelBacklog();
      this.#cancelUserData(
        0,
        IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
      );
      this.#submitPrepared();
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
      this.#submitPrepared();
    }
    this.#closeNow();
  }

  /** Stops the timers and the waiter, then closes the ring fd. */
  #closeNow(): void {
    this.#taskrun?.stop();
    this.#waiter?.close();
    this.core.close();
  }
}
