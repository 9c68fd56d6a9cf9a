/**
 * The two timers of the completion pump (pump.ts) that keep it and the
 * event loop from holding each other up: the taskrun check, which runs
 * completion work the kernel queued for the JS thread, and the timer-turn
 * marker, which holds the waiter back while completions keep timers from
 * their turn.
 *
 * @module
 */
import type { RingCore } from "./core.ts";
import { monotonicMs } from "../ffi/mod.ts";
import {
  IORING_ENTER_GETEVENTS,
  IORING_SQ_TASKRUN,
} from "../structs/constants.ts";

/**
 * How often, while requests are in flight, the JS thread looks for
 * completion work the kernel queued for it (IORING_SQ_TASKRUN) and runs it,
 * so a completion can never wait on a JS thread asleep in its event loop.
 */
const TASKRUN_CHECK_MS = 5;

/**
 * How long completion handling may go on without the event loop turning
 * (so without timers getting a turn) before the ring holds its waiter back
 * until it has. Under 1 ms so that a 1 ms interval timer can keep its pace:
 * measured on Bun, 1 ms let it fire 42-61 % of its ticks during a full-speed
 * read loop, 0.5 ms 72-75 %, with the same throughput.
 */
const TIMER_TURN_MS = 0.5;

/**
 * Every TASKRUN_CHECK_MS while started, runs the completion work the
 * kernel queued for the JS thread of an IORING_SETUP_COOP_TASKRUN ring;
 * stops by itself once the ring is closed or idle.
 *
 * @example
 * ```ts
 * import { TaskrunCheck } from "./pump_timers.ts";
 * import { RingCore } from "./core.ts";
 * using core = new RingCore({ entries: 2, coopTaskrun: true });
 * const check = new TaskrunCheck(core, () => false); // nothing in flight
 * check.start();
 * check.stop();
 * ```
 */
export class TaskrunCheck {
  readonly #core: RingCore;
  readonly #busy: () => boolean;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** For `core`; `busy` says whether requests are in flight. */
  constructor(core: RingCore, busy: () => boolean) {
    this.#core = core;
    this.#busy = busy;
  }

  /** Starts checking, unless it already is. */
  start(): void {
    this.#timer ??= setInterval(this.#check, TASKRUN_CHECK_MS);
  }

  /** Stops checking. */
  stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  readonly #check = (): void => {
    if (this.#core.closed || !this.#busy()) return this.stop();
    if (this.#core.sqFlags() & IORING_SQ_TASKRUN) {
      // Runs the queued task work, which posts the CQEs and wakes the
      // waiter; the CQ head is not touched, so the waiter rule holds.
      this.#core.enter(0, 0, IORING_ENTER_GETEVENTS);
    }
  };
}

/**
 * Tells whether timers have been kept waiting by completion handling, and
 * calls back once the event loop has turned when asked to.
 *
 * @example
 * ```ts
 * import { TimerTurnMarker } from "./pump_timers.ts";
 * const marker = new TimerTurnMarker(() => console.log("the loop turned"));
 * if (marker.timersStarved()) marker.callAfterTurn();
 * marker.watchTurn(); // the second callback (none here) runs on the turn
 * ```
 */
export class TimerTurnMarker {
  /** Whether the marker (a setImmediate) is scheduled and has not run. */
  #pending = false;
  /** monotonicMs() when the pending marker was scheduled. */
  #setAt = 0;
  /** Whether `onTurn` is due when the marker runs. */
  #callOnTurn = false;
  readonly #onTurn: () => void;
  readonly #turned: () => void;

  /**
   * `onTurn` runs when the marker does, after {@linkcode callAfterTurn};
   * `turned` every time the marker runs (the event loop has turned).
   */
  constructor(onTurn: () => void, turned: () => void = () => {}) {
    this.#onTurn = onTurn;
    this.#turned = turned;
  }

  /**
   * Makes sure the marker is scheduled, so `turned` runs once the event
   * loop has turned.
   */
  watchTurn(): void {
    // monotonicMs, not performance.now(): about 35 ns against 85 on Deno,
    // and this runs at the end of every chain.
    if (!this.#pending) this.#schedule(monotonicMs());
  }

  #schedule(now: number): void {
    this.#pending = true;
    this.#setAt = now;
    // setImmediate, not setTimeout(0): Bun clamps the latter to 1 ms, and
    // the ring would sit idle waiting for it. Referenced: while the waiter
    // is held back, the marker is what keeps the process alive and brings
    // the ring back.
    setImmediate(this.#marker);
  }

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
  timersStarved(): boolean {
    const now = monotonicMs();
    if (!this.#pending) {
      this.#schedule(now);
      return false;
    }
    return now - this.#setAt > TIMER_TURN_MS;
  }

  /**
   * Calls `onTurn` when the marker runs (after {@linkcode timersStarved}
   * said true, the marker is pending).
   */
  callAfterTurn(): void {
    this.#callOnTurn = true;
  }

  readonly #marker = (): void => {
    this.#pending = false;
    this.#turned();
    if (!this.#callOnTurn) return;
    this.#callOnTurn = false;
    this.#onTurn();
  };
}
