// The Internet checksum (the "ip" guard): known packets, the long-hand
// reference on random data, and incremental continuation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ipChecksum } from "../pi/mod.ts";
import { Random, refIp, testSeed } from "./pi_reference.ts";

const seed = testSeed();
console.log(`pi_ip_test.ts: PI_TEST_SEED=${seed}`);

function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: digits.length / 2 },
    (_, i) => parseInt(digits.slice(2 * i, 2 * i + 2), 16),
  );
}

test("IPv4 header: checksum field 0xB861 (checksum zeroed, then verified)", () => {
  const header = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
  assert.equal(ipChecksum(header), 0); // a correct header sums to 0
  header[10] = header[11] = 0;
  assert.equal(ipChecksum(header), 0xb861);
  assert.equal(refIp(header), 0xb861);
});

test("IPv4 header of a TCP SYN: checksum field 0xB1E6", () => {
  const header = hex("4500 003c 1c46 4000 4006 b1e6 ac10 0a63 ac10 0a0c");
  assert.equal(ipChecksum(header), 0);
  header[10] = header[11] = 0;
  assert.equal(ipChecksum(header), 0xb1e6);
});

test("RFC 1071 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xDDF2", () => {
  const data = hex("0001 f203 f4f5 f6f7");
  assert.equal(ipChecksum(data), ~0xddf2 & 0xffff);
  // An odd length pads the last byte with zero on the right.
  assert.equal(
    ipChecksum(hex("0001 f203 f4f5 f6")),
    refIp(hex("0001f203f4f5f6")),
  );
  assert.equal(ipChecksum(hex("ab")), ~0xab00 & 0xffff);
  assert.equal(ipChecksum(new Uint8Array(0)), 0xffff);
});

test("long runs of 0xFF fold correctly (end-around carry)", () => {
  for (const n of [64, 4096, 65536, 1 << 20, (1 << 20) + 3]) {
    const data = new Uint8Array(n).fill(0xff);
    assert.equal(ipChecksum(data), refIp(data), `length ${n}`);
    assert.equal(ipChecksum(data.subarray(1)), refIp(data.subarray(1)));
  }
});

test("agrees with the long-hand reference, random lengths 0..64 KiB at random offsets", () => {
  const rnd = new Random(seed);
  const lengths = [0, 1, 2, 3, 4, 5, 63, 64, 65, 66, 67, 68];
  for (let i = 0; i < 40; i++) lengths.push(rnd.int(65537));
  for (const length of lengths) {
    const data = rnd.bytes(length);
    const where = `length ${length} offset ${data.byteOffset} seed ${seed}`;
    assert.equal(ipChecksum(data), refIp(data), where);
  }
});

test("continuation across random even split points", () => {
  const rnd = new Random(seed ^ 0x1071);
  for (let round = 0; round < 60; round++) {
    const data = rnd.bytes(rnd.int(10000));
    const cut = rnd.int(data.length + 1) & ~1;
    const first = ipChecksum(data.subarray(0, cut));
    assert.equal(
      ipChecksum(data.subarray(cut), first),
      ipChecksum(data),
      `length ${data.length} cut ${cut} seed ${seed}`,
    );
  }
});
