/**
 * Where the kernel's memory for a read or write comes from (issue #14,
 * docs/memory.md "Integration plan"). Both backends call {@linkcode
 * RequestMemory.hold} when a request is taken (before anything is
 * submitted) and {@linkcode finishIo} once the request's own completion
 * has arrived (or its blocking call has returned), never earlier.
 *
 * - Library-owned buffers (`allocateBuffer`) go to the kernel directly:
 *   `retainIo` counts the request, which keeps the memory alive whatever
 *   the caller does with its views.
 * - Every other buffer (a plain typed array, a DataView, a small on-heap
 *   array, a SharedArrayBuffer view) is staged: the kernel reads or writes
 *   a slice of the ring's {@linkcode StagingPool} (aligned, so O_DIRECT
 *   works with any buffer). Writes copy the caller's bytes in now
 *   (snapshot semantics); reads copy them out at completion, and reject
 *   with a TypeError when the caller's buffer was detached, transferred or
 *   shrunk meanwhile. The caller's memory never reaches the kernel, so
 *   transferring it mid-flight cannot corrupt the heap.
 * - O_DIRECT requests are checked against the file's direct-I/O alignment
 *   (cached per fd) before submission; a kernel EINVAL on one is explained
 *   with the same alignment.
 *
 * - A read of a regular file into a caller's buffer may go in place
 *   (in_place.ts): the caller's address with RWF_NOWAIT, which the kernel
 *   completes inside the submit or refuses, so no JavaScript can run while
 *   it writes there. Only rings that ask for it (`Ring`, not the fallback
 *   pool, whose calls run on other threads).
 *
 * Fixed-buffer requests (readFixed/writeFixed) use registered memory only
 * and are left as they are. With a registered pool (the `registeredBuffers`
 * Ring option, memory/registered.ts), a read or write whose memory is one
 * of its slots (lent by `ring.buffer()`, or staged in one) goes out as
 * READ_FIXED / WRITE_FIXED with the slot's index.
 *
 * @module
 */
import { cachedAddress } from "../ffi/mod.ts";
import {
  checkDirectIo,
  describeAlignmentSource,
  type DirectIoAlignment,
  directIoAlignment,
} from "../memory/alignment.ts";
import { OwnedRegion, releaseIo, retainIo } from "../memory/owned.ts";
import {
  stageIn,
  stageOut,
  type StagingPool,
  StagingSlice,
} from "../memory/staging.ts";
import {
  fixedIndexOf,
  type RegisteredPool,
  RegisteredSlot,
} from "../memory/registered.ts";
import { AttrPiView } from "../structs/attr_pi.ts";
import { IOVEC_SIZE, IovecView } from "../structs/iovec.ts";
import { EINVAL } from "../structs/errno.ts";
import { directIoHint, fdEpoch } from "../sys/fd.ts";
import { nowaitReadHint } from "../sys/nowait.ts";
import { fixedLength, InPlaceRead, lostError } from "./in_place.ts";
import { RWF_NOWAIT } from "../structs/constants.ts";
import { UringError } from "./errors.ts";
import type { PackedAttributes } from "./attributes.ts";
import { type OpRequest, OPS, type OpSpec } from "./ops.ts";
import { isUnpublished } from "./io_buffers.ts";

/**
 * The memory one request holds from prepare until its completion: the
 * owned regions it retained, the staging slices it acquired, and where a
 * read's staged bytes go.
 *
 * @example
 * ```ts
 * import { RequestMemory, finishIo } from "./io_memory.ts";
 * import { OPS } from "./ops.ts";
 * import { StagingPool } from "../memory/staging.ts";
 * const memory = new RequestMemory(new StagingPool());
 * const held = memory.hold(OPS.write.encode(1, new Uint8Array(4), -1), null);
 * if (held) finishIo(held, 4, true); // after the completion
 * ```
 */
export interface HeldMemory {
  /** `sqe->addr` to submit instead of the request's own. */
  readonly addr: number;
  /** The staged iovec array (readv/writev), kept until the completion. */
  readonly iovecs: Uint8Array | null;
  /** Owned regions retained (zero-copy). */
  readonly regions: readonly OwnedRegion[];
  /** The data's staging slice (or registered slot), or null when zero-copy. */
  readonly slice: StagingSlice | RegisteredSlot | null;
  /** The PI metadata's staging slice, or null. */
  readonly metaSlice: StagingSlice | null;
  /** The caller's PI metadata buffer (copied out after a read). */
  readonly meta: Uint8Array | null;
  /** The pool the slices came from. */
  readonly pool: StagingPool;
  /** The read's target views (copied out at completion), or null for a write. */
  readonly targets: ArrayBufferView | readonly ArrayBufferView[] | null;
  /** The targets' byte lengths at prepare time (readv). */
  readonly lengths: readonly number[] | null;
  /** The operation's name, for errors. */
  readonly op: string;
  /** The fd, for errors. */
  readonly fd: number;
  /** The direct-I/O alignment of an O_DIRECT fd, or null. */
  readonly alignment: DirectIoAlignment | null;
}

/**
 * What a request holds: a {@linkcode HeldMemory}, or for the commonest
 * cases (one buffer, no attributes, not O_DIRECT) no object of its own:
 * the retained region of a library-owned buffer, or the staging slice (or
 * registered slot) of a caller-owned one, which carries the read's target.
 *
 * @example
 * ```ts
 * import type { Held } from "./io_memory.ts";
 * const none: Held | null = null;
 * ```
 */
export type Held =
  | HeldMemory
  | OwnedRegion
  | StagingSlice
  | RegisteredSlot
  | InPlaceRead;

/**
 * `sqe->addr` and `sqe->len` for `req` as held: the staging slice (or the
 * staged iovec) instead of the caller's memory.
 *
 * @example
 * ```ts
 * import { heldRequest } from "./io_memory.ts";
 * import { OPS } from "./ops.ts";
 * const req = OPS.read.encode(0, new Uint8Array(8), 0);
 * heldRequest(req, null) === req; // true: nothing held, nothing changes
 * ```
 */
export function heldRequest(req: OpRequest, held: Held | null): OpRequest {
  if (
    held === null || held instanceof OwnedRegion || held instanceof InPlaceRead
  ) return req;
  if (held instanceof StagingSlice || held instanceof RegisteredSlot) {
    return { ...req, addr: held.address };
  }
  return { ...req, addr: held.addr, len: held.iovecs ? 1 : req.len };
}

/** read and write with the fixed-buffer opcodes (same names in errors). */
const FIXED_READ: OpSpec = Object.freeze({
  ...OPS.read,
  opcode: OPS.readFixed.opcode,
});
const FIXED_WRITE: OpSpec = Object.freeze({
  ...OPS.write,
  opcode: OPS.writeFixed.opcode,
});

/** The READ_FIXED / WRITE_FIXED form of `spec`, or null for other rows. */
function fixedVariant(spec: OpSpec): OpSpec | null {
  return spec === OPS.read
    ? FIXED_READ
    : spec === OPS.write
    ? FIXED_WRITE
    : null;
}

/**
 * Whether `spec` is a read or write that {@linkcode RequestMemory.hold}
 * turned into its fixed-buffer form (tests and diagnostics).
 *
 * @example
 * ```ts
 * import { isFixedVariant } from "./io_memory.ts";
 * import { OPS } from "./ops.ts";
 * isFixedVariant(OPS.read); // false
 * ```
 */
export function isFixedVariant(spec: OpSpec): boolean {
  return spec === FIXED_READ || spec === FIXED_WRITE;
}

/** Per-fd alignment cache entry, valid while the fd's epoch is unchanged. */
interface CachedAlignment {
  epoch: number;
  alignment: DirectIoAlignment;
}

const alignments = new Map<number, CachedAlignment>();

/**
 * The direct-I/O alignment of O_DIRECT `fd`, asked once per fd and
 * forgotten when the library opens or closes that fd number (like
 * `directIoHint`).
 *
 * @example
 * ```ts
 * import { cachedDirectIoAlignment } from "./io_memory.ts";
 * import { openFd } from "../sys/fd.ts";
 * cachedDirectIoAlignment(openFd("/dev/null", 0)).offset > 0; // true
 * ```
 */
export function cachedDirectIoAlignment(fd: number): DirectIoAlignment {
  const epoch = fdEpoch(fd);
  const hit = alignments.get(fd);
  if (hit !== undefined && hit.epoch === epoch) return hit.alignment;
  const alignment = directIoAlignment(fd);
  alignments.set(fd, { epoch, alignment });
  return alignment;
}

/**
 * ArrayBuffers seen as caller memory of a fixed length: not library-owned,
 * not an unpublished result buffer, not resizable. None of that can change
 * for an ArrayBuffer (owned and result memory is marked when it is made,
 * and a published buffer never goes back), so one lookup here replaces two
 * lookups and a `resizable` read per request: about 20 ns on Deno, which
 * is what staged ÷ zero-copy reads of page-cached 4 KiB blocks missed 0.9
 * by there.
 */
const callerBuffers = new WeakSet<ArrayBufferLike>();

/** Page alignment for staged memory of a buffered fd. */
const PAGE = 4096;

/**
 * Places the data of read/write requests: zero-copy for library-owned
 * buffers, a staging slice of `pool` for all others.
 *
 * @example
 * ```ts
 * import { RequestMemory } from "./io_memory.ts";
 * import { StagingPool } from "../memory/staging.ts";
 * const memory = new RequestMemory(new StagingPool());
 * memory.close();
 * ```
 */
export class RequestMemory {
  /** The staging pool of the ring. */
  readonly pool: StagingPool;
  /** The ring's registered pool (`registeredBuffers`), or null. */
  readonly registered: RegisteredPool | null;
  /**
   * The SQE fields of the request last passed to {@linkcode hold}: its
   * row (the READ_FIXED / WRITE_FIXED form when it uses a registered
   * slot), `sqe->addr`, `sqe->len` and `sqe->buf_index`. Written by every
   * `hold`, so no object is made per request.
   */
  spec: OpSpec = OPS.nop;
  /** `sqe->addr` for the last held request. */
  addr = 0;
  /** `sqe->len` for the last held request. */
  len = 0;
  /** `sqe->buf_index` for the last held request (-1: none). */
  bufIndex = -1;
  /** The `rw_flags` word for the last held request. */
  opFlags = 0;
  /** Whether reads may go in place (in_place.ts); see the constructor. */
  readonly #inPlace: boolean;

  /**
   * Stages through `pool` (the ring's own) and `registered`, if any.
   * `inPlace`: reads of page-cached files may go to the caller's memory
   * with RWF_NOWAIT, for a ring whose pump makes the checks of
   * in_place.ts around every submit (not an SQPOLL or IOPOLL ring).
   */
  constructor(
    pool: StagingPool,
    registered: RegisteredPool | null = null,
    inPlace = false,
  ) {
    this.pool = pool;
    this.registered = registered;
    this.#inPlace = inPlace;
  }

  /**
   * Takes the memory `req` needs (and checks an O_DIRECT request's
   * alignment), and sets {@linkcode spec}, {@linkcode addr},
   * {@linkcode len} and {@linkcode bufIndex} for its SQE. Returns null
   * for requests that touch no data buffer or use registered buffers
   * explicitly. Undoes everything it took when it throws.
   *
   * @throws {RangeError} for an O_DIRECT request that is not aligned.
   * @throws {TypeError} for a detached or released buffer.
   */
  hold(
    req: OpRequest,
    attrs: PackedAttributes | null,
    inPlace = this.#inPlace,
  ): Held | null {
    this.spec = req.spec;
    this.addr = req.addr;
    this.len = req.len;
    this.bufIndex = req.bufIndex;
    this.opFlags = req.opFlags;
    const data = req.data;
    if (data === null || req.bufIndex >= 0 || !req.spec.attributes) {
      return null;
    }
    const vectored = Array.isArray(data);
    if (!vectored && attrs === null && !directIoHint(req.fd)) {
      // The fast path: one buffer on a buffered fd.
      const view = data as ArrayBufferView;
      const buffer = view.buffer;
      // An empty view may be a detached one: retainIo says so.
      let fixed = view.byteLength > 0 && callerBuffers.has(buffer);
      if (!fixed) {
        const region = retainIo(view);
        if (region !== null) {
          if (region.fixedPool !== null) this.#fixedOwned(req, region);
          return region;
        }
        // The library's own result memory, not handed out yet: nothing can
        // pull it from under the kernel, so no staging (io_buffers.ts).
        if (isUnpublished(view)) return null;
        fixed = fixedLength(view);
        if (fixed && view.byteLength > 0) callerBuffers.add(buffer);
      }
      if (
        inPlace && req.spec === OPS.read && req.off >= 0 &&
        view.byteLength > 0 && fixed && nowaitReadHint(req.fd)
      ) {
        // this.addr is the caller's own (req.addr), as the kernel wants.
        this.opFlags = req.opFlags | RWF_NOWAIT;
        return new InPlaceRead(view);
      }
      return this.#stageOne(req, view, PAGE);
    }
    return this.#hold(req, data, vectored, attrs);
  }

  /** A lent slot of this ring's registered pool: a fixed-buffer request. */
  #fixedOwned(req: OpRequest, region: OwnedRegion): void {
    const registered = this.registered;
    if (registered === null) return;
    const index = fixedIndexOf(registered, region, req.addr, req.len);
    const spec = fixedVariant(req.spec);
    if (index < 0 || spec === null) return;
    this.spec = spec;
    this.bufIndex = index;
  }

  /**
   * A free registered slot for `length` bytes at `alignment` when the
   * request can be a fixed one (sets the SQE fields), or null.
   */
  #slot(
    req: OpRequest,
    length: number,
    alignment: number,
  ): RegisteredSlot | null {
    const registered = this.registered;
    if (registered === null || alignment > PAGE) return null;
    const spec = fixedVariant(req.spec);
    if (spec === null) return null;
    const slot = registered.acquire(length);
    if (slot === null) return null;
    this.spec = spec;
    this.bufIndex = slot.index;
    return slot;
  }

  /**
   * One caller buffer, no attributes: a registered slot or a slice, which
   * itself carries the read's target (no object per request).
   */
  #stageOne(
    req: OpRequest,
    view: ArrayBufferView,
    alignment: number,
  ): StagingSlice | RegisteredSlot {
    const length = view.byteLength;
    const staged = this.#slot(req, length, alignment) ??
      this.pool.acquire(length, alignment);
    const reads = req.spec.writesMemory;
    if (!reads) {
      try {
        stageIn(staged, view);
      } catch (error) {
        releaseStaged(staged);
        this.spec = req.spec;
        this.bufIndex = -1;
        throw error;
      }
    }
    staged.target = reads ? view : null;
    staged.op = req.spec.name;
    this.addr = staged.address;
    return staged;
  }

  #hold(
    req: OpRequest,
    data: ArrayBufferView | readonly ArrayBufferView[],
    vectored: boolean,
    attrs: PackedAttributes | null,
  ): HeldMemory {
    const views: readonly ArrayBufferView[] = vectored
      ? data as readonly ArrayBufferView[]
      : [data as ArrayBufferView];
    const reads = req.spec.writesMemory;
    const alignment = directIoHint(req.fd)
      ? cachedDirectIoAlignment(req.fd)
      : null;
    const regions: OwnedRegion[] = [];
    let slice: StagingSlice | RegisteredSlot | null = null;
    let metaSlice: StagingSlice | null = null;
    try {
      let total = 0;
      let owned = true;
      for (const view of views) {
        total += view.byteLength;
        const region = retainIo(view);
        if (region === null) owned = false;
        else regions.push(region);
      }
      if (!owned) {
        // One caller buffer among them: stage them all, in one slice.
        for (const region of regions) releaseIo(region);
        regions.length = 0;
      }
      if (alignment !== null) {
        const error = checkDirectIo(alignment, {
          op: req.spec.name,
          offset: req.off,
          length: total,
          address: owned && !vectored ? req.addr : undefined,
        });
        if (error !== null) throw error;
      }
      let addr = req.addr;
      let iovecs: Uint8Array | null = null;
      const single = !vectored && attrs === null;
      if (owned && single && regions[0].fixedPool !== null) {
        this.#fixedOwned(req, regions[0]);
      }
      if (!owned) {
        const align = alignment?.memory ?? PAGE;
        slice = (single ? this.#slot(req, total, align) : null) ??
          this.pool.acquire(total, align);
        if (!reads) {
          if (vectored) this.pool.copyInAll(slice, views);
          else this.pool.copyIn(slice, views[0]);
        }
        if (vectored) {
          // One iovec over the whole slice: fewer segments, and each is
          // as aligned as the total for O_DIRECT.
          iovecs = new Uint8Array(IOVEC_SIZE);
          const iov = new IovecView(iovecs);
          iov.base = slice.address;
          iov.len = total;
          addr = cachedAddress(iovecs);
        } else {
          addr = slice.address;
        }
      }
      const meta = attrs?.pi?.meta ?? null;
      let metaTarget: Uint8Array | null = null;
      if (meta !== null) {
        const region = retainIo(meta);
        if (region !== null) {
          regions.push(region);
        } else {
          metaSlice = this.pool.acquire(meta.byteLength, PAGE);
          if (!reads) this.pool.copyIn(metaSlice, meta);
          else metaTarget = meta;
          // PI is the only attribute kind: its struct starts the compound
          // buffer, whose addr field now points at the staged copy.
          new AttrPiView(attrs!.buffer).addr = metaSlice.address;
        }
      }
      this.addr = addr;
      if (iovecs !== null) this.len = 1;
      return {
        addr,
        iovecs,
        regions,
        slice,
        metaSlice,
        meta: metaTarget,
        pool: this.pool,
        targets: reads && slice !== null ? data : null,
        lengths: reads && vectored && slice !== null
          ? views.map((v) => v.byteLength)
          : null,
        op: req.spec.name,
        fd: req.fd,
        alignment,
      };
    } catch (error) {
      for (const region of regions) releaseIo(region);
      if (slice !== null) releaseStaged(slice);
      if (metaSlice !== null) this.pool.release(metaSlice);
      this.spec = req.spec;
      this.bufIndex = -1;
      throw error;
    }
  }

  /**
   * Closes the pools: slices still held keep their slabs until released;
   * lent registered buffers stay valid.
   */
  close(): void {
    this.pool.close();
    this.registered?.close();
  }
}

/** Gives staging memory back to its pool. */
function releaseStaged(staged: StagingSlice | RegisteredSlot): void {
  if (staged instanceof StagingSlice) staged.slab.owner.release(staged);
  else staged.pool.release(staged);
}

/**
 * Ends what {@linkcode RequestMemory.hold} took, once the request's own
 * completion (or blocking call) has returned `res`. With `deliver` (the
 * promise is not settled yet), a read's staged bytes are copied to the
 * caller. Returns the error the promise should reject with instead of
 * `res` (a TypeError when the caller's buffer was detached mid-flight, an
 * explained EINVAL on an O_DIRECT fd), or null. Releases everything
 * whatever happens.
 *
 * @example
 * ```ts
 * import { finishIo, type Held } from "./io_memory.ts";
 * declare const held: Held;
 * const failure = finishIo(held, 4096, true); // null: delivered
 * ```
 */
export function finishIo(
  held: Held,
  res: number,
  deliver: boolean,
): unknown {
  if (held instanceof OwnedRegion) {
    releaseIo(held);
    return null;
  }
  if (held instanceof InPlaceRead) {
    // The kernel wrote into the caller's view, or (lost) touched nothing.
    return held.lost && deliver ? lostError(held) : null;
  }
  if (held instanceof StagingSlice || held instanceof RegisteredSlot) {
    let failure: unknown = null;
    const target = held.target;
    if (deliver && res > 0 && target !== null) {
      try {
        stageOut(held, target, res, held.op);
      } catch (error) {
        failure = error;
      }
    }
    releaseStaged(held);
    return failure;
  }
  let failure: unknown = null;
  try {
    if (deliver && res > 0 && held.targets !== null) {
      const slice = held.slice!;
      if (held.lengths !== null) {
        held.pool.copyOutAll(
          slice,
          held.targets as readonly ArrayBufferView[],
          held.lengths,
          res,
          held.op,
        );
      } else {
        held.pool.copyOut(
          slice,
          held.targets as ArrayBufferView,
          res,
          held.op,
        );
      }
    }
    if (deliver && res >= 0 && held.meta !== null) {
      held.pool.copyOut(held.metaSlice!, held.meta, held.meta.byteLength);
    }
    if (deliver && res === -EINVAL && held.alignment !== null) {
      failure = directEinval(held, held.alignment);
    }
  } catch (error) {
    failure = error;
  } finally {
    for (const region of held.regions) releaseIo(region);
    if (held.slice !== null) releaseStaged(held.slice);
    if (held.metaSlice !== null) held.pool.release(held.metaSlice);
  }
  return failure;
}

/** The kernel's EINVAL on an O_DIRECT request, with the alignment it needs. */
function directEinval(held: HeldMemory, a: DirectIoAlignment): UringError {
  return new UringError(EINVAL, {
    op: held.op,
    fd: held.fd,
    detail: `this fd is O_DIRECT: offset and length must be multiples of ` +
      `${a.offset} and the buffer address of ${a.memory}, the direct-I/O ` +
      `alignment (from ${describeAlignmentSource(a.source)})`,
  });
}
