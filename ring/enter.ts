/**
 * io_uring_enter(2) for one ring: whether a submit must enter the kernel at
 * all (not for an SQPOLL ring whose thread is awake, nor when nothing is to
 * be submitted, waited for or flushed), with which flags (SQ_WAKEUP,
 * GETEVENTS, SQ_WAIT), the bounded wait of io_uring_enter2 with EXT_ARG,
 * and the retries on EINTR. `RingCore` holds one, and so does its
 * `CompletionQueue` (completions.ts), to flush completions the kernel
 * holds back.
 *
 * @module
 */
import { addressNumber, liburing, NULL_ADDRESS } from "../ffi/mod.ts";
import { UringError } from "../sys/errors.ts";
import { setU64Number } from "../structs/view.ts";
import { EBUSY, EINTR } from "../structs/errno.ts";
import {
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_SQ_WAIT,
  IORING_ENTER_SQ_WAKEUP,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_SQPOLL,
  IORING_SQ_CQ_OVERFLOW,
  IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN,
} from "../structs/constants.ts";

/**
 * The io_uring_enter(2) calls of one ring (fd `fd`, set up with `flags`),
 * deciding from the SQ ring's flags word when and how to enter.
 *
 * @example
 * ```ts
 * import { IoUringEnter } from "./enter.ts";
 * declare const ringFd: number, sqRing: Uint32Array, flagsWord: number;
 * const enter = new IoUringEnter(ringFd, 0, sqRing, flagsWord);
 * enter.getEvents(0); // flushes completions the kernel holds back
 * ```
 */
export class IoUringEnter {
  /** Whether the ring has an SQPOLL thread (IORING_SETUP_SQPOLL). */
  readonly sqpoll: boolean;
  readonly #fd: number;
  readonly #needsGetevents: boolean;
  // The SQ ring as u32 words, and the index of its flags word.
  readonly #sq: Uint32Array;
  readonly #sqFlags: number;
  readonly #enter: (
    fd: number,
    toSubmit: number,
    minComplete: number,
    flags: number,
    sig: number | bigint,
  ) => number;
  #enter2:
    | ((
      fd: number,
      toSubmit: number,
      minComplete: number,
      flags: number,
      arg: number,
      argSize: number,
    ) => number)
    | undefined;
  #waitArg: { bytes: Uint8Array; view: DataView; address: number } | undefined;
  /** The timeout in #waitArg, µs (-1: none written yet). */
  #waitArgUs = -1;

  /**
   * For the ring `fd` set up with `flags`; `sq` is its SQ ring as u32
   * words and `sqFlagsIndex` the index of the SQ flags word in it.
   */
  constructor(
    fd: number,
    flags: number,
    sq: Uint32Array,
    sqFlagsIndex: number,
  ) {
    this.#fd = fd;
    this.sqpoll = (flags & IORING_SETUP_SQPOLL) !== 0;
    this.#needsGetevents = (flags & IORING_SETUP_IOPOLL) !== 0;
    this.#sq = sq;
    this.#sqFlags = sqFlagsIndex;
    this.#enter = liburing().io_uring_enter;
  }

  /** IORING_ENTER_SQ_WAKEUP when the ring's SQPOLL thread sleeps, else 0. */
  #wakeup(): number {
    return this.sqpoll &&
        (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP)
      ? IORING_ENTER_SQ_WAKEUP
      : 0;
  }

  /** Whether completions wait in the kernel (overflow or deferred task work). */
  cqNeedsFlush(): boolean {
    return (Atomics.load(this.#sq, this.#sqFlags) &
      (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  /**
   * Hands the `submitted` SQEs waiting in the SQ ring (published by
   * RingCore's flushSq) to the kernel and waits for `waitNr` completions,
   * entering only when needed. Returns how many the kernel took
   * (`submitted` when it was not entered).
   */
  submit(submitted: number, waitNr: number, getEvents: boolean): number {
    let flags = 0;
    let needEnter = false;
    if (submitted > 0) {
      if (!this.sqpoll) needEnter = true;
      // Seq-cst store of the SQ tail (RingCore's flushSq) and load here:
      // the full barrier liburing uses before checking whether the SQPOLL
      // thread went to sleep.
      else if (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP) {
        flags |= IORING_ENTER_SQ_WAKEUP;
        needEnter = true;
      }
    }
    if (
      getEvents || waitNr > 0 || this.#needsGetevents || this.cqNeedsFlush()
    ) {
      flags |= IORING_ENTER_GETEVENTS;
      needEnter = true;
    }
    if (!needEnter) return submitted;
    for (;;) {
      const result = this.#enter(
        this.#fd,
        submitted,
        waitNr,
        flags,
        NULL_ADDRESS,
      );
      if (result >= 0) return result;
      if (result === -EINTR) continue;
      throw UringError.from(result, { op: "io_uring_enter", fd: this.#fd });
    }
  }

  /** io_uring_enter(2) as it is: the count, or `-errno`. */
  call(toSubmit: number, minComplete: number, flags: number): number {
    return this.#enter(this.#fd, toSubmit, minComplete, flags, NULL_ADDRESS);
  }

  /**
   * Enters to reap: flushes the completions the kernel holds back and
   * waits for `minComplete` of them (waking an SQPOLL thread that sleeps).
   */
  getEvents(minComplete: number): void {
    const flags = IORING_ENTER_GETEVENTS | this.#wakeup();
    const result = this.#enter(this.#fd, 0, minComplete, flags, NULL_ADDRESS);
    // EBUSY: the kernel could not flush overflow yet; the caller retries.
    if (result < 0 && result !== -EINTR && result !== -EBUSY) {
      throw UringError.from(result, { op: "io_uring_enter", fd: this.#fd });
    }
  }

  /**
   * One wait of an SQPOLL ring for its thread to free an SQ entry
   * (IORING_ENTER_SQ_WAIT, waking the thread if it sleeps).
   */
  sqWait(): void {
    let flags = IORING_ENTER_SQ_WAIT;
    if (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP) {
      flags |= IORING_ENTER_SQ_WAKEUP;
    }
    const result = this.#enter(this.#fd, 0, 0, flags, NULL_ADDRESS);
    if (result < 0 && result !== -EINTR) {
      throw UringError.from(result, { op: "io_uring_enter", fd: this.#fd });
    }
  }

  /**
   * Waits until `minComplete` completions are in the CQ ring or
   * `timeoutUs` microseconds have passed (io_uring_enter2 with
   * IORING_ENTER_EXT_ARG), submitting `toSubmit` SQEs in the same call;
   * the raw result, as `RingCore.waitCqeTimeout`.
   */
  waitTimeout(minComplete: number, timeoutUs: number, toSubmit = 0): number {
    if (this.#waitArg === undefined) {
      // struct io_uring_getevents_arg { u64 sigmask; u32 sigmask_sz;
      // u32 min_wait_usec; u64 ts; } pointing at a __kernel_timespec.
      const bytes = new Uint8Array(24 + 16);
      this.#waitArg = {
        bytes,
        view: new DataView(bytes.buffer),
        address: addressNumber(bytes),
      };
      setU64Number(this.#waitArg.view, 16, this.#waitArg.address + 24);
    }
    const { view, address } = this.#waitArg;
    if (timeoutUs !== this.#waitArgUs) {
      // The Promise layer passes the same timeout every time: written once.
      this.#waitArgUs = timeoutUs;
      const seconds = Math.floor(timeoutUs / 1e6);
      setU64Number(view, 24, seconds);
      setU64Number(view, 32, Math.round((timeoutUs - seconds * 1e6) * 1000));
    }
    const flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG |
      this.#wakeup();
    this.#enter2 ??= liburing().io_uring_enter2;
    return this.#enter2(this.#fd, toSubmit, minComplete, flags, address, 24);
  }
}
