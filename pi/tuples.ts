/**
 * Protection Information tuples: one per protection interval, in the
 * metadata that travels beside the data (the `addr`/`len` buffer of
 * `io_uring_attr_pi`). All fields are big-endian, as on the wire.
 *
 * | guard | tuple | guard | app tag | storage tag | ref tag |
 * |---|---|---|---|---|---|
 * | `crc16-t10dif`, `ip` | 8 B | 16 bit @0 | @2 | — | 32 bit @4 |
 * | `crc64-nvme` | 16 B | 64 bit @0 | @8 | — | 48 bit @10 |
 * | `crc32c` | 16 B | 32 bit @0 | @4 | 32 bit @6 | 48 bit @10 |
 *
 * When the per-interval metadata is larger than the tuple and the tuple sits
 * at `piOffset > 0`, the guard also covers the metadata bytes before it, as
 * NVMe and Linux's blk-integrity do.
 *
 * @module
 */
import { crc16Range, crc32cRange } from "./native.ts";
import { crc64Register } from "./crc64.ts";
import { ipSum } from "./ip.ts";

/**
 * The checksum a tuple's guard field holds.
 *
 * @example
 * ```ts
 * import type { PiGuard } from "./tuples.ts";
 * const guard: PiGuard = "crc64-nvme";
 * ```
 */
export type PiGuard = "crc16-t10dif" | "crc64-nvme" | "crc32c" | "ip";

/**
 * The reference tag rule. Type 1 and Type 2: `seed + interval index`
 * (Type 1's seed is the first LBA in protection intervals). Type 3: the tag
 * is not checked and `seed` is written unchanged in every tuple.
 *
 * @example
 * ```ts
 * import type { PiRefTag } from "./tuples.ts";
 * const refTag: PiRefTag = { type: 1, seed: 2048 };
 * ```
 */
export interface PiRefTag {
  /** PI type: 1, 2 or 3 (see above). */
  readonly type: 1 | 2 | 3;
  /** First reference tag; only its low 32 (8 B tuples) or 48 bits are kept. */
  readonly seed?: number | bigint;
}

/**
 * How data and metadata are laid out. The fields map onto the kernel's
 * `logical_block_metadata_cap` (interval, metadata size, PI offset, guard
 * type), so a probed layout can be passed straight in.
 *
 * @example
 * ```ts
 * import type { PiFormatOptions } from "./tuples.ts";
 * const nvme512: PiFormatOptions = {
 *   guard: "crc16-t10dif",
 *   interval: 512,
 *   refTag: { type: 1, seed: 2048 },
 * };
 * ```
 */
export interface PiFormatOptions {
  /** The guard (checksum) algorithm, which sets the tuple size. */
  readonly guard: PiGuard;
  /** Protection interval in bytes; the data length must be a multiple. */
  readonly interval: number;
  /** Default `{ type: 1, seed: 0 }`. */
  readonly refTag?: PiRefTag;
  /**
   * Application tag. Written by `generatePi` (default 0); on `verifyPi` the
   * expected value, checked only when given.
   */
  readonly appTag?: number;
  /** Byte offset of the tuple inside each interval's metadata. Default 0. */
  readonly piOffset?: number;
  /** Metadata bytes per interval. Default: the tuple size. */
  readonly metadataSize?: number;
  /** `crc32c` only: the 32-bit storage tag written at byte 6. Default 0. */
  readonly storageTag?: number;
}

/**
 * Options of {@linkcode verifyPi}: the format plus which fields to check.
 *
 * @example
 * ```ts
 * import type { PiVerifyOptions } from "./tuples.ts";
 * const opts: PiVerifyOptions = {
 *   guard: "crc16-t10dif",
 *   interval: 512,
 *   refTag: { type: 3 },
 *   check: { guard: true },
 * };
 * ```
 */
export interface PiVerifyOptions extends PiFormatOptions {
  /**
   * Fields to check. Defaults: guard always, ref tag unless Type 3, app tag
   * when `appTag` is given. Asking for the ref tag with Type 3 throws, as a
   * Type 3 device fails every such I/O.
   */
  readonly check?: {
    readonly guard?: boolean;
    readonly appTag?: boolean;
    readonly refTag?: boolean;
    /** `crc32c` only; default true, against `storageTag` (default 0). */
    readonly storageTag?: boolean;
  };
  /** Bits of the app tag that are compared. Default 0xFFFF. */
  readonly appTagMask?: number;
}

/**
 * One failed field of one interval.
 *
 * @example
 * ```ts
 * import type { PiError } from "./tuples.ts";
 * const e: PiError = {
 *   index: 3, offset: 1536, field: "guard", expected: 0x1234, actual: 0,
 * };
 * ```
 */
export interface PiError {
  /** Interval number, from 0. */
  readonly index: number;
  /** Byte offset of the interval in the data. */
  readonly offset: number;
  /** `storageTag` only occurs with the `crc32c` format. */
  readonly field: "guard" | "appTag" | "storageTag" | "refTag";
  /** What the field should hold (bigint for a CRC64 guard). */
  readonly expected: number | bigint;
  /** What the metadata holds. */
  readonly actual: number | bigint;
}

/**
 * The outcome of {@linkcode verifyPi}.
 *
 * @example
 * ```ts
 * import type { PiVerifyResult } from "./tuples.ts";
 * const r: PiVerifyResult = { ok: true, intervals: 8, bad: [] };
 * ```
 */
export interface PiVerifyResult {
  /** No field of any interval failed. */
  readonly ok: boolean;
  /** Number of intervals examined (escaped ones included). */
  readonly intervals: number;
  /**
   * Every failed field, ordered by interval, then guard, app tag, storage
   * tag, ref tag.
   */
  readonly bad: PiError[];
}

/**
 * Size in bytes of the PI tuple for a guard type: 8 for the 16-bit guards,
 * 16 for CRC64-NVMe and CRC32C.
 *
 * @example
 * ```ts
 * import { piTupleSize } from "./tuples.ts";
 * piTupleSize("crc64-nvme"); // 16
 * ```
 */
export function piTupleSize(guard: PiGuard): 8 | 16 {
  switch (guard) {
    case "crc16-t10dif":
    case "ip":
      return 8;
    case "crc64-nvme":
    case "crc32c":
      return 16;
    default:
      throw new RangeError(`unknown PI guard type: ${String(guard)}`);
  }
}

/**
 * Bytes of metadata `verifyPi`/`generatePi` need for `dataLength` bytes.
 *
 * @example
 * ```ts
 * import { piMetadataLength } from "./tuples.ts";
 * piMetadataLength(4096, { guard: "crc16-t10dif", interval: 512 }); // 64
 * ```
 */
export function piMetadataLength(
  dataLength: number,
  opts: PiFormatOptions,
): number {
  return (dataLength / opts.interval) * resolve(opts).metadataSize;
}

/** Options after defaults and validation. */
interface Layout {
  guard: PiGuard;
  interval: number;
  tupleSize: 8 | 16;
  metadataSize: number;
  piOffset: number;
  refType: 1 | 2 | 3;
  /** Reference tags wrap at 2^refBits (32 or 48). */
  refModulus: number;
  refSeed: number;
  /** Byte offset of the ref tag and of the app tag inside the tuple. */
  refAt: number;
  appAt: number;
}

function resolve(opts: PiFormatOptions): Layout {
  const tupleSize = piTupleSize(opts.guard);
  const interval = opts.interval;
  if (!Number.isInteger(interval) || interval <= 0) {
    throw new RangeError(`PI interval must be a positive integer: ${interval}`);
  }
  const piOffset = opts.piOffset ?? 0;
  const metadataSize = opts.metadataSize ?? tupleSize;
  if (
    !Number.isInteger(piOffset) || piOffset < 0 ||
    !Number.isInteger(metadataSize) || piOffset + tupleSize > metadataSize
  ) {
    throw new RangeError(
      `a ${tupleSize}-byte PI tuple at offset ${piOffset} does not fit in ` +
        `${metadataSize} bytes of metadata per interval`,
    );
  }
  const refType = opts.refTag?.type ?? 1;
  if (refType !== 1 && refType !== 2 && refType !== 3) {
    throw new RangeError(`PI type must be 1, 2 or 3: ${refType}`);
  }
  const refBits = tupleSize === 8 ? 32 : 48;
  const seed = BigInt(opts.refTag?.seed ?? 0);
  if (seed < 0n) {
    throw new RangeError("reference tag seed must not be negative");
  }
  return {
    guard: opts.guard,
    interval,
    tupleSize,
    metadataSize,
    piOffset,
    refType,
    refModulus: 2 ** refBits,
    refSeed: Number(BigInt.asUintN(refBits, seed)),
    refAt: tupleSize === 8 ? 4 : 10,
    appAt: tupleSize === 8 ? 2 : opts.guard === "crc64-nvme" ? 8 : 4,
  };
}

function checkTag(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}`);
  }
}

function intervalCount(
  data: Uint8Array,
  meta: Uint8Array,
  layout: Layout,
): number {
  // A string or array has a length too: refuse it before it is misread.
  if (!(data instanceof Uint8Array)) {
    throw new TypeError("data must be a Uint8Array");
  }
  if (!(meta instanceof Uint8Array)) {
    throw new TypeError("meta must be a Uint8Array");
  }
  if (data.length % layout.interval !== 0) {
    throw new RangeError(
      `data length ${data.length} is not a multiple of the ` +
        `${layout.interval}-byte protection interval`,
    );
  }
  const count = data.length / layout.interval;
  if (meta.length < count * layout.metadataSize) {
    throw new RangeError(
      `metadata buffer has ${meta.length} bytes, ${count} intervals need ` +
        `${count * layout.metadataSize}`,
    );
  }
  return count;
}

const crc64Scratch = new Int32Array(2);

/**
 * Computes the guard of the interval at `dataAt` (covering also the metadata
 * before the tuple) and writes it big-endian at `tupleAt` of `out`, which is
 * either the metadata itself (generate) or an 8-byte scratch (verify).
 */
function writeGuard(
  layout: Layout,
  data: Uint8Array,
  dataAt: number,
  meta: Uint8Array,
  metaAt: number,
  out: DataView,
  outAt: number,
): void {
  const dataEnd = dataAt + layout.interval;
  const prefixEnd = metaAt + layout.piOffset;
  switch (layout.guard) {
    case "crc16-t10dif": {
      let crc = crc16Range(data, dataAt, dataEnd, 0);
      if (layout.piOffset > 0) crc = crc16Range(meta, metaAt, prefixEnd, crc);
      out.setUint16(outAt, crc);
      return;
    }
    case "ip": {
      // Intervals have an even length, so the metadata continues the sum
      // on a 16-bit word boundary.
      let sum = ipSum(data, dataAt, dataEnd, 0);
      if (layout.piOffset > 0) sum = ipSum(meta, metaAt, prefixEnd, sum);
      out.setUint16(outAt, ~sum & 0xffff);
      return;
    }
    case "crc32c": {
      let crc = crc32cRange(data, dataAt, dataEnd, 0);
      if (layout.piOffset > 0) crc = crc32cRange(meta, metaAt, prefixEnd, crc);
      out.setUint32(outAt, crc);
      return;
    }
    case "crc64-nvme": {
      const reg = crc64Scratch;
      reg[0] = -1;
      reg[1] = -1;
      crc64Register(data, dataAt, dataEnd, reg);
      if (layout.piOffset > 0) crc64Register(meta, metaAt, prefixEnd, reg);
      out.setInt32(outAt, ~reg[1]);
      out.setInt32(outAt + 4, ~reg[0]);
      return;
    }
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readRefTag(view: DataView, at: number, size: 8 | 16): number {
  return size === 8
    ? view.getUint32(at)
    : view.getUint16(at) * 2 ** 32 + view.getUint32(at + 2);
}

function writeRefTag(view: DataView, at: number, size: 8 | 16, v: number) {
  if (size === 8) {
    view.setUint32(at, v);
  } else {
    view.setUint16(at, Math.floor(v / 2 ** 32));
    view.setUint32(at + 2, v % 2 ** 32);
  }
}

/**
 * Fills `meta` with one PI tuple per `opts.interval` bytes of `data`:
 * guard, app tag, ref tag (and storage tag for CRC32C), big-endian. Other
 * metadata bytes (outside the tuple) are left as they are.
 *
 * @throws {RangeError} when the lengths or options do not fit together.
 * @example
 * ```ts
 * import { generatePi } from "./tuples.ts";
 * const data = new Uint8Array(4096);
 * const meta = new Uint8Array(8 * 8);
 * generatePi(data, meta, {
 *   guard: "crc16-t10dif",
 *   interval: 512,
 *   refTag: { type: 1, seed: 2048 },
 * });
 * ```
 */
export function generatePi(
  data: Uint8Array,
  meta: Uint8Array,
  opts: PiFormatOptions,
): void {
  const layout = resolve(opts);
  const appTag = opts.appTag ?? 0;
  checkTag("appTag", appTag, 0xffff);
  const storageTag = opts.storageTag ?? 0;
  checkTag("storageTag", storageTag, 0xffffffff);
  const count = intervalCount(data, meta, layout);
  const view = viewOf(meta);
  const { interval, metadataSize, piOffset, refAt, appAt, tupleSize } = layout;
  const refIncrement = layout.refType === 3 ? 0 : 1;
  for (let i = 0; i < count; i++) {
    const metaAt = i * metadataSize;
    const tupleAt = metaAt + piOffset;
    writeGuard(layout, data, i * interval, meta, metaAt, view, tupleAt);
    view.setUint16(tupleAt + appAt, appTag);
    if (layout.guard === "crc32c") view.setUint32(tupleAt + 6, storageTag);
    const ref = (layout.refSeed + i * refIncrement) % layout.refModulus;
    writeRefTag(view, tupleAt + refAt, tupleSize, ref);
  }
}

/**
 * Checks every PI tuple in `meta` against `data` and reports every failed
 * field of every interval. An interval whose app tag is 0xFFFF is skipped
 * (escape); for Type 3 the ref tag must also be all ones.
 *
 * @throws {RangeError} when the lengths or options do not fit together, or
 * when a ref tag check is asked for Type 3.
 * @example
 * ```ts
 * import { generatePi, verifyPi } from "./tuples.ts";
 * const opts = { guard: "crc64-nvme", interval: 4096 } as const;
 * const data = new Uint8Array(8192);
 * const meta = new Uint8Array(32);
 * generatePi(data, meta, opts);
 * data[5000] ^= 1;
 * verifyPi(data, meta, opts).bad[0].index; // 1
 * ```
 */
export function verifyPi(
  data: Uint8Array,
  meta: Uint8Array,
  opts: PiVerifyOptions,
): PiVerifyResult {
  const layout = resolve(opts);
  const count = intervalCount(data, meta, layout);
  const checkGuard = opts.check?.guard ?? true;
  const checkRef = opts.check?.refTag ?? layout.refType !== 3;
  const checkApp = opts.check?.appTag ?? opts.appTag !== undefined;
  if (checkRef && layout.refType === 3) {
    throw new RangeError("Type 3 protection has no reference tag to check");
  }
  const checkStorage = layout.guard === "crc32c" &&
    (opts.check?.storageTag ?? true);
  const expectedStorage = opts.storageTag ?? 0;
  checkTag("storageTag", expectedStorage, 0xffffffff);
  const appMask = opts.appTagMask ?? 0xffff;
  checkTag("appTagMask", appMask, 0xffff);
  let expectedApp = 0;
  if (checkApp) {
    if (opts.appTag === undefined) {
      throw new RangeError("check.appTag needs the expected appTag");
    }
    checkTag("appTag", opts.appTag, 0xffff);
    expectedApp = opts.appTag & appMask;
  }
  const view = viewOf(meta);
  const scratch = new DataView(new ArrayBuffer(8));
  const { interval, metadataSize, piOffset, refAt, appAt, tupleSize } = layout;
  const refEscape = layout.refModulus - 1;
  const wide = layout.guard === "crc64-nvme";
  const bad: PiError[] = [];
  for (let i = 0; i < count; i++) {
    const metaAt = i * metadataSize;
    const tupleAt = metaAt + piOffset;
    const offset = i * interval;
    const app = view.getUint16(tupleAt + appAt);
    if (app === 0xffff) {
      // Escape: Types 1 and 2 skip on the app tag alone; Type 3 needs the
      // ref tag all ones too (Linux t10_pi_verify / ext_pi_crc64_verify).
      if (layout.refType !== 3) continue;
      if (readRefTag(view, tupleAt + refAt, tupleSize) === refEscape) continue;
    }
    if (checkGuard) {
      writeGuard(layout, data, offset, meta, metaAt, scratch, 0);
      if (wide) {
        const expected = scratch.getBigUint64(0);
        const actual = view.getBigUint64(tupleAt);
        if (expected !== actual) {
          bad.push({ index: i, offset, field: "guard", expected, actual });
        }
      } else {
        const expected = tupleSize === 8
          ? scratch.getUint16(0)
          : scratch.getUint32(0);
        const actual = tupleSize === 8
          ? view.getUint16(tupleAt)
          : view.getUint32(tupleAt);
        if (expected !== actual) {
          bad.push({ index: i, offset, field: "guard", expected, actual });
        }
      }
    }
    if (checkApp && (app & appMask) !== expectedApp) {
      bad.push({
        index: i,
        offset,
        field: "appTag",
        expected: opts.appTag as number,
        actual: app,
      });
    }
    if (checkStorage) {
      const actual = view.getUint32(tupleAt + 6);
      if (actual !== expectedStorage) {
        bad.push({
          index: i,
          offset,
          field: "storageTag",
          expected: expectedStorage,
          actual,
        });
      }
    }
    if (checkRef) {
      const ref = (layout.refSeed + i) % layout.refModulus;
      const actual = readRefTag(view, tupleAt + refAt, tupleSize);
      if (actual !== ref) {
        bad.push({ index: i, offset, field: "refTag", expected: ref, actual });
      }
    }
  }
  return { ok: bad.length === 0, intervals: count, bad };
}
