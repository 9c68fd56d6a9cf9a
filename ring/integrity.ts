/**
 * Integrity failures that explain themselves. The kernel answers every
 * failed PI check with the same -EILSEQ, whichever interval and field was
 * wrong; {@linkcode diagnoseIntegrity} finds out in software (the outgoing
 * buffers of a write, a check-free re-read for a read) and
 * {@linkcode IntegrityError} carries the answer. {@linkcode explainAttributeError}
 * turns -EINVAL / -EOPNOTSUPP on a PI request into the likely cause.
 *
 * @module
 */
import { UringError } from "../sys/errors.ts";
import {
  EFAULT,
  EILSEQ,
  EINVAL,
  EOPNOTSUPP,
  errnoMessage,
  errnoName,
} from "../structs/errno.ts";
import {
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
} from "../structs/constants.ts";
import {
  type PiFormatOptions,
  type PiGuard,
  type PiVerifyOptions,
  verifyPi,
} from "../pi/mod.ts";
import type { PiAttribute, PiOptions } from "./pi_attribute.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { probeKernel } from "./kernel_probe.ts";
import type { ProbeResult } from "./probe.ts";
import type { TargetProfile } from "./target_probe.ts";
import type { OpcodeSpec } from "./opcodes.ts";
import { targetOfFd } from "./pi_validate.ts";

/**
 * One failed field of one protection interval.
 *
 * @example
 * ```ts
 * import type { IntegrityInterval } from "./integrity.ts";
 * const bad: IntegrityInterval = {
 *   index: 3, lba: 2051, offset: 1050112, field: "guard", expected: 0x1a2b, actual: 0x1a2c,
 * };
 * ```
 */
export interface IntegrityInterval {
  /** Interval number within the request, from 0. */
  readonly index: number;
  /** Logical block address of the interval's first byte. */
  readonly lba: number;
  /** File offset of the interval's first byte. */
  readonly offset: number;
  /** The tuple field that did not match. */
  readonly field: "guard" | "appTag" | "refTag" | "storageTag";
  /** What the field should hold (bigint for a 64-bit guard). */
  readonly expected: number | bigint;
  /** What the metadata holds. */
  readonly actual: number | bigint;
}

/**
 * The IO_INTEGRITY_CHK_* checks of a request, by name.
 *
 * @example
 * ```ts
 * import { checksOf } from "./integrity.ts";
 * checksOf(5); // { guard: true, reftag: false, apptag: true }
 * ```
 */
export function checksOf(
  flags: number,
): { guard: boolean; reftag: boolean; apptag: boolean } {
  return {
    guard: (flags & IO_INTEGRITY_CHK_GUARD) !== 0,
    reftag: (flags & IO_INTEGRITY_CHK_REFTAG) !== 0,
    apptag: (flags & IO_INTEGRITY_CHK_APPTAG) !== 0,
  };
}

function checkNames(flags: number): string {
  const c = checksOf(flags);
  const names = [
    c.guard && "GUARD",
    c.reftag && "REFTAG",
    c.apptag && "APPTAG",
  ].filter(Boolean);
  return names.length ? names.join("|") : "none";
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/**
 * What {@linkcode diagnoseIntegrity} found: the failed intervals, or why it
 * could not tell.
 *
 * @example
 * ```ts
 * import type { IntegrityDiagnosis } from "./integrity.ts";
 * const unknown: IntegrityDiagnosis = { undetermined: "no re-read callback" };
 * ```
 */
export type IntegrityDiagnosis =
  | { readonly intervals: readonly IntegrityInterval[]; undetermined?: never }
  | { readonly undetermined: string; intervals?: never };

/**
 * Where and how an integrity check failed, for {@linkcode IntegrityError}.
 *
 * @example
 * ```ts
 * import type { IntegrityErrorInit } from "./integrity.ts";
 * const init: IntegrityErrorInit = { op: "read", fd: 5, offset: 1 << 20, flags: 1, undetermined: "why" };
 * ```
 */
export type IntegrityErrorInit = {
  readonly op: string;
  readonly fd?: number;
  readonly path?: string;
  /** File offset of the request. */
  readonly offset: number;
  /** IO_INTEGRITY_CHK_* bits the request asked for. */
  readonly flags: number;
} & IntegrityDiagnosis;

/**
 * A read or write failed its integrity check (-EILSEQ). `intervals` names
 * every interval and field found wrong; when that could not be found out,
 * `undetermined` says why.
 *
 * @example
 * ```ts
 * import { IntegrityError } from "./integrity.ts";
 * const e = new IntegrityError({
 *   op: "write", fd: 5, offset: 1 << 20, flags: 7,
 *   intervals: [{ index: 2, lba: 2050, offset: 1049600, field: "appTag", expected: 0x10, actual: 0x11 }],
 * });
 * e.code; // "EILSEQ"
 * e.intervals?.[0].field; // "appTag"
 * ```
 */
export class IntegrityError extends UringError {
  /** Always `"IntegrityError"`. */
  override name = "IntegrityError";
  /** File offset of the request. */
  readonly offset: number;
  /** IO_INTEGRITY_CHK_* bits the request asked for. */
  readonly flags: number;
  /** The checks the request asked for, by name. */
  readonly checks: { guard: boolean; reftag: boolean; apptag: boolean };
  /** The failed intervals and fields, when found. */
  readonly intervals?: readonly IntegrityInterval[];
  /** Why the failed interval could not be found. */
  readonly undetermined?: string;

  /** The errno is EILSEQ; `init` gives the request and what was found. */
  constructor(init: IntegrityErrorInit) {
    super(EILSEQ, {
      op: init.op,
      fd: init.fd,
      path: init.path,
      detail: describeFailure(init),
    });
    this.offset = init.offset;
    this.flags = init.flags;
    this.checks = checksOf(init.flags);
    if (init.intervals !== undefined) {
      this.intervals = Object.freeze([...init.intervals]);
    } else this.undetermined = init.undetermined;
  }
}

function describeFailure(init: IntegrityErrorInit): string {
  const head =
    `integrity check failed for the ${init.op} at offset ${init.offset} ` +
    `(checks ${checkNames(init.flags)})`;
  if (init.intervals === undefined || init.intervals.length === 0) {
    return `${head}; could not tell which interval failed: ${
      init.undetermined ?? "software verification found no bad interval"
    }`;
  }
  const shown = init.intervals.slice(0, 4).map((b) =>
    `interval ${b.index} (LBA ${b.lba}) ${b.field} expected ${
      hex(b.expected)
    }, found ${hex(b.actual)}`
  );
  const more = init.intervals.length > 4
    ? `; and ${init.intervals.length - 4} more`
    : "";
  return `${head}: ${shown.join("; ")}${more}`;
}

/**
 * The PI layout needed to verify tuples: a probed target, or the tuple
 * library's format options.
 *
 * @example
 * ```ts
 * import type { PiLayout } from "./integrity.ts";
 * const layout: PiLayout = { guard: "crc16-t10dif", interval: 512, refTag: { type: 1 } };
 * ```
 */
export type PiLayout = TargetProfile | PiFormatOptions;

/**
 * Tuple-library format options for a probed target, with the reference tag
 * expected at file `offset`: Type 1 tags count protection intervals from
 * the device's start (the NVMe driver derives them from the LBA), Type 3
 * has none.
 *
 * @throws {TypeError} when the target has no PI.
 * @example
 * ```ts
 * import { piFormatOf } from "./integrity.ts";
 * import type { TargetProfile } from "./target_probe.ts";
 * declare const target: TargetProfile;
 * const opts = piFormatOf(target, 2048 * 512);
 * ```
 */
export function piFormatOf(target: TargetProfile, offset = 0): PiFormatOptions {
  if (!target.integrity || target.guard === "none") {
    throw new TypeError(
      `${target.path} has no PI format: ${target.reason ?? "no integrity"}`,
    );
  }
  const type = target.piType ?? (target.refTagChecked ? 1 : 3);
  return {
    guard: target.guard as PiGuard,
    interval: target.interval,
    piOffset: target.piOffset,
    metadataSize: target.metadataSize,
    refTag: type === 3
      ? { type: 3 }
      : { type: 1, seed: Math.floor(offset / target.interval) },
  };
}

function formatAt(
  layout: PiLayout,
  offset: number,
  pi: Pick<PiAttribute, "seed">,
): PiFormatOptions {
  if ("tupleSize" in layout) return piFormatOf(layout, offset);
  const type = layout.refTag?.type ?? 1;
  if (type === 3) return { ...layout, refTag: { type: 3 } };
  // Type 2 tags start at the request's seed; Type 1 at the LBA.
  const seed = type === 2 ? pi.seed : Math.floor(offset / layout.interval);
  return { ...layout, refTag: { type, seed } };
}

/**
 * What {@linkcode diagnoseIntegrity} needs.
 *
 * @example
 * ```ts
 * import type { DiagnoseInput } from "./integrity.ts";
 * declare const input: DiagnoseInput;
 * input.direction; // "write" or "read"
 * ```
 */
export interface DiagnoseInput {
  /** Whether the failed request was a write or a read. */
  readonly direction: "write" | "read";
  /** The data written (write) or the read buffer(s) (read; not consulted). */
  readonly data: Uint8Array | readonly Uint8Array[];
  /** The metadata buffer of the request. */
  readonly meta: Uint8Array;
  /** The request's PI attribute: checks asked for, app tag, seed. */
  readonly pi: Pick<PiAttribute, "flags" | "appTag" | "seed">;
  /** The target's PI layout. */
  readonly format?: PiLayout;
  /** File offset of the request. */
  readonly offset: number;
  /** Logical block size, for LBAs (default: the protection interval). */
  readonly lbaSize?: number;
  /**
   * Reads `length` bytes at `offset` again with PI but without device
   * checks (flags 0), returning the data and the metadata as stored.
   */
  readonly reread?: (
    offset: number,
    length: number,
  ) => Promise<{ data: Uint8Array; meta: Uint8Array }>;
}

function concat(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (data instanceof Uint8Array) return data;
  const out = new Uint8Array(data.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of data) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/**
 * After a -EILSEQ: finds which intervals and fields failed. A write's
 * outgoing data and metadata are verified in software; a read's range is
 * re-read without device checks (`reread`) and then verified. The fields
 * checked are those the request asked the device for; if none of those is
 * wrong, every field the format has is tried before giving up.
 *
 * @example
 * ```ts
 * import { diagnoseIntegrity, IntegrityError } from "./integrity.ts";
 * import { generatePi } from "../pi/mod.ts";
 * const format = { guard: "crc16-t10dif", interval: 512, refTag: { type: 1 } } as const;
 * const data = new Uint8Array(4096), meta = new Uint8Array(64);
 * generatePi(data, meta, { ...format, refTag: { type: 1, seed: 2048 } });
 * meta[3 * 8] ^= 1; // corrupt interval 3's guard
 * const found = await diagnoseIntegrity({
 *   direction: "write", data, meta, format, offset: 2048 * 512,
 *   pi: { flags: 1, appTag: 0, seed: 0n },
 * });
 * const err = new IntegrityError({ op: "write", offset: 2048 * 512, flags: 1, ...found });
 * err.intervals?.[0]; // { index: 3, lba: 2051, field: "guard", ... }
 * ```
 */
export async function diagnoseIntegrity(
  input: DiagnoseInput,
): Promise<IntegrityDiagnosis> {
  const { format, pi, offset } = input;
  if (!format) {
    return {
      undetermined:
        "the target's PI format is unknown (probe(path) found no integrity profile)",
    };
  }
  let data: Uint8Array;
  let meta: Uint8Array;
  if (input.direction === "write") {
    data = concat(input.data);
    meta = input.meta;
  } else {
    if (!input.reread) {
      return {
        undetermined:
          "a failed read can only be diagnosed by re-reading without device checks, and no re-read was possible",
      };
    }
    const length = Array.isArray(input.data)
      ? input.data.reduce((n, b) => n + b.byteLength, 0)
      : (input.data as Uint8Array).byteLength;
    try {
      ({ data, meta } = await input.reread(offset, length));
    } catch (error) {
      return {
        undetermined: `re-reading without device checks failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      };
    }
  }
  let opts: PiFormatOptions;
  try {
    opts = formatAt(format, offset, pi);
  } catch (error) {
    return { undetermined: (error as Error).message };
  }
  const interval = opts.interval;
  const lbaSize = input.lbaSize ||
    ("logicalBlockSize" in format && format.logicalBlockSize) || interval;
  const type3 = opts.refTag?.type === 3;
  const asked = checksOf(pi.flags);
  const attempts: PiVerifyOptions["check"][] = [
    {
      guard: asked.guard,
      appTag: asked.apptag,
      refTag: asked.reftag && !type3,
    },
    // The device may check more than was asked (e.g. its own guard on a
    // write): try every field the format has before giving up.
    { guard: true, appTag: asked.apptag, refTag: !type3 },
  ];
  try {
    for (const check of attempts) {
      if (!check?.guard && !check?.appTag && !check?.refTag) continue;
      const result = verifyPi(data, meta, {
        ...opts,
        appTag: pi.appTag,
        check: { ...check, storageTag: false },
      });
      if (!result.ok) {
        return {
          intervals: result.bad.map((b) => ({
            index: b.index,
            offset: offset + b.offset,
            lba: Math.floor((offset + b.offset) / lbaSize),
            field: b.field,
            expected: b.expected,
            actual: b.actual,
          })),
        };
      }
    }
  } catch (error) {
    return {
      undetermined: `software verification could not run: ${
        (error as Error).message
      }`,
    };
  }
  return {
    undetermined: input.direction === "write"
      ? "the outgoing data and metadata verify in software; the device or a layer below rejected them (a reference tag rule other than the LBA, or a remapping layer)"
      : "the data and metadata re-read without checks verify in software; the failure was transient or in the transfer",
  };
}

/**
 * A `reread` for {@linkcode diagnoseIntegrity} built on the caller's PI
 * read: the range is read again into fresh buffers with the same app tag
 * and seed but no device checks (flags 0), so the stored tuples come back
 * even when they are wrong.
 *
 * @example
 * ```ts
 * import { rereadFor } from "./integrity.ts";
 * import type { PiAttribute, PiOptions } from "./pi_attribute.ts";
 * declare const pi: PiAttribute;
 * declare function readWithPi(data: Uint8Array, offset: number, pi: PiOptions): Promise<number>;
 * const reread = rereadFor(pi, readWithPi);
 * ```
 */
export function rereadFor(
  pi: Pick<PiAttribute, "meta" | "appTag" | "seed">,
  read: (data: Uint8Array, offset: number, pi: PiOptions) => Promise<number>,
): (offset: number, length: number) => Promise<{
  data: Uint8Array;
  meta: Uint8Array;
}> {
  return async (offset, length) => {
    // Page alignment satisfies every logical block size up to 4 KiB.
    const data = alignedBuffer(length, 4096);
    const meta = new Uint8Array(pi.meta.byteLength);
    await read(data, offset, {
      meta,
      check: 0,
      appTag: pi.appTag,
      seed: pi.seed,
    });
    return { data, meta };
  };
}

/**
 * What the request looked like, to make {@linkcode explainAttributeError}
 * precise.
 *
 * @example
 * ```ts
 * import type { AttributeRequestInfo } from "./integrity.ts";
 * const info: AttributeRequestInfo = { dataLength: 4096, metaLength: 32, flags: 7 };
 * ```
 */
export interface AttributeRequestInfo {
  /** Data bytes in the request. */
  readonly dataLength?: number;
  /** Metadata buffer bytes (`len` of the PI attribute). */
  readonly metaLength?: number;
  /** IO_INTEGRITY_CHK_* bits asked for. */
  readonly flags?: number;
  /** Whether the fd had O_DIRECT. */
  readonly direct?: boolean;
}

/**
 * The likely cause of an error the kernel returned for a PI request, in
 * words (for `UringError`'s `detail`). Accepts the errno or `-errno`.
 *
 * @example
 * ```ts
 * import { explainAttributeError } from "./integrity.ts";
 * import { probe } from "./probe.ts";
 * explainAttributeError(-22, probe("/dev/shm"));
 * // "the kernel refused the PI attribute because /dev/shm cannot carry integrity metadata: tmpfs has no block device ..."
 * ```
 */
export function explainAttributeError(
  errno: number,
  probed?: ProbeResult,
  request: AttributeRequestInfo = {},
): string {
  const n = Math.abs(errno);
  const target = probed?.target;
  if (probed && !probed.kernel.rwAttr && (n === EINVAL || n === EOPNOTSUPP)) {
    return `kernel too old: read/write attributes need Linux 6.14+ (${probed.kernel.release} lacks IORING_FEAT_RW_ATTR)`;
  }
  switch (n) {
    case EINVAL: {
      if (target && !target.integrity) {
        return `the kernel refused the PI attribute because ${target.path} cannot carry integrity metadata: ${target.reason}`;
      }
      if (target?.integrity) {
        const causes: string[] = [];
        const { dataLength, metaLength, flags } = request;
        if (dataLength !== undefined && metaLength !== undefined) {
          const need = (dataLength / target.interval) * target.metadataSize;
          if (need !== metaLength) {
            causes.push(
              `the metadata buffer has ${metaLength} bytes but ${dataLength} bytes of data need ${need}`,
            );
          }
        }
        if (flags !== undefined && (flags & ~0x7) !== 0) {
          causes.push(`unknown check flags 0x${flags.toString(16)}`);
        }
        if (causes.length === 0) {
          causes.push(
            "a metadata length that does not match the data, misaligned buffers or offset, or a non-zero reserved field",
          );
        }
        return `the kernel refused the PI attribute for ${target.path}: ${
          causes.join("; ")
        }`;
      }
      return "the kernel refused the PI attribute: the target probably has no integrity profile (probe(path) tells), " +
        "or the metadata length does not equal data length ÷ protection interval × metadata size";
    }
    case EOPNOTSUPP:
      return request.direct === true
        ? "the file does not support integrity metadata on direct I/O"
        : "PI needs direct I/O: open the file with O_DIRECT (the kernel refuses metadata on buffered I/O)";
    case EFAULT:
      return "the attribute struct or the metadata buffer is not mapped memory";
    case EILSEQ:
      return "the device's integrity check failed (guard, application tag or reference tag)";
    default:
      return `${errnoName(n)}: ${errnoMessage(n)}`;
  }
}

/**
 * What {@linkcode rejectAttributeFailure} needs of a failed request.
 *
 * @example
 * ```ts
 * import type { AttributeRequest } from "./integrity.ts";
 * import { OPS } from "./ops.ts";
 * const req: AttributeRequest = {
 *   spec: OPS.read, fd: 3, off: 0, data: new Uint8Array(512),
 *   attrs: {}, reject: () => {},
 * };
 * ```
 */
export interface AttributeRequest {
  /** The operation. */
  readonly spec: OpcodeSpec;
  /** Its file descriptor. */
  readonly fd: number;
  /** Its file offset. */
  readonly off: number;
  /** The data buffer(s). */
  readonly data: ArrayBufferView | readonly ArrayBufferView[] | null;
  /** The attributes it carried. */
  readonly attrs: { readonly pi?: PiAttribute };
  /** Rejects its promise. */
  reject(reason: unknown): void;
}

/**
 * Rejects a request that carried attributes. An integrity failure
 * (-EILSEQ) is explained interval by interval: a write's outgoing data
 * and metadata are verified in software; a read's range is read again
 * without device checks and verified. Other errors get the likely cause
 * from the probe. `read` re-reads a range (undefined while the ring is
 * closing: the diagnosis then says it could not re-read).
 *
 * @example
 * ```ts
 * import { rejectAttributeFailure } from "./integrity.ts";
 * import { OPS } from "./ops.ts";
 * rejectAttributeFailure({
 *   spec: OPS.write, fd: 3, off: 0, data: new Uint8Array(512),
 *   attrs: {}, reject: console.error,
 * }, -22, undefined); // rejects with a UringError (EINVAL) and the likely cause
 * ```
 */
export function rejectAttributeFailure(
  op: AttributeRequest,
  res: number,
  read:
    | ((
      fd: number,
      data: Uint8Array,
      offset: number,
      options: { pi: PiOptions },
    ) => Promise<number>)
    | undefined,
): void {
  const pi = op.attrs.pi;
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
    const reread = direction === "read" && read !== undefined
      ? rereadFor(
        pi,
        (data, off, piOptions) => read(fd, data, off, { pi: piOptions }),
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
