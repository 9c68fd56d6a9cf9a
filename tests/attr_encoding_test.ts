// Read/write attributes without the kernel: the PI struct byte for byte, the
// compound buffer of several attributes (with test-only kinds at higher type
// bits), option validation, the opcode rule, and how applyAttributes fills
// SQE bytes 48-63.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addressNumber } from "../ffi/mod.ts";
import {
  applyAttributes,
  attributeNames,
  attributesFrom,
  AttributeTable,
  packAttributes,
} from "../ring/attributes.ts";
import { type AttributeKind, defineAttribute } from "../ring/attribute_kind.ts";
import { PI_ATTRIBUTE, piCheckFlags } from "../ring/pi_attribute.ts";
import { type OpcodeName, OPCODES } from "../ring/ops.ts";
import { SqeView } from "../structs/sqe.ts";

function le64(value: bigint): number[] {
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((value >> (8n * i)) & 0xffn));
  return out;
}

/** The 32 bytes of struct io_uring_attr_pi, written out by hand. */
function piBytes(
  flags: number,
  appTag: number,
  meta: Uint8Array,
  seed: bigint,
): number[] {
  const len = meta.byteLength;
  return [
    flags & 0xff,
    flags >> 8,
    appTag & 0xff,
    appTag >> 8,
    len & 0xff,
    (len >> 8) & 0xff,
    (len >> 16) & 0xff,
    len >>> 24,
    ...le64(BigInt(addressNumber(meta))),
    ...le64(seed),
    ...le64(0n), // rsvd
  ];
}

// Test-only kinds: nothing the kernel knows, to check the compound layout.
const STREAM: AttributeKind<number> = defineAttribute({
  name: "stream",
  bit: 1,
  size: 16,
  validate(v, name) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`${name} must be a u16`);
    }
    return v;
  },
  encode(v, bytes) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setUint16(0, v, true);
    dv.setUint32(8, 0xa5a5a5a5, true);
  },
});

const HINT: AttributeKind<number> = defineAttribute({
  name: "hint",
  bit: 3,
  size: 8,
  validate: (v) => v as number,
  encode(v, bytes) {
    bytes.fill(v & 0xff);
  },
});

test("PI attribute: 32 bytes, every field where io_uring_attr_pi has it, rsvd 0", () => {
  const meta = new Uint8Array(64);
  const seed = 0x1122334455667788n;
  const packed = packAttributes({
    pi: { meta, check: { guard: true, reftag: true }, appTag: 0x1234, seed },
  }, "write")!;
  assert.equal(packed.mask, 1);
  assert.equal(packed.buffer.byteLength, 32);
  assert.deepEqual([...packed.buffer], piBytes(0x3, 0x1234, meta, seed));
  assert.deepEqual(packed.keep, [meta]);
  assert.equal(packed.pi?.flags, 3);
  assert.equal(packed.pi?.seed, seed);
  assert.equal(packed.values.pi, packed.pi);
});

test("PI attribute defaults: no checks, app tag 0, seed 0", () => {
  const meta = new Uint8Array(8);
  const packed = packAttributes({ pi: { meta } })!;
  assert.deepEqual([...packed.buffer], piBytes(0, 0, meta, 0n));
});

test("compound buffer: attributes in type-bit order, back to back, mask = OR of bits", () => {
  const table = new AttributeTable([HINT, PI_ATTRIBUTE, STREAM]);
  assert.deepEqual(table.names, ["pi", "stream", "hint"]);
  const meta = new Uint8Array(16);
  // Given in another order than the type bits: the buffer must not care.
  const packed = table.pack({
    hint: 0x7e,
    stream: 0xbeef,
    pi: { meta, check: 7, appTag: 0xffff, seed: 5 },
  }, "writev")!;
  assert.equal(packed.mask, 0b1011);
  const expected = [
    ...piBytes(7, 0xffff, meta, 5n), // bit 0 at byte 0
    ...[0xef, 0xbe, 0, 0, 0, 0, 0, 0, 0xa5, 0xa5, 0xa5, 0xa5, 0, 0, 0, 0], // bit 1 at 32
    ...Array(8).fill(0x7e), // bit 3 at 48
  ];
  assert.deepEqual([...packed.buffer], expected);
  assert.deepEqual(packed.keep, [meta]);
});

test("compound buffer: an absent attribute leaves no hole", () => {
  const table = new AttributeTable([PI_ATTRIBUTE, STREAM, HINT]);
  const packed = table.pack({ hint: 1, stream: 2 })!;
  assert.equal(packed.mask, 0b1010);
  assert.equal(packed.buffer.byteLength, 24);
  assert.deepEqual(
    [...packed.buffer],
    [
      2,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0xa5,
      0xa5,
      0xa5,
      0xa5,
      0,
      0,
      0,
      0,
      ...Array(8)
        .fill(1),
    ],
  );
  assert.equal(packed.pi, undefined);
});

test("attribute table refuses duplicate names and type bits", () => {
  const table = new AttributeTable([PI_ATTRIBUTE]);
  assert.throws(() => table.define(PI_ATTRIBUTE), TypeError);
  assert.throws(
    () => table.define({ ...STREAM, name: "other", bit: 0 }),
    /type bit 0 is already pi/,
  );
  assert.throws(
    () => table.define({ ...STREAM, name: "pi", bit: 9 }),
    TypeError,
  );
});

const BAD_KINDS: [string, Partial<AttributeKind<number>>, RegExp][] = [
  ["bit 53", { bit: 53 }, /bit must be from 0 to 52/],
  ["negative bit", { bit: -1 }, /bit must be/],
  ["size not a multiple of 8", { size: 12 }, /multiple of 8/],
  ["size 0", { size: 0 }, /multiple of 8/],
  ["name not an identifier", { name: "a b" }, /identifier/],
  ["encode missing", { encode: undefined }, /functions/],
];
for (const [label, change, message] of BAD_KINDS) {
  test(`defineAttribute refuses ${label}`, () => {
    assert.throws(
      () => defineAttribute({ ...STREAM, ...change } as AttributeKind<number>),
      message,
    );
  });
}

const meta = new Uint8Array(64);
const INVALID: [string, unknown, ErrorConstructor, RegExp][] = [
  [
    "unknown attribute name",
    { pie: { meta } },
    TypeError,
    /unknown attribute "pie"/,
  ],
  ["attributes not an object", 5, TypeError, /must be an object/],
  ["pi null", { pi: null }, TypeError, /pi must be an object/],
  ["pi a number", { pi: 1 }, TypeError, /pi must be an object/],
  [
    "unknown pi key",
    { pi: { meta, apptag: 1 } },
    TypeError,
    /unknown option "apptag"/,
  ],
  ["meta missing", { pi: {} }, TypeError, /pi\.meta must be a Uint8Array/],
  ["meta an array", { pi: { meta: [1, 2] } }, TypeError, /pi\.meta/],
  [
    "meta a Uint16Array",
    { pi: { meta: new Uint16Array(4) } },
    TypeError,
    /pi\.meta/,
  ],
  ["meta empty", { pi: { meta: new Uint8Array(0) } }, RangeError, /empty/],
  ["appTag above u16", { pi: { meta, appTag: 0x10000 } }, RangeError, /u16/],
  ["appTag negative", { pi: { meta, appTag: -1 } }, RangeError, /u16/],
  ["appTag fractional", { pi: { meta, appTag: 1.5 } }, RangeError, /u16/],
  ["appTag a string", { pi: { meta, appTag: "1" } }, TypeError, /appTag/],
  ["seed negative", { pi: { meta, seed: -1 } }, RangeError, /seed/],
  [
    "seed unsafe number",
    { pi: { meta, seed: 2 ** 53 } },
    RangeError,
    /safe integer/,
  ],
  ["seed fractional", { pi: { meta, seed: 0.5 } }, RangeError, /seed/],
  ["seed above u64", { pi: { meta, seed: 1n << 64n } }, RangeError, /u64/],
  ["seed negative bigint", { pi: { meta, seed: -1n } }, RangeError, /u64/],
  ["seed a string", { pi: { meta, seed: "5" } }, TypeError, /seed/],
  [
    "check bit 3",
    { pi: { meta, check: 8 } },
    RangeError,
    /outside IO_INTEGRITY_CHK/,
  ],
  ["check 2^32", { pi: { meta, check: 2 ** 32 } }, RangeError, /outside/],
  ["check negative", { pi: { meta, check: -1 } }, RangeError, /outside/],
  [
    "check fractional",
    { pi: { meta, check: 1.5 } },
    TypeError,
    /integer or an object/,
  ],
  [
    "check unknown name",
    { pi: { meta, check: { crc: true } } },
    TypeError,
    /unknown option "crc"/,
  ],
  [
    "check camelCase name",
    { pi: { meta, check: { refTag: true } } },
    TypeError,
    /unknown option "refTag"/,
  ],
  [
    "check value not boolean",
    { pi: { meta, check: { guard: 1 } } },
    TypeError,
    /must be a boolean/,
  ],
  [
    "check a string",
    { pi: { meta, check: "guard" } },
    TypeError,
    /must be an object/,
  ],
];
for (const [label, attrs, ErrorClass, message] of INVALID) {
  test(`invalid attributes: ${label} → ${ErrorClass.name}`, () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => packAttributes(attrs as any, "write"),
      (e: unknown) =>
        e instanceof ErrorClass && message.test((e as Error).message),
    );
  });
}

const VALID: [string, Record<string, unknown>, number, number, bigint][] = [
  ["u16 max app tag", { appTag: 0xffff }, 0, 0xffff, 0n],
  ["largest safe seed", { seed: 2 ** 53 - 1 }, 0, 0, 2n ** 53n - 1n],
  ["u64 max seed", { seed: (1n << 64n) - 1n }, 0, 0, (1n << 64n) - 1n],
  ["all check bits", { check: 7 }, 7, 0, 0n],
  [
    "named checks",
    { check: { guard: true, reftag: false, apptag: true } },
    5,
    0,
    0n,
  ],
  ["empty check object", { check: {} }, 0, 0, 0n],
];
for (const [label, extra, flags, appTag, seed] of VALID) {
  test(`valid PI options: ${label}`, () => {
    const packed = packAttributes({ pi: { meta, ...extra } }, "read")!;
    assert.equal(packed.pi?.flags, flags);
    assert.equal(packed.pi?.appTag, appTag);
    assert.equal(packed.pi?.seed, seed);
  });
}

test("piCheckFlags maps names to IO_INTEGRITY_CHK_* bits", () => {
  assert.equal(piCheckFlags(undefined), 0);
  assert.equal(piCheckFlags({ guard: true }), 1);
  assert.equal(piCheckFlags({ reftag: true }), 2);
  assert.equal(piCheckFlags({ apptag: true }), 4);
});

test("attributes only on opcodes whose table row takes them", () => {
  for (const [name, spec] of Object.entries(OPCODES)) {
    const pack = () => packAttributes({ pi: { meta } }, name as OpcodeName);
    if (spec.attributes) assert.equal(pack()!.mask, 1, name);
    else assert.throws(pack, /does not take read\/write attributes/, name);
  }
  assert.deepEqual(
    Object.values(OPCODES).filter((s) => s.attributes).map((s) => s.name),
    ["read", "write", "readv", "writev", "read_fixed", "write_fixed"],
  );
});

test("no attribute → null; attributesFrom picks attribute keys from wider options", () => {
  assert.equal(packAttributes(undefined), null);
  assert.equal(packAttributes({}), null);
  assert.equal(packAttributes({ pi: undefined }), null);
  assert.equal(attributesFrom({ timeoutMs: 5 }, "read"), null);
  assert.equal(attributesFrom(undefined, "read"), null);
  const packed = attributesFrom({ timeoutMs: 5, pi: { meta } }, "read");
  assert.equal(packed?.mask, 1);
  assert.throws(() => attributesFrom({ pi: { meta } }, "fsync"), TypeError);
  assert.deepEqual(attributeNames(), ["pi"]);
});

test("applyAttributes on an SqeView sets attr_ptr (byte 48) and attr_type_mask (byte 56)", () => {
  const bytes = new Uint8Array(64).fill(0xcc);
  const sqe = new SqeView(bytes);
  const packed = packAttributes({ pi: { meta } })!;
  applyAttributes(sqe, packed);
  assert.equal(sqe.attrPtr, BigInt(addressNumber(packed.buffer)));
  assert.equal(sqe.attrTypeMask, 1n);
  assert.deepEqual([...bytes.subarray(0, 48)], Array(48).fill(0xcc));
  applyAttributes(sqe, null);
  assert.deepEqual([...bytes.subarray(48)], Array(16).fill(0));
});

test("applyAttributes on (ring, slot) writes the same words as on a view", () => {
  const table = new AttributeTable([PI_ATTRIBUTE, STREAM, HINT]);
  const packed = table.pack({ pi: { meta }, hint: 3 })!;
  const words = new Uint32Array(32); // two 64-byte SQE slots
  const ring = {
    setSqeWord(index: number, word: number, value: number) {
      words[index * 16 + word] = value;
    },
  };
  applyAttributes(ring, 1, packed);
  const viaView = new SqeView(new Uint8Array(64));
  applyAttributes(viaView, packed);
  assert.deepEqual(
    new Uint8Array(words.buffer, 64 + 48, 16),
    viaView.bytes.subarray(48, 64),
  );
  assert.deepEqual([...words.subarray(0, 16)], Array(16).fill(0));
  assert.equal(words[16 + 14], 0b1001);
});
