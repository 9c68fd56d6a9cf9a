/**
 * The io_uring_enter(2) calls of a ring off its submit path: flushing the
 * completions the kernel holds back (CQ overflow, deferred task work), the
 * SQPOLL SQ_WAIT, and the bounded wait of io_uring_enter2 with EXT_ARG;
 * and the SQ flags they and the submit decide by. `RingCore` holds one,
 * and so does its `CompletionQueue` (completions.ts).
 *
 * The submit itself (whether to enter, with which flags, and the call)
 * stays in `RingCore`, as does `enter()`; only its rare paths are here (the
 * SQPOLL sleep test, the EINTR retry and the error), to keep it small.
 * Moved here whole, the submit cost 4-5 % of the NOP rate at batch 128 on
 * Deno (process CPU time, paired runs): V8 no longer inlined it, with its
 * io_uring_enter call, into the caller's optimised code.
 *
 * @module
 */
import {
  addressNumber,
  liburing,
  NULL_ADDRESS,
  U64_AS_BIGINT,
} from "../ffi/mod.ts";
import { UringError } from "../sys/errors.ts";
import { setU64Number } from "../structs/view.ts";
import { EBUSY, EINTR } from "../structs/errno.ts";
import {
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_SQ_WAIT,
  IORING_ENTER_SQ_WAKEUP,
  IORING_SETUP_SQPOLL,
  IORING_SQ_CQ_OVERFLOW,
  IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN,
} from "../structs/constants.ts";

/**
 * The error of an io_uring_enter that failed with `result` (-errno) on the
 * ring `fd`.
 *
 * @example
 * ```ts
 * import { enterError } from "./enter.ts";
 * enterError(-9, 3).message; // names io_uring_enter, EBADF and fd 3
 * ```
 */
export function enterError(result: number, fd: number): UringError {
  return UringError.from(result, { op: "io_uring_enter", fd });
}

/**
 * The io_uring_enter(2) calls of one ring off its submit path, and the SQ
 * flags they decide by.
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
  // The SQ ring as u32 words, and the index of its flags word.
  readonly #sq: Uint32Array;
  readonly #sqFlags: number;
  readonly #enter: ReturnType<typeof liburing>["io_uring_enter"];
  #enter2: ReturnType<typeof liburing>["io_uring_enter2"] | undefined;
  #waitArg:
    | {
      bytes: Uint8Array;
      view: DataView;
      /** The struct's address and size as the runtime's fast FFI path takes them. */
      address: number | bigint;
      size: number | bigint;
    }
    | undefined;
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
    this.#sq = sq;
    this.#sqFlags = sqFlagsIndex;
    this.#enter = liburing().io_uring_enter;
  }

  /** Whether the ring's SQPOLL thread went to sleep (IORING_SQ_NEED_WAKEUP). */
  sqpollAsleep(): boolean {
    const flags = Atomics.load(this.#sq, this.#sqFlags);
    return (flags & IORING_SQ_NEED_WAKEUP) !== 0;
  }

  /** IORING_ENTER_SQ_WAKEUP when the ring's SQPOLL thread sleeps, else 0. */
  #wakeup(): number {
    return this.sqpoll && this.sqpollAsleep() ? IORING_ENTER_SQ_WAKEUP : 0;
  }

  /** Whether completions wait in the kernel (overflow or deferred task work). */
  cqNeedsFlush(): boolean {
    return (Atomics.load(this.#sq, this.#sqFlags) &
      (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  /**
   * Finishes a submit whose io_uring_enter (made by `RingCore`, with these
   * arguments) returned `result` < 0: enters again after a signal (EINTR),
   * throws otherwise. Off `RingCore`'s submit path, which stays small
   * enough for V8 to inline it into a hot caller (see the module doc).
   */
  submitFailed(
    result: number,
    submitted: number,
    waitNr: number,
    flags: number,
  ): number {
    while (result === -EINTR) {
      result = this.#enter(this.#fd, submitted, waitNr, flags, NULL_ADDRESS);
    }
    if (result >= 0) return result;
    throw enterError(result, this.#fd);
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
      throw enterError(result, this.#fd);
    }
  }

  /**
   * One wait of an SQPOLL ring for its thread to free an SQ entry
   * (IORING_ENTER_SQ_WAIT, waking the thread if it sleeps).
   */
  sqWait(): void {
    let flags = IORING_ENTER_SQ_WAIT;
    if (this.sqpollAsleep()) flags |= IORING_ENTER_SQ_WAKEUP;
    const result = this.#enter(this.#fd, 0, 0, flags, NULL_ADDRESS);
    if (result < 0 && result !== -EINTR) {
      throw enterError(result, this.#fd);
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
      const view = new DataView(bytes.buffer);
      const address = addressNumber(bytes);
      setU64Number(view, 16, address + 24);
      // Deno takes 64-bit arguments on its fast FFI path only as bigints:
      // as numbers, this call cost ~0.25 µs more than io_uring_enter
      // (a read completed inside its submit, paired: 0.94 → 1.22 µs).
      this.#waitArg = {
        bytes,
        view,
        address: U64_AS_BIGINT ? BigInt(address) : address,
        size: U64_AS_BIGINT ? 24n : 24,
      };
    }
    const { view, address, size } = this.#waitArg;
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
    return this.#enter2(this.#fd, toSubmit, minComplete, flags, address, size);
  }
}
