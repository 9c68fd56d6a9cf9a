/**
 * The three shared regions of a ring (SQ ring, CQ ring, SQE array): mapping
 * them, the typed views over them grouped as the submission and completion
 * queue state (as Zig's `IoUring.SubmissionQueue` / `CompletionQueue`), and
 * retiring them at close.
 *
 * Mappings of a closed ring are replaced by private zero pages (so a stale
 * SqeView or CqeView reads zeros instead of faulting) and unmapped for good
 * once every view over them has been collected.
 *
 * @module
 */
import { memoryAt } from "../ffi/mod.ts";
import { mmap, munmap } from "../sys/memory.ts";
import { CQE32_SIZE, Cqe32View, CQE_SIZE, CqeView } from "../structs/cqe.ts";
import { SQE128_SIZE, Sqe128View, SQE_SIZE, SqeView } from "../structs/sqe.ts";
import type { ParamsView } from "../structs/params.ts";
import {
  IORING_FEAT_SINGLE_MMAP,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_SETUP_CQE32,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_SQE128,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../structs/constants.ts";

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
 * The regions mapped from one ring fd, released exactly once.
 *
 * @example
 * ```ts
 * import { RingMappings } from "./queues.ts";
 * declare const ringFd: number;
 * const mappings = new RingMappings(ringFd);
 * mappings.release(); // nothing mapped yet: nothing to do
 * ```
 */
export class RingMappings {
  readonly #fd: number;
  readonly #regions: Array<{ address: number; buffer: ArrayBuffer }> = [];

  /** Regions of the ring `fd`. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Maps `length` bytes of the ring at `offset` (IORING_OFF_*), shared. */
  map(length: number, offset: number): ArrayBuffer {
    const address = mmap(
      length,
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_POPULATE,
      this.#fd,
      offset,
    );
    const buffer = memoryAt(address, length);
    this.#regions.push({ address, buffer });
    return buffer;
  }

  /** Retires every region (used by close and by a failed constructor). */
  release(): void {
    for (const { address, buffer } of this.#regions.splice(0)) {
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
}

/**
 * The submission and completion queue state of a mapped ring: u32 views
 * over the rings with the word indexes of their fields, the SQE array and
 * one cached view per entry.
 *
 * @example
 * ```ts
 * import type { RingQueues } from "./queues.ts";
 * declare const q: RingQueues;
 * Atomics.load(q.cq.ring, q.cq.tail); // the kernel's CQ tail
 * ```
 */
export interface RingQueues {
  /** The submission queue. */
  readonly sq: {
    readonly ring: Uint32Array;
    readonly head: number;
    readonly tail: number;
    readonly flags: number;
    readonly dropped: number;
    readonly mask: number;
    readonly sqeWords: Uint32Array;
    /** The SQE array as doubles, for fillSqe's 8-byte zero stores. */
    readonly sqeWide: Float64Array;
    readonly sqeWordsPerEntry: number;
    readonly sqeViews: SqeView[];
  };
  /** The completion queue. */
  readonly cq: {
    readonly ring: Uint32Array;
    readonly ringI32: Int32Array;
    readonly head: number;
    readonly tail: number;
    readonly overflow: number;
    readonly mask: number;
    readonly cqeWord0: number;
    readonly cqeWordsPerEntry: number;
    readonly cqeViews: CqeView[];
  };
}

/**
 * Maps the regions of a ring just set up (`params` as io_uring_setup
 * filled it, `flags` the setup flags it took) and builds the queue views.
 *
 * @example
 * ```ts
 * import { mapQueues, RingMappings } from "./queues.ts";
 * import type { ParamsView } from "../structs/params.ts";
 * declare const ringFd: number, params: ParamsView, flags: number;
 * const queues = mapQueues(new RingMappings(ringFd), params, flags);
 * ```
 */
export function mapQueues(
  mappings: RingMappings,
  params: ParamsView,
  flags: number,
): RingQueues {
  const sqEntries = params.sqEntries;
  const cqEntries = params.cqEntries;
  const sqOff = params.sqOff;
  const cqOff = params.cqOff;
  const sqeSize = (flags & IORING_SETUP_SQE128) ? SQE128_SIZE : SQE_SIZE;
  const cqeSize = (flags & IORING_SETUP_CQE32) ? CQE32_SIZE : CQE_SIZE;
  let sqRingSize = sqOff.array + sqEntries * 4;
  let cqRingSize = cqOff.cqes + cqEntries * cqeSize;
  const singleMmap = (params.features & IORING_FEAT_SINGLE_MMAP) !== 0;
  if (singleMmap) {
    sqRingSize = cqRingSize = Math.max(sqRingSize, cqRingSize);
  }

  const sqRing = mappings.map(sqRingSize, IORING_OFF_SQ_RING);
  const cqRing = singleMmap
    ? sqRing
    : mappings.map(cqRingSize, IORING_OFF_CQ_RING);
  const sqes = mappings.map(sqEntries * sqeSize, IORING_OFF_SQES);

  const sq = new Uint32Array(sqRing);
  if ((flags & IORING_SETUP_NO_SQARRAY) === 0) {
    // An identity index array, written once: SQE i is always slot i.
    const array = new Uint32Array(sqRing, sqOff.array, sqEntries);
    for (let i = 0; i < sqEntries; i++) array[i] = i;
  }
  const sqeViews: SqeView[] = [];
  const sqeBytes = new Uint8Array(sqes);
  for (let i = 0; i < sqEntries; i++) {
    const bytes = sqeBytes.subarray(i * sqeSize, (i + 1) * sqeSize);
    sqeViews.push(
      sqeSize === SQE128_SIZE ? new Sqe128View(bytes) : new SqeView(bytes),
    );
  }

  const cq = new Uint32Array(cqRing);
  const cqeViews: CqeView[] = [];
  const cqBytes = new Uint8Array(cqRing);
  for (let i = 0; i < cqEntries; i++) {
    const at = cqOff.cqes + i * cqeSize;
    const bytes = cqBytes.subarray(at, at + cqeSize);
    cqeViews.push(
      cqeSize === CQE32_SIZE ? new Cqe32View(bytes) : new CqeView(bytes),
    );
  }
  return {
    sq: {
      ring: sq,
      head: sqOff.head >>> 2,
      tail: sqOff.tail >>> 2,
      flags: sqOff.flags >>> 2,
      dropped: sqOff.dropped >>> 2,
      mask: sq[sqOff.ringMask >>> 2],
      sqeWords: new Uint32Array(sqes),
      sqeWide: new Float64Array(sqes),
      sqeWordsPerEntry: sqeSize >>> 2,
      sqeViews,
    },
    cq: {
      ring: cq,
      ringI32: new Int32Array(cqRing),
      head: cqOff.head >>> 2,
      tail: cqOff.tail >>> 2,
      overflow: cqOff.overflow >>> 2,
      mask: cq[cqOff.ringMask >>> 2],
      cqeWord0: cqOff.cqes >>> 2,
      cqeWordsPerEntry: cqeSize >>> 2,
      cqeViews,
    },
  };
}
