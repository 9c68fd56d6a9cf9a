/**
 * Read/write attributes (Linux 6.14): the declarative attribute table and
 * the compound buffer an SQE's `attr_ptr` points at.
 *
 * The kernel reads one buffer per request; `attr_type_mask` says which
 * attributes it holds. When several are set they follow each other in the
 * order of their type bits, with no holes for absent ones (Pavel Begunkov in
 * the review of the patch that added attributes: "attributes to be placed in
 * their id order, but without any holes"). Every kernel attribute struct is a
 * multiple of 8 bytes, so back-to-back placement is also the C layout of a
 * `struct compound_attr { struct attr_pi a; struct attr_x b; }`.
 *
 * Adding the next kernel attribute is one {@linkcode defineAttribute} entry
 * (attribute_kind.ts; the PI one is pi_attribute.ts) in
 * {@linkcode DEFAULT_ATTRIBUTES} plus its tests.
 *
 * @module
 */
import { addressNumber } from "../ffi/mod.ts";
import { SQE_WORDS, type SqeView } from "../structs/sqe.ts";
import { type OpcodeName, OPCODES } from "./ops.ts";
import type { OpcodeSpec } from "./opcodes.ts";
import { describe } from "./validate.ts";
import { type AttributeKind, defineAttribute } from "./attribute_kind.ts";
import {
  PI_ATTRIBUTE,
  type PiAttribute,
  type PiOptions,
} from "./pi_attribute.ts";

/**
 * Attributes packed for one request: point the SQE at `buffer` with `mask`
 * ({@linkcode applyAttributes}), and keep `buffer` and everything in `keep`
 * reachable until the request's completion has been reaped.
 *
 * @example
 * ```ts
 * import { packAttributes } from "./attributes.ts";
 * const packed = packAttributes({ pi: { meta: new Uint8Array(8) } })!;
 * packed.mask; // 1
 * packed.buffer.byteLength; // 32
 * ```
 */
export interface PackedAttributes {
  /** The compound attribute buffer `attr_ptr` points at. */
  readonly buffer: Uint8Array;
  /** `attr_type_mask`: the OR of the attributes' type bits. */
  readonly mask: number;
  /** Buffers the attributes point at (PI metadata, ...). */
  readonly keep: readonly unknown[];
  /** The validated value of each attribute, by name (`values.pi`). */
  readonly values: Readonly<Record<string, unknown>>;
  /** The validated PI attribute, when one was given. */
  readonly pi?: PiAttribute;
}

/**
 * What a user passes: attribute name → options (`{ pi: {...} }`).
 *
 * @example
 * ```ts
 * import type { AttributeOptions } from "./attributes.ts";
 * const attrs: AttributeOptions = { pi: { meta: new Uint8Array(8) } };
 * ```
 */
export interface AttributeOptions {
  /** Protection Information for the request. */
  readonly pi?: PiOptions;
  /** Options of other attribute kinds, by their table name. */
  readonly [name: string]: unknown;
}

/**
 * A set of attribute kinds with unique names and type bits. The library
 * uses {@linkcode DEFAULT_ATTRIBUTES}; tests build their own to check the
 * compound layout with attributes the kernel does not have yet.
 *
 * @example
 * ```ts
 * import { AttributeTable } from "./attributes.ts";
 * import { PI_ATTRIBUTE } from "./pi_attribute.ts";
 * const table = new AttributeTable([PI_ATTRIBUTE]);
 * table.names; // ["pi"]
 * ```
 */
export class AttributeTable {
  readonly #byName = new Map<string, AttributeKind>();
  #sorted: AttributeKind[] = [];

  /** Defines each of `kinds` in order (see {@linkcode define}). */
  constructor(kinds: readonly AttributeKind[] = []) {
    for (const kind of kinds) this.define(kind);
  }

  /**
   * Adds a kind. A second kind with the same name or type bit is refused.
   *
   * @throws {TypeError} for a duplicate name or bit.
   */
  define<T>(kind: AttributeKind<T>): this {
    const k = defineAttribute(kind) as unknown as AttributeKind;
    if (this.#byName.has(k.name)) {
      throw new TypeError(`attribute ${k.name} is already defined`);
    }
    const clash = this.#sorted.find((other) => other.bit === k.bit);
    if (clash) {
      throw new TypeError(
        `attribute ${k.name}: type bit ${k.bit} is already ${clash.name}`,
      );
    }
    this.#byName.set(k.name, k);
    // Kept in type-bit order: the order of the compound buffer.
    this.#sorted = [...this.#sorted, k].sort((a, b) => a.bit - b.bit);
    return this;
  }

  /** Attribute names, in type-bit order. */
  get names(): string[] {
    return this.#sorted.map((k) => k.name);
  }

  /** The kind called `name`, if defined. */
  get(name: string): AttributeKind | undefined {
    return this.#byName.get(name);
  }

  /** Whether `options` has a (defined) value under an attribute name. */
  present(options: object | undefined): boolean {
    if (options === undefined || options === null) return false;
    const o = options as Record<string, unknown>;
    for (const k of this.#sorted) if (o[k.name] !== undefined) return true;
    return false;
  }

  /**
   * Validates `attrs` and packs them into one compound buffer, in the order
   * of their type bits. Keys whose value is `undefined` are absent. With
   * `op`, refuses attributes on an operation whose opcode row does not take
   * them. With `{ pick: true }`, keys that are not attribute names are
   * ignored (for a wider options object whose other keys the caller checks);
   * otherwise they are refused.
   *
   * @returns `null` when no attribute is present.
   * @throws {TypeError} unknown attribute names or keys, wrong types, or an
   * operation without attribute support.
   * @throws {RangeError} values out of range.
   */
  pack(
    attrs: object | undefined,
    op?: OpcodeName | OpcodeSpec,
    options: { pick?: boolean } = {},
  ): PackedAttributes | null {
    if (attrs === undefined) return null;
    if (attrs === null || typeof attrs !== "object" || Array.isArray(attrs)) {
      throw new TypeError(
        `attributes must be an object, got ${describe(attrs)}`,
      );
    }
    const given = attrs as Record<string, unknown>;
    if (!options.pick) {
      for (const key of Object.keys(given)) {
        if (!this.#byName.has(key)) {
          throw new TypeError(
            `unknown attribute ${JSON.stringify(key)} (known: ${
              this.names.join(", ") || "none"
            })`,
          );
        }
      }
    }
    const chosen = this.#sorted.filter((k) => given[k.name] !== undefined);
    if (chosen.length === 0) return null;
    if (op !== undefined) {
      const spec = typeof op === "string" ? OPCODES[op] : op;
      if (spec === undefined) throw new TypeError(`unknown operation ${op}`);
      if (!spec.attributes) {
        throw new TypeError(
          `${spec.name} does not take read/write attributes (${
            chosen.map((k) => k.name).join(", ")
          }): only read, write, readv, writev, read_fixed and write_fixed do`,
        );
      }
    }
    const values: Record<string, unknown> = {};
    let size = 0;
    for (const kind of chosen) {
      values[kind.name] = kind.validate(given[kind.name], kind.name);
      size += kind.size;
    }
    const buffer = new Uint8Array(size);
    const keep: unknown[] = [];
    let mask = 0;
    let at = 0;
    for (const kind of chosen) {
      const value = values[kind.name];
      kind.encode(value, buffer.subarray(at, at + kind.size));
      if (kind.keep) keep.push(...kind.keep(value));
      at += kind.size;
      // Bits are distinct and below 2^53: addition is an exact OR.
      mask += 2 ** kind.bit;
    }
    return Object.freeze({
      buffer,
      mask,
      keep: Object.freeze(keep),
      values: Object.freeze(values),
      pi: values.pi as PiAttribute | undefined,
    });
  }
}

/**
 * The attributes the kernel defines today: PI (IORING_RW_ATTR_FLAG_PI).
 *
 * @example
 * ```ts
 * import { DEFAULT_ATTRIBUTES } from "./attributes.ts";
 * DEFAULT_ATTRIBUTES.names; // ["pi"]
 * ```
 */
export const DEFAULT_ATTRIBUTES: AttributeTable = new AttributeTable([
  PI_ATTRIBUTE,
]);

/**
 * The names that are attributes (`["pi"]`), for an options checker that
 * must accept them.
 *
 * @example
 * ```ts
 * import { attributeNames } from "./attributes.ts";
 * const known = ["signal", ...attributeNames()];
 * ```
 */
export function attributeNames(
  table: AttributeTable = DEFAULT_ATTRIBUTES,
): string[] {
  return table.names;
}

/**
 * Validates attribute options and packs them into one compound buffer
 * ({@linkcode AttributeTable.pack} on {@linkcode DEFAULT_ATTRIBUTES}).
 *
 * @returns `null` when no attribute is present (plain read/write).
 * @example
 * ```ts
 * import { packAttributes } from "./attributes.ts";
 * const meta = new Uint8Array(64);
 * const packed = packAttributes(
 *   { pi: { meta, check: { guard: true, reftag: true }, seed: 2048 } },
 *   "write",
 * )!;
 * packed.mask; // 1 (IORING_RW_ATTR_FLAG_PI)
 * ```
 */
export function packAttributes(
  attrs: AttributeOptions | undefined,
  op?: OpcodeName | OpcodeSpec,
  table: AttributeTable = DEFAULT_ATTRIBUTES,
): PackedAttributes | null {
  return table.pack(attrs, op);
}

/**
 * Like {@linkcode packAttributes}, but takes a whole per-request options
 * object (`{ pi, signal, ... }`) and packs only its attribute keys.
 *
 * @example
 * ```ts
 * import { attributesFrom } from "./attributes.ts";
 * attributesFrom({ timeoutMs: 5 }, "read"); // null
 * ```
 */
export function attributesFrom(
  options: object | undefined,
  op?: OpcodeName | OpcodeSpec,
  table: AttributeTable = DEFAULT_ATTRIBUTES,
): PackedAttributes | null {
  if (!table.present(options)) return null;
  return table.pack(options, op, { pick: true });
}

/**
 * What {@linkcode applyAttributes} needs of a ring to write SQE words
 * without a view (`RingCore` has it).
 *
 * @example
 * ```ts
 * import type { SqeWordWriter } from "./attributes.ts";
 * const log: SqeWordWriter = { setSqeWord: (i, w, v) => console.log(i, w, v) };
 * ```
 */
export interface SqeWordWriter {
  /** Sets 32-bit word `word` of the SQE in slot `index`. */
  setSqeWord(index: number, word: number, value: number): void;
}

const ATTR_PTR_WORD = SQE_WORDS.attrPtr;
const ATTR_MASK_WORD = SQE_WORDS.attrTypeMask;
const TWO_32 = 0x1_0000_0000;

/**
 * Points a prepared SQE at packed attributes: `attr_ptr` = the compound
 * buffer's address, `attr_type_mask` = its mask. `null` clears both (a
 * plain read/write). Either on an {@linkcode SqeView} (what the `prep*`
 * helpers return) or on a ring and SQE slot (the Promise layer's
 * allocation-free path).
 *
 * The caller keeps `packed.buffer` and `packed.keep` alive until the
 * completion is reaped.
 *
 * @example
 * ```ts
 * import { RingCore } from "./core.ts";
 * import { applyAttributes, packAttributes } from "./attributes.ts";
 * using ring = new RingCore({ entries: 2 });
 * const data = new Uint8Array(4096);
 * const packed = packAttributes({ pi: { meta: new Uint8Array(64) } }, "write");
 * applyAttributes(ring.prepWrite(0, data, 0), packed);
 * ```
 */
export function applyAttributes(
  sqe: SqeView,
  packed: PackedAttributes | null,
): void;
/** The same, writing the SQE in slot `slot` of `ring` by 32-bit words. */
export function applyAttributes(
  ring: SqeWordWriter,
  slot: number,
  packed: PackedAttributes | null,
): void;
export function applyAttributes(
  target: SqeView | SqeWordWriter,
  slotOrPacked: number | PackedAttributes | null,
  maybePacked?: PackedAttributes | null,
): void {
  if (typeof slotOrPacked === "number") {
    const ring = target as SqeWordWriter;
    const packed = maybePacked ?? null;
    const address = packed ? addressNumber(packed.buffer) : 0;
    const mask = packed ? packed.mask : 0;
    ring.setSqeWord(slotOrPacked, ATTR_PTR_WORD, address >>> 0);
    ring.setSqeWord(
      slotOrPacked,
      ATTR_PTR_WORD + 1,
      Math.floor(address / TWO_32),
    );
    ring.setSqeWord(slotOrPacked, ATTR_MASK_WORD, mask >>> 0);
    ring.setSqeWord(
      slotOrPacked,
      ATTR_MASK_WORD + 1,
      Math.floor(mask / TWO_32),
    );
    return;
  }
  const sqe = target as SqeView;
  const packed = slotOrPacked;
  sqe.attrPtr = packed ? addressNumber(packed.buffer) : 0;
  sqe.attrTypeMask = packed ? packed.mask : 0;
}
