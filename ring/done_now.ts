/**
 * The Promises of requests the JS thread has already carried out (reads
 * done at once, sys/read_now.ts): settled at once while the pump's current
 * chain has budget left (the budget inline completion handling runs on),
 * and past it only once the event loop has turned, so continuations that
 * keep making such requests cannot hold timers and I/O callbacks back for
 * longer than a chain does. Also measures how many such requests the
 * program makes in one go (a burst), which tells the pump whether requests
 * come one at a time or in batches.
 *
 * @module
 */
import { monotonicMs } from "../ffi/mod.ts";
import type { InlineChain } from "./inline_chain.ts";

/**
 * The clock (is the chain's budget spent?) and the burst are looked at once
 * every this many requests (a power of 2): on every one, `monotonicMs` and
 * `queueMicrotask` cost 11-15 % of a 4 KiB read at depth 1 on Deno
 * (paired), and 16 reads done at once take 10-30 µs, well inside a chain's
 * 100-500 µs.
 */
const SAMPLE_EVERY = 16;

/**
 * Settles requests done at once, within a pump's chain budget.
 *
 * @example
 * ```ts
 * import { DoneNow } from "./done_now.ts";
 * import { InlineChain } from "./inline_chain.ts";
 * const done = new DoneNow(new InlineChain(), () => {}, () => {});
 * await done.settle(4096); // 4096
 * done.turned(); // the event loop turned: held Promises settle
 * ```
 */
export class DoneNow {
  readonly #chain: InlineChain;
  readonly #watchTurn: () => void;
  readonly #noteBurst: (size: number) => void;
  /** Requests settled so far (a running count, for the sampling). */
  #count = 0;
  /** The chain's budget is spent: Promises are held for the turn. */
  #holding = false;
  /** Settlements held for the next turn of the event loop. */
  #held: (() => void)[] = [];
  /** Requests since the current burst began; 0: none being measured. */
  #burst = 0;

  /**
   * `chain`: the pump's chain; `watchTurn`: makes sure {@linkcode turned}
   * is called once the event loop turns; `noteBurst`: told the size of each
   * burst measured.
   */
  constructor(
    chain: InlineChain,
    watchTurn: () => void,
    noteBurst: (size: number) => void,
  ) {
    this.#chain = chain;
    this.#watchTurn = watchTurn;
    this.#noteBurst = noteBurst;
  }

  /** The Promise of a request done at once, resolving to `res`. */
  settle(res: number): Promise<number> {
    if (this.#burst > 0) this.#burst++;
    if ((++this.#count & (SAMPLE_EVERY - 1)) === 0 && !this.#holding) {
      // The marker's run (turned) ends the chain and settles what is held.
      this.#watchTurn();
      if (this.#burst === 0) {
        this.#burst = 1;
        queueMicrotask(this.#endBurst);
      }
      this.#holding = !this.#chain.open(monotonicMs());
    }
    if (!this.#holding) return Promise.resolve(res);
    return new Promise<number>((resolve) => {
      this.#held.push(() => resolve(res));
    });
  }

  /** The event loop has turned: what was held settles. */
  turned(): void {
    this.#holding = false;
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const settle of held) settle();
  }

  /** Ends a burst: the requests the program made in one go. */
  readonly #endBurst = (): void => {
    this.#noteBurst(this.#burst);
    this.#burst = 0;
  };
}
