/**
 * The `prep*` helpers of `RingCore`, liburing's `io_uring_prep_*`: each is
 * one line that encodes its arguments through the operation table
 * (ops.ts, where every argument is checked before an SQE is taken) and
 * hands the request to `prepRequest`, the one place that fills an SQE.
 * Each returns the entry's {@linkcode SqeView}, so fields (`flags`,
 * `userData`, ...) can still be set. {@linkcode fillRequestSqe} is how
 * `RingCore` implements `prepRequest` over its SQE slots.
 *
 * @module
 */
import { type OpRequest, OPS } from "./ops.ts";
import {
  applyAttributes,
  type AttributeOptions,
  packAttributes,
  type PackedAttributes,
} from "./attributes.ts";
import { checkOptions } from "./validate.ts";
import { SubmissionQueueFullError } from "./errors.ts";
import { SQE_WORDS, type SqeView } from "../structs/sqe.ts";
import type { RingCore } from "./core.ts";
import { AT_FDCWD } from "../structs/constants.ts";

/**
 * Takes an SQE of `ring` (through its slot methods: `prepRaw`,
 * `setSqeWord`, `sqeAt`, `keepUntilReuse`) and fills it from an encoded
 * request of the operation table (every argument already checked): the
 * common fields, the `rw_flags` union, `buf_index`, and the attributes.
 * Keeps the request's memory (`keep`, the packed attributes) until the
 * slot is reused; the kernel copies it when it takes the SQE. Throws
 * `SubmissionQueueFullError` when no SQE is free.
 *
 * @example
 * ```ts
 * import { fillRequestSqe } from "./prep.ts";
 * import { OPS } from "./ops.ts";
 * import { RingCore } from "./core.ts";
 * using ring = new RingCore({ entries: 2 });
 * fillRequestSqe(ring, OPS.nop.encode(), null).userData = 1n;
 * ```
 */
export function fillRequestSqe(
  ring: RingCore,
  req: OpRequest,
  packed: PackedAttributes | null,
): SqeView {
  const index = ring.prepRaw(
    req.spec.opcode,
    req.fd,
    req.addr,
    req.len,
    req.off,
    0,
  );
  if (index < 0) throw new SubmissionQueueFullError(ring.sqEntries);
  if (req.opFlags !== 0) {
    ring.setSqeWord(index, SQE_WORDS.rwFlags, req.opFlags);
  }
  if (req.bufIndex >= 0) {
    ring.setSqeWord(index, SQE_WORDS.bufIndex, req.bufIndex);
  }
  const view = ring.sqeAt(index);
  if (packed !== null) applyAttributes(view, packed);
  ring.keepUntilReuse(index, packed === null ? req.keep : [req.keep, packed]);
  return view;
}

/**
 * The prep helpers over one abstract `prepRequest`; `RingCore` is the
 * ring that implements it.
 *
 * @example
 * ```ts
 * import { RingCore } from "./core.ts";
 * using ring = new RingCore({ entries: 2 });
 * ring.prepNop().userData = 1n; // a PrepHelpers method
 * ```
 */
export abstract class PrepHelpers {
  /**
   * Takes an SQE and fills it from an encoded request; keeps the request's
   * memory until the slot is reused.
   */
  abstract prepRequest(
    req: OpRequest,
    packed?: PackedAttributes | null,
  ): SqeView;

  /** Packs `attributes` for `req`'s opcode (checked first) and prepares it. */
  #attributed(
    req: OpRequest,
    attributes: AttributeOptions | undefined,
  ): SqeView {
    return this.prepRequest(req, packAttributes(attributes, req.spec));
  }

  /** IORING_OP_NOP. */
  prepNop(): SqeView {
    return this.prepRequest(OPS.nop.encode());
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
    return this.#attributed(OPS.read.encode(fd, buf, offset), attributes);
  }

  /** IORING_OP_WRITE of `buf` at `offset` (-1: the current file position). */
  prepWrite(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#attributed(OPS.write.encode(fd, buf, offset), attributes);
  }

  /** IORING_OP_READV: scatter into `buffers` from `offset`. */
  prepReadv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#attributed(OPS.readv.encode(fd, buffers, offset), attributes);
  }

  /** IORING_OP_WRITEV: gather `buffers` and write them at `offset`. */
  prepWritev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    attributes?: AttributeOptions,
  ): SqeView {
    return this.#attributed(OPS.writev.encode(fd, buffers, offset), attributes);
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
    return this.#attributed(
      OPS.readFixed.encode(fd, buf, offset, bufIndex),
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
    return this.#attributed(
      OPS.writeFixed.encode(fd, buf, offset, bufIndex),
      attributes,
    );
  }

  /**
   * IORING_OP_FSYNC; `{ datasync: true }` for fdatasync semantics, and an
   * optional byte range (`offset`, `length`; 0 = to the end).
   */
  prepFsync(
    fd: number,
    options: { datasync?: boolean; offset?: number; length?: number } = {},
  ): SqeView {
    checkOptions(options, ["datasync", "offset", "length"], "fsync options");
    return this.prepRequest(
      OPS.fsync.encode(
        fd,
        options.datasync === true,
        options.offset,
        options.length,
      ),
    );
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
    return this.prepRequest(OPS.openat.encode(dirfd, path, flags, mode));
  }

  /** IORING_OP_CLOSE of `fd`. */
  prepClose(fd: number): SqeView {
    return this.prepRequest(OPS.close.encode(fd));
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
    return this.prepRequest(
      OPS.statx.encode(dirfd, path, flags, mask, statxBuf),
    );
  }

  /** IORING_OP_FALLOCATE: `mode` FALLOC_FL_* over `length` bytes at `offset`. */
  prepFallocate(
    fd: number,
    mode: number,
    offset: number | bigint,
    length: number | bigint,
  ): SqeView {
    return this.prepRequest(OPS.fallocate.encode(fd, mode, offset, length));
  }

  /**
   * IORING_OP_FTRUNCATE (Linux 6.9): sets the size of `fd` to `length`.
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * declare const fd: number;
   * using ring = new RingCore({ entries: 2 });
   * ring.prepFtruncate(fd, 4096);
   * ```
   */
  prepFtruncate(fd: number, length: number | bigint): SqeView {
    return this.prepRequest(OPS.ftruncate.encode(fd, length));
  }

  /**
   * IORING_OP_TIMEOUT: completes with -ETIME after `ms` milliseconds, or with
   * 0 once `count` other completions have arrived (0 = time only).
   */
  prepTimeout(ms: number, count = 0, flags = 0): SqeView {
    return this.prepRequest(OPS.timeout.encode(ms, count, flags));
  }

  /**
   * IORING_OP_LINK_TIMEOUT: cancels the previous SQE (which must carry
   * IOSQE_IO_LINK) if it has not completed within `ms` milliseconds.
   */
  prepLinkTimeout(ms: number, flags = 0): SqeView {
    return this.prepRequest(OPS.linkTimeout.encode(ms, flags));
  }

  /**
   * IORING_OP_ASYNC_CANCEL of the request whose `user_data` is `userData`
   * (or per `flags`, IORING_ASYNC_CANCEL_*).
   */
  prepCancel(userData: bigint | number, flags = 0): SqeView {
    const view = this.prepRequest(OPS.cancel.encode(userData, flags));
    if (typeof userData === "bigint") view.addr = userData;
    return view;
  }
}
