/**
 * Finding out in software which protection interval and field failed,
 * after the kernel answered a PI request with -EILSEQ: the outgoing
 * buffers of a write are verified as they are, and a read's range is read
 * again without device checks and then verified.
 *
 * @module
 */
import {
  type PiFormatOptions,
  type PiGuard,
  type PiVerifyOptions,
  verifyPi,
} from "../pi/mod.ts";
import type { PiAttribute, PiOptions } from "./pi_attribute.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { TargetProfile } from "./target_probe.ts";
import { checksOf, type IntegrityDiagnosis } from "./integrity_error.ts";

/**
 * The PI layout needed to verify tuples: a probed target, or the tuple
 * library's format options.
 *
 * @example
 * ```ts
 * import type { PiLayout } from "./integrity_diagnosis.ts";
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
 * import { piFormatOf } from "./integrity_diagnosis.ts";
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
 * import type { DiagnoseInput } from "./integrity_diagnosis.ts";
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
 * import { diagnoseIntegrity } from "./integrity_diagnosis.ts";
 * import { IntegrityError } from "./integrity_error.ts";
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
 * import { rereadFor } from "./integrity_diagnosis.ts";
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
