/**
 * The pieces the rows of the operation table (ops.ts) are built from: the
 * one request shape, the row constructor, and the encoders several rows
 * share (one buffer, a buffer inside a registered one, an iovec array)
 * with the blocking calls the fallback makes for them.
 *
 * @module
 */
import { cachedAddress } from "../ffi/mod.ts";
import { forgetFd } from "../sys/fd.ts";
import type { BlockingCall, Offset, OpRequest, OpRow, OpSpec } from "./ops.ts";
import {
  checkBuffer,
  checkFd,
  checkInteger,
  checkOffset,
  iovecsOf,
  snapshotBuffers,
} from "./validate.ts";

const NO_TRANSFORM = null;

/**
 * The one place a request object is shaped (one hidden class for all).
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * import { request } from "./op_encoders.ts";
 * request(OPS.nop, -1, 0, 0, 0).bufIndex; // -1
 * ```
 */
export function request(
  spec: OpSpec,
  fd: number,
  addr: number,
  len: number,
  off: number,
  opFlags = 0,
  bufIndex = -1,
  keep: unknown = null,
  data: ArrayBufferView | readonly ArrayBufferView[] | null = null,
  path: string | undefined = undefined,
  transform: ((res: number) => unknown) | null = NO_TRANSFORM,
): OpRequest {
  return {
    spec,
    fd,
    addr,
    len,
    off,
    opFlags,
    bufIndex,
    keep,
    data,
    path,
    transform,
  };
}

/**
 * A frozen table row: the opcode's traits, its blocking twin, and `encode`
 * bound to the row itself (so every request names the row that built it).
 *
 * @example
 * ```ts
 * import { request, row } from "./op_encoders.ts";
 * const nop = row(0, "nop", "5.1", {}, (spec) => request(spec, -1, 0, 0, 0), null);
 * nop.encode().spec === nop; // true
 * ```
 */
export function row<Args extends unknown[]>(
  opcode: number,
  name: string,
  since: string,
  traits: { attributes?: boolean; writesMemory?: boolean },
  encode: (spec: OpSpec, ...args: Args) => OpRequest,
  blocking: ((req: OpRequest) => BlockingCall) | null,
): OpRow<Args> {
  const spec = {
    opcode,
    name,
    since,
    attributes: traits.attributes ?? false,
    writesMemory: traits.writesMemory ?? false,
    blocking,
    encode: (...args: Args) => encode(spec, ...args),
  };
  return Object.freeze(spec);
}

// ------------------------------------------------------- shared encoders

/** Traits of the writes: they carry attributes; the kernel reads memory. */
export const WRITE = { attributes: true } as const;

/**
 * read / write: one buffer at `offset`.
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * import { dataRequest } from "./op_encoders.ts";
 * dataRequest(OPS.read, 3, new Uint8Array(512), 0).len; // 512
 * ```
 */
export function dataRequest(
  spec: OpSpec,
  fd: number,
  buf: ArrayBufferView,
  offset: Offset,
): OpRequest {
  return bufferRequest(spec, fd, buf, offset, -1, false);
}

/**
 * read_fixed / write_fixed: one buffer inside registered buffer `bufIndex`.
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * import { fixedRequest } from "./op_encoders.ts";
 * fixedRequest(OPS.readFixed, 3, new Uint8Array(512), 0, 1).bufIndex; // 1
 * ```
 */
export function fixedRequest(
  spec: OpSpec,
  fd: number,
  buf: ArrayBufferView,
  offset: Offset,
  bufIndex: number,
): OpRequest {
  return bufferRequest(spec, fd, buf, offset, bufIndex, true);
}

function bufferRequest(
  spec: OpSpec,
  fd: number,
  buf: ArrayBufferView,
  offset: Offset,
  bufIndex: number,
  fixed: boolean,
): OpRequest {
  checkFd(fd);
  checkBuffer(buf, "buf");
  const off = checkOffset(offset);
  if (fixed) checkInteger(bufIndex, "bufIndex", 0, 0xffff);
  return request(
    spec,
    fd,
    cachedAddress(buf),
    buf.byteLength,
    off,
    0,
    bufIndex,
    buf,
    buf,
  );
}

/**
 * readv / writev: the iovec array and the buffers it points at, snapshotted.
 *
 * @example
 * ```ts
 * import { OPS } from "./ops.ts";
 * import { vectoredRequest } from "./op_encoders.ts";
 * vectoredRequest(OPS.readv, 3, [new Uint8Array(8), new Uint8Array(8)], 0).len; // 2
 * ```
 */
export function vectoredRequest(
  spec: OpSpec,
  fd: number,
  buffers: readonly ArrayBufferView[],
  offset: number | bigint,
): OpRequest {
  checkFd(fd);
  const list = snapshotBuffers(buffers);
  const iovecs = iovecsOf(list);
  const off = checkOffset(offset);
  return request(
    spec,
    fd,
    cachedAddress(iovecs),
    list.length,
    off,
    0,
    -1,
    // The kernel copies the iovec array when it takes the SQE; the buffers
    // it points at must live until the completion.
    [iovecs, list],
    list,
  );
}

/**
 * openat's result is a descriptor number that may have named another
 * file: what was cached about that number is forgotten.
 *
 * @example
 * ```ts
 * import { forgetOpenedFd } from "./op_encoders.ts";
 * forgetOpenedFd(7); // 7
 * ```
 */
export function forgetOpenedFd(fd: number): number {
  forgetFd(fd);
  return fd;
}

/** The fallback's pread(2) for a read: the same fd, address, length and offset. */
export const pread = (r: OpRequest): BlockingCall => [
  "pread",
  [r.fd, r.addr, r.len, r.off],
];
/** The fallback's pwrite(2) for a write: the same fd, address, length and offset. */
export const pwrite = (r: OpRequest): BlockingCall => [
  "pwrite",
  [r.fd, r.addr, r.len, r.off],
];
