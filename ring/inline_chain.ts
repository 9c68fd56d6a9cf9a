/**
 * When the Promise layer handles completions on the JS thread itself
 * instead of sending it back through its waiter thread (ring/pump.ts).
 *
 * A waiter round trip (the waiter wakes in poll, the runtime wakes the JS
 * thread, a macrotask runs) costs 15-40 µs, and at low depth every request
 * pays it: 4 KiB reads on /dev/shm at depth 1 made 38K IOPS through the
 * waiter against 232K for a synchronous loop on the same ring (Deno). So
 * the pump works in **chains**: flushes in a row, each submitting what the
 * program queued, reaping what completed and, when requests are in flight,
 * sleeping in the kernel (io_uring_enter with a timeout) for the next
 * completion, all without leaving the current turn of the event loop. A
 * chain ends when it has held the thread for {@linkcode CHAIN_BUDGET_MS},
 * so timers and other callbacks wait at most about that long; the next
 * turn starts a new chain.
 *
 * Sleeping in the kernel only pays when a completion comes soon. A wait
 * that times out (a socket, a timer, a slow device) makes the chain skip
 * its next waits, twice as many after each timeout in a row (up to
 * {@linkcode MAX_SKIPPED_WAITS}), and the waiter takes over: requests that
 * take long cost the thread one short sleep now and then, nothing more.
 *
 * @module
 */
import { ETIME } from "../structs/errno.ts";

/**
 * How long one chain may hold the JS thread, in ms. Under 1 ms so that a
 * 1 ms interval timer keeps its pace (measured on Bun with the old
 * completion marker: 1 ms let it fire 42-61 % of its ticks during a
 * full-speed read loop, 0.5 ms 72-75 %); the waiter round trip it costs
 * once per chain is a few percent of the chain.
 */
export const CHAIN_BUDGET_MS = 0.5;

/**
 * The budget of a chain that starts from a wake-up of the waiter, in ms.
 * A wake-up is not a turn in which timers run (on Deno, back-to-back
 * wake-ups kept a 1 ms interval timer from firing for 5-6 ms), so chains
 * started by wake-ups follow each other with nothing in between. With 16
 * /dev/shm reads in flight, the p99 lateness of a 1 ms interval timer
 * followed the chain budget: 1.8-2.9 ms at 0.5 ms, 0.9-1.8 at 0.2, 0.9-1.5
 * at 0.1 (both runtimes, two runs each); with only the chains after a
 * wake-up at 0.1 ms, 1.1-1.5, throughput within noise (paired). A chain
 * started by a turn of the event loop (the marker) keeps the full budget:
 * there a shorter one cost page-cached reads at depth 1 2-3.5 % on Deno.
 */
export const WAKE_CHAIN_BUDGET_MS = 0.1;

/**
 * The timeout of one sleep in the kernel for a completion, in µs. Long on
 * purpose: measured on a VM (kernel 6.18, 4 KiB reads from /dev/shm at
 * depth 1), a wait with a 100 µs-1 ms timeout woke 20-50 µs after the
 * completion, one with 5-100 ms in under 5 µs, like a wait with none (an
 * hrtimer due sooner than the tick reprograms the timer device, which a
 * VM pays for in exits). The sleep ends at the first completion; the
 * timeout only bounds a request that does not come, and the back-off
 * makes that a rare cost.
 */
export const INLINE_WAIT_TIMEOUT_US = 5000;

/**
 * A completion that took longer than this to arrive (µs) is not "about to
 * arrive": the waiter's round trip costs less than the thread's sleep.
 * The average over recent waits decides whether the next flush waits.
 */
export const SLOW_WAIT_US = 250;

/**
 * Waits that took longer than this on average (µs) are a device's, not
 * memory's or the page cache's: such a sleep ends with the chain's budget
 * (see {@linkcode InlineChain.waitUs}).
 */
export const DEVICE_WAIT_US = 50;

/** The shortest sleep bounded by the chain's budget, µs. */
export const MIN_BOUNDED_WAIT_US = 50;

/** The most flushes a chain skips waiting in after timeouts in a row. */
export const MAX_SKIPPED_WAITS = 256;

/**
 * The clock and the wait policy of the pump's inline chains.
 *
 * @example
 * ```ts
 * import { InlineChain } from "./inline_chain.ts";
 * const chain = new InlineChain(500);
 * const now = performance.now();
 * if (chain.open(now)) {
 *   const us = chain.waitUs(now); // how long to sleep for a completion
 *   chain.waited(us > 0 ? 1 : -62, 12);
 * }
 * chain.reset(); // a new turn of the event loop
 * ```
 */
export class InlineChain {
  /** The chain budget in ms. */
  readonly #budgetMs: number;
  /** The current chain's budget in ms (shorter after a wake-up). */
  #chainBudgetMs: number;
  /** The pump's clock (ms) when this chain began; 0: no chain yet this turn. */
  #start = 0;
  /** Flushes left that do not wait (after a timeout). */
  #skip = 0;
  /** How many the next timeout makes skip. */
  #backoff = 1;
  /** Moving average of how long waits took to end, µs. */
  #averageUs = 0;
  /** Whether the last wait given out ended with the chain's budget. */
  #bounded = false;

  /**
   * `budgetUs`: how long a chain may hold the thread (0: one reaping flush
   * per turn of the event loop and no sleeping in the kernel).
   */
  constructor(budgetUs: number = CHAIN_BUDGET_MS * 1000) {
    this.#budgetMs = budgetUs / 1000;
    this.#chainBudgetMs = this.#budgetMs;
  }

  /**
   * The next flush starts a new chain: after a turn of the event loop, or
   * (`afterWake`) a wake-up of the waiter, whose chain gets at most
   * {@linkcode WAKE_CHAIN_BUDGET_MS}.
   */
  reset(afterWake = false): void {
    this.#start = 0;
    this.#chainBudgetMs = afterWake
      ? Math.min(this.#budgetMs, WAKE_CHAIN_BUDGET_MS)
      : this.#budgetMs;
  }

  /**
   * Whether the flush at `now` may reap and submit inline: true until the
   * chain has run for its budget (the first flush of a turn starts it).
   */
  open(now: number): boolean {
    if (this.#start === 0) {
      // The first flush of a turn always reaps, whatever the budget: it
      // is what turns the waiter's wake-up (or the marker) into progress.
      this.#start = now;
      return true;
    }
    return now - this.#start < this.#chainBudgetMs;
  }

  /**
   * Microseconds to sleep in the kernel for a completion at `now` (0: do
   * not wait): nothing once the chain's budget is spent, while backing off
   * after a timeout, or while recent completions took longer than
   * SLOW_WAIT_US to arrive.
   *
   * While a device's requests are in flight (`device`: O_DIRECT), or
   * recent completions came as slowly as a device's (DEVICE_WAIT_US or
   * more on average), the sleep ends with the chain's budget: a device may
   * stall for milliseconds (this VM's disk: 1-5 ms now and then), and a
   * thread asleep through a stall keeps every timer waiting; with
   * INLINE_WAIT_TIMEOUT_US there, the p99 lateness of a 1 ms interval
   * timer at O_DIRECT depth 16 was 2.1-2.7 ms, with the bound 1.1-1.6, at
   * the same throughput (docs/perf.md). Memory-backed completions come in
   * microseconds, and their sleeps keep the long timeout, which wakes
   * faster on this VM (see INLINE_WAIT_TIMEOUT_US).
   */
  waitUs(now: number, device = false): number {
    if (this.#skip > 0) {
      this.#skip--;
      return 0;
    }
    if (now - this.#start >= this.#chainBudgetMs) return 0;
    if (this.#averageUs > SLOW_WAIT_US) {
      // Forget slowly, so a device that got faster is tried again.
      this.#averageUs *= 0.9;
      return 0;
    }
    this.#bounded = device || this.#averageUs >= DEVICE_WAIT_US;
    if (!this.#bounded) return INLINE_WAIT_TIMEOUT_US;
    const leftUs = (this.#chainBudgetMs - (now - this.#start)) * 1000;
    return Math.max(MIN_BOUNDED_WAIT_US, Math.round(leftUs));
  }

  /**
   * Whether the next chain's first flush would sleep in the kernel for a
   * completion (the budget allows sleeping, no back-off, recent waits
   * short), without using up a skipped wait as {@linkcode waitUs} does.
   */
  willWait(): boolean {
    return this.#budgetMs > 0 && this.#skip === 0 &&
      this.#averageUs <= SLOW_WAIT_US;
  }

  /**
   * Records how a wait ended: `result` of io_uring_enter (the count, or
   * -ETIME when nothing came in time) and how long it took in µs.
   */
  waited(result: number, tookUs: number): void {
    this.#averageUs += (tookUs - this.#averageUs) / 8;
    // A sleep cut short by the chain's budget says nothing about the
    // requests: the chain ends anyway, and the next one sleeps again.
    if (result === -ETIME && !this.#bounded) {
      this.#skip = this.#backoff;
      if (this.#backoff < MAX_SKIPPED_WAITS) this.#backoff *= 2;
    } else {
      this.#backoff = 1;
    }
  }
}
