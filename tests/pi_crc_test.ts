// Checksums: check values, every implementation against the bit-at-a-time
// references, continuation, backend selection and the ISA-L conventions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import {
  crc16T10Dif,
  crc16T10DifNative,
  crc16T10DifPortable,
  crc32c,
  crc32cNative,
  crc32cPortable,
  crc64Backend,
  crc64Nvme,
  crcBackend,
  NATIVE_MIN_BYTES,
  nativeCrcAvailable,
  useCrcBackend,
} from "../pi/mod.ts";
import { isal } from "../ffi/mod.ts";
import {
  Random,
  refCrc16,
  refCrc32c,
  refCrc64,
  reflect,
  testSeed,
} from "./pi_reference.ts";

const CHECK = new TextEncoder().encode("123456789");
const HAVE_ISAL = nativeCrcAvailable();
const NO_ISAL = HAVE_ISAL ? false : "libisal2 is not installed";
if (!HAVE_ISAL) {
  console.log("SKIP ISA-L tests in pi_crc_test.ts: libisal2 is not installed");
}

const seed = testSeed();
console.log(`pi_crc_test.ts: PI_TEST_SEED=${seed}`);

test("reference polynomials reflect to the usual constants", () => {
  assert.equal(reflect(0x1edc6f41n, 32), 0x82f63b78n);
  assert.equal(reflect(0xad93d23594c93659n, 64), 0x9a6c9329ac4bc9b5n);
});

test("check values of '123456789' (references and portable)", () => {
  assert.equal(refCrc16(CHECK), 0xd0db);
  assert.equal(refCrc32c(CHECK), 0xe3069283);
  assert.equal(refCrc64(CHECK), 0xae8b14860a799888n);
  assert.equal(crc16T10DifPortable(CHECK), 0xd0db);
  assert.equal(crc32cPortable(CHECK), 0xe3069283);
  assert.equal(crc64Nvme(CHECK), 0xae8b14860a799888n);
});

test("check values through the default backend", () => {
  assert.equal(crc16T10Dif(CHECK), 0xd0db);
  assert.equal(crc32c(CHECK), 0xe3069283);
});

test("check values through ISA-L", { skip: NO_ISAL }, () => {
  assert.equal(crc16T10DifNative(CHECK), 0xd0db);
  assert.equal(crc32cNative(CHECK), 0xe3069283);
});

test("empty input returns the previous value unchanged", () => {
  const empty = new Uint8Array(0);
  assert.equal(crc16T10Dif(empty), 0);
  assert.equal(crc16T10Dif(empty, 0x1234), 0x1234);
  assert.equal(crc32c(empty), 0);
  assert.equal(crc32c(empty, 0xdeadbeef), 0xdeadbeef);
  assert.equal(crc64Nvme(empty), 0n);
  assert.equal(crc64Nvme(empty, 0x0123456789abcdefn), 0x0123456789abcdefn);
  assert.equal(crc16T10DifPortable(empty, 7), 7);
  assert.equal(crc32cPortable(empty, 7), 7);
});

test("known vectors: 32 zero bytes and 32 0xFF bytes", () => {
  // Well-known CRC32C test vectors (RFC 3720, B.4).
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(crc32c(ascending), 0x46dd794e);
  // A T10-DIF guard of an all-zero interval is 0 (init 0, no XOR).
  assert.equal(crc16T10Dif(new Uint8Array(512)), 0);
});

test("ISA-L raw conventions: crc32_iscsi is the uninverted register", {
  skip: NO_ISAL,
}, () => {
  const lib = isal()!;
  // Standard CRC32C = ~register(init = ~prev): check value with prev 0.
  assert.equal(lib.crc32_iscsi(CHECK, 9, 0xffffffff) >>> 0, ~0xe3069283 >>> 0);
  // And a continuation: the raw result feeds the next call directly.
  const a = CHECK.subarray(0, 4), b = CHECK.subarray(4);
  const raw = lib.crc32_iscsi(b, b.length, lib.crc32_iscsi(a, 4, 0xffffffff));
  assert.equal(~raw >>> 0, 0xe3069283);
  // crc16_t10dif: init 0, the result is the CRC, continuation is direct.
  assert.equal(lib.crc16_t10dif(0, CHECK, 9n), 0xd0db);
  assert.equal(lib.crc16_t10dif(lib.crc16_t10dif(0, a, 4n), b, 5n), 0xd0db);
});

test("CRC16 and CRC32C: all paths agree with the bitwise reference, random lengths 0..64 KiB at random offsets", () => {
  const rnd = new Random(seed);
  const lengths = [0, 1, 2, 3, 15, 16, 23, 24, 31, 32, 33, 63, 64, 65, 127];
  for (let i = 0; i < 24; i++) lengths.push(rnd.int(65537));
  for (const length of lengths) {
    const data = rnd.bytes(length);
    const prev16 = rnd.int(0x10000), prev32 = rnd.next();
    const where = `length ${length} offset ${data.byteOffset} seed ${seed}`;
    const want16 = refCrc16(data, prev16), want32 = refCrc32c(data, prev32);
    assert.equal(crc16T10DifPortable(data, prev16), want16, where);
    assert.equal(crc32cPortable(data, prev32), want32, where);
    assert.equal(crc16T10Dif(data, prev16), want16, where);
    assert.equal(crc32c(data, prev32), want32, where);
    if (HAVE_ISAL) {
      assert.equal(crc16T10DifNative(data, prev16), want16, where);
      assert.equal(crc32cNative(data, prev32), want32, where);
    }
  }
});

test("CRC64-NVMe agrees with the bitwise reference, random lengths at random offsets", () => {
  const rnd = new Random(seed ^ 0x64);
  // The BigInt reference is slow: many short lengths (every alignment and
  // loop boundary) and a few long ones up to 64 KiB.
  const lengths: number[] = [];
  for (let n = 0; n <= 80; n++) lengths.push(n);
  lengths.push(65536);
  for (let i = 0; i < 12; i++) lengths.push(rnd.int(65537));
  for (const length of lengths) {
    const data = rnd.bytes(length);
    const prev = BigInt(rnd.next()) << 32n | BigInt(rnd.next());
    const where = `length ${length} offset ${data.byteOffset} seed ${seed}`;
    assert.equal(crc64Nvme(data, prev), refCrc64(data, prev), where);
  }
});

test("continuation across random split points: f(b, f(a)) === f(a + b)", () => {
  const rnd = new Random(seed ^ 0x5317);
  for (let round = 0; round < 40; round++) {
    const data = rnd.bytes(rnd.int(round < 20 ? 300 : 20000));
    const cut = rnd.int(data.length + 1);
    const a = data.subarray(0, cut), b = data.subarray(cut);
    const where = `length ${data.length} cut ${cut} seed ${seed}`;
    assert.equal(crc16T10Dif(b, crc16T10Dif(a)), crc16T10Dif(data), where);
    assert.equal(crc32c(b, crc32c(a)), crc32c(data), where);
    assert.equal(crc64Nvme(b, crc64Nvme(a)), crc64Nvme(data), where);
    assert.equal(
      crc16T10DifPortable(b, crc16T10DifPortable(a)),
      crc16T10Dif(data),
      where,
    );
    assert.equal(crc32cPortable(b, crc32cPortable(a)), crc32c(data), where);
    if (HAVE_ISAL) {
      // Mixed: the first chunk native, the second portable, and back.
      assert.equal(
        crc16T10DifPortable(b, crc16T10DifNative(a)),
        crc16T10Dif(data),
        where,
      );
      assert.equal(crc32cNative(b, crc32cPortable(a)), crc32c(data), where);
    }
  }
});

test("useCrcBackend switches implementations in one process", () => {
  const data = new Random(seed).bytes(4096);
  try {
    assert.equal(useCrcBackend("typescript"), "typescript");
    assert.equal(crcBackend(), "typescript");
    const ts16 = crc16T10Dif(data), ts32 = crc32c(data);
    const auto = useCrcBackend("auto");
    const wantAuto = HAVE_ISAL && process.env.URING_NO_NATIVE_CRC !== "1"
      ? "isa-l"
      : "typescript";
    assert.equal(auto, wantAuto);
    assert.equal(crc16T10Dif(data), ts16);
    assert.equal(crc32c(data), ts32);
    if (HAVE_ISAL) {
      assert.equal(useCrcBackend("isa-l"), "isa-l");
      assert.equal(crc16T10Dif(data), ts16);
    } else {
      assert.throws(() => useCrcBackend("isa-l"), /libisal2/);
    }
  } finally {
    useCrcBackend("auto");
  }
});

test("NATIVE_MIN_BYTES boundary gives identical results on both sides", () => {
  const rnd = new Random(seed ^ 0xb0);
  for (
    const n of [NATIVE_MIN_BYTES - 1, NATIVE_MIN_BYTES, NATIVE_MIN_BYTES + 1]
  ) {
    const data = rnd.bytes(n);
    assert.equal(crc16T10Dif(data), refCrc16(data));
    assert.equal(crc32c(data), refCrc32c(data));
  }
});

const isDeno = "Deno" in globalThis;

test("URING_NO_NATIVE_CRC=1 forces the TypeScript backend", () => {
  const url = new URL("../pi/mod.ts", import.meta.url).href;
  const code = `import { crcBackend, crc32c } from ${JSON.stringify(url)};` +
    `console.log(crcBackend(), crc32c(new Uint8Array(4096)));`;
  const args = isDeno ? ["eval", code] : ["-e", code];
  const run = (env: Record<string, string | undefined>) =>
    execFileSync(process.execPath, args, {
      env: { ...process.env, ...env },
      encoding: "utf8",
    }).trim();
  const forced = run({ URING_NO_NATIVE_CRC: "1" });
  assert.equal(forced, `typescript ${crc32c(new Uint8Array(4096))}`);
  const normal = run({ URING_NO_NATIVE_CRC: "0" });
  const backend = HAVE_ISAL ? "isa-l" : "typescript";
  assert.equal(normal, `${backend} ${crc32c(new Uint8Array(4096))}`);
});

test("CRC64-NVMe: WebAssembly and TypeScript kernels agree with the reference", () => {
  const rnd = new Random(seed ^ 0x6464);
  const cases = [0, 255, 256, 257, 4096, 65536 + 5, 70000];
  for (let i = 0; i < 6; i++) cases.push(rnd.int(65537));
  const inputs = cases.map((n) => rnd.bytes(n));
  const want = inputs.map((data) => refCrc64(data, 0x1234n));
  try {
    for (const backend of ["auto", "typescript"] as const) {
      const active = crc64Backend(backend);
      if (backend === "typescript") assert.equal(active, "typescript");
      inputs.forEach((data, i) => {
        const where = `${active} length ${data.length} seed ${seed}`;
        assert.equal(crc64Nvme(data, 0x1234n), want[i], where);
      });
    }
  } finally {
    crc64Backend("auto");
  }
  assert.equal(crc64Backend(), "wasm"); // both runtimes have WebAssembly
});
