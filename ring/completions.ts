/**
 * The completion side of a ring: reading CQEs from the mapped CQ ring
 * (an acquire load of the kernel's tail, then the entries), handing slots
 * back (a release store of the head), and entering the kernel when it holds
 * completions back (CQ overflow, deferred task work), so none is missed.
 * `RingCore` holds one and delegates its CQ methods to it.
 *
 * @module
 */
import type { CqeView } from "../structs/cqe.ts";
import type { IoUringEnter } from "./enter.ts";
import type { RingQueues } from "./queues.ts";

/**
 * What one `reap` callback receives for each completion, without creating
 * any object: the low and high 32 bits of `user_data`, the result and flags.
 *
 * @example
 * ```ts
 * import type { CompletionHandler } from "./core.ts";
 * const onCqe: CompletionHandler = (id, res) => console.log(id, res);
 * ```
 */
export type CompletionHandler = (
  userDataLow: number,
  res: number,
  flags: number,
  userDataHigh: number,
) => void;

/**
 * Covers every CQE word index of the CQ ring mapping (at most 65536
 * entries x 8 words after a small header = under 2^20); see reap.
 */
const CQE_WORD_INDEX_MASK = 0x1fffff;

/**
 * The CQ ring of one ring, read from TypeScript. Methods are documented
 * where users call them, on `RingCore` (`cqReady`, `peekCqe`, `reap`, ...).
 *
 * @example
 * ```ts
 * import { CompletionQueue } from "./completions.ts";
 * import type { IoUringEnter } from "./enter.ts";
 * import type { RingQueues } from "./queues.ts";
 * declare const queues: RingQueues, enter: IoUringEnter;
 * const cq = new CompletionQueue(queues.cq, enter);
 * cq.reap((id, res) => console.log(id, res));
 * ```
 */
export class CompletionQueue {
  readonly #ring: Uint32Array;
  readonly #ringI32: Int32Array;
  readonly #headIndex: number;
  readonly #tailIndex: number;
  readonly #overflowIndex: number;
  readonly #mask: number;
  readonly #cqeWord0: number;
  readonly #cqeWordsPerEntry: number;
  readonly #views: CqeView[];
  readonly #enter: IoUringEnter;
  #head: number;

  /** Reads `cq` (mapped by mapQueues); enters through `enter` to flush. */
  constructor(cq: RingQueues["cq"], enter: IoUringEnter) {
    this.#ring = cq.ring;
    this.#ringI32 = cq.ringI32;
    this.#headIndex = cq.head;
    this.#tailIndex = cq.tail;
    this.#overflowIndex = cq.overflow;
    this.#mask = cq.mask;
    this.#cqeWord0 = cq.cqeWord0;
    this.#cqeWordsPerEntry = cq.cqeWordsPerEntry;
    this.#views = cq.cqeViews;
    this.#enter = enter;
    this.#head = Atomics.load(cq.ring, cq.head);
  }

  /** Number of completions ready to be read. */
  ready(): number {
    // Acquire: CQE contents are visible once the tail that covers them is.
    return (Atomics.load(this.#ring, this.#tailIndex) - this.#head) >>> 0;
  }

  /** Completions the kernel had to drop (cq.overflow). */
  overflow(): number {
    return Atomics.load(this.#ring, this.#overflowIndex);
  }

  /** The oldest unseen completion (flushing held-back ones), or null. */
  peek(): CqeView | null {
    if (Atomics.load(this.#ring, this.#tailIndex) !== this.#head) {
      return this.#views[this.#head & this.#mask];
    }
    if (this.#enter.cqNeedsFlush()) {
      this.#enter.getEvents(0);
      if (Atomics.load(this.#ring, this.#tailIndex) !== this.#head) {
        return this.#views[this.#head & this.#mask];
      }
    }
    return null;
  }

  /**
   * How many of `userData[0..count)` (requests, high word 0) are among the
   * ready completions in that order, possibly with others between them:
   * the length of the prefix found in one pass.
   */
  holdsInOrder(userData: readonly number[], count: number): number {
    const cq = this.#ring;
    const tail = Atomics.load(cq, this.#tailIndex);
    let found = 0;
    for (let head = this.#head; head !== tail && found < count;) {
      const w = this.#cqeWord0 + (head & this.#mask) * this.#cqeWordsPerEntry;
      if (cq[w] === userData[found] && cq[w + 1] === 0) found++;
      head = (head + 1) >>> 0;
    }
    return found;
  }

  /** Marks `n` completions as seen. */
  advance(n: number): void {
    if (n <= 0) return;
    this.#head = (this.#head + n) >>> 0;
    // Release: our reads of those CQEs are done before the kernel reuses them.
    Atomics.store(this.#ring, this.#headIndex, this.#head);
  }

  /** Calls `handler` for every completion, then advances past them. */
  reap(handler: CompletionHandler): number {
    let total = 0;
    for (;;) {
      let head = this.#head;
      const tail = Atomics.load(this.#ring, this.#tailIndex);
      if (head === tail) {
        if (!this.#enter.cqNeedsFlush()) break;
        this.#enter.getEvents(0);
        if (Atomics.load(this.#ring, this.#tailIndex) === head) break;
        continue;
      }
      const cq = this.#ring;
      const cqI32 = this.#ringI32;
      const mask = this.#mask;
      const stride = this.#cqeWordsPerEntry;
      const first = this.#cqeWord0;
      while (head !== tail) {
        // Masked like RingCore.prepRaw's base: a bounded value, no
        // overflow checks.
        const w = (first + (head & mask) * stride) & CQE_WORD_INDEX_MASK;
        handler(cq[w], cqI32[w + 2], cq[w + 3], cq[w + 1]);
        head = (head + 1) >>> 0;
        total++;
      }
      this.#head = head;
      Atomics.store(cq, this.#headIndex, head);
    }
    return total;
  }
}
