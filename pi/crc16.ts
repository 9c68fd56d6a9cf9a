/**
 * CRC16 T10-DIF in TypeScript: the 16-bit guard of T10 PI and NVMe 16b PI.
 * Polynomial 0x8BB7, not reflected, init 0, no final XOR.
 *
 * Slicing-by-32 reading 32-bit words, like the CRC32C loop; the table holds
 * 16-bit entries so all 32 slices take 16 KiB.
 *
 * @module
 */
import { bytesToAlignment, int32Words, LITTLE_ENDIAN } from "./words.ts";

const SLICES = 32;

/**
 * `TABLE[k * 256 + v]`: the register after byte `v` followed by `k` zero
 * bytes, starting from 0 (MSB-first, so a byte enters at the top).
 */
const TABLE: Uint16Array = buildTable(0x8bb7, SLICES);

function buildTable(poly: number, slices: number): Uint16Array {
  const table = new Uint16Array(256 * slices);
  for (let v = 0; v < 256; v++) {
    let c = v << 8;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 0x8000 ? ((c << 1) ^ poly) & 0xffff : (c << 1) & 0xffff;
    }
    table[v] = c;
  }
  for (let k = 1; k < slices; k++) {
    for (let v = 0; v < 256; v++) {
      const prev = table[(k - 1) * 256 + v];
      table[k * 256 + v] = ((prev << 8) & 0xffff) ^ table[prev >>> 8];
    }
  }
  return table;
}

/**
 * Feeds `data[start..end)` into a CRC16 T10-DIF register (no inversion in
 * this CRC, so register and result are the same value).
 *
 * @example
 * ```ts
 * import { crc16Register } from "./crc16.ts";
 * const data = new TextEncoder().encode("123456789");
 * crc16Register(data, 0, data.length, 0); // 0xD0DB
 * ```
 */
export function crc16Register(
  data: Uint8Array,
  start: number,
  end: number,
  register: number,
): number {
  const T = TABLE;
  let crc = register & 0xffff;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 64) {
    const head = bytesToAlignment(data, i);
    for (const stop = i + head; i < stop; i++) {
      crc = ((crc << 8) & 0xffff) ^ T[(crc >>> 8) ^ data[i]];
    }
    const wordCount = ((end - i) >>> 5) << 3;
    const w = int32Words(data, i, wordCount);
    for (let j = 0; j < wordCount; j += 8) {
      // The register lines up with the first two bytes of the block, high
      // byte first; in a little-endian word those are its two low bytes.
      const a = w[j] ^ ((crc >>> 8) | ((crc & 255) << 8));
      const b = w[j + 1], c = w[j + 2], d = w[j + 3];
      const e = w[j + 4], f = w[j + 5], g = w[j + 6], h = w[j + 7];
      // Byte p of the block uses table 31 - p.
      crc = T[7936 + (a & 255)] ^
        T[7680 + ((a >>> 8) & 255)] ^
        T[7424 + ((a >>> 16) & 255)] ^
        T[7168 + (a >>> 24)] ^
        T[6912 + (b & 255)] ^
        T[6656 + ((b >>> 8) & 255)] ^
        T[6400 + ((b >>> 16) & 255)] ^
        T[6144 + (b >>> 24)] ^
        T[5888 + (c & 255)] ^
        T[5632 + ((c >>> 8) & 255)] ^
        T[5376 + ((c >>> 16) & 255)] ^
        T[5120 + (c >>> 24)] ^
        T[4864 + (d & 255)] ^
        T[4608 + ((d >>> 8) & 255)] ^
        T[4352 + ((d >>> 16) & 255)] ^
        T[4096 + (d >>> 24)] ^
        T[3840 + (e & 255)] ^
        T[3584 + ((e >>> 8) & 255)] ^
        T[3328 + ((e >>> 16) & 255)] ^
        T[3072 + (e >>> 24)] ^
        T[2816 + (f & 255)] ^
        T[2560 + ((f >>> 8) & 255)] ^
        T[2304 + ((f >>> 16) & 255)] ^
        T[2048 + (f >>> 24)] ^
        T[1792 + (g & 255)] ^
        T[1536 + ((g >>> 8) & 255)] ^
        T[1280 + ((g >>> 16) & 255)] ^
        T[1024 + (g >>> 24)] ^
        T[768 + (h & 255)] ^
        T[512 + ((h >>> 8) & 255)] ^
        T[256 + ((h >>> 16) & 255)] ^
        T[h >>> 24];
    }
    i += wordCount << 2;
  }
  for (; i < end; i++) crc = ((crc << 8) & 0xffff) ^ T[(crc >>> 8) ^ data[i]];
  return crc;
}

/**
 * CRC16 T10-DIF of `data` in TypeScript only. Passing the previous result as
 * `crc` continues the checksum across chunks.
 *
 * @example
 * ```ts
 * import { crc16T10DifPortable } from "./crc16.ts";
 * crc16T10DifPortable(new TextEncoder().encode("123456789")); // 0xD0DB
 * ```
 */
export function crc16T10DifPortable(data: Uint8Array, crc = 0): number {
  return crc16Register(data, 0, data.length, crc);
}
