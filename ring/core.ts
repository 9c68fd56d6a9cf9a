/**
 * `RingCore`: one io_uring instance, without the Promise layer (which
 * `Ring` in `ring.ts` adds on top). It owns the ring fd and the three mmap'd
 * regions (SQ ring, CQ ring, SQE array) and drives them from TypeScript:
 * SQEs are filled in ring memory, the SQ tail is published with a release
 * store, completions are read after an acquire load of the CQ tail, and the
 * kernel is entered through liburing's raw `io_uring_enter` wrapper only when
 * it must be (to submit, to wait, or to flush overflowed completions).
 *
 * @module
 */
import { addressNumber, liburing, memoryAt, NULL_ADDRESS } from "../ffi/mod.ts";
import { closeFd } from "../sys/fd.ts";
import { mmap, munmap } from "../sys/memory.ts";
import { UringError } from "../sys/errors.ts";
import { RingClosedError, SubmissionQueueFullError } from "./errors.ts";
import { fillSqe, OPCODES, type OpcodeSpec } from "./opcodes.ts";
import {
  applyAttributes,
  type AttributeOptions,
  packAttributes,
  type PackedAttributes,
} from "./attributes.ts";
import {
  checkBuffer,
  checkFd,
  checkInteger,
  checkOffset,
  checkOptions,
} from "./validate.ts";
import { CQE32_SIZE, Cqe32View, CQE_SIZE, CqeView } from "../structs/cqe.ts";
import { SQE128_SIZE, Sqe128View, SQE_SIZE, SqeView } from "../structs/sqe.ts";
import { PARAMS_SIZE, ParamsView } from "../structs/params.ts";
import { setU64Number } from "../structs/view.ts";
import { IOVEC_SIZE } from "../structs/iovec.ts";
import { RsrcRegisterView, RsrcUpdateView } from "../structs/rsrc.ts";
import { probeSize, ProbeView } from "../structs/probe.ts";
import { EBUSY, EINTR, EINVAL, ENOMEM } from "../structs/errno.ts";
import { memlockError, pinnedBytes, setupFailure } from "./diagnose.ts";
import {
  AT_FDCWD,
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_SQ_WAIT,
  IORING_ENTER_SQ_WAKEUP,
  IORING_FEAT_SINGLE_MMAP,
  IORING_FSYNC_DATASYNC,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_OP_LAST,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_EVENTFD,
  IORING_REGISTER_EVENTFD_ASYNC,
  IORING_REGISTER_FILES,
  IORING_REGISTER_FILES2,
  IORING_REGISTER_FILES_UPDATE,
  IORING_REGISTER_PROBE,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQE128,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
  IORING_SQ_CQ_OVERFLOW,
  IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN,
  IORING_UNREGISTER_BUFFERS,
  IORING_UNREGISTER_EVENTFD,
  IORING_UNREGISTER_FILES,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  OPCODE_NAMES,
  PROT_READ,
  PROT_WRITE,
} from "../structs/constants.ts";
import { TimespecView } from "../structs/iovec.ts";
import { cString } from "../ffi/mod.ts";

/**
 * How to set a ring up. Every field is optional; unknown names are refused.
 *
 * @example
 * ```ts
 * import type { RingOptions } from "./core.ts";
 * const options: RingOptions = { entries: 256, coopTaskrun: true, singleIssuer: true };
 * ```
 */
export interface RingOptions {
  /** SQ size, rounded up to a power of two by the kernel (default 64). */
  entries?: number;
  /** CQ size (IORING_SETUP_CQSIZE); the kernel default is 2 × entries. */
  cqEntries?: number;
  /** IORING_SETUP_CLAMP: clamp sizes to the kernel maximum instead of failing. */
  clamp?: boolean;
  /** IORING_SETUP_SQPOLL: a kernel thread polls the SQ; `idleMs` before it sleeps. */
  sqpoll?: boolean | { idleMs?: number; cpu?: number };
  /** IORING_SETUP_SINGLE_ISSUER: only this thread submits (6.0). */
  singleIssuer?: boolean;
  /** IORING_SETUP_COOP_TASKRUN: no interrupts to run completion work (5.19). */
  coopTaskrun?: boolean;
  /** IORING_SETUP_TASKRUN_FLAG: flag pending completion work in the SQ ring (5.19). */
  taskrunFlag?: boolean;
  /** IORING_SETUP_DEFER_TASKRUN: completions are produced only when this thread waits (6.1). */
  deferTaskrun?: boolean;
  /**
   * IORING_SETUP_NO_SQARRAY (6.6). `"auto"` (the default) uses it where the
   * kernel has it; `true` requires it; `false` never uses it.
   */
  noSqArray?: boolean | "auto";
  /** IORING_SETUP_SQE128: 128-byte SQEs. */
  sqe128?: boolean;
  /** IORING_SETUP_CQE32: 32-byte CQEs. */
  cqe32?: boolean;
  /** IORING_SETUP_IOPOLL: busy-poll completions (O_DIRECT on polled devices only). */
  iopoll?: boolean;
  /** IORING_SETUP_SUBMIT_ALL: keep submitting a batch after one SQE fails. */
  submitAll?: boolean;
  /** IORING_SETUP_ATTACH_WQ: share the kernel worker pool of another ring. */
  attachWq?: RingCore;
  /** Further raw IORING_SETUP_* bits. */
  flags?: number;
}

/**
 * Every setup option name of {@linkcode RingCore}, for option checkers.
 *
 * @example
 * ```ts
 * import { RING_OPTION_NAMES } from "./core.ts";
 * RING_OPTION_NAMES.includes("entries"); // true
 * ```
 */
export const RING_OPTION_NAMES: readonly string[] = [
  "entries",
  "cqEntries",
  "clamp",
  "sqpoll",
  "singleIssuer",
  "coopTaskrun",
  "taskrunFlag",
  "deferTaskrun",
  "noSqArray",
  "sqe128",
  "cqe32",
  "iopoll",
  "submitAll",
  "attachWq",
  "flags",
];

/** Kernel version that added each setup flag, for "kernel too old" errors. */
const SETUP_FLAG_SINCE: ReadonlyArray<readonly [number, string, string]> = [
  [IORING_SETUP_IOPOLL, "IORING_SETUP_IOPOLL", "5.1"],
  [IORING_SETUP_SQPOLL, "IORING_SETUP_SQPOLL", "5.1"],
  [IORING_SETUP_CQSIZE, "IORING_SETUP_CQSIZE", "5.5"],
  [IORING_SETUP_CLAMP, "IORING_SETUP_CLAMP", "5.6"],
  [IORING_SETUP_ATTACH_WQ, "IORING_SETUP_ATTACH_WQ", "5.6"],
  [IORING_SETUP_SUBMIT_ALL, "IORING_SETUP_SUBMIT_ALL", "5.18"],
  [IORING_SETUP_COOP_TASKRUN, "IORING_SETUP_COOP_TASKRUN", "5.19"],
  [IORING_SETUP_TASKRUN_FLAG, "IORING_SETUP_TASKRUN_FLAG", "5.19"],
  [IORING_SETUP_SQE128, "IORING_SETUP_SQE128", "5.19"],
  [IORING_SETUP_CQE32, "IORING_SETUP_CQE32", "5.19"],
  [IORING_SETUP_SINGLE_ISSUER, "IORING_SETUP_SINGLE_ISSUER", "6.0"],
  [IORING_SETUP_DEFER_TASKRUN, "IORING_SETUP_DEFER_TASKRUN", "6.1"],
  [IORING_SETUP_NO_SQARRAY, "IORING_SETUP_NO_SQARRAY", "6.6"],
];

/**
 * Names the setup flags in `flags`, with the kernel release that added each.
 *
 * @example
 * ```ts
 * import { describeSetupFlags } from "./core.ts";
 * describeSetupFlags(1 << 13); // ["IORING_SETUP_DEFER_TASKRUN (Linux 6.1)"]
 * ```
 */
export function describeSetupFlags(flags: number): string[] {
  return SETUP_FLAG_SINCE.filter(([bit]) => (flags & bit) !== 0).map((
    [, name, since],
  ) => `${name} (Linux ${since})`);
}

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
 * One registered-buffer set: the views the kernel pinned, kept reachable.
 *
 * @example
 * ```ts
 * import type { PinnedBuffers } from "./core.ts";
 * const buffers: PinnedBuffers = [new Uint8Array(4096)];
 * ```
 */
export type PinnedBuffers = readonly ArrayBufferView[];

// Mappings of closed rings are replaced by private zero pages (so a stale
// SqeView or CqeView reads zeros instead of faulting) and unmapped for good
// once every view over them has been collected.
/**
 * Covers every SQE word index (at most 32768 entries x 32 words = 2^20);
 * see prepRaw.
 */
const SQE_WORD_INDEX_MASK = 0x1fffff;

/**
 * Covers every CQE word index of the CQ ring mapping (at most 65536
 * entries x 8 words after a small header = under 2^20); see reap.
 */
const CQE_WORD_INDEX_MASK = 0x1fffff;

const retiredMappings = new FinalizationRegistry<
  { address: number; length: number }
>(
  ({ address, length }) => {
    try {
      munmap(address, length);
    } catch {
      // Nothing useful can be done about a failed unmap in a finalizer.
    }
  },
);

/**
 * One io_uring instance, driven from TypeScript. Method names follow
 * liburing: `getSqe`, `prep*`, `submit`, `submitAndWait`, `peekCqe`,
 * `waitCqe`, `cqAdvance`. Each `prep*` helper returns the entry's
 * {@linkcode SqeView}, so fields (`flags`, `userData`, ...) can still be set.
 *
 * Buffer lifetime: at this level the caller keeps every buffer alive until
 * its completion is reaped (the Promise API does that for you).
 *
 * @example
 * ```ts
 * import { RingCore } from "./core.ts";
 * using ring = new RingCore({ entries: 8 });
 * ring.prepNop().userData = 7n;
 * ring.submitAndWait(1);
 * const cqe = ring.peekCqe()!;
 * console.log(cqe.userData, cqe.res); // 7n 0
 * ring.cqAdvance(1);
 * ```
 */
export class RingCore {
  /** The ring's file descriptor. */
  readonly fd: number;
  /** IORING_SETUP_* flags the ring was created with. */
  readonly flags: number;
  /** IORING_FEAT_* bits the kernel reported. */
  readonly features: number;
  /** Number of SQ entries. */
  readonly sqEntries: number;
  /** Number of CQ entries. */
  readonly cqEntries: number;

  #closed = false;
  readonly #sqpoll: boolean;
  readonly #needsGetevents: boolean;
  readonly #enter: (
    fd: number,
    toSubmit: number,
    minComplete: number,
    flags: number,
    sig: number | bigint,
  ) => number;

  // Mappings: [address, length] pairs, unmapped exactly once by close().
  readonly #mappings: Array<{ address: number; buffer: ArrayBuffer }> = [];

  // SQ ring, as u32 words.
  readonly #sq: Uint32Array;
  readonly #sqHead: number;
  readonly #sqTail: number;
  readonly #sqFlags: number;
  readonly #sqDropped: number;
  readonly #sqMask: number;
  // Local tail of prepared SQEs, and the tail last published to the kernel.
  #sqeTail = 0;
  #sqeHead = 0;
  // Last kernel SQ head seen; refreshed only when the ring looks full.
  #sqHeadCache = 0;

  // SQE array.
  readonly #sqeWords: Uint32Array;
  // The same memory as doubles, for fillSqe's 8-byte zero stores.
  readonly #sqeWide: Float64Array;
  readonly #sqeWordsPerEntry: number;
  readonly #sqeViews: SqeView[];
  // Per-slot references to argument memory the kernel reads at submit time
  // (iovec arrays, paths, timespecs): kept until the slot is reused.
  readonly #sqeKeep: unknown[];

  // CQ ring.
  readonly #cq: Uint32Array;
  readonly #cqI32: Int32Array;
  readonly #cqHeadIndex: number;
  readonly #cqTailIndex: number;
  readonly #cqOverflowIndex: number;
  readonly #cqMask: number;
  readonly #cqeWord0: number;
  readonly #cqeWordsPerEntry: number;
  readonly #cqeViews: CqeView[];
  #cqHead = 0;

  #pinnedBuffers: PinnedBuffers | null = null;
  #registeredFiles = false;

  /**
   * Sets up a ring. `extraOptionNames` lets a subclass accept options of its
   * own while every other unknown name is still refused.
   */
  constructor(
    options: RingOptions = {},
    extraOptionNames: readonly string[] = [],
  ) {
    checkOptions(
      options,
      [...RING_OPTION_NAMES, ...extraOptionNames],
      "Ring options",
    );
    const entries = options.entries === undefined
      ? 64
      : checkInteger(options.entries, "entries", 1, 32768);
    let flags = options.flags === undefined
      ? 0
      : checkInteger(options.flags, "flags", 0, 0xffffffff);
    const params = new ParamsView(new Uint8Array(PARAMS_SIZE));
    if (options.cqEntries !== undefined) {
      params.cqEntries = checkInteger(options.cqEntries, "cqEntries", 1, 65536);
      flags |= IORING_SETUP_CQSIZE;
    }
    const bool = (key: keyof RingOptions, bit: number) => {
      const value = options[key];
      if (value === undefined) return;
      if (typeof value !== "boolean") {
        throw new TypeError(`Ring option ${key} must be a boolean`);
      }
      if (value) flags |= bit;
    };
    bool("clamp", IORING_SETUP_CLAMP);
    bool("singleIssuer", IORING_SETUP_SINGLE_ISSUER);
    bool("coopTaskrun", IORING_SETUP_COOP_TASKRUN);
    bool("taskrunFlag", IORING_SETUP_TASKRUN_FLAG);
    bool("deferTaskrun", IORING_SETUP_DEFER_TASKRUN);
    bool("sqe128", IORING_SETUP_SQE128);
    bool("cqe32", IORING_SETUP_CQE32);
    bool("iopoll", IORING_SETUP_IOPOLL);
    bool("submitAll", IORING_SETUP_SUBMIT_ALL);
    if (options.sqpoll !== undefined && options.sqpoll !== false) {
      flags |= IORING_SETUP_SQPOLL;
      if (typeof options.sqpoll === "object" && options.sqpoll !== null) {
        checkOptions(options.sqpoll, ["idleMs", "cpu"], "sqpoll options");
        if (options.sqpoll.idleMs !== undefined) {
          params.sqThreadIdle = checkInteger(
            options.sqpoll.idleMs,
            "sqpoll.idleMs",
          );
        }
        if (options.sqpoll.cpu !== undefined) {
          params.sqThreadCpu = checkInteger(
            options.sqpoll.cpu,
            "sqpoll.cpu",
            0,
            4095,
          );
          flags |= 1 << 2; // IORING_SETUP_SQ_AFF
        }
      } else if (options.sqpoll !== true) {
        throw new TypeError(
          "Ring option sqpoll must be a boolean or { idleMs, cpu }",
        );
      }
    }
    if (options.attachWq !== undefined) {
      if (!(options.attachWq instanceof RingCore)) {
        throw new TypeError("Ring option attachWq must be a Ring");
      }
      params.wqFd = options.attachWq.fd;
      flags |= IORING_SETUP_ATTACH_WQ;
    }
    const noSqArray = options.noSqArray ?? "auto";
    if (noSqArray !== "auto" && typeof noSqArray !== "boolean") {
      throw new TypeError('Ring option noSqArray must be a boolean or "auto"');
    }
    if (noSqArray !== false) flags |= IORING_SETUP_NO_SQARRAY;

    const lib = liburing();
    let fd = this.#setup(lib, entries, params, flags);
    if (fd === -EINVAL && noSqArray === "auto") {
      // Kernels before 6.6 refuse NO_SQARRAY; it is only an optimisation.
      flags &= ~IORING_SETUP_NO_SQARRAY;
      fd = this.#setup(lib, entries, params, flags);
    }
    if (fd < 0) {
      throw setupFailure(fd, flags, {
        entries,
        cqEntries: options.cqEntries,
        sqThreadCpu: (options.sqpoll as { cpu?: number } | undefined)?.cpu,
      });
    }

    this.fd = fd;
    this.flags = flags;
    this.features = params.features;
    this.sqEntries = params.sqEntries;
    this.cqEntries = params.cqEntries;
    this.#sqpoll = (flags & IORING_SETUP_SQPOLL) !== 0;
    this.#needsGetevents = (flags & IORING_SETUP_IOPOLL) !== 0;
    this.#enter = lib.io_uring_enter;

    try {
      const sqOff = params.sqOff;
      const cqOff = params.cqOff;
      const sqeSize = (flags & IORING_SETUP_SQE128) ? SQE128_SIZE : SQE_SIZE;
      const cqeSize = (flags & IORING_SETUP_CQE32) ? CQE32_SIZE : CQE_SIZE;
      let sqRingSize = sqOff.array + this.sqEntries * 4;
      let cqRingSize = cqOff.cqes + this.cqEntries * cqeSize;
      const singleMmap = (this.features & IORING_FEAT_SINGLE_MMAP) !== 0;
      if (singleMmap) {
        sqRingSize = cqRingSize = Math.max(sqRingSize, cqRingSize);
      }

      const sqRing = this.#map(sqRingSize, IORING_OFF_SQ_RING);
      const cqRing = singleMmap
        ? sqRing
        : this.#map(cqRingSize, IORING_OFF_CQ_RING);
      const sqes = this.#map(this.sqEntries * sqeSize, IORING_OFF_SQES);

      this.#sq = new Uint32Array(sqRing);
      this.#sqHead = sqOff.head >>> 2;
      this.#sqTail = sqOff.tail >>> 2;
      this.#sqFlags = sqOff.flags >>> 2;
      this.#sqDropped = sqOff.dropped >>> 2;
      this.#sqMask = this.#sq[sqOff.ringMask >>> 2];
      if ((flags & IORING_SETUP_NO_SQARRAY) === 0) {
        // An identity index array, written once: SQE i is always slot i.
        const array = new Uint32Array(sqRing, sqOff.array, this.sqEntries);
        for (let i = 0; i < this.sqEntries; i++) array[i] = i;
      }
      // The kernel may have consumed entries already only on a reused ring;
      // start from its view of head and tail.
      this.#sqeTail = this.#sqeHead = this.#sqHeadCache = Atomics.load(
        this.#sq,
        this.#sqTail,
      );

      this.#sqeWords = new Uint32Array(sqes);
      this.#sqeWide = new Float64Array(sqes);
      this.#sqeWordsPerEntry = sqeSize >>> 2;
      this.#sqeViews = [];
      const sqeBytes = new Uint8Array(sqes);
      for (let i = 0; i < this.sqEntries; i++) {
        const bytes = sqeBytes.subarray(i * sqeSize, (i + 1) * sqeSize);
        this.#sqeViews.push(
          sqeSize === SQE128_SIZE ? new Sqe128View(bytes) : new SqeView(bytes),
        );
      }
      this.#sqeKeep = new Array(this.sqEntries).fill(undefined);

      this.#cq = new Uint32Array(cqRing);
      this.#cqI32 = new Int32Array(cqRing);
      this.#cqHeadIndex = cqOff.head >>> 2;
      this.#cqTailIndex = cqOff.tail >>> 2;
      this.#cqOverflowIndex = cqOff.overflow >>> 2;
      this.#cqMask = this.#cq[cqOff.ringMask >>> 2];
      this.#cqeWord0 = cqOff.cqes >>> 2;
      this.#cqeWordsPerEntry = cqeSize >>> 2;
      this.#cqHead = Atomics.load(this.#cq, this.#cqHeadIndex);
      this.#cqeViews = [];
      const cqBytes = new Uint8Array(cqRing);
      for (let i = 0; i < this.cqEntries; i++) {
        const at = cqOff.cqes + i * cqeSize;
        const bytes = cqBytes.subarray(at, at + cqeSize);
        this.#cqeViews.push(
          cqeSize === CQE32_SIZE ? new Cqe32View(bytes) : new CqeView(bytes),
        );
      }
    } catch (error) {
      this.#release();
      throw error;
    }
  }

  #setup(
    lib: ReturnType<typeof liburing>,
    entries: number,
    params: ParamsView,
    flags: number,
  ): number {
    params.flags = flags;
    params.features = 0;
    return lib.io_uring_setup(entries, params.bytes);
  }

  #map(length: number, offset: number): ArrayBuffer {
    const address = mmap(
      length,
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_POPULATE,
      this.fd,
      offset,
    );
    const buffer = memoryAt(address, length);
    this.#mappings.push({ address, buffer });
    return buffer;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new RingClosedError(what);
  }

  // ---------------------------------------------------------------- SQ side

  /**
   * The next free SQE, cleared, or `null` when all entries are taken
   * (liburing's `io_uring_get_sqe`). Submit to make room.
   */
  getSqe(): SqeView | null {
    this.#assertOpen("getSqe");
    const index = this.#nextSqeIndex();
    if (index < 0) return null;
    const view = this.#sqeViews[index];
    view.clear();
    return view;
  }

  /** Slot index of the next free SQE (tail advanced), or -1 if full. */
  #nextSqeIndex(): number {
    const tail = this.#sqeTail;
    // u32 arithmetic: tail - head wraps correctly past 2^32.
    if (((tail - this.#sqHeadCache) >>> 0) >= this.sqEntries) {
      this.#sqHeadCache = Atomics.load(this.#sq, this.#sqHead);
      if (((tail - this.#sqHeadCache) >>> 0) >= this.sqEntries) return -1;
    }
    this.#sqeTail = (tail + 1) >>> 0;
    return tail & this.#sqMask;
  }

  /**
   * Takes an SQE and fills it through {@linkcode fillSqe}; returns the slot.
   * Every prep helper ends here.
   */
  #prep(
    opcode: number,
    fd: number,
    addr: number,
    len: number,
    off: number,
  ): number {
    if (this.#closed) throw new RingClosedError("prep");
    const index = this.#nextSqeIndex();
    if (index < 0) throw new SubmissionQueueFullError(this.sqEntries);
    fillSqe(
      this.#sqeWords,
      index * this.#sqeWordsPerEntry,
      opcode,
      fd,
      addr,
      len,
      off,
      0,
      this.#sqeWide,
    );
    this.#sqeKeep[index] = undefined;
    return index;
  }

  /** Word index of field word `word` of SQE slot `index`. */
  #word(index: number, word: number): number {
    return index * this.#sqeWordsPerEntry + word;
  }

  /**
   * Low-level fast path for the Promise layer: fills an SQE with
   * {@linkcode fillSqe}, sets `user_data` to a 32-bit id and returns the slot
   * (or -1 when the SQ is full). No object is created.
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * const ring = new RingCore({ entries: 4 });
   * ring.prepRaw(0, -1, 0, 0, 0, 1); // IORING_OP_NOP, user_data 1
   * ring.submit();
   * ring.close();
   * ```
   */
  prepRaw(
    opcode: number,
    fd: number,
    addr: number,
    len: number,
    off: number,
    userData: number,
  ): number {
    if (this.#closed) throw new RingClosedError("prep");
    const index = this.#nextSqeIndex();
    if (index < 0) return -1;
    const words = this.#sqeWords;
    // The mask changes nothing (32768 entries of 32 words fit in 2^21) but
    // bounds the value, so the JIT drops its overflow checks on base + k.
    const base = (index * this.#sqeWordsPerEntry) & SQE_WORD_INDEX_MASK;
    fillSqe(words, base, opcode, fd, addr, len, off, userData, this.#sqeWide);
    return index;
  }

  /**
   * Sets a 32-bit word of a prepared SQE by word index (see SQE_OFFSETS / 4):
   * the Promise layer's way to add flags and op-specific fields without
   * allocating.
   */
  setSqeWord(index: number, word: number, value: number): void {
    this.#sqeWords[this.#word(index, word)] = value;
  }

  /** Reads a 32-bit word of an SQE slot (see {@linkcode setSqeWord}). */
  sqeWord(index: number, word: number): number {
    return this.#sqeWords[this.#word(index, word)];
  }

  /** Keeps `value` reachable until SQE slot `index` is reused. */
  keepUntilReuse(index: number, value: unknown): void {
    this.#sqeKeep[index] = value;
  }

  /** The cached view of SQE slot `index`. */
  sqeAt(index: number): SqeView {
    return this.#sqeViews[index];
  }

  /** IORING_OP_NOP. */
  prepNop(): SqeView {
    return this.#sqeViews[this.#prep(OPCODES.nop.opcode, -1, 0, 0, 0)];
  }

  /**
   * IORING_OP_READ into `buf` from `offset` (-1: the current file position).
   * `attributes` (`{ pi }`, Linux 6.14) are packed into a compound buffer
   * that the ring keeps until the SQE is reused; the PI metadata buffer
   * itself must stay alive until the completion, like `buf`.
   */
  prepRead(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepData(OPCODES.read, fd, buf, offset, attributes);
  }

  /** IORING_OP_WRITE of `buf` at `offset` (-1: the current file position). */
  prepWrite(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepData(OPCODES.write, fd, buf, offset, attributes);
  }

  #prepData(
    spec: OpcodeSpec,
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    attributes: AttributeOptions | undefined,
  ): SqeView {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    const packed = packAttributes(attributes, spec);
    const index = this.#prep(
      spec.opcode,
      fd,
      addressNumber(buf),
      buf.byteLength,
      off,
    );
    return this.#attach(index, packed);
  }

  /**
   * Points SQE `index` at packed attributes and keeps the compound buffer
   * until the slot is reused (the kernel copies it when it takes the SQE).
   */
  #attach(
    index: number,
    packed: PackedAttributes | null,
    keep?: unknown,
  ): SqeView {
    const view = this.#sqeViews[index];
    if (packed !== null) applyAttributes(view, packed);
    this.#sqeKeep[index] = packed === null ? keep : [keep, packed];
    return view;
  }

  /** IORING_OP_READV: scatter into `buffers` from `offset`. */
  prepReadv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepVectored(OPCODES.readv, fd, buffers, offset, attributes);
  }

  /** IORING_OP_WRITEV: gather `buffers` and write them at `offset`. */
  prepWritev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepVectored(OPCODES.writev, fd, buffers, offset, attributes);
  }

  #prepVectored(
    spec: OpcodeSpec,
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    attributes: AttributeOptions | undefined,
  ): SqeView {
    checkFd(fd);
    const iovecs = buildIovecs(buffers);
    const off = checkOffset(offset);
    const packed = packAttributes(attributes, spec);
    const index = this.#prep(
      spec.opcode,
      fd,
      addressNumber(iovecs),
      buffers.length,
      off,
    );
    // The kernel copies the iovec array when it takes the SQE.
    return this.#attach(index, packed, iovecs);
  }

  /**
   * IORING_OP_READ_FIXED into `buf`, which must lie inside registered buffer
   * `bufIndex` (see {@linkcode registerBuffers}).
   */
  prepReadFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepFixed(
      OPCODES.readFixed,
      fd,
      buf,
      offset,
      bufIndex,
      attributes,
    );
  }

  /** IORING_OP_WRITE_FIXED of `buf`, inside registered buffer `bufIndex`. */
  prepWriteFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#prepFixed(
      OPCODES.writeFixed,
      fd,
      buf,
      offset,
      bufIndex,
      attributes,
    );
  }

  #prepFixed(
    spec: OpcodeSpec,
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    attributes: AttributeOptions | undefined,
  ): SqeView {
    checkFd(fd);
    checkBuffer(buf, "buf");
    const off = checkOffset(offset);
    checkInteger(bufIndex, "bufIndex", 0, 0xffff);
    const packed = packAttributes(attributes, spec);
    const index = this.#prep(
      spec.opcode,
      fd,
      addressNumber(buf),
      buf.byteLength,
      off,
    );
    this.#sqeWords[this.#word(index, 10)] = bufIndex;
    return this.#attach(index, packed);
  }

  /**
   * IORING_OP_FSYNC; `{ datasync: true }` for fdatasync semantics, and an
   * optional byte range (`offset`, `length`; 0 = to the end).
   */
  prepFsync(
    fd: number,
    options: { datasync?: boolean; offset?: number; length?: number } = {},
  ): SqeView {
    checkFd(fd);
    checkOptions(options, ["datasync", "offset", "length"], "fsync options");
    const off = checkOffset(options.offset ?? 0, "offset", false);
    const len = checkInteger(options.length ?? 0, "length");
    const index = this.#prep(OPCODES.fsync.opcode, fd, 0, len, off);
    if (options.datasync) {
      this.#sqeWords[this.#word(index, 7)] = IORING_FSYNC_DATASYNC;
    }
    return this.#sqeViews[index];
  }

  /**
   * IORING_OP_OPENAT of `path` relative to `dirfd` (AT_FDCWD by default).
   * The result is the new fd.
   */
  prepOpenat(
    path: string,
    flags: number,
    mode = 0o644,
    dirfd: number = AT_FDCWD,
  ): SqeView {
    const bytes = cString(checkPath(path));
    checkInteger(flags, "flags", 0, 0x7fffffff);
    checkInteger(mode, "mode", 0, 0o7777);
    if (dirfd !== AT_FDCWD) checkFd(dirfd, "dirfd");
    const index = this.#prep(
      OPCODES.openat.opcode,
      dirfd,
      addressNumber(bytes),
      mode,
      0,
    );
    this.#sqeWords[this.#word(index, 7)] = flags;
    this.#sqeKeep[index] = bytes; // the kernel copies the path at submit
    return this.#sqeViews[index];
  }

  /** IORING_OP_CLOSE of `fd`. */
  prepClose(fd: number): SqeView {
    checkFd(fd);
    return this.#sqeViews[this.#prep(OPCODES.close.opcode, fd, 0, 0, 0)];
  }

  /**
   * IORING_OP_STATX: fills `statxBuf` (256 bytes, see `StatxView`) for `path`
   * relative to `dirfd`; with `path` `""` and AT_EMPTY_PATH, for `dirfd` itself.
   */
  prepStatx(
    dirfd: number,
    path: string,
    flags: number,
    mask: number,
    statxBuf: Uint8Array,
  ): SqeView {
    if (dirfd !== AT_FDCWD) checkFd(dirfd, "dirfd");
    const bytes = cString(checkPath(path, true));
    checkInteger(flags, "flags", 0, 0x7fffffff);
    checkInteger(mask, "mask");
    checkBuffer(statxBuf, "statxBuf");
    if (statxBuf.byteLength < 256) {
      throw new RangeError(
        `statxBuf must hold 256 bytes, got ${statxBuf.byteLength}`,
      );
    }
    const index = this.#prep(
      OPCODES.statx.opcode,
      dirfd,
      addressNumber(bytes),
      mask,
      addressNumber(statxBuf),
    );
    this.#sqeWords[this.#word(index, 7)] = flags;
    this.#sqeKeep[index] = bytes;
    return this.#sqeViews[index];
  }

  /** IORING_OP_FALLOCATE: `mode` FALLOC_FL_* over `length` bytes at `offset`. */
  prepFallocate(
    fd: number,
    mode: number,
    offset: number | bigint,
    length: number,
  ): SqeView {
    checkFd(fd);
    checkInteger(mode, "mode", 0, 0xff);
    const off = checkOffset(offset, "offset", false);
    const len = checkOffset(length, "length", false);
    // The kernel takes the length in sqe->addr and the mode in sqe->len.
    return this
      .#sqeViews[this.#prep(OPCODES.fallocate.opcode, fd, len, mode, off)];
  }

  /**
   * IORING_OP_TIMEOUT: completes with -ETIME after `ms` milliseconds, or with
   * 0 once `count` other completions have arrived (0 = time only).
   */
  prepTimeout(ms: number, count = 0, flags = 0): SqeView {
    const ts = timespec(ms);
    checkInteger(count, "count");
    checkInteger(flags, "flags");
    const index = this.#prep(
      OPCODES.timeout.opcode,
      -1,
      addressNumber(ts.bytes),
      1,
      count,
    );
    this.#sqeWords[this.#word(index, 7)] = flags;
    this.#sqeKeep[index] = ts;
    return this.#sqeViews[index];
  }

  /**
   * IORING_OP_LINK_TIMEOUT: cancels the previous SQE (which must carry
   * IOSQE_IO_LINK) if it has not completed within `ms` milliseconds.
   */
  prepLinkTimeout(ms: number, flags = 0): SqeView {
    const ts = timespec(ms);
    checkInteger(flags, "flags");
    const index = this.#prep(
      OPCODES.linkTimeout.opcode,
      -1,
      addressNumber(ts.bytes),
      1,
      0,
    );
    this.#sqeWords[this.#word(index, 7)] = flags;
    this.#sqeKeep[index] = ts;
    return this.#sqeViews[index];
  }

  /**
   * IORING_OP_ASYNC_CANCEL of the request whose `user_data` is `userData`
   * (or per `flags`, IORING_ASYNC_CANCEL_*).
   */
  prepCancel(userData: bigint | number, flags = 0): SqeView {
    checkInteger(flags, "flags");
    const index = this.#prep(OPCODES.cancel.opcode, -1, 0, 0, 0);
    const view = this.#sqeViews[index];
    view.addr = userData;
    this.#sqeWords[this.#word(index, 7)] = flags;
    return view;
  }

  /** Number of SQEs prepared but not yet handed to the kernel. */
  sqReady(): number {
    return (this.#sqeTail - this.#sqeHead) >>> 0;
  }

  /**
   * Number of free SQEs. On an SQPOLL ring the kernel thread publishes its
   * new SQ head after the batch it took, so this can read 0 for a moment
   * even when the completions of those entries are already visible: wait
   * with {@linkcode sqringWait} rather than for a completion.
   */
  sqSpaceLeft(): number {
    this.#sqHeadCache = Atomics.load(this.#sq, this.#sqHead);
    return this.sqEntries - ((this.#sqeTail - this.#sqHeadCache) >>> 0);
  }

  /**
   * On an SQPOLL ring, blocks until the SQ has a free entry
   * (IORING_ENTER_SQ_WAIT, liburing's `io_uring_sqring_wait`); returns at
   * once when there is one, and on other rings (whose entries the kernel
   * takes during submit).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 4, sqpoll: true });
   * if (ring.sqSpaceLeft() === 0) ring.sqringWait();
   * ```
   */
  sqringWait(): void {
    this.#assertOpen("sqringWait");
    if (!this.#sqpoll) return;
    while (this.sqSpaceLeft() === 0) {
      let flags = IORING_ENTER_SQ_WAIT;
      if (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP) {
        flags |= IORING_ENTER_SQ_WAKEUP;
      }
      const result = this.#enter(this.fd, 0, 0, flags, NULL_ADDRESS);
      if (result < 0 && result !== -EINTR) {
        throw UringError.from(result, { op: "io_uring_enter", fd: this.fd });
      }
    }
  }

  /** Submissions dropped by the kernel as invalid (sq.dropped). */
  sqDropped(): number {
    return Atomics.load(this.#sq, this.#sqDropped);
  }

  /**
   * Publishes the prepared SQEs (release store of the SQ tail) and returns
   * how many are in the ring waiting for the kernel to take them.
   */
  #flushSq(): number {
    const tail = this.#sqeTail;
    if (this.#sqeHead !== tail) {
      this.#sqeHead = tail;
      // Release: the SQE contents written above become visible before the
      // kernel can observe the new tail.
      Atomics.store(this.#sq, this.#sqTail, tail);
    }
    return (tail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
  }

  /** The SQ ring's flags word (IORING_SQ_NEED_WAKEUP, _CQ_OVERFLOW, _TASKRUN). */
  sqFlags(): number {
    this.#assertOpen("sqFlags");
    return Atomics.load(this.#sq, this.#sqFlags);
  }

  /** Whether completions wait in the kernel (overflow or deferred task work). */
  #cqNeedsFlush(): boolean {
    return (Atomics.load(this.#sq, this.#sqFlags) &
      (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  #submit(waitNr: number, getEvents: boolean): number {
    const submitted = this.#flushSq();
    let flags = 0;
    let needEnter = false;
    if (submitted > 0) {
      if (!this.#sqpoll) needEnter = true;
      // Seq-cst store above and load here: the full barrier liburing uses
      // before checking whether the SQPOLL thread went to sleep.
      else if (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP) {
        flags |= IORING_ENTER_SQ_WAKEUP;
        needEnter = true;
      }
    }
    if (
      getEvents || waitNr > 0 || this.#needsGetevents || this.#cqNeedsFlush()
    ) {
      flags |= IORING_ENTER_GETEVENTS;
      needEnter = true;
    }
    if (!needEnter) return submitted;
    for (;;) {
      const result = this.#enter(
        this.fd,
        submitted,
        waitNr,
        flags,
        NULL_ADDRESS,
      );
      if (result >= 0) return result;
      if (result === -EINTR) continue;
      throw UringError.from(result, { op: "io_uring_enter", fd: this.fd });
    }
  }

  /**
   * Hands every prepared SQE to the kernel (liburing's `io_uring_submit`).
   * Returns how many the kernel took. Enters the kernel only when needed:
   * not at all for an SQPOLL ring whose thread is awake.
   */
  submit(): number {
    this.#assertOpen("submit");
    return this.#submit(0, false);
  }

  /**
   * Submits and waits until at least `waitNr` completions are in the CQ ring
   * (liburing's `io_uring_submit_and_wait`).
   */
  submitAndWait(waitNr: number): number {
    this.#assertOpen("submitAndWait");
    checkInteger(waitNr, "waitNr");
    return this.#submit(waitNr, waitNr > 0);
  }

  /**
   * Enters the kernel directly (io_uring_enter(2)) with a raw result:
   * the count, or `-errno`. For completion-delivery code that must not throw.
   */
  enter(toSubmit: number, minComplete: number, flags: number): number {
    this.#assertOpen("enter");
    return this.#enter(this.fd, toSubmit, minComplete, flags, NULL_ADDRESS);
  }

  /**
   * Waits in the calling thread until at least `minComplete` completions are
   * in the CQ ring or `timeoutUs` microseconds have passed (io_uring_enter2
   * with IORING_ENTER_EXT_ARG, Linux 5.11). Returns the raw result: >= 0,
   * `-ETIME` on timeout, or `-errno`. A bounded wait: the Promise layer uses
   * it to catch completions that arrive within microseconds without a
   * round trip through its waiter thread.
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 2 });
   * ring.waitCqeTimeout(1, 50); // -62 (ETIME): nothing was in flight
   * ```
   */
  waitCqeTimeout(minComplete: number, timeoutUs: number): number {
    this.#assertOpen("waitCqeTimeout");
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
    const seconds = Math.floor(timeoutUs / 1e6);
    setU64Number(view, 24, seconds);
    setU64Number(view, 32, Math.round((timeoutUs - seconds * 1e6) * 1000));
    let flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if (
      this.#sqpoll &&
      (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP)
    ) {
      flags |= IORING_ENTER_SQ_WAKEUP;
    }
    this.#enter2 ??= liburing().io_uring_enter2;
    return this.#enter2(this.fd, 0, minComplete, flags, address, 24);
  }

  #waitArg: { bytes: Uint8Array; view: DataView; address: number } | undefined;
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

  /** Publishes prepared SQEs without entering the kernel; returns the count pending. */
  flushSq(): number {
    this.#assertOpen("flushSq");
    return this.#flushSq();
  }

  // ---------------------------------------------------------------- CQ side

  /** Number of completions in the CQ ring, ready to be read. */
  cqReady(): number {
    this.#assertOpen("cqReady");
    // Acquire: CQE contents are visible once the tail that covers them is.
    return (Atomics.load(this.#cq, this.#cqTailIndex) - this.#cqHead) >>> 0;
  }

  /** Completions the kernel had to drop (only on kernels without FEAT_NODROP). */
  cqOverflow(): number {
    this.#assertOpen("cqOverflow");
    return Atomics.load(this.#cq, this.#cqOverflowIndex);
  }

  /**
   * The oldest unseen completion, or `null` if there is none. When the
   * kernel holds completions back (CQ overflow, deferred task work) it is
   * entered once to flush them, so none is ever missed.
   * Call {@linkcode cqAdvance} after reading it.
   */
  peekCqe(): CqeView | null {
    this.#assertOpen("peekCqe");
    if (Atomics.load(this.#cq, this.#cqTailIndex) !== this.#cqHead) {
      return this.#cqeViews[this.#cqHead & this.#cqMask];
    }
    if (this.#cqNeedsFlush()) {
      this.#getEvents(0);
      if (Atomics.load(this.#cq, this.#cqTailIndex) !== this.#cqHead) {
        return this.#cqeViews[this.#cqHead & this.#cqMask];
      }
    }
    return null;
  }

  /** Waits (blocking the thread) for a completion and returns it. */
  waitCqe(): CqeView {
    for (;;) {
      const cqe = this.peekCqe();
      if (cqe !== null) return cqe;
      this.#getEvents(1);
    }
  }

  #getEvents(minComplete: number): void {
    let flags = IORING_ENTER_GETEVENTS;
    if (
      this.#sqpoll &&
      (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_NEED_WAKEUP)
    ) {
      flags |= IORING_ENTER_SQ_WAKEUP;
    }
    const result = this.#enter(this.fd, 0, minComplete, flags, NULL_ADDRESS);
    // EBUSY: the kernel could not flush overflow yet; the caller retries.
    if (result < 0 && result !== -EINTR && result !== -EBUSY) {
      throw UringError.from(result, { op: "io_uring_enter", fd: this.fd });
    }
  }

  /** Marks `n` completions as seen, handing their slots back to the kernel. */
  cqAdvance(n: number): void {
    this.#assertOpen("cqAdvance");
    if (n <= 0) return;
    this.#cqHead = (this.#cqHead + n) >>> 0;
    // Release: our reads of those CQEs are done before the kernel reuses them.
    Atomics.store(this.#cq, this.#cqHeadIndex, this.#cqHead);
  }

  /** {@linkcode cqAdvance} by one. */
  cqeSeen(): void {
    this.cqAdvance(1);
  }

  /**
   * Calls `handler` for every completion in the CQ ring (flushing overflow
   * first when needed), then advances past them. Allocates nothing.
   * Returns how many completions were handled.
   */
  reap(handler: CompletionHandler): number {
    this.#assertOpen("reap");
    let total = 0;
    for (;;) {
      let head = this.#cqHead;
      const tail = Atomics.load(this.#cq, this.#cqTailIndex);
      if (head === tail) {
        if (!this.#cqNeedsFlush()) break;
        this.#getEvents(0);
        if (Atomics.load(this.#cq, this.#cqTailIndex) === head) break;
        continue;
      }
      const cq = this.#cq;
      const cqI32 = this.#cqI32;
      const mask = this.#cqMask;
      const stride = this.#cqeWordsPerEntry;
      const first = this.#cqeWord0;
      while (head !== tail) {
        // Masked like prepRaw's base: a bounded value, no overflow checks.
        const w = (first + (head & mask) * stride) & CQE_WORD_INDEX_MASK;
        handler(cq[w], cqI32[w + 2], cq[w + 3], cq[w + 1]);
        head = (head + 1) >>> 0;
        total++;
      }
      this.#cqHead = head;
      Atomics.store(cq, this.#cqHeadIndex, head);
    }
    return total;
  }

  // ----------------------------------------------------------- registration

  #register(opcode: number, arg: number, nrArgs: number, op: string): number {
    this.#assertOpen(op);
    const register = liburing().io_uring_register;
    for (;;) {
      const result = register(this.fd, opcode, arg, nrArgs);
      if (result >= 0) return result;
      if (result === -EINTR) continue;
      throw UringError.from(result, { op, fd: this.fd });
    }
  }

  /**
   * Registers `buffers` as fixed buffers (IORING_REGISTER_BUFFERS) for
   * `prepReadFixed`/`prepWriteFixed`; buffer i is `bufIndex` i. The ring
   * keeps the views reachable until {@linkcode unregisterBuffers} or close.
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    const iovecs = buildIovecs(buffers, "buffers");
    try {
      this.#register(
        IORING_REGISTER_BUFFERS,
        addressNumber(iovecs),
        buffers.length,
        "register_buffers",
      );
    } catch (error) {
      // Pinned pages are charged to RLIMIT_MEMLOCK: say so, with numbers.
      if (error instanceof UringError && error.errno === ENOMEM) {
        throw memlockError(pinnedBytes(buffers, addressNumber));
      }
      throw error;
    }
    this.#pinnedBuffers = [...buffers];
  }

  /** Drops the fixed buffers. */
  unregisterBuffers(): void {
    this.#register(IORING_UNREGISTER_BUFFERS, 0, 0, "unregister_buffers");
    this.#pinnedBuffers = null;
  }

  /** The registered buffers, or null. */
  get registeredBuffers(): PinnedBuffers | null {
    return this.#pinnedBuffers;
  }

  /**
   * Registers `fds` as fixed files (IORING_REGISTER_FILES); -1 leaves a
   * slot empty. Use the index as fd with IOSQE_FIXED_FILE.
   */
  registerFiles(fds: readonly number[]): void {
    const table = fdTable(fds);
    this.#register(
      IORING_REGISTER_FILES,
      addressNumber(table),
      fds.length,
      "register_files",
    );
    this.#registeredFiles = true;
  }

  /** Registers an empty fixed-file table of `count` slots (IORING_RSRC_REGISTER_SPARSE). */
  registerFilesSparse(count: number): void {
    checkInteger(count, "count", 1, 1 << 20);
    const arg = new RsrcRegisterView(new Uint8Array(32));
    arg.nr = count;
    arg.flags = IORING_RSRC_REGISTER_SPARSE;
    this.#register(
      IORING_REGISTER_FILES2,
      addressNumber(arg.bytes),
      32,
      "register_files_sparse",
    );
    this.#registeredFiles = true;
  }

  /**
   * Replaces fixed-file slots from `offset` on with `fds` (-1 clears a slot,
   * IORING_REGISTER_FILES_SKIP leaves it). Returns how many were updated.
   */
  registerFilesUpdate(offset: number, fds: readonly number[]): number {
    checkInteger(offset, "offset");
    const table = fdTable(fds, true);
    const arg = new RsrcUpdateView(new Uint8Array(16));
    arg.offset = offset;
    arg.data = addressNumber(table);
    return this.#register(
      IORING_REGISTER_FILES_UPDATE,
      addressNumber(arg.bytes),
      fds.length,
      "register_files_update",
    );
  }

  /** Drops the fixed-file table. */
  unregisterFiles(): void {
    this.#register(IORING_UNREGISTER_FILES, 0, 0, "unregister_files");
    this.#registeredFiles = false;
  }

  /** Whether a fixed-file table is registered. */
  get hasRegisteredFiles(): boolean {
    return this.#registeredFiles;
  }

  /**
   * Registers an eventfd the kernel signals on each completion
   * (`async: true` signals only for completions that went async).
   */
  registerEventfd(eventfd: number, options: { async?: boolean } = {}): void {
    checkFd(eventfd, "eventfd");
    checkOptions(options, ["async"], "registerEventfd options");
    const value = new Int32Array([eventfd]);
    this.#register(
      options.async ? IORING_REGISTER_EVENTFD_ASYNC : IORING_REGISTER_EVENTFD,
      addressNumber(value),
      1,
      "register_eventfd",
    );
  }

  /** Unregisters the eventfd. */
  unregisterEventfd(): void {
    this.#register(IORING_UNREGISTER_EVENTFD, 0, 0, "unregister_eventfd");
  }

  /**
   * Asks the kernel which opcodes it supports (IORING_REGISTER_PROBE).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 2 });
   * ring.probe().supported.has("READ"); // true
   * ```
   */
  probe(): { lastOp: number; ops: number[]; supported: Set<string> } {
    const bytes = new Uint8Array(probeSize(256));
    this.#register(
      IORING_REGISTER_PROBE,
      addressNumber(bytes),
      256,
      "register_probe",
    );
    const view = new ProbeView(bytes);
    const ops: number[] = [];
    for (let op = 0; op <= view.lastOp; op++) {
      if (view.supported(op)) ops.push(op);
    }
    return {
      lastOp: view.lastOp,
      ops,
      supported: new Set(
        ops.map((op) => op < IORING_OP_LAST ? OPCODE_NAMES[op] : `OP_${op}`),
      ),
    };
  }

  // ------------------------------------------------------------------ close

  /**
   * Unmaps the rings and closes the fd, exactly once. A second call throws
   * {@linkcode RingClosedError}. Completions not yet reaped are dropped; the
   * kernel finishes in-flight requests on its own and frees them.
   */
  close(): void {
    this.#assertOpen("close");
    this.#closed = true;
    this.#release();
    closeFd(this.fd);
    this.#pinnedBuffers = null;
    this.#sqeKeep.fill(undefined);
  }

  /** Unmaps every ring region (used by close and by a failed constructor). */
  #release(): void {
    for (const { address, buffer } of this.#mappings.splice(0)) {
      // Replace the shared mapping by private zero pages in one step, so
      // views that outlive the ring read zeros instead of faulting; the
      // placeholder is unmapped once the last view over it is collected.
      mmap(
        buffer.byteLength,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
        address,
      );
      retiredMappings.register(buffer, { address, length: buffer.byteLength });
    }
  }

  /** `using ring = new RingCore()` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

function checkPath(path: unknown, allowEmpty = false): string {
  if (typeof path !== "string") {
    throw new TypeError(`path must be a string, got ${typeof path}`);
  }
  if (!allowEmpty && path.length === 0) {
    throw new TypeError("path must not be empty");
  }
  return path;
}

function timespec(ms: number): TimespecView {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `timeout must be a finite, non-negative number of milliseconds, got ${ms}`,
    );
  }
  const ts = new TimespecView(new Uint8Array(16));
  ts.setMilliseconds(ms);
  return ts;
}

/**
 * Builds a native `struct iovec` array over `buffers`.
 *
 * @example
 * ```ts
 * import { buildIovecs } from "./core.ts";
 * buildIovecs([new Uint8Array(4), new Uint8Array(8)]).byteLength; // 32
 * ```
 */
export function buildIovecs(
  buffers: readonly ArrayBufferView[],
  name = "buffers",
): Uint8Array {
  if (!Array.isArray(buffers)) {
    throw new TypeError(`${name} must be an array of Uint8Array`);
  }
  if (buffers.length === 0 || buffers.length > 1024) {
    throw new RangeError(
      `${name} must hold 1 to 1024 buffers (UIO_MAXIOV), got ${buffers.length}`,
    );
  }
  const iovecs = new Uint8Array(buffers.length * IOVEC_SIZE);
  const dv = new DataView(iovecs.buffer);
  for (let i = 0; i < buffers.length; i++) {
    const buf = buffers[i];
    checkBuffer(buf, `${name}[${i}]`);
    const address = addressNumber(buf);
    dv.setUint32(i * 16, address >>> 0, true);
    dv.setUint32(i * 16 + 4, Math.floor(address / 0x1_0000_0000), true);
    dv.setUint32(i * 16 + 8, buf.byteLength, true);
  }
  return iovecs;
}

function fdTable(fds: readonly number[], allowSkip = false): Int32Array {
  if (!Array.isArray(fds) || fds.length === 0) {
    throw new TypeError("fds must be a non-empty array of file descriptors");
  }
  const table = new Int32Array(fds.length);
  fds.forEach((fd, i) => {
    if (fd === -1 || (allowSkip && fd === -2)) table[i] = fd;
    else {
      checkFd(fd, `fds[${i}]`);
      table[i] = fd;
    }
  });
  return table;
}
