/**
 * `Ring`: the ring core plus the Promise API.
 *
 * How a request travels: a Promise method validates its arguments, takes a
 * slot in the pending table (which keeps every buffer, iovec array and
 * attribute struct reachable until the completion), and either fills an SQE
 * right away or, when as many requests are in flight as the CQ can hold,
 * waits in the backlog in order. All SQEs filled in one tick go to the
 * kernel from a microtask: in one io_uring_enter, or, when they are mostly
 * O_DIRECT reads and writes, in enters of 4, so the disk starts on the
 * first while the rest are still being issued (the kernel plugs a batch).
 *
 * How completions come back: while anything is in flight, the ring's waiter
 * is armed: one thread per realm, shared by every ring, sleeps in poll(2)
 * until the ring's CQ is not empty (ffi/completion_poller.ts; Deno: a
 * `nonblocking` FFI call; Bun: a Worker). When it wakes, the JS thread reaps
 * every CQE, settles the promises, refills the SQ from the backlog and arms
 * the waiter again. Nothing runs and no thread spins while idle. Where the
 * waiter's wake-ups can be handled back to back ahead of due timers (Bun),
 * the ring holds the waiter back until the event loop has turned whenever
 * it has not for 0.5 ms, so timers keep their pace.
 *
 * One rule keeps the waiter from sleeping through a completion: while it is
 * armed, the JS thread never advances the CQ head, so any completion posted
 * after it went to sleep is still counted when it wakes.
 *
 * With `inlineWaitBudgetUs` set, before arming it the JS thread may wait in
 * the kernel itself for a few tens of microseconds (bounded per turn of the
 * event loop): a completion that is about to arrive, as on a fast device at
 * low depth, then skips the waiter's round trip.
 *
 * @module
 */
import { cachedAddress, completionWaiter } from "../ffi/mod.ts";
import type { CompletionWaiter } from "../ffi/mod.ts";
import { RingCore, type RingOptions } from "./core.ts";
import { OPCODES, type OpcodeSpec } from "./opcodes.ts";
import { RingClosedError, UringError } from "./errors.ts";
import {
  checkBuffer,
  checkFd,
  checkInteger,
  checkOffset,
  checkOptions,
  OP_OPTION_NAMES,
  openatArguments,
  statxArguments,
} from "./validate.ts";
import { buildIovecs } from "./core.ts";
import { type Statx, StatxView } from "../structs/statx.ts";
import { TimespecView } from "../structs/iovec.ts";
import { cString } from "../ffi/mod.ts";
import { directIoHint, forgetFd } from "../sys/fd.ts";
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_ENTER_GETEVENTS,
  IORING_FSYNC_DATASYNC,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_SQPOLL,
  IORING_SQ_TASKRUN,
  IOSQE_IO_LINK,
  O_CLOEXEC,
} from "../structs/constants.ts";
import {
  EAGAIN,
  EBUSY,
  ECANCELED,
  EILSEQ,
  EINTR,
  EINVAL,
} from "../structs/errno.ts";
import { createFallbackIfAllowed } from "./fallback.ts";
import {
  applyAttributes,
  attributeNames,
  attributesFrom,
  type PackedAttributes,
  type PiOptions,
} from "./attributes.ts";
import { requireRwAttr, targetOfFd, validatePiRequest } from "./pi_validate.ts";
import {
  diagnoseIntegrity,
  explainAttributeError,
  IntegrityError,
  type IntegrityErrorInit,
  rereadFor,
} from "./integrity.ts";
import { probeKernel, type TargetProfile } from "./probe.ts";

/**
 * Memory of requests failed without a completion (a broken ring): the
 * kernel may still write to it, so it is never let go.
 */
const abandonedMemory: unknown[] = [];

/**
 * Options every Promise method takes.
 *
 * @example
 * ```ts
 * import type { OpOptions } from "./ring.ts";
 * const opts: OpOptions = { signal: AbortSignal.timeout(1000), timeoutMs: 50 };
 * ```
 */
export interface OpOptions {
  /** Aborting cancels the request (IORING_OP_ASYNC_CANCEL) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** A linked timeout: the request is cancelled and rejects with a `TimeoutError` after this many ms. */
  timeoutMs?: number;
}

/**
 * Options of the data operations (read, write, readv, writev, readFixed,
 * writeFixed): {@linkcode OpOptions} plus read/write attributes (Linux
 * 6.14), today `pi`: Protection Information checked by the device.
 *
 * @example
 * ```ts
 * import type { DataOpOptions } from "./ring.ts";
 * const meta = new Uint8Array(64); // 8 intervals × 8-byte tuples, from generatePi
 * const opts: DataOpOptions = {
 *   pi: { meta, check: { guard: true, reftag: true }, seed: 2048 },
 * };
 * ```
 */
export interface DataOpOptions extends OpOptions {
  /** Protection Information for this request (needs O_DIRECT and a PI-formatted device). */
  pi?: PiOptions;
}

/** Option names the data operations take beyond OP_OPTION_NAMES. */
const DATA_OPTION_NAMES: readonly string[] = attributeNames();

/**
 * Setup flags the Promise API runs fastest with (measured: about 1.3-1.6x
 * the default flags on 4 KiB reads at depth 64, see README): completions
 * are not pushed at the JS thread with interrupts, and only one thread
 * submits. Used unless the caller sets any of them, or a raw `flags`.
 */
function withFastDefaults(options: RingSetupOptions): RingSetupOptions {
  if (options === null || typeof options !== "object") return options;
  const chosen = options.coopTaskrun !== undefined ||
    options.taskrunFlag !== undefined || options.singleIssuer !== undefined ||
    options.deferTaskrun !== undefined || options.sqpoll !== undefined ||
    options.flags !== undefined;
  if (chosen || !fastDefaultsSupported()) return options;
  return {
    coopTaskrun: true,
    taskrunFlag: true,
    singleIssuer: true,
    ...options,
  };
}

let fastDefaults: boolean | undefined;

/**
 * Whether this kernel takes the fast default flags (Linux 6.0+): asked once
 * per process with a one-entry ring, so an older kernel gets a ring with
 * the flags it has instead of an error.
 */
function fastDefaultsSupported(): boolean {
  if (fastDefaults === undefined) {
    try {
      new RingCore({
        entries: 1,
        coopTaskrun: true,
        taskrunFlag: true,
        singleIssuer: true,
      }).close();
      fastDefaults = true;
    } catch (error) {
      // Unavailable altogether: the real setup will say why.
      fastDefaults = !(error instanceof UringError && error.errno === EINVAL);
    }
  }
  return fastDefaults;
}

/**
 * Setup options of {@linkcode Ring}: those of `RingCore` plus the fallback.
 *
 * @example
 * ```ts
 * import type { RingSetupOptions } from "./ring.ts";
 * const options: RingSetupOptions = { entries: 128, fallback: true };
 * ```
 */
export interface RingSetupOptions extends RingOptions {
  /** When io_uring is unavailable, return a `FallbackRing` instead of throwing. */
  fallback?: boolean;
  /** Threads of the fallback backend's pool (default 4). */
  threads?: number;
  /**
   * Microseconds per turn of the event loop the JS thread may sleep in the
   * kernel for completions that are about to arrive (default 0: never).
   * About 250 makes low-depth I/O on real devices much faster (O_DIRECT
   * reads at depth 1: about 1.7x), but at high completion rates it raises
   * event-loop lag p99 to about 4 ms on Deno (see docs/perf.md).
   */
  inlineWaitBudgetUs?: number;
}

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

/**
 * How long a request past its `timeoutMs` may wait for the kernel's cancel
 * to come back before its promise rejects anyway: I/O the kernel cannot
 * cancel (a FUSE server that stopped answering, a device mid-transfer)
 * would otherwise hold the promise past its deadline. Its memory stays
 * reachable until the completion does come.
 */
const DEADLINE_GRACE_MS = 50;

/**
 * Longest `Symbol.dispose` blocks the JS thread waiting for cancelled
 * requests; what the kernel still holds after that is left to the async
 * close (as `close()`), so the ring closes once the last completion is in.
 */
const DISPOSE_WAIT_MS = 200;

/** Flushes smaller than this go in one enter whatever they hold. */
const SUBMIT_CHUNKED_MIN = 2 * DEVICE_SUBMIT_CHUNK;

/** What turns a CQE result into the value a promise resolves to. */
type Transform = (res: number, op: PendingOp) => unknown;

/** The rejection of a request whose `timeoutMs` passed. */
function timeoutError(op: PendingOp): DOMException {
  return new DOMException(
    `${op.spec.name} timed out after ${op.timeoutMs} ms`,
    "TimeoutError",
  );
}

/** openat's result is a descriptor number that may have named another file. */
const forgetOpenedFd: Transform = (fd) => {
  forgetFd(fd);
  return fd;
};

/** One request between its Promise method and its completion. */
interface PendingOp {
  spec: OpcodeSpec;
  fd: number;
  addr: number;
  len: number;
  off: number;
  /** Word 7 of the SQE (rw_flags, fsync_flags, open_flags, ...). */
  opFlags: number;
  /** Word 10 of the SQE (buf_index), or -1. */
  bufIndex: number;
  /** Everything the kernel may touch, kept reachable until completion. */
  keep: unknown;
  transform: Transform | null;
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
  /** The `timeoutMs` deadline's timer, until the request settles. */
  deadline: ReturnType<typeof setTimeout> | undefined;
}

const QUEUED = 0; // in the backlog
const PREPARED = 1; // in an SQE, possibly not yet submitted
const SETTLED = 2;

/** user_data high word of internal requests (cancels, linked timeouts, wakeups). */
const INTERNAL = 1;

/**
 * One io_uring instance: liburing-style low-level methods (from
 * {@linkcode RingCore}) and Promise methods that batch, keep buffers alive
 * and deliver completions without blocking the event loop.
 *
 * Use either the low-level CQ methods (`peekCqe`, `reap`, ...) or the
 * Promise methods on one ring: once a Promise method has been called, the
 * ring's completion pump owns the CQ.
 *
 * @example
 * ```ts
 * import { O_CREAT, O_RDWR, Ring } from "../mod.ts";
 * await using ring = new Ring({ entries: 64 });
 * const fd = await ring.openat("/dev/shm/uring-example", O_RDWR | O_CREAT);
 * await ring.write(fd, new TextEncoder().encode("hello"), 0);
 * const buf = new Uint8Array(5);
 * await ring.read(fd, buf, 0);
 * await ring.close(fd);
 * ```
 */
export class Ring extends RingCore {
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
  readonly #capacity: number = 0;
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

  /** Which engine serves the Promise API (a fallback Ring reports `"fallback"`). */
  readonly backend: "io_uring" | "fallback" = "io_uring";

  /**
   * Sets up a ring. With `fallback: true`, when io_uring cannot be used
   * here (disabled by sysctl, filtered by seccomp, too old a kernel), a
   * `FallbackRing` with the same Promise API on the runtime's
   * thread pool is returned instead of an error.
   */
  // super() is called, inside a try: a failed setup may be answered with
  // the fallback object instead, which the lint rule does not foresee.
  // deno-lint-ignore constructor-super
  constructor(options: RingSetupOptions = {}) {
    if (options !== null && typeof options === "object") {
      if (options.deferTaskrun) {
        throw new TypeError(
          "Ring option deferTaskrun: the Promise API waits for completions on " +
            "another thread, which IORING_SETUP_DEFER_TASKRUN forbids; use " +
            "RingCore for a DEFER_TASKRUN ring driven from one thread",
        );
      }
      if (
        options.fallback !== undefined && typeof options.fallback !== "boolean"
      ) {
        throw new TypeError("Ring option fallback must be a boolean");
      }
    }
    try {
      super(withFastDefaults(options), [
        "fallback",
        "threads",
        "inlineWaitBudgetUs",
      ]);
    } catch (error) {
      // A derived constructor may return another object: the fallback
      // backend, when it was asked for and io_uring cannot be used here.
      const fallback = createFallbackIfAllowed(error, options);
      if (fallback === undefined) throw error;
      return fallback as unknown as Ring;
    }
    // Never have more CQE producers in flight than the CQ holds, so the
    // kernel never has to keep completions in its overflow list.
    this.#capacity = Math.min(this.cqEntries, 65535);
    if (options?.inlineWaitBudgetUs !== undefined) {
      this.#inlineWaitBudgetUs = checkInteger(
        options.inlineWaitBudgetUs,
        "inlineWaitBudgetUs",
        0,
        100_000,
      );
    }
  }

  /** Requests submitted or queued and not yet settled. */
  get pending(): number {
    return this.#pendingCount;
  }

  // ------------------------------------------------------------ operations

  /**
   * Reads into `buf` from `offset` (-1: the current file position).
   * Resolves to the number of bytes read.
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/etc/hostname", O_RDONLY);
   * const n = await ring.read(fd, new Uint8Array(64), 0);
   * ```
   */
  read(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#rw(OPCODES.read, fd, buf, offset, options) as Promise<number>;
  }

  /**
   * Writes `buf` at `offset` (-1: the current file position). Resolves to
   * the number of bytes written.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/dev/shm/uring-write", O_WRONLY | O_CREAT);
   * await ring.write(fd, new Uint8Array([1, 2, 3]), 0);
   * ```
   *
   * With Protection Information, on Deno (`deno run -A pi.ts /dev/nvme0n1`):
   * the device checks every 512-byte interval against the tuples the
   * application computed, end to end. The layout comes from `probe()`.
   * ```ts
   * import {
   *   alignedBuffer, generatePi, IntegrityError, O_DIRECT, O_RDWR, openFd,
   *   piFormatOf, probe, Ring,
   * } from "../mod.ts";
   * const device = Deno.args[0];
   * const target = probe(device).target!;
   * if (!target.integrity) throw new Error(`no PI: ${target.reason}`);
   * const offset = 2048 * target.interval; // keep away from LBA 0
   * const format = piFormatOf(target, offset); // guard, interval, ref tag seed
   * const data = alignedBuffer(8 * target.interval);
   * crypto.getRandomValues(data);
   * const meta = new Uint8Array((data.length / target.interval) * target.metadataSize);
   * generatePi(data, meta, { ...format, appTag: 0x1234 });
   * await using ring = new Ring();
   * const fd = openFd(device, O_RDWR | O_DIRECT);
   * try {
   *   await ring.write(fd, data, offset, {
   *     pi: { meta, appTag: 0x1234, check: { guard: true, apptag: true, reftag: target.refTagChecked } },
   *   });
   * } catch (e) {
   *   if (e instanceof IntegrityError) console.error(e.intervals); // which interval, which field
   *   throw e;
   * }
   * ```
   *
   * The same on Bun (`bun pi.ts /dev/nvme0n1`): only the way to read the
   * arguments differs; the library code is identical.
   * ```ts
   * import process from "node:process";
   * import { alignedBuffer, generatePi, O_DIRECT, O_RDWR, openFd, piFormatOf, probe, Ring } from "../mod.ts";
   * const device = process.argv[2];
   * const target = probe(device).target!;
   * const offset = 2048 * target.interval;
   * const data = alignedBuffer(8 * target.interval);
   * const meta = new Uint8Array(8 * target.metadataSize);
   * generatePi(data, meta, { ...piFormatOf(target, offset), appTag: 7 });
   * await using ring = new Ring();
   * const fd = openFd(device, O_RDWR | O_DIRECT);
   * await ring.write(fd, data, offset, { pi: { meta, appTag: 7, check: { guard: true, apptag: true } } });
   * const back = alignedBuffer(data.length), backMeta = new Uint8Array(meta.length);
   * await ring.read(fd, back, offset, { pi: { meta: backMeta, appTag: 7, check: { guard: true, apptag: true } } });
   * ```
   */
  write(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#rw(OPCODES.write, fd, buf, offset, options) as Promise<number>;
  }

  /**
   * Scatter read into `buffers` from `offset`. Resolves to the total bytes read.
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/etc/hostname", O_RDONLY);
   * await ring.readv(fd, [new Uint8Array(2), new Uint8Array(30)], 0);
   * ```
   */
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#vectored(OPCODES.readv, fd, buffers, offset, options);
  }

  /**
   * Gather write of `buffers` at `offset`. Resolves to the total bytes written.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/dev/shm/uring-writev", O_WRONLY | O_CREAT);
   * await ring.writev(fd, [new Uint8Array([1]), new Uint8Array([2, 3])], 0);
   * ```
   */
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#vectored(OPCODES.writev, fd, buffers, offset, options);
  }

  /**
   * Reads into `buf`, which lies inside registered buffer `bufIndex`
   * (see `registerBuffers`).
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * await ring.readFixed(openFd("/etc/hostname", O_RDONLY), pool.subarray(0, 4096), 0, 0);
   * ```
   */
  readFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#fixed(OPCODES.readFixed, fd, buf, offset, bufIndex, options);
  }

  /**
   * Writes `buf`, which lies inside registered buffer `bufIndex`.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * const fd = openFd("/dev/shm/uring-wf", O_WRONLY | O_CREAT);
   * await ring.writeFixed(fd, pool.subarray(0, 4096), 0, 0);
   * ```
   */
  writeFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#fixed(OPCODES.writeFixed, fd, buf, offset, bufIndex, options);
  }

  /**
   * fsync(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fsync(openFd("/dev/shm/uring-sync", O_WRONLY | O_CREAT));
   * ```
   */
  fsync(fd: number, options?: OpOptions): Promise<number> {
    checkFd(fd);
    return this.#fdOp(OPCODES.fsync, fd, 0, options);
  }

  /**
   * fdatasync(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fdatasync(openFd("/dev/shm/uring-dsync", O_WRONLY | O_CREAT));
   * ```
   */
  fdatasync(fd: number, options?: OpOptions): Promise<number> {
    checkFd(fd);
    return this.#fdOp(OPCODES.fsync, fd, IORING_FSYNC_DATASYNC, options);
  }

  /**
   * openat(2) through the ring: resolves to a real OS file descriptor.
   * O_CLOEXEC is always added.
   *
   * @example
   * ```ts
   * import { O_RDONLY, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = await ring.openat("/etc/hostname", O_RDONLY);
   * await ring.close(fd);
   * ```
   */
  openat(
    path: string,
    flags: number,
    mode = 0o644,
    options?: OpOptions & { dirfd?: number },
  ): Promise<number> {
    const { pathBytes: bytes, dirfd } = openatArguments(
      path,
      flags,
      mode,
      options,
    );
    return this.#submitOp(
      OPCODES.openat,
      dirfd,
      cachedAddress(bytes),
      mode,
      0,
      flags | O_CLOEXEC,
      -1,
      bytes,
      forgetOpenedFd,
      options,
      ["dirfd"],
    ) as Promise<number>;
  }

  /**
   * close(2) through the ring. With no argument, closes the ring itself
   * (see {@linkcode close}).
   */
  override close(): Promise<void>;
  /** close(2) of `fd` through the ring; resolves to 0. */
  override close(fd: number, options?: OpOptions): Promise<number>;
  override close(fd?: number, options?: OpOptions): Promise<number | void> {
    if (fd === undefined) return this.#closeRing();
    checkFd(fd);
    forgetFd(fd);
    return this.#fdOp(OPCODES.close, fd, 0, options);
  }

  /**
   * statx(2) through the ring, of a path or of an open fd. Resolves to a
   * {@linkcode Statx} object.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const st = await ring.statx("/etc/hostname");
   * console.log(st.size);
   * ```
   */
  statx(
    target: string | number,
    options?: OpOptions & { flags?: number; mask?: number },
  ): Promise<Statx> {
    const { dirfd, path, flags, mask } = statxArguments(target, options);
    const pathBytes = cString(path);
    const out = new Uint8Array(StatxView.SIZE);
    return this.#submitOp(
      OPCODES.statx,
      dirfd,
      cachedAddress(pathBytes),
      mask,
      cachedAddress(out),
      flags,
      -1,
      [pathBytes, out],
      () => new StatxView(out).toObject(),
      options,
      ["flags", "mask"],
    ) as Promise<Statx>;
  }

  /**
   * fallocate(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_RDWR, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fallocate(openFd("/dev/shm/uring-falloc", O_RDWR | O_CREAT), 0, 0, 1 << 20);
   * ```
   */
  fallocate(
    fd: number,
    mode: number,
    offset: number | bigint,
    length: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    checkFd(fd);
    checkInteger(mode, "mode", 0, 0xff);
    const off = checkOffset(offset, "offset", false);
    const len = checkOffset(length, "length", false);
    return this.#submitOp(
      OPCODES.fallocate,
      fd,
      len,
      mode,
      off,
      0,
      -1,
      null,
      null,
      options,
    ) as Promise<number>;
  }

  /**
   * A no-op round trip through the kernel. Resolves to 0.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.nop();
   * ```
   */
  nop(options?: OpOptions): Promise<number> {
    return this.#fdOp(OPCODES.nop, -1, 0, options);
  }

  /** A request with no memory for the kernel: fd and op flags only. */
  #fdOp(
    spec: OpcodeSpec,
    fd: number,
    opFlags: number,
    options: OpOptions | undefined,
  ): Promise<number> {
    return this.#submitOp(
      spec,
      fd,
      0,
      0,
      0,
      opFlags,
      -1,
      null,
      null,
      options,
    ) as Promise<number>;
  }

  #rw(
    spec: OpcodeSpec,
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options: DataOpOptions | undefined,
  ): Promise<unknown> {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    const attrs = this.#attributes(spec, fd, buf, off, options, false);
    return this.#submitOp(
      spec,
      fd,
      cachedAddress(buf),
      buf.byteLength,
      off,
      0,
      -1,
      attrs ? [buf, attrs] : buf,
      null,
      options,
      DATA_OPTION_NAMES,
      attrs,
      buf,
    );
  }

  #vectored(
    spec: OpcodeSpec,
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options: DataOpOptions | undefined,
  ): Promise<number> {
    checkFd(fd);
    const iovecs = buildIovecs(buffers);
    const off = checkOffset(offset);
    const list = [...buffers];
    const attrs = this.#attributes(spec, fd, list, off, options, false);
    return this.#submitOp(
      spec,
      fd,
      cachedAddress(iovecs),
      buffers.length,
      off,
      0,
      -1,
      [iovecs, list, attrs],
      null,
      options,
      DATA_OPTION_NAMES,
      attrs,
      list,
    ) as Promise<number>;
  }

  #fixed(
    spec: OpcodeSpec,
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options: DataOpOptions | undefined,
  ): Promise<number> {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    checkInteger(bufIndex, "bufIndex", 0, 0xffff);
    const attrs = this.#attributes(spec, fd, buf, off, options, false);
    return this.#submitOp(
      spec,
      fd,
      cachedAddress(buf),
      buf.byteLength,
      off,
      0,
      bufIndex,
      attrs ? [buf, attrs] : buf,
      null,
      options,
      DATA_OPTION_NAMES,
      attrs,
      buf,
    ) as Promise<number>;
  }

  /**
   * Validates and packs the read/write attributes of a data request (null
   * when it has none). PI requests are checked against the kernel, the fd
   * (O_DIRECT, alignment) and the target's probed profile before anything
   * is submitted.
   */
  #attributes(
    spec: OpcodeSpec,
    fd: number,
    data: ArrayBufferView | readonly ArrayBufferView[],
    offset: number,
    options: DataOpOptions | undefined,
    fixedFile: boolean,
  ): PackedAttributes | null {
    if (options === undefined || options === null) return null;
    const attrs = attributesFrom(options, spec);
    if (attrs === null) return null;
    requireRwAttr(this.features);
    if (attrs.pi) {
      validatePiRequest({
        op: spec.name,
        fd,
        data,
        offset,
        pi: attrs.pi,
        features: this.features,
        target: fixedFile ? undefined : targetOfFd(fd),
        fixedFile,
      });
    }
    return attrs;
  }

  // ---------------------------------------------------------- the machinery

  #submitOp(
    spec: OpcodeSpec,
    fd: number,
    addr: number,
    len: number,
    off: number,
    opFlags: number,
    bufIndex: number,
    keep: unknown,
    transform: Transform | null,
    options: OpOptions | undefined,
    extraOptions?: readonly string[],
    attrs: PackedAttributes | null = null,
    data: ArrayBufferView | readonly ArrayBufferView[] | null = null,
  ): Promise<unknown> {
    if (this.closed || this.#shuttingDown) {
      return Promise.reject(new RingClosedError(spec.name));
    }
    let signal: AbortSignal | undefined;
    let timeoutMs = 0;
    if (options !== undefined) {
      checkOptions(
        options,
        extraOptions ? [...OP_OPTION_NAMES, ...extraOptions] : OP_OPTION_NAMES,
        `${spec.name} options`,
      );
      signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError("signal must be an AbortSignal");
      }
      if (options.timeoutMs !== undefined) {
        const t = options.timeoutMs;
        if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
          throw new RangeError(`timeoutMs must be a positive number, got ${t}`);
        }
        timeoutMs = t;
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    let resolve!: (value: unknown) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const op: PendingOp = {
      spec,
      fd,
      addr,
      len,
      off,
      opFlags,
      bufIndex,
      keep,
      transform,
      resolve,
      reject,
      signal,
      onAbort: undefined,
      timeoutMs,
      slot: -1,
      userData: 0,
      state: QUEUED,
      attrs,
      data,
      direct: false,
      deadline: undefined,
    };
    if (signal !== undefined) {
      op.onAbort = () => this.#abort(op);
      signal.addEventListener("abort", op.onAbort, { once: true });
    }
    if (timeoutMs > 0) {
      op.deadline = setTimeout(() => this.#onDeadline(op), timeoutMs);
    }
    this.#pendingCount++;
    // Keep order: nothing overtakes requests already waiting in the backlog.
    if (this.#backlogHead < this.#backlog.length || !this.#prepare(op)) {
      this.#backlog.push(op);
    }
    this.#scheduleFlush();
    return promise;
  }

  /** Fills the SQE(s) for `op`; false when the CQ budget or SQ is full. */
  #prepare(op: PendingOp): boolean {
    const needed = op.timeoutMs > 0 ? 2 : 1;
    if (this.#inFlight + needed > this.#capacity) return false;
    if (this.sqSpaceLeft() < needed) {
      // The SQ is full of entries for this tick: hand them over now. An
      // SQPOLL thread takes them on its own time, and may not have
      // published its head yet even when nothing is in flight any more:
      // waiting for SQ space is then the only way forward.
      this.#submitPrepared();
      while (
        this.sqSpaceLeft() < needed && this.#sqpollRing
      ) {
        this.sqringWait();
      }
      if (this.sqSpaceLeft() < needed) return false;
    }
    let slot = this.#freeSlots.pop();
    if (slot === undefined) {
      slot = this.#ops.length;
      this.#ops.push(undefined);
      this.#generation.push(0);
    }
    const generation = (this.#generation[slot] + 1) & 0xffff;
    this.#generation[slot] = generation;
    const userData = ((generation << 16) | slot) >>> 0;
    const index = this.prepRaw(
      op.spec.opcode,
      op.fd,
      op.addr,
      op.len,
      op.off,
      userData,
    );
    if (op.opFlags !== 0) this.setSqeWord(index, 7, op.opFlags);
    if (op.bufIndex >= 0) this.setSqeWord(index, 10, op.bufIndex);
    if (op.attrs !== null) applyAttributes(this, index, op.attrs);
    // The opcodes that take attributes are exactly the read/write family.
    if (op.spec.attributes && directIoHint(op.fd)) {
      op.direct = true;
      this.#directPrepared++;
    }
    this.#ops[slot] = op;
    op.slot = slot;
    op.userData = userData;
    op.state = PREPARED;
    this.#inFlight++;
    if (op.timeoutMs > 0) {
      this.setSqeWord(index, 0, this.sqeWord(index, 0) | (IOSQE_IO_LINK << 8));
      const ts = new TimespecView(new Uint8Array(16));
      ts.setMilliseconds(op.timeoutMs);
      const t = this.prepRaw(
        OPCODES.linkTimeout.opcode,
        -1,
        cachedAddress(ts.bytes),
        1,
        0,
        0,
      );
      this.setSqeWord(t, 9, INTERNAL);
      // The kernel copies the timespec when it takes the SQE.
      this.keepUntilReuse(t, ts);
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
    const pending = this.flushSq();
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
          const taken = this.enter(DEVICE_SUBMIT_CHUNK, 0, 0);
          // An error (EAGAIN, EBUSY, ...) is met again and handled by the
          // submit below, which takes what is left.
          if (taken <= 0) break;
          left -= taken;
        }
      }
      this.submit();
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
    if (this.closed) return;
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
            this.waitCqeTimeout(1, Math.min(INLINE_WAIT_US, leftUs));
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
    if (this.closed || this.#armed) return;
    // A new turn: what completed meanwhile is reaped inline, then the
    // waiter is armed (or the ring drains) as after any flush.
    this.#inlineRounds = 0;
    this.#scheduleFlush();
  };

  /** O_DIRECT reads and writes prepared since the last submit. */
  #directPrepared = 0;
  /** SQPOLL rings submit through their kernel thread (never in chunks). */
  readonly #sqpollRing: boolean = (this.flags & IORING_SETUP_SQPOLL) !== 0;
  #taskrunTimer: ReturnType<typeof setInterval> | undefined;
  /** Flushes in a row that reaped inline without a trip through the event loop. */
  #inlineRounds = 0;
  /** performance.now() after which this turn of the event loop waits no more. */
  #turnDeadline = 0;
  readonly #inlineWaitBudgetUs: number = DEFAULT_INLINE_WAIT_BUDGET_US;

  readonly #taskrunCheck = (): void => {
    if (this.closed || this.#inFlight === 0) return this.#stopTaskrunCheck();
    if (this.sqFlags() & IORING_SQ_TASKRUN) {
      // Runs the queued task work, which posts the CQEs and wakes the
      // waiter; the CQ head is not touched, so the waiter rule holds.
      this.enter(0, 0, IORING_ENTER_GETEVENTS);
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
      (this.flags & IORING_SETUP_COOP_TASKRUN)
    ) {
      this.#taskrunTimer = setInterval(this.#taskrunCheck, TASKRUN_CHECK_MS);
    }
    this.#waiter ??= completionWaiter(this.fd);
    this.#waiterDone = this.#waiter.wait().then(this.#onWake, this.#onWake);
  }

  readonly #onWake = (result: unknown): void => {
    this.#armed = false;
    this.#inlineRounds = 0;
    this.#turnDeadline = performance.now() + this.#inlineWaitBudgetUs / 1000;
    if (this.closed) return;
    if (typeof result !== "number" || (result < 0 && result !== -EINTR)) {
      // The waiter itself failed (this should not happen on a healthy
      // ring): fail what is in flight rather than spin re-arming it.
      this.#failInFlight(
        typeof result === "number"
          ? UringError.from(result, { op: "io_uring_enter", fd: this.fd })
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
    this.reap(this.#reapOne);
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
    this.#settle(op, res);
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

  #settle(op: PendingOp, res: number): void {
    if (op.state === SETTLED) return;
    op.state = SETTLED;
    this.#pendingCount--;
    if (op.deadline !== undefined) clearTimeout(op.deadline);
    if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
    // Dropping the references only now is what keeps buffers alive and
    // unmoved until the kernel is done with them.
    op.keep = null;
    if (res >= 0) {
      try {
        op.resolve(op.transform ? op.transform(res, op) : res);
      } catch (error) {
        op.reject(error);
      }
      return;
    }
    if ((res === -ECANCELED || res === -EINTR) && op.signal?.aborted) {
      op.reject(op.signal.reason);
    } else if (res === -ECANCELED && op.timeoutMs > 0) {
      op.reject(timeoutError(op));
    } else if (res === -ECANCELED && this.#shuttingDown) {
      op.reject(new RingClosedError(op.spec.name));
    } else if (op.attrs !== null) {
      this.#rejectAttributeFailure(op, res);
    } else {
      op.reject(
        UringError.from(res, {
          op: op.spec.name,
          fd: op.fd < 0 ? undefined : op.fd,
        }),
      );
    }
  }

  /**
   * Rejects a request that carried attributes. An integrity failure
   * (-EILSEQ) is explained interval by interval: a write's outgoing data
   * and metadata are verified in software; a read's range is read again
   * without device checks and verified. Other errors get the likely cause
   * from the probe.
   */
  #rejectAttributeFailure(op: PendingOp, res: number): void {
    const pi = op.attrs!.pi;
    const fd = op.fd;
    let target: TargetProfile | undefined;
    try {
      target = targetOfFd(fd);
    } catch {
      target = undefined; // the fd may be closed already
    }
    if (res === -EILSEQ && pi) {
      const views = (Array.isArray(op.data) ? op.data : [op.data]).map((
        v: ArrayBufferView,
      ) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      const direction = op.spec.writesMemory ? "read" : "write";
      const reread = direction === "read" && !this.#shuttingDown
        ? rereadFor(
          pi,
          (data, off, piOptions) => this.read(fd, data, off, { pi: piOptions }),
        )
        : undefined;
      diagnoseIntegrity({
        direction,
        data: views.length === 1 ? views[0] : views,
        meta: pi.meta,
        pi,
        format: target?.integrity ? target : undefined,
        offset: op.off,
        lbaSize: target?.logicalBlockSize,
        reread,
      }).catch((error) => ({
        undetermined: `the re-read to find the failed interval failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      })).then((diagnosis) =>
        op.reject(
          new IntegrityError({
            op: op.spec.name,
            fd,
            offset: op.off,
            flags: pi.flags,
            ...diagnosis,
          } as IntegrityErrorInit),
        )
      );
      return;
    }
    let detail: string | undefined;
    try {
      detail = explainAttributeError(res, { kernel: probeKernel(), target }, {
        dataLength: Array.isArray(op.data)
          ? op.data.reduce(
            (n: number, b: ArrayBufferView) => n + b.byteLength,
            0,
          )
          : (op.data as ArrayBufferView | null)?.byteLength,
        metaLength: pi?.meta.byteLength,
        flags: pi?.flags,
      });
    } catch {
      detail = undefined;
    }
    op.reject(UringError.from(res, { op: op.spec.name, fd, detail }));
  }

  /**
   * `timeoutMs` has passed. A request still in the backlog rejects now. One
   * in the kernel is normally being cancelled by its linked timeout at this
   * moment; it is cancelled once more (a backlogged request's linked
   * timeout started later) and, if no completion comes within
   * DEADLINE_GRACE_MS, rejects anyway while its memory stays reachable
   * until the kernel is done with it.
   */
  #onDeadline(op: PendingOp): void {
    op.deadline = undefined;
    if (op.state === SETTLED) return;
    if (op.state === QUEUED) {
      op.state = SETTLED;
      this.#pendingCount--;
      op.keep = null;
      if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
      op.reject(timeoutError(op));
      return;
    }
    this.#cancelUserData(op.userData, 0);
    op.deadline = setTimeout(() => {
      op.deadline = undefined;
      if (op.state === SETTLED) return;
      // Settled for the caller; the slot (and with it `keep`) stays in the
      // pending table until the completion arrives (#complete).
      op.state = SETTLED;
      this.#pendingCount--;
      if (op.onAbort) op.signal!.removeEventListener("abort", op.onAbort);
      op.reject(timeoutError(op));
    }, DEADLINE_GRACE_MS);
  }

  #abort(op: PendingOp): void {
    if (op.state === SETTLED) return;
    if (op.state === QUEUED) {
      // Never reached the kernel: settle now; #refill skips it.
      op.state = SETTLED;
      this.#pendingCount--;
      op.keep = null;
      op.reject(op.signal!.reason);
      return;
    }
    this.#cancelUserData(op.userData, 0);
  }

  /** Queues an ASYNC_CANCEL (internal user_data); submitted with the next flush. */
  #cancelUserData(userData: number, flags: number): void {
    if (this.closed) return;
    if (this.sqSpaceLeft() < 1) this.#submitPrepared();
    const index = this.prepRaw(OPCODES.cancel.opcode, -1, userData, 0, 0, 0);
    if (index < 0) return;
    this.setSqeWord(index, 7, flags);
    this.setSqeWord(index, 9, INTERNAL);
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
    abandonedMemory.push(op.keep);
    op.keep = null;
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

  #closeRing(): Promise<void> {
    if (this.closed) return Promise.reject(new RingClosedError("close"));
    this.#shuttingDown = true;
    if (
      this.#closing === undefined && !this.#armed && this.#inFlight === 0 &&
      this.sqReady() === 0 && this.#backlogHead === this.#backlog.length
    ) {
      // Nothing in flight: the ring closes now, not a microtask later, so
      // `ring.close(); ring.closed` is already true.
      this.#stopTaskrunCheck();
      this.#waiter?.close();
      super.close();
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
        op.state = SETTLED;
        this.#pendingCount--;
        op.keep = null;
        op.reject(new RingClosedError(op.spec.name));
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
    super.close();
  }

  /**
   * Closes the ring without waiting asynchronously: requests in flight are
   * cancelled and the thread blocks until the kernel has returned them.
   */
  override [Symbol.dispose](): void {
    if (this.closed) return;
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
      this.submit();
      const giveUpAt = performance.now() + DISPOSE_WAIT_MS;
      while (this.#inFlight > 0) {
        const leftUs = (giveUpAt - performance.now()) * 1000;
        if (leftUs < 1) break;
        this.waitCqeTimeout(1, leftUs);
        this.#reapAll();
      }
      if (this.#inFlight > 0) {
        // I/O the kernel cannot cancel yet: the JS thread does not wait for
        // it. The close goes on asynchronously, as close() does, and the
        // ring closes once the last completion is in.
        this.#closing ??= this.#drainAndClose();
        this.#closing.catch(() => {});
        return;
      }
    }
    if (this.#armed) {
      // The waiter may be asleep in the kernel after the reaping above: a
      // NOP left unreaped in the CQ makes its wait return.
      const index = this.prepRaw(OPCODES.nop.opcode, -1, 0, 0, 0, 0);
      if (index >= 0) this.setSqeWord(index, 9, INTERNAL);
      this.submit();
    }
    this.#stopTaskrunCheck();
    this.#waiter?.close();
    super.close();
  }

  /** `await using ring = new Ring()` drains and closes it at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.closed) await this.#closeRing();
  }
}
