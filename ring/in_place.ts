/**
 * In-place reads: a read of page-cached data into a caller's buffer goes to
 * the kernel with the caller's own address and RWF_NOWAIT, instead of
 * through a staging slice and a copy.
 *
 * Staging exists because the kernel must never write into memory the
 * program can free meanwhile (a transfer, a postMessage), and JavaScript
 * runs between a submit and its completion. An in-place read has no such
 * window:
 *
 * - RWF_NOWAIT makes the kernel complete the read inside the submitting
 *   io_uring_enter (a copy from the page cache) or fail it there with
 *   EAGAIN; with the flag the request is never handed to an io-wq worker
 *   nor parked on a poll (io_uring's REQ_F_NOWAIT, since Linux 5.x).
 * - Just before each submitting io_uring_enter, every in-place SQE not yet
 *   taken by the kernel is checked: if its buffer was detached or shrunk
 *   since the read was asked for, the SQE is made a zero-length read (it
 *   touches nothing) and the promise rejects with the same TypeError a
 *   staged read gives.
 * - Right after that io_uring_enter, every in-place SQE the kernel took
 *   must have its completion in the CQ. One that has not (a read that went
 *   to a device after all: an fd that became O_DIRECT behind the fd cache,
 *   or a driver that reads asynchronously) is waited for there, in the
 *   kernel, before any JavaScript runs again. So a stale hint costs time,
 *   never memory safety.
 *
 * A read that finds its data not cached (EAGAIN) or only partly (a short
 * read) goes on through the ring as a staged read of the rest
 * (`PendingRequests`); file systems without RWF_NOWAIT (tmpfs, 9p, NFS)
 * are told apart once per fd (sys/nowait.ts) and always staged.
 *
 * @module
 */
import type { RingCore } from "./core.ts";
import { SQE_WORDS } from "../structs/sqe.ts";

/**
 * What in-place reads have done in this realm, for tests and diagnosis:
 * `prepared` went to the kernel in place, `retried` went on staged (data
 * not cached, or only part of it), `lost` found their buffer detached
 * before the submit, `waited` had to be waited for after it (the read did
 * not complete inside the submit).
 *
 * @example
 * ```ts
 * import { inPlaceCounts } from "./in_place.ts";
 * inPlaceCounts.waited; // 0 unless an fd turned O_DIRECT behind the cache
 * ```
 */
export const inPlaceCounts = { prepared: 0, retried: 0, lost: 0, waited: 0 };

/**
 * The memory record of an in-place read (`PendingOp.memory`): the caller's
 * view the kernel writes into directly, and where its SQE sits.
 *
 * @example
 * ```ts
 * import { InPlaceRead } from "./in_place.ts";
 * const read = new InPlaceRead(new Uint8Array(4096));
 * read.length; // 4096
 * ```
 */
export class InPlaceRead {
  /** The caller's view (the read's target). */
  readonly view: ArrayBufferView;
  /** Its length when the read was asked for. */
  readonly length: number;
  /** SQ position (u32) of its SQE; -1 until prepared. */
  position = -1;
  /** user_data (low word) of its SQE. */
  userData = 0;
  /**
   * Set when the view was detached or shrunk before the submit: the SQE
   * was made a zero-length read and the promise rejects.
   */
  lost = false;

  /** A record for a read into `view`. */
  constructor(view: ArrayBufferView) {
    this.view = view;
    this.length = view.byteLength;
  }
}

/**
 * Whether `view` is over a buffer that keeps its memory while it is not
 * detached: not a resizable ArrayBuffer (a growable SharedArrayBuffer
 * never moves nor shrinks).
 *
 * @example
 * ```ts
 * import { fixedLength } from "./in_place.ts";
 * fixedLength(new Uint8Array(8)); // true
 * ```
 */
export function fixedLength(view: ArrayBufferView): boolean {
  return (view.buffer as { resizable?: boolean }).resizable !== true;
}

/**
 * The TypeError of an in-place read whose buffer was detached or shrunk
 * before it was submitted (the same a staged read gives at completion).
 *
 * @example
 * ```ts
 * import { InPlaceRead, lostError } from "./in_place.ts";
 * lostError(new InPlaceRead(new Uint8Array(8))).name; // "TypeError"
 * ```
 */
export function lostError(read: InPlaceRead): TypeError {
  return new TypeError(
    `read: the buffer was detached, transferred or shrunk while the ` +
      `request was in flight (it has ${read.view.byteLength} bytes, ` +
      `${read.length} were asked for); nothing was read into it`,
  );
}

/**
 * The in-place reads of one ring whose SQEs are prepared and may not have
 * been taken by the kernel yet; see the module text for the two checks
 * around each submitting io_uring_enter.
 *
 * @example
 * ```ts
 * import { InPlaceReads } from "./in_place.ts";
 * const reads = new InPlaceReads();
 * reads.size; // 0
 * ```
 */
export class InPlaceReads {
  /**
   * The tracked reads in `[0, #count)`; slots past it are null. The array
   * is never truncated: a `length` store is a V8 runtime call (and one to
   * 0 drops the backing store, which the next `push` allocates again);
   * done after every submit it cost ~5 % of a page-cached 4 KiB read on
   * Deno.
   */
  readonly #reads: (InPlaceRead | null)[] = [];
  #count = 0;

  /** How many are tracked (0: both checks are skipped). */
  get size(): number {
    return this.#count;
  }

  /** Tracks `read`, just prepared at SQ `position` with `userData`. */
  add(read: InPlaceRead, position: number, userData: number): void {
    read.position = position;
    read.userData = userData;
    this.#reads[this.#count++] = read;
    inPlaceCounts.prepared++;
  }

  /**
   * Before a submitting io_uring_enter: an SQE whose buffer is no longer
   * what it was becomes a zero-length read.
   */
  beforeSubmit(core: RingCore): void {
    const taken = core.sqTaken();
    const reads = this.#reads;
    for (let i = 0; i < this.#count; i++) {
      const read = reads[i]!;
      if (read.lost || ((read.position - taken) | 0) < 0) continue;
      // Transferred or detached: the old views read 0 bytes long; a
      // resizable buffer that shrank reads shorter.
      if (read.view.byteLength === read.length) continue;
      const index = read.position & (core.sqEntries - 1);
      core.setSqeWord(index, SQE_WORDS.addr, 0);
      core.setSqeWord(index, SQE_WORDS.addr + 1, 0);
      core.setSqeWord(index, SQE_WORDS.len, 0);
      read.lost = true;
      inPlaceCounts.lost++;
    }
  }

  /**
   * After a submitting io_uring_enter: every in-place read the kernel took
   * has its completion in the CQ before this returns (see the module
   * text); those are no longer tracked.
   */
  afterSubmit(core: RingCore): void {
    const taken = core.sqTaken();
    const reads = this.#reads;
    const count = this.#count;
    let kept = 0;
    let done = 0;
    for (let i = 0; i < count; i++) {
      const read = reads[i]!;
      if (((read.position - taken) | 0) >= 0) {
        reads[kept++] = read; // still in the SQ
      } else if (!read.lost) {
        this.#taken[done++] = read.userData;
      }
    }
    // Untracked reads are let go: they must not keep the caller's view.
    for (let i = kept; i < count; i++) reads[i] = null;
    this.#count = kept;
    if (done === 0) return;
    // Reads issued inside the submit complete in the order they were
    // taken, so one pass over the CQ finds them all in the common case;
    // otherwise each is looked for (and waited for) on its own.
    const found = core.cqHoldsInOrder(this.#taken, done);
    for (let i = found; i < done; i++) awaitCompletion(core, this.#taken[i]);
  }

  /** user_data of the reads the last submit took (scratch of afterSubmit). */
  #taken: number[] = [];
}

/**
 * Blocks until the CQ holds the completion with `userData` (normally it is
 * there already: the read completed inside the submit).
 */
function awaitCompletion(core: RingCore, userData: number): void {
  const wanted = [userData];
  if (core.cqHoldsInOrder(wanted, 1) === 1) return;
  inPlaceCounts.waited++;
  // Returning before it is in would let JavaScript free the memory the
  // kernel is writing, so this waits for as long as it takes, but in 1 ms
  // steps: on a COOP_TASKRUN ring (the default) a device completion is
  // posted by task work of this thread, and task work queued while the
  // thread sleeps in io_uring_enter does not wake it (COOP_TASKRUN's
  // TWA_NONE), so an unbounded wait can sleep for ever; a CI run hung in
  // both Linux 6.1 guests with their CPUs idle, which this would explain.
  // Each enter runs that work.
  while (core.cqHoldsInOrder(wanted, 1) === 0) {
    core.waitCqeTimeout(core.cqReady() + 1, 1000);
  }
}
