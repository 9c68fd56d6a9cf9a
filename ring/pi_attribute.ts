/**
 * The Protection Information attribute (IORING_RW_ATTR_FLAG_PI): the `pi`
 * option users pass with a read or write, its validation, and its encoding
 * as `struct io_uring_attr_pi`.
 *
 * @module
 */
import { addressNumber } from "../ffi/mod.ts";
import { ATTR_PI_SIZE, AttrPiView } from "../structs/attr_pi.ts";
import {
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
  IO_INTEGRITY_VALID_FLAGS,
  IORING_RW_ATTR_FLAG_PI,
} from "../structs/constants.ts";
import { checkBuffer, checkOptions, describe } from "./validate.ts";
import { type AttributeKind, defineAttribute } from "./attribute_kind.ts";

/**
 * The checks a PI request asks the device for, by name. Each is an
 * IO_INTEGRITY_CHK_* bit.
 *
 * @example
 * ```ts
 * import type { PiChecks } from "./pi_attribute.ts";
 * const all: PiChecks = { guard: true, reftag: true, apptag: true };
 * ```
 */
export interface PiChecks {
  /** IO_INTEGRITY_CHK_GUARD: the checksum of each interval. */
  readonly guard?: boolean;
  /** IO_INTEGRITY_CHK_REFTAG: the reference tag (not on PI Type 3). */
  readonly reftag?: boolean;
  /** IO_INTEGRITY_CHK_APPTAG: the application tag equals `appTag`. */
  readonly apptag?: boolean;
}

/**
 * The `pi` option of a read or write: the metadata buffer (one tuple or
 * metadata block per protection interval) and what the device checks.
 *
 * @example
 * ```ts
 * import type { PiOptions } from "./pi_attribute.ts";
 * const pi: PiOptions = {
 *   meta: new Uint8Array(64), // 8 intervals × 8-byte tuples
 *   check: { guard: true, reftag: true },
 *   appTag: 0x1234,
 * };
 * ```
 */
export interface PiOptions {
  /** Metadata buffer: written to the device on a write, filled on a read. */
  readonly meta: Uint8Array;
  /** Checks by name, or IO_INTEGRITY_CHK_* bits. Default: none. */
  readonly check?: PiChecks | number;
  /** Application tag (u16) the device compares with APPTAG. Default 0. */
  readonly appTag?: number;
  /**
   * Reference tag of the first interval as the tuples number it (u64),
   * usually the LBA (`offset / interval`). Default 0. The kernel maps ref
   * tags equal to `seed + i` to the device's LBA on writes and back on
   * reads, so a read returns tags numbered from its seed.
   */
  readonly seed?: bigint | number;
}

/**
 * A validated PI attribute, as encoded into `struct io_uring_attr_pi`.
 *
 * @example
 * ```ts
 * import { PI_ATTRIBUTE } from "./pi_attribute.ts";
 * const pi = PI_ATTRIBUTE.validate({ meta: new Uint8Array(8), check: 1 }, "pi");
 * pi.flags; // 1 (IO_INTEGRITY_CHK_GUARD)
 * ```
 */
export interface PiAttribute {
  /** Metadata buffer (`addr` and `len` of `struct io_uring_attr_pi`). */
  readonly meta: Uint8Array;
  /** IO_INTEGRITY_CHK_* bits. */
  readonly flags: number;
  /** `app_tag`: application tag the device compares. */
  readonly appTag: number;
  /** `seed`: initial reference tag. */
  readonly seed: bigint;
}

/**
 * The IO_INTEGRITY_CHK_* bits of a PI check option.
 *
 * @throws {TypeError} for unknown keys or non-boolean values.
 * @throws {RangeError} for bits outside IO_INTEGRITY_CHK_*.
 * @example
 * ```ts
 * import { piCheckFlags } from "./pi_attribute.ts";
 * piCheckFlags({ guard: true, apptag: true }); // 5
 * ```
 */
export function piCheckFlags(check: unknown, name = "pi.check"): number {
  if (check === undefined) return 0;
  if (typeof check === "number") {
    if (!Number.isInteger(check)) {
      throw new TypeError(`${name} must be an integer or an object`);
    }
    if (check < 0 || (check & ~IO_INTEGRITY_VALID_FLAGS) !== 0 || check > 7) {
      throw new RangeError(
        `${name} has bits outside IO_INTEGRITY_CHK_GUARD|REFTAG|APPTAG (0x7): 0x${
          check.toString(16)
        }`,
      );
    }
    return check;
  }
  checkOptions(check, ["guard", "reftag", "apptag"], name);
  const c = check as Record<string, unknown>;
  let flags = 0;
  for (
    const [key, bit] of [
      ["guard", IO_INTEGRITY_CHK_GUARD],
      ["reftag", IO_INTEGRITY_CHK_REFTAG],
      ["apptag", IO_INTEGRITY_CHK_APPTAG],
    ] as const
  ) {
    const v = c[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") {
      throw new TypeError(
        `${name}.${key} must be a boolean, got ${describe(v)}`,
      );
    }
    if (v) flags |= bit;
  }
  return flags;
}

const U64_MAX = (1n << 64n) - 1n;

function checkSeed(seed: unknown, name: string): bigint {
  if (seed === undefined) return 0n;
  if (typeof seed === "bigint") {
    if (seed < 0n || seed > U64_MAX) {
      throw new RangeError(`${name} must be a u64 (0 to 2^64-1), got ${seed}`);
    }
    return seed;
  }
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(
        `${name} must be a non-negative safe integer or a bigint, got ${seed}`,
      );
    }
    return BigInt(seed);
  }
  throw new TypeError(
    `${name} must be a bigint or a number, got ${describe(seed)}`,
  );
}

function checkAppTag(appTag: unknown, name: string): number {
  if (appTag === undefined) return 0;
  if (typeof appTag !== "number") {
    throw new TypeError(`${name} must be a number, got ${describe(appTag)}`);
  }
  if (!Number.isInteger(appTag) || appTag < 0 || appTag > 0xffff) {
    throw new RangeError(`${name} must be a u16 (0 to 65535), got ${appTag}`);
  }
  return appTag;
}

/**
 * IORING_RW_ATTR_FLAG_PI: `struct io_uring_attr_pi` (32 bytes), encoded
 * with {@linkcode AttrPiView}. `rsvd` is always 0 (the kernel fails the
 * request otherwise).
 *
 * @example
 * ```ts
 * import { PI_ATTRIBUTE } from "./pi_attribute.ts";
 * PI_ATTRIBUTE.size; // 32
 * ```
 */
export const PI_ATTRIBUTE: AttributeKind<PiAttribute> = defineAttribute({
  name: "pi",
  bit: Math.log2(IORING_RW_ATTR_FLAG_PI),
  size: ATTR_PI_SIZE,
  validate(value: unknown, name: string): PiAttribute {
    checkOptions(value, ["meta", "check", "appTag", "seed"], name);
    if (value === undefined) {
      throw new TypeError(`${name} must be an object with a meta buffer`);
    }
    const v = value as Record<string, unknown>;
    if (!(v.meta instanceof Uint8Array)) {
      throw new TypeError(
        `${name}.meta must be a Uint8Array (the metadata buffer), got ${
          describe(v.meta)
        }`,
      );
    }
    checkBuffer(v.meta, `${name}.meta`);
    if (v.meta.byteLength === 0) {
      throw new RangeError(`${name}.meta must not be empty`);
    }
    return Object.freeze({
      meta: v.meta,
      flags: piCheckFlags(v.check, `${name}.check`),
      appTag: checkAppTag(v.appTag, `${name}.appTag`),
      seed: checkSeed(v.seed, `${name}.seed`),
    });
  },
  encode(pi: PiAttribute, bytes: Uint8Array): void {
    const view = new AttrPiView(bytes);
    view.flags = pi.flags;
    view.appTag = pi.appTag;
    view.len = pi.meta.byteLength;
    view.addr = addressNumber(pi.meta);
    view.seed = pi.seed;
    view.rsvd = 0;
  },
  keep: (pi: PiAttribute) => [pi.meta],
});
