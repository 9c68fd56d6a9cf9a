/**
 * Test helpers for the pi/ tests: bit-at-a-time reference checksums written
 * straight from the definitions in shared/KERNEL.md (no tables, no shared
 * constants with pi/), and a seeded random generator so a failing case can
 * be replayed from the seed printed in its message.
 *
 * @module
 */
import process from "node:process";

/**
 * Reverses the low `bits` bits of `value`: turns a polynomial as written in
 * the specifications into the constant of a reflected (LSB-first) register.
 *
 * @example
 * ```ts
 * import { reflect } from "./pi_reference.ts";
 * reflect(0x1EDC6F41n, 32); // 0x82F63B78n
 * ```
 */
export function reflect(value: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits; i++) {
    if ((value >> BigInt(i)) & 1n) out |= 1n << BigInt(bits - 1 - i);
  }
  return out;
}

/**
 * CRC16 T10-DIF bit by bit: poly 0x8BB7, MSB first, init 0, no final XOR.
 *
 * @example
 * ```ts
 * import { refCrc16 } from "./pi_reference.ts";
 * refCrc16(new TextEncoder().encode("123456789")); // 0xD0DB
 * ```
 */
export function refCrc16(data: Uint8Array, crc = 0): number {
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x8bb7) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

const CRC32C_REFLECTED = Number(reflect(0x1edc6f41n, 32));

/**
 * CRC32C bit by bit: reflected 0x1EDC6F41, init and final XOR all ones.
 *
 * @example
 * ```ts
 * import { refCrc32c } from "./pi_reference.ts";
 * refCrc32c(new TextEncoder().encode("123456789")); // 0xE3069283
 * ```
 */
export function refCrc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? (c >>> 1) ^ CRC32C_REFLECTED : c >>> 1;
    }
  }
  return ~c >>> 0;
}

const MASK64 = (1n << 64n) - 1n;
const CRC64_REFLECTED = reflect(0xad93d23594c93659n, 64);

/**
 * CRC64-NVMe bit by bit with BigInt: reflected 0xAD93D23594C93659, init
 * and final XOR all ones. Slow (about 100 ns per bit): keep inputs small.
 *
 * @example
 * ```ts
 * import { refCrc64 } from "./pi_reference.ts";
 * refCrc64(new TextEncoder().encode("123456789")); // 0xAE8B14860A799888n
 * ```
 */
export function refCrc64(data: Uint8Array, crc = 0n): bigint {
  let c = ~crc & MASK64;
  for (const byte of data) {
    c ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1n ? (c >> 1n) ^ CRC64_REFLECTED : c >> 1n;
    }
  }
  return ~c & MASK64;
}

/**
 * RFC 1071 checksum the long way: big-endian 16-bit words, an odd last byte
 * padded with zero, end-around carry, complement.
 *
 * @example
 * ```ts
 * import { refIp } from "./pi_reference.ts";
 * refIp(new Uint8Array([0x00, 0x01, 0xf2, 0x03])); // 0x0DFC
 * ```
 */
export function refIp(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) {
    sum += (data[i] << 8) | (i + 1 < data.length ? data[i + 1] : 0);
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

/**
 * A small deterministic generator (xorshift32) for reproducible random
 * cases.
 *
 * @example
 * ```ts
 * import { Random } from "./pi_reference.ts";
 * const rnd = new Random(42);
 * rnd.int(10); // 0..9
 * ```
 */
export class Random {
  #state: number;
  constructor(readonly seed: number) {
    this.#state = seed | 0 || 1;
  }
  /** The next 32-bit value. */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x;
    return x >>> 0;
  }
  /** An integer in `[0, bound)`. */
  int(bound: number): number {
    return Math.floor((this.next() / 2 ** 32) * bound);
  }
  /** `length` random bytes at a random offset (0..15) of a larger buffer. */
  bytes(length: number): Uint8Array {
    const offset = this.int(16);
    const backing = new Uint8Array(offset + length + this.int(16));
    for (let i = 0; i < backing.length; i++) backing[i] = this.next() & 255;
    return backing.subarray(offset, offset + length);
  }
}

/**
 * A seed for a test run: fixed when `PI_TEST_SEED` is set, else from the
 * clock. Printed by the tests that use it.
 *
 * @example
 * ```ts
 * import { testSeed } from "./pi_reference.ts";
 * const seed = testSeed();
 * ```
 */
export function testSeed(): number {
  const fixed = process.env.PI_TEST_SEED;
  return fixed ? Number(fixed) : (Date.now() % 2 ** 31) | 1;
}
