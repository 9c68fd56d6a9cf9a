/**
 * The operation table: one row per io_uring operation the library issues,
 * in the spirit of tokio-rs/io-uring's `opcode!` and liburing's
 * `io_uring_prep_*` over one `io_uring_prep_rw`.
 *
 * A row says everything every layer needs to know about its operation:
 * - the opcode, its name in errors, and the kernel release that added it;
 * - `encode`: the argument checks (written once, all of them run before a
 *   submission queue entry is taken) and the SQE fields by name (`fd`,
 *   `addr`, `len`, `off`, the `rw_flags` union, `buf_index`);
 * - `keep`: the memory the kernel reads or writes, which must stay
 *   reachable (and unmoved) until the completion;
 * - whether it may carry read/write attributes (PI) and whether the kernel
 *   writes into caller memory;
 * - `blocking`: the libc call the fallback backend makes instead, derived
 *   from the same encoded fields;
 * - `transform`: what a completion's result becomes (statx: a typed
 *   object; openat: an fd whose cached O_DIRECT hint is forgotten).
 *
 * `RingCore.prepX` fills an SQE from `OPS.x.encode(...)`; the Promise
 * methods of both backends (`AsyncRing` in async_ring.ts) submit the same
 * request. Adding an opcode is a row here plus one delegate per layer that
 * exposes it, plus tests.
 *
 * @module
 */
import { cachedAddress, cString } from "../ffi/mod.ts";
import type { BlockingOp } from "../ffi/mod.ts";
import { forgetFd } from "../sys/fd.ts";
import { type Statx, StatxView } from "../structs/statx.ts";
import {
  AT_FDCWD,
  IORING_FSYNC_DATASYNC,
  IORING_OP_ASYNC_CANCEL,
  IORING_OP_CLOSE,
  IORING_OP_FALLOCATE,
  IORING_OP_FSYNC,
  IORING_OP_FTRUNCATE,
  IORING_OP_LINK_TIMEOUT,
  IORING_OP_NOP,
  IORING_OP_OPENAT,
  IORING_OP_READ,
  IORING_OP_READ_FIXED,
  IORING_OP_READV,
  IORING_OP_STATX,
  IORING_OP_TIMEOUT,
  IORING_OP_WRITE,
  IORING_OP_WRITE_FIXED,
  IORING_OP_WRITEV,
} from "../structs/constants.ts";
import type { OpcodeSpec } from "./opcodes.ts";
import {
  checkBuffer,
  checkFd,
  checkInteger,
  checkOffset,
  checkPath,
  checkUserData,
  timespec,
} from "./validate.ts";
import {
  dataRequest,
  fixedRequest,
  forgetOpenedFd,
  pread,
  pwrite,
  request,
  row,
  vectoredRequest,
  WRITE,
} from "./op_encoders.ts";

export { buildIovecs, snapshotBuffers } from "./validate.ts";

/**
 * One encoded request: the SQE fields by name plus what must outlive it.
 * Built by a row's `encode`, after every argument check has passed.
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * const req = OPS.read.encode(0, new Uint8Array(8), 0);
 * req.len; // 8
 * ```
 */
export interface OpRequest {
  /** The row that built it. */
  readonly spec: OpSpec;
  /** `sqe->fd` (-1 when unused; AT_FDCWD for a path relative to the cwd). */
  readonly fd: number;
  /** `sqe->addr`, as a number. */
  readonly addr: number;
  /** `sqe->len`. */
  readonly len: number;
  /** `sqe->off` (-1: the current file position). */
  readonly off: number;
  /** The `rw_flags` union (fsync_flags, open_flags, statx_flags, ...). */
  readonly opFlags: number;
  /** `sqe->buf_index`, or -1 when not a fixed-buffer request. */
  readonly bufIndex: number;
  /** Memory the kernel may touch, kept reachable until the completion. */
  readonly keep: unknown;
  /** The data buffer(s) of a read or write, for attributes and diagnosis. */
  readonly data: ArrayBufferView | readonly ArrayBufferView[] | null;
  /** A path involved, named in errors. */
  readonly path: string | undefined;
  /** Turns a successful result into the resolved value; null: the number. */
  readonly transform: ((res: number) => unknown) | null;
}

/** A libc call of the fallback pool: its name and numeric arguments. */
export type BlockingCall = readonly [BlockingOp, readonly number[]];

/**
 * What every row has beyond its `encode`.
 *
 * @example
 * ```ts
 * import { OPS, type OpSpec } from "./ops.ts";
 * const spec: OpSpec = OPS.fallocate;
 * spec.since; // "5.6"
 * ```
 */
export interface OpSpec extends OpcodeSpec {
  /** The Linux release that added the opcode. */
  readonly since: string;
  /**
   * The blocking libc call with the same effect, from the encoded fields;
   * `null` when there is nothing to call (a NOP resolves to 0).
   */
  readonly blocking: ((req: OpRequest) => BlockingCall) | null;
}

/**
 * One row: an {@linkcode OpSpec} and its argument checks and encoder.
 *
 * @example
 * ```ts
 * import { OPS, type OpRow } from "./ops.ts";
 * const row: OpRow<[number]> = OPS.close;
 * ```
 */
export interface OpRow<Args extends unknown[]> extends OpSpec {
  /** Checks every argument and encodes the request (throws before any SQE is taken). */
  readonly encode: (...args: Args) => OpRequest;
}

/** A file offset or length: a number, or a bigint below 2^53. */
export type Offset = number | bigint;

/**
 * The rows of {@linkcode OPS} with their argument lists.
 *
 * @example
 * ```ts
 * import type { OpTable } from "./ops.ts";
 * type ReadArgs = Parameters<OpTable["read"]["encode"]>; // [fd, buf, offset]
 * ```
 */
export interface OpTable {
  /** IORING_OP_NOP. */
  readonly nop: OpRow<[]>;
  /** IORING_OP_READ: pread(2). */
  readonly read: OpRow<[fd: number, buf: ArrayBufferView, offset: Offset]>;
  /** IORING_OP_WRITE: pwrite(2). */
  readonly write: OpRow<[fd: number, buf: ArrayBufferView, offset: Offset]>;
  /** IORING_OP_READV: preadv(2). */
  readonly readv: OpRow<
    [fd: number, buffers: readonly ArrayBufferView[], offset: Offset]
  >;
  /** IORING_OP_WRITEV: pwritev(2). */
  readonly writev: OpRow<
    [fd: number, buffers: readonly ArrayBufferView[], offset: Offset]
  >;
  /** IORING_OP_READ_FIXED: a read into a registered buffer. */
  readonly readFixed: OpRow<
    [fd: number, buf: ArrayBufferView, offset: Offset, bufIndex: number]
  >;
  /** IORING_OP_WRITE_FIXED: a write from a registered buffer. */
  readonly writeFixed: OpRow<
    [fd: number, buf: ArrayBufferView, offset: Offset, bufIndex: number]
  >;
  /** IORING_OP_FSYNC: fsync(2) or fdatasync(2), optionally of a range. */
  readonly fsync: OpRow<
    [fd: number, datasync: boolean, offset?: Offset, length?: number]
  >;
  /** IORING_OP_OPENAT: openat(2). */
  readonly openat: OpRow<
    [dirfd: number, path: string, flags: number, mode: number]
  >;
  /** IORING_OP_CLOSE: close(2). */
  readonly close: OpRow<[fd: number]>;
  /** IORING_OP_STATX: statx(2) into a 256-byte buffer. */
  readonly statx: OpRow<
    [
      dirfd: number,
      path: string,
      flags: number,
      mask: number,
      statxBuf: Uint8Array,
    ]
  >;
  /** IORING_OP_FALLOCATE: fallocate(2). */
  readonly fallocate: OpRow<
    [fd: number, mode: number, offset: Offset, length: Offset]
  >;
  /** IORING_OP_FTRUNCATE (Linux 6.9): ftruncate(2). */
  readonly ftruncate: OpRow<[fd: number, length: Offset]>;
  /** IORING_OP_TIMEOUT. */
  readonly timeout: OpRow<[ms: number, count?: number, flags?: number]>;
  /** IORING_OP_LINK_TIMEOUT. */
  readonly linkTimeout: OpRow<[ms: number, flags?: number]>;
  /** IORING_OP_ASYNC_CANCEL by user_data. */
  readonly cancel: OpRow<[userData: number | bigint, flags?: number]>;
}

// ----------------------------------------------------------------- table

/**
 * Every operation the prep helpers and the Promise API issue, by method
 * name. One row each.
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * OPS.writev.opcode; // 2
 * OPS.read.encode(3, new Uint8Array(4096), 0).addr > 0; // true
 * ```
 */
export const OPS: OpTable = Object.freeze({
  nop: row(
    IORING_OP_NOP,
    "nop",
    "5.1",
    {},
    (spec) => request(spec, -1, 0, 0, 0),
    null,
  ),
  read: row(
    IORING_OP_READ,
    "read",
    "5.6",
    { attributes: true, writesMemory: true },
    dataRequest,
    pread,
  ),
  write: row(IORING_OP_WRITE, "write", "5.6", WRITE, dataRequest, pwrite),
  readv: row(
    IORING_OP_READV,
    "readv",
    "5.1",
    { attributes: true, writesMemory: true },
    vectoredRequest,
    (r) => ["preadv", [r.fd, r.addr, r.len, r.off]],
  ),
  writev: row(
    IORING_OP_WRITEV,
    "writev",
    "5.1",
    WRITE,
    vectoredRequest,
    (r) => ["pwritev", [r.fd, r.addr, r.len, r.off]],
  ),
  readFixed: row(
    IORING_OP_READ_FIXED,
    "read_fixed",
    "5.1",
    { attributes: true, writesMemory: true },
    fixedRequest,
    pread,
  ),
  writeFixed: row(
    IORING_OP_WRITE_FIXED,
    "write_fixed",
    "5.1",
    WRITE,
    fixedRequest,
    pwrite,
  ),
  fsync: row(
    IORING_OP_FSYNC,
    "fsync",
    "5.1",
    {},
    (
      spec,
      fd: number,
      datasync: boolean,
      offset: number | bigint = 0,
      length: number = 0,
    ) => {
      checkFd(fd);
      const off = checkOffset(offset, "offset", false);
      const len = checkInteger(length, "length");
      const flags = datasync ? IORING_FSYNC_DATASYNC : 0;
      return request(spec, fd, 0, len, off, flags);
    },
    // The range is a hint the kernel may widen; the blocking calls sync all.
    (r) => [r.opFlags & IORING_FSYNC_DATASYNC ? "fdatasync" : "fsync", [r.fd]],
  ),
  openat: row(
    IORING_OP_OPENAT,
    "openat",
    "5.6",
    {},
    (spec, dirfd: number, path: string, flags: number, mode: number) => {
      if (dirfd !== AT_FDCWD) checkFd(dirfd, "dirfd");
      const bytes = cString(checkPath(path, false));
      checkInteger(flags, "flags", 0, 0x7fffffff);
      checkInteger(mode, "mode", 0, 0o7777);
      // sqe->len carries the mode, open_flags the flags; the kernel copies
      // the path when it takes the SQE.
      return request(
        spec,
        dirfd,
        cachedAddress(bytes),
        mode,
        0,
        flags,
        -1,
        bytes,
        null,
        path,
        forgetOpenedFd,
      );
    },
    (r) => ["openat", [r.fd, r.addr, r.opFlags, r.len]],
  ),
  close: row(
    IORING_OP_CLOSE,
    "close",
    "5.6",
    {},
    (spec, fd: number) => {
      checkFd(fd);
      // The number may soon name another file: what was cached is stale.
      forgetFd(fd);
      return request(spec, fd, 0, 0, 0);
    },
    (r) => ["close", [r.fd]],
  ),
  statx: row(
    IORING_OP_STATX,
    "statx",
    "5.6",
    { writesMemory: true },
    (
      spec,
      dirfd: number,
      path: string,
      flags: number,
      mask: number,
      statxBuf: Uint8Array,
    ) => {
      if (dirfd !== AT_FDCWD) checkFd(dirfd, "dirfd");
      // "" with AT_EMPTY_PATH: the file dirfd itself.
      const bytes = cString(checkPath(path, true));
      checkInteger(flags, "flags", 0, 0x7fffffff);
      checkInteger(mask, "mask");
      checkBuffer(statxBuf, "statxBuf");
      if (statxBuf.byteLength < StatxView.SIZE) {
        throw new RangeError(
          `statxBuf must hold ${StatxView.SIZE} bytes, got ${statxBuf.byteLength}`,
        );
      }
      // The path in addr, the mask in len, the output buffer in off.
      return request(
        spec,
        dirfd,
        cachedAddress(bytes),
        mask,
        cachedAddress(statxBuf),
        flags,
        -1,
        [bytes, statxBuf],
        null,
        path === "" ? undefined : path,
        (): Statx => new StatxView(statxBuf).toObject(),
      );
    },
    (r) => ["statx", [r.fd, r.addr, r.opFlags, r.len, r.off]],
  ),
  fallocate: row(
    IORING_OP_FALLOCATE,
    "fallocate",
    "5.6",
    {},
    (
      spec,
      fd: number,
      mode: number,
      offset: number | bigint,
      length: number | bigint,
    ) => {
      checkFd(fd);
      checkInteger(mode, "mode", 0, 0xff);
      const off = checkOffset(offset, "offset", false);
      const len = checkOffset(length, "length", false);
      // The kernel's quirk: the length goes in sqe->addr, the mode in sqe->len.
      return request(spec, fd, len, mode, off);
    },
    (r) => ["fallocate", [r.fd, r.len, r.off, r.addr]],
  ),
  ftruncate: row(
    IORING_OP_FTRUNCATE,
    "ftruncate",
    "6.9",
    {},
    (spec, fd: number, length: number | bigint) => {
      checkFd(fd);
      // The new size goes in sqe->off.
      return request(spec, fd, 0, 0, checkOffset(length, "length", false));
    },
    (r) => ["ftruncate", [r.fd, r.off]],
  ),
  timeout: row(
    IORING_OP_TIMEOUT,
    "timeout",
    "5.4",
    {},
    (spec, ms: number, count: number = 0, flags: number = 0) => {
      const ts = timespec(ms);
      checkInteger(count, "count");
      checkInteger(flags, "flags");
      // One timespec at addr; off is the completion count to wait for.
      return request(
        spec,
        -1,
        cachedAddress(ts.bytes),
        1,
        count,
        flags,
        -1,
        ts,
      );
    },
    null,
  ),
  linkTimeout: row(
    IORING_OP_LINK_TIMEOUT,
    "link_timeout",
    "5.5",
    {},
    (spec, ms: number, flags: number = 0) => {
      const ts = timespec(ms);
      checkInteger(flags, "flags");
      return request(spec, -1, cachedAddress(ts.bytes), 1, 0, flags, -1, ts);
    },
    null,
  ),
  cancel: row(
    IORING_OP_ASYNC_CANCEL,
    "async_cancel",
    "5.5",
    {},
    (spec, userData: number | bigint, flags: number = 0) => {
      checkInteger(flags, "flags");
      // The target's user_data goes in addr; a bigint beyond 2^53 is
      // written by the caller through the SQE view (see prepCancel).
      const addr = checkUserData(userData);
      return request(spec, -1, addr, 0, 0, flags);
    },
    null,
  ),
});

/** The operations the library issues, by method name. */
export type OpcodeName = keyof OpTable;

/**
 * The rows as plain opcode specs, by method name (the attribute table and
 * the errors need no more).
 *
 * @example
 * ```ts
 * import { OPCODES } from "./ops.ts";
 * OPCODES.read.attributes; // true: PI and other attributes may ride on it
 * ```
 */
export const OPCODES: Readonly<Record<OpcodeName, OpSpec>> = OPS;
