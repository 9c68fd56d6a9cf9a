// PI tuples: exact byte layout, round trips for every guard and ref-tag type,
// every single-bit flip caught at the right interval and field, escapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  crc16T10Dif,
  crc32c,
  crc64Nvme,
  generatePi,
  ipChecksum,
  nativeCrcAvailable,
  type PiFormatOptions,
  type PiGuard,
  piMetadataLength,
  piTupleSize,
  useCrcBackend,
  verifyPi,
} from "../pi/mod.ts";
import { Random, testSeed } from "./pi_reference.ts";

const GUARDS: PiGuard[] = ["crc16-t10dif", "ip", "crc32c", "crc64-nvme"];
const CHECK = new TextEncoder().encode("123456789");
const seed = testSeed();
console.log(`pi_tuples_test.ts: PI_TEST_SEED=${seed}`);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

test("tuple sizes and metadata lengths", () => {
  assert.equal(piTupleSize("crc16-t10dif"), 8);
  assert.equal(piTupleSize("ip"), 8);
  assert.equal(piTupleSize("crc64-nvme"), 16);
  assert.equal(piTupleSize("crc32c"), 16);
  assert.throws(() => piTupleSize("md5" as PiGuard), RangeError);
  assert.equal(
    piMetadataLength(4096, { guard: "crc64-nvme", interval: 512 }),
    128,
  );
  assert.equal(
    piMetadataLength(8192, { guard: "ip", interval: 4096, metadataSize: 64 }),
    128,
  );
});

test("byte layout of each tuple format, big-endian (interval = '123456789')", () => {
  const opts = {
    interval: 9,
    appTag: 0xabcd,
    refTag: { type: 1, seed: 0x1122334455 },
  } as const;
  const meta8 = new Uint8Array(8), meta16 = new Uint8Array(16);
  generatePi(CHECK, meta8, { ...opts, guard: "crc16-t10dif" });
  // Guard = check value, app tag, ref tag = low 32 bits of the seed.
  assert.equal(hex(meta8), "d0db" + "abcd" + "22334455");
  generatePi(CHECK, meta8, { ...opts, guard: "ip" });
  assert.equal(
    hex(meta8),
    ipChecksum(CHECK).toString(16).padStart(4, "0") + "abcd22334455",
  );
  generatePi(CHECK, meta16, { ...opts, guard: "crc64-nvme" });
  // 64-bit guard, app tag @8, 48-bit ref tag @10.
  assert.equal(hex(meta16), "ae8b14860a799888" + "abcd" + "001122334455");
  generatePi(CHECK, meta16, {
    ...opts,
    guard: "crc32c",
    storageTag: 0xcafef00d,
  });
  // 32-bit guard, app tag @4, storage tag @6, 48-bit ref tag @10.
  assert.equal(hex(meta16), "e3069283" + "abcd" + "cafef00d" + "001122334455");
});

test("Type 1 at LBA 2048, 512 B intervals: ref tags 2048..2055 (the NVMe capture)", () => {
  const data = new Random(seed).bytes(4096);
  const meta = new Uint8Array(64);
  generatePi(data, meta, {
    guard: "crc16-t10dif",
    interval: 512,
    refTag: { type: 1, seed: 2048 },
  });
  const view = new DataView(meta.buffer);
  for (let i = 0; i < 8; i++) {
    assert.equal(
      view.getUint16(i * 8),
      crc16T10Dif(data.subarray(i * 512, i * 512 + 512)),
    );
    assert.equal(view.getUint16(i * 8 + 2), 0);
    assert.equal(view.getUint32(i * 8 + 4), 2048 + i);
  }
});

test("guards equal the checksum of each interval for every format", () => {
  const data = new Random(seed ^ 1).bytes(8192);
  for (const guard of GUARDS) {
    const meta = new Uint8Array(2 * piTupleSize(guard) * 4);
    generatePi(data, meta, { guard, interval: 2048 });
    const view = new DataView(meta.buffer);
    for (let i = 0; i < 4; i++) {
      const chunk = data.subarray(i * 2048, (i + 1) * 2048);
      const at = i * piTupleSize(guard);
      const actual = guard === "crc64-nvme"
        ? view.getBigUint64(at)
        : guard === "crc32c"
        ? view.getUint32(at)
        : view.getUint16(at);
      const expected = guard === "crc16-t10dif"
        ? crc16T10Dif(chunk)
        : guard === "ip"
        ? ipChecksum(chunk)
        : guard === "crc32c"
        ? crc32c(chunk)
        : crc64Nvme(chunk);
      assert.equal(actual, expected, `${guard} interval ${i}`);
    }
  }
});

test("generate -> verify round trip for every guard, ref-tag type, interval and layout", () => {
  const rnd = new Random(seed ^ 2);
  for (const guard of GUARDS) {
    const tuple = piTupleSize(guard);
    const layouts = [
      {},
      { metadataSize: 64 },
      { metadataSize: 64, piOffset: 64 - tuple },
      { metadataSize: tuple + 8, piOffset: 3 },
    ];
    for (const type of [1, 2, 3] as const) {
      for (const interval of [512, 4096]) {
        for (const layout of layouts) {
          const count = 1 + rnd.int(5);
          const data = rnd.bytes(count * interval);
          const opts: PiFormatOptions = {
            guard,
            interval,
            refTag: { type, seed: rnd.next() * 7 },
            appTag: rnd.int(0xffff),
            ...layout,
          };
          const meta = rnd.bytes(
            piMetadataLength(data.length, opts) + rnd.int(9),
          );
          generatePi(data, meta, opts);
          const where = JSON.stringify(opts);
          const result = verifyPi(data, meta, opts);
          assert.deepEqual(
            result,
            { ok: true, intervals: count, bad: [] },
            where,
          );
        }
      }
    }
  }
});

test("results are identical with ISA-L and with the TypeScript backend", {
  skip: nativeCrcAvailable() ? false : "libisal2 is not installed",
}, () => {
  const data = new Random(seed ^ 3).bytes(16384);
  try {
    for (const guard of ["crc16-t10dif", "crc32c"] as const) {
      for (const interval of [512, 4096]) {
        const opts = { guard, interval, metadataSize: 32, piOffset: 8 };
        const native = new Uint8Array(piMetadataLength(data.length, opts));
        const portable = native.slice();
        useCrcBackend("isa-l");
        generatePi(data, native, opts);
        useCrcBackend("typescript");
        generatePi(data, portable, opts);
        assert.deepEqual(native, portable, `${guard} ${interval}`);
        assert.equal(verifyPi(data, native, opts).ok, true);
      }
    }
  } finally {
    useCrcBackend("auto");
  }
});

test("ref tags wrap at 32 bits (8 B tuples) and 48 bits (16 B tuples)", () => {
  const data = new Uint8Array(4 * 512);
  const meta8 = new Uint8Array(32), meta16 = new Uint8Array(64);
  generatePi(data, meta8, {
    guard: "crc16-t10dif",
    interval: 512,
    refTag: { type: 1, seed: 0xfffffffe },
  });
  const v8 = new DataView(meta8.buffer);
  assert.deepEqual([0, 1, 2, 3].map((i) => v8.getUint32(i * 8 + 4)), [
    0xfffffffe,
    0xffffffff,
    0,
    1,
  ]);
  const seed48 = (1n << 48n) - 2n + (5n << 48n); // high bits above 48 are dropped
  generatePi(data, meta16, {
    guard: "crc64-nvme",
    interval: 512,
    refTag: { type: 2, seed: seed48 },
  });
  const v16 = new DataView(meta16.buffer);
  const ref48 = (i: number) =>
    v16.getUint16(i * 16 + 10) * 2 ** 32 + v16.getUint32(i * 16 + 12);
  assert.deepEqual([0, 1, 2, 3].map(ref48), [2 ** 48 - 2, 2 ** 48 - 1, 0, 1]);
  assert.equal(
    verifyPi(data, meta16, {
      guard: "crc64-nvme",
      interval: 512,
      refTag: { type: 2, seed: seed48 },
    }).ok,
    true,
  );
});

test("Type 3 writes the seed unchanged and does not check ref tags", () => {
  const data = new Uint8Array(2048);
  const meta = new Uint8Array(32);
  const opts = {
    guard: "crc16-t10dif",
    interval: 512,
    refTag: { type: 3, seed: 77 },
  } as const;
  generatePi(data, meta, opts);
  const view = new DataView(meta.buffer);
  assert.deepEqual([0, 1, 2, 3].map((i) => view.getUint32(i * 8 + 4)), [
    77,
    77,
    77,
    77,
  ]);
  view.setUint32(12, 12345);
  assert.equal(verifyPi(data, meta, opts).ok, true);
  assert.throws(
    () => verifyPi(data, meta, { ...opts, check: { refTag: true } }),
    /Type 3/,
  );
});

/** Expected failing field for a flipped byte of a tuple. */
function fieldAt(guard: PiGuard, byte: number): string {
  if (piTupleSize(guard) === 8) {
    return byte < 2 ? "guard" : byte < 4 ? "appTag" : "refTag";
  }
  if (guard === "crc64-nvme") {
    return byte < 8 ? "guard" : byte < 10 ? "appTag" : "refTag";
  }
  return byte < 4
    ? "guard"
    : byte < 6
    ? "appTag"
    : byte < 10
    ? "storageTag"
    : "refTag";
}

for (const guard of GUARDS) {
  test(`${guard}: every single-bit flip in 4 KiB of data or its metadata is caught at the right interval and field`, () => {
    const interval = 512;
    const data = new Random(seed ^ 4).bytes(4096);
    const opts = {
      guard,
      interval,
      appTag: 0x1234,
      refTag: { type: 1, seed: 1000 },
    } as const;
    const meta = new Uint8Array(piMetadataLength(4096, opts));
    generatePi(data, meta, opts);
    for (let byte = 0; byte < data.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        data[byte] ^= 1 << bit;
        const { ok, bad } = verifyPi(data, meta, opts);
        data[byte] ^= 1 << bit;
        if (
          ok || bad.length !== 1 || bad[0].index !== (byte >> 9) ||
          bad[0].field !== "guard"
        ) {
          assert.fail(
            `data byte ${byte} bit ${bit}: ${
              JSON.stringify(
                bad,
                (_, v) => typeof v === "bigint" ? String(v) : v,
              )
            }`,
          );
        }
      }
    }
    const tuple = piTupleSize(guard);
    for (let byte = 0; byte < meta.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        meta[byte] ^= 1 << bit;
        const { ok, bad } = verifyPi(data, meta, opts);
        meta[byte] ^= 1 << bit;
        const index = Math.floor(byte / tuple),
          field = fieldAt(guard, byte % tuple);
        if (
          ok || bad.length !== 1 || bad[0].index !== index ||
          bad[0].field !== field
        ) {
          assert.fail(
            `meta byte ${byte} bit ${bit}: want ${field}@${index}, got ${
              JSON.stringify(
                bad,
                (_, v) => typeof v === "bigint" ? String(v) : v,
              )
            }`,
          );
        }
        assert.equal(bad[0].offset, index * interval);
      }
    }
  });
}

test("every bad interval is reported with expected and actual values", () => {
  const data = new Random(seed ^ 5).bytes(8 * 512);
  const opts = {
    guard: "crc64-nvme",
    interval: 512,
    appTag: 7,
    refTag: { type: 1, seed: 10 },
  } as const;
  const meta = new Uint8Array(128);
  generatePi(data, meta, opts);
  const good = meta.slice();
  data[2 * 512 + 100] ^= 0x80; // interval 2: guard
  const view = new DataView(meta.buffer);
  view.setUint16(5 * 16 + 8, 8); // interval 5: app tag
  view.setUint32(7 * 16 + 12, 99); // interval 7: ref tag
  view.setBigUint64(7 * 16, 1n); // and its guard
  const result = verifyPi(data, meta, opts);
  assert.equal(result.ok, false);
  assert.equal(result.intervals, 8);
  const guard2 = new DataView(good.buffer).getBigUint64(2 * 16);
  assert.deepEqual(result.bad, [
    {
      index: 2,
      offset: 1024,
      field: "guard",
      expected: crc64Nvme(data.subarray(1024, 1536)),
      actual: guard2,
    },
    { index: 5, offset: 2560, field: "appTag", expected: 7, actual: 8 },
    {
      index: 7,
      offset: 3584,
      field: "guard",
      expected: crc64Nvme(data.subarray(3584)),
      actual: 1n,
    },
    { index: 7, offset: 3584, field: "refTag", expected: 17, actual: 99 },
  ]);
});

test("escape: app tag 0xFFFF skips the interval for Types 1 and 2", () => {
  for (const guard of GUARDS) {
    for (const type of [1, 2] as const) {
      const data = new Uint8Array(1024);
      const opts = {
        guard,
        interval: 512,
        appTag: 5,
        refTag: { type, seed: 3 },
      };
      const meta = new Uint8Array(piMetadataLength(1024, opts));
      generatePi(data, meta, opts);
      const tuple = piTupleSize(guard);
      const appAt = tuple === 8 ? 2 : guard === "crc64-nvme" ? 8 : 4;
      data[600] = 1; // interval 1 guard is now wrong
      meta.fill(0x55, tuple, tuple + appAt); // and its guard bytes
      meta.fill(0x55, tuple + appAt + 2, 2 * tuple); // and its ref tag
      assert.equal(verifyPi(data, meta, opts).ok, false);
      new DataView(meta.buffer).setUint16(tuple + appAt, 0xffff);
      assert.deepEqual(verifyPi(data, meta, opts), {
        ok: true,
        intervals: 2,
        bad: [],
      }, `${guard} type ${type}`);
    }
  }
});

test("escape for Type 3 needs app tag 0xFFFF and an all-ones ref tag", () => {
  for (const guard of GUARDS) {
    const data = new Uint8Array(1024);
    const opts = { guard, interval: 512, refTag: { type: 3 } } as const;
    const meta = new Uint8Array(piMetadataLength(1024, opts));
    generatePi(data, meta, opts);
    const tuple = piTupleSize(guard);
    const appAt = tuple === 8 ? 2 : guard === "crc64-nvme" ? 8 : 4;
    const refAt = tuple === 8 ? 4 : 10;
    data[0] = 1; // interval 0 guard is now wrong
    const view = new DataView(meta.buffer);
    view.setUint16(appAt, 0xffff);
    const onlyApp = verifyPi(data, meta, opts);
    assert.deepEqual(
      onlyApp.bad.map((b) => [b.index, b.field]),
      [[0, "guard"]],
      guard,
    );
    meta.fill(0xff, refAt, tuple);
    assert.equal(verifyPi(data, meta, opts).ok, true, guard);
  }
});

test("never-written blocks (all-ones metadata) pass for every type", () => {
  for (const guard of GUARDS) {
    for (const type of [1, 2, 3] as const) {
      const data = new Random(seed ^ 6).bytes(2048);
      const opts = { guard, interval: 512, refTag: { type, seed: 9 } };
      const meta = new Uint8Array(piMetadataLength(2048, opts)).fill(0xff);
      assert.equal(
        verifyPi(data, meta, opts).ok,
        true,
        `${guard} type ${type}`,
      );
    }
  }
});

test("guard covers the opaque metadata before the tuple, not after it", () => {
  const data = new Random(seed ^ 7).bytes(1024);
  for (const guard of GUARDS) {
    const tuple = piTupleSize(guard);
    const opts = {
      guard,
      interval: 512,
      metadataSize: tuple + 16,
      piOffset: 8,
    };
    const meta = new Random(seed ^ 8).bytes(piMetadataLength(1024, opts));
    generatePi(data, meta, opts);
    const prefix = meta.subarray(0, 8);
    const first = data.subarray(0, 512);
    const view = new DataView(meta.buffer, meta.byteOffset);
    const expected = guard === "crc16-t10dif"
      ? crc16T10Dif(prefix, crc16T10Dif(first))
      : guard === "ip"
      ? ipChecksum(prefix, ipChecksum(first))
      : guard === "crc32c"
      ? crc32c(prefix, crc32c(first))
      : crc64Nvme(prefix, crc64Nvme(first));
    const actual = guard === "crc64-nvme"
      ? view.getBigUint64(8)
      : tuple === 16
      ? view.getUint32(8)
      : view.getUint16(8);
    assert.equal(actual, expected, guard);
    meta[8 + tuple] ^= 1; // after the tuple: not covered
    assert.equal(verifyPi(data, meta, opts).ok, true, guard);
    meta[3] ^= 1; // before the tuple: covered by the guard
    const bad = verifyPi(data, meta, opts).bad;
    assert.deepEqual(bad.map((b) => [b.index, b.field]), [[0, "guard"]], guard);
  }
});

test("app tag mask and selective checks", () => {
  const data = new Uint8Array(1024);
  const meta = new Uint8Array(16);
  generatePi(data, meta, {
    guard: "crc16-t10dif",
    interval: 512,
    appTag: 0x12ab,
  });
  const base = { guard: "crc16-t10dif", interval: 512 } as const;
  assert.equal(verifyPi(data, meta, { ...base, appTag: 0x12ab }).ok, true);
  assert.equal(verifyPi(data, meta, { ...base, appTag: 0x12ff }).ok, false);
  assert.equal(
    verifyPi(data, meta, { ...base, appTag: 0x12ff, appTagMask: 0xff00 }).ok,
    true,
  );
  assert.equal(verifyPi(data, meta, { ...base, appTag: 0x99 }).bad.length, 2);
  assert.equal(
    verifyPi(data, meta, { ...base, appTag: 0x99, check: { appTag: false } })
      .ok,
    true,
  );
  data[0] = 1;
  assert.equal(
    verifyPi(data, meta, { ...base, check: { guard: false } }).ok,
    true,
  );
  assert.equal(
    verifyPi(data, meta, {
      ...base,
      refTag: { type: 1, seed: 5 },
      check: { guard: false },
    }).bad[0].field,
    "refTag",
  );
});

test("invalid options and lengths throw RangeError", () => {
  const base = { guard: "crc16-t10dif", interval: 512 } as const;
  const data = new Uint8Array(1024), meta = new Uint8Array(16);
  assert.throws(() => generatePi(new Uint8Array(1000), meta, base), /multiple/);
  assert.throws(
    () => generatePi(data, new Uint8Array(15), base),
    /metadata buffer/,
  );
  assert.throws(
    () => generatePi(data, meta, { ...base, interval: 0 }),
    RangeError,
  );
  assert.throws(
    () => generatePi(data, meta, { ...base, metadataSize: 8, piOffset: 1 }),
    /does not fit/,
  );
  assert.throws(
    () => generatePi(data, meta, { ...base, appTag: 0x10000 }),
    /appTag/,
  );
  assert.throws(
    () => generatePi(data, meta, { ...base, refTag: { type: 4 as 1 } }),
    /type/,
  );
  assert.throws(
    () => generatePi(data, meta, { ...base, refTag: { type: 1, seed: -1 } }),
    /negative/,
  );
  assert.throws(
    () => verifyPi(data, meta, { ...base, check: { appTag: true } }),
    /appTag/,
  );
  // Zero intervals are fine: nothing to do, nothing wrong.
  assert.deepEqual(verifyPi(new Uint8Array(0), new Uint8Array(0), base), {
    ok: true,
    intervals: 0,
    bad: [],
  });
});
