/**
 * One kind of read/write attribute (Linux 6.14) as a declarative entry:
 * its option name, its type bit in `attr_type_mask`, the size of its
 * kernel struct, and how to validate and encode a value. The table that
 * packs them into one request is in attributes.ts.
 *
 * @module
 */
import { describe } from "./validate.ts";

/**
 * One kind of read/write attribute, as the kernel defines it.
 *
 * @example
 * ```ts
 * import { type AttributeKind, defineAttribute } from "./attribute_kind.ts";
 * // A made-up 8-byte attribute at type bit 1, holding one u16.
 * const hint: AttributeKind<number> = defineAttribute({
 *   name: "hint",
 *   bit: 1,
 *   size: 8,
 *   validate: (v) => {
 *     if (typeof v !== "number" || v !== (v & 0xffff)) {
 *       throw new RangeError("hint is a u16");
 *     }
 *     return v;
 *   },
 *   encode: (v, bytes) => new DataView(bytes.buffer, bytes.byteOffset).setUint16(0, v, true),
 * });
 * ```
 */
export interface AttributeKind<T = unknown> {
  /** The option key users write (`pi` in `{ pi: {...} }`). */
  readonly name: string;
  /** Bit number in `attr_type_mask` (IORING_RW_ATTR_FLAG_PI is bit 0). */
  readonly bit: number;
  /** Size in bytes of the kernel struct; a multiple of 8. */
  readonly size: number;
  /**
   * Checks the user's value and returns it normalised; throws TypeError for
   * wrong types or unknown keys, RangeError for values out of range.
   */
  validate(value: unknown, name: string): T;
  /** Writes the struct into `bytes` (exactly `size` bytes, zeroed). */
  encode(value: T, bytes: Uint8Array): void;
  /** Memory the struct points at, which must outlive the request. */
  keep?(value: T): readonly unknown[];
}

/**
 * Checks an attribute kind and freezes it (type bits above 52 are refused:
 * the mask travels as a JS number, and the kernel uses bit 0 only today).
 *
 * @throws {RangeError} for a bad bit or size; TypeError for a bad name.
 * @example
 * ```ts
 * import { defineAttribute } from "./attribute_kind.ts";
 * const flag = defineAttribute({
 *   name: "flag",
 *   bit: 5,
 *   size: 8,
 *   validate: (v) => Boolean(v),
 *   encode: (v, bytes) => { bytes[0] = v ? 1 : 0; },
 * });
 * flag.bit; // 5
 * ```
 */
export function defineAttribute<T>(kind: AttributeKind<T>): AttributeKind<T> {
  if (typeof kind?.name !== "string" || !/^[a-zA-Z][\w]*$/.test(kind.name)) {
    throw new TypeError(
      `attribute name must be an identifier, got ${describe(kind?.name)}`,
    );
  }
  if (!Number.isInteger(kind.bit) || kind.bit < 0 || kind.bit > 52) {
    throw new RangeError(
      `attribute ${kind.name}: bit must be from 0 to 52, got ${kind.bit}`,
    );
  }
  if (!Number.isInteger(kind.size) || kind.size <= 0 || kind.size % 8 !== 0) {
    throw new RangeError(
      `attribute ${kind.name}: size must be a positive multiple of 8 ` +
        `(kernel attribute structs are 8-byte aligned), got ${kind.size}`,
    );
  }
  if (
    typeof kind.validate !== "function" || typeof kind.encode !== "function"
  ) {
    throw new TypeError(
      `attribute ${kind.name}: validate and encode must be functions`,
    );
  }
  return Object.freeze({ ...kind });
}
