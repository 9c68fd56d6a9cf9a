// Property tests (fast-check) for the checksums and the PI tuples.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  crc16T10Dif,
  crc16T10DifNative,
  crc16T10DifPortable,
  crc32c,
  crc32cNative,
  crc32cPortable,
  crc64Nvme,
  generatePi,
  ipChecksum,
  nativeCrcAvailable,
  type PiFormatOptions,
  type PiGuard,
  piMetadataLength,
  piTupleSize,
  verifyPi,
} from "../pi/mod.ts";
import { refCrc16, refCrc32c, refCrc64, refIp } from "./pi_reference.ts";

const HAVE_ISAL = nativeCrcAvailable();
const bytes = fc.uint8Array({ maxLength: 2048, size: "max" });
/** The same bytes at an arbitrary offset inside a larger buffer. */
const shifted = fc.tuple(bytes, fc.nat({ max: 15 })).map(([data, shift]) => {
  const backing = new Uint8Array(data.length + shift);
  backing.set(data, shift);
  return backing.subarray(shift);
});

test("property: every implementation equals the bitwise reference", () => {
  fc.assert(
    fc.property(
      shifted,
      fc.nat({ max: 0xffff }),
      fc.nat(),
      (data, p16, p32) => {
        const want16 = refCrc16(data, p16), want32 = refCrc32c(data, p32 >>> 0);
        assert.equal(crc16T10DifPortable(data, p16), want16);
        assert.equal(crc16T10Dif(data, p16), want16);
        assert.equal(crc32cPortable(data, p32 >>> 0), want32);
        assert.equal(crc32c(data, p32 >>> 0), want32);
        if (HAVE_ISAL) {
          assert.equal(crc16T10DifNative(data, p16), want16);
          assert.equal(crc32cNative(data, p32 >>> 0), want32);
        }
        assert.equal(ipChecksum(data), refIp(data));
      },
    ),
  );
});

test("property: CRC64-NVMe equals the bitwise reference", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300, size: "max" }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      (data, prev) => {
        assert.equal(crc64Nvme(data, prev), refCrc64(data, prev));
      },
    ),
    { numRuns: 60 },
  );
});

test("property: continuation at any split point", () => {
  fc.assert(
    fc.property(shifted, fc.nat(), (data, at) => {
      const cut = data.length === 0 ? 0 : at % (data.length + 1);
      const a = data.subarray(0, cut), b = data.subarray(cut);
      assert.equal(crc16T10Dif(b, crc16T10Dif(a)), crc16T10Dif(data));
      assert.equal(crc32c(b, crc32c(a)), crc32c(data));
      assert.equal(crc64Nvme(b, crc64Nvme(a)), crc64Nvme(data));
      const even = cut & ~1;
      assert.equal(
        ipChecksum(data.subarray(even), ipChecksum(data.subarray(0, even))),
        ipChecksum(data),
      );
    }),
  );
});

test("property: CRCs are affine: f(x ^ y) = f(x) ^ f(y) ^ f(zeros)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 1024, size: "max" }),
      fc.integer(),
      (x, s) => {
        const y = x.map((v, i) => (v * 31 + i + s) & 255);
        const xy = x.map((v, i) => v ^ y[i]);
        const zero = new Uint8Array(x.length);
        assert.equal(
          crc16T10Dif(xy),
          crc16T10Dif(x) ^ crc16T10Dif(y) ^ crc16T10Dif(zero),
        );
        assert.equal(crc32c(xy), (crc32c(x) ^ crc32c(y) ^ crc32c(zero)) >>> 0);
        assert.equal(
          crc64Nvme(xy),
          crc64Nvme(x) ^ crc64Nvme(y) ^ crc64Nvme(zero),
        );
      },
    ),
  );
});

test("property: data followed by its IP checksum sums to zero", () => {
  fc.assert(
    fc.property(bytes, (raw) => {
      const data = raw.subarray(0, raw.length & ~1);
      const sum = ipChecksum(data);
      const framed = new Uint8Array(data.length + 2);
      framed.set(data);
      framed[data.length] = sum >> 8;
      framed[data.length + 1] = sum & 255;
      assert.equal(ipChecksum(framed), 0);
    }),
  );
});

const guardArb = fc.constantFrom<PiGuard>(
  "crc16-t10dif",
  "ip",
  "crc32c",
  "crc64-nvme",
);
const formatArb = fc.record({
  guard: guardArb,
  interval: fc.constantFrom(512, 1024, 4096),
  type: fc.constantFrom(1 as const, 2 as const, 3 as const),
  seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  appTag: fc.nat({ max: 0xfffe }),
  extra: fc.nat({ max: 24 }),
  offsetPick: fc.nat(),
  intervals: fc.integer({ min: 1, max: 6 }),
}).map((f): [PiFormatOptions, number] => {
  const tuple = piTupleSize(f.guard);
  const metadataSize = tuple + f.extra;
  return [{
    guard: f.guard,
    interval: f.interval,
    refTag: { type: f.type, seed: f.seed },
    appTag: f.appTag,
    metadataSize,
    piOffset: f.offsetPick % (f.extra + 1),
  }, f.intervals];
});

test("property: generatePi then verifyPi succeeds for any format", () => {
  fc.assert(
    fc.property(formatArb, fc.integer(), ([opts, count], fill) => {
      const data = Uint8Array.from(
        { length: count * opts.interval },
        (_, i) => (i * 7 + fill) & 255,
      );
      const meta = new Uint8Array(piMetadataLength(data.length, opts)).fill(
        fill & 255,
      );
      generatePi(data, meta, opts);
      const result = verifyPi(data, meta, opts);
      assert.deepEqual(result, { ok: true, intervals: count, bad: [] });
    }),
    { numRuns: 200 },
  );
});

test("property: any corrupted data byte fails exactly its interval's guard", () => {
  fc.assert(
    fc.property(
      formatArb,
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      ([opts, count], at, flip) => {
        const data = Uint8Array.from(
          { length: count * opts.interval },
          (_, i) => (i * 13) & 255,
        );
        const meta = new Uint8Array(piMetadataLength(data.length, opts));
        generatePi(data, meta, opts);
        const where = at % data.length;
        data[where] ^= flip;
        const { ok, bad } = verifyPi(data, meta, opts);
        assert.equal(ok, false);
        assert.deepEqual(
          bad.map((b) => [b.index, b.field]),
          [[Math.floor(where / opts.interval), "guard"]],
        );
      },
    ),
    { numRuns: 200 },
  );
});
