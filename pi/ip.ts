/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones'
 * complement sum of big-endian 16-bit words. It is the "IP" guard type of
 * T10 PI (SCSI DIX), where it is cheaper than the CRC.
 *
 * @module
 */
import { bytesToAlignment, int32Words, LITTLE_ENDIAN } from "./words.ts";

/** Words per block between folds, so a block's sum stays below 2^31. */
const WORDS_PER_FOLD = 8192;

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}

/**
 * The ones' complement sum (not yet inverted, folded to 16 bits) of
 * `data[start..end)` read as big-endian 16-bit words from `start`, added to
 * `sum`.
 *
 * @example
 * ```ts
 * import { ipSum } from "./ip.ts";
 * ipSum(new Uint8Array([0x12, 0x34, 0x56]), 0, 3, 0); // 0x6834
 * ```
 */
export function ipSum(
  data: Uint8Array,
  start: number,
  end: number,
  sum: number,
): number {
  let straight = sum;
  // Sum of little-endian halves of words: the byte-swapped sum (RFC 1071's
  // byte-order independence), swapped back once at the end.
  let swapped = 0;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 64) {
    const head = bytesToAlignment(data, i);
    for (const stop = i + head; i < stop; i++) {
      straight += (i - start) & 1 ? data[i] : data[i] << 8;
    }
    // After an odd head, each little-endian half starts at an odd offset,
    // i.e. it already holds a big-endian word boundary-shifted by one byte:
    // its value is the correctly ordered contribution.
    const oddPhase = (head & 1) === 1;
    const wordCount = (end - i) >>> 2;
    const w = int32Words(data, i, wordCount);
    let halves = 0;
    for (let j = 0; j < wordCount;) {
      const stop = Math.min(wordCount, j + WORDS_PER_FOLD);
      let block = 0;
      for (; j < stop; j++) {
        const v = w[j];
        block += (v & 0xffff) + (v >>> 16);
      }
      halves = fold(halves + block);
    }
    if (oddPhase) straight += halves;
    else swapped = halves;
    i += wordCount << 2;
  }
  for (; i < end; i++) straight += (i - start) & 1 ? data[i] : data[i] << 8;
  return fold(fold(straight) + swap16(fold(swapped)));
}

/**
 * The Internet checksum of `data` (an odd final byte is padded with zero).
 * Passing the previous result as `previous` continues it across chunks,
 * provided every earlier chunk had an even length (RFC 1071 incremental
 * update). Computing it over data that already contains a correct checksum
 * gives 0.
 *
 * @example
 * ```ts
 * import { ipChecksum } from "./ip.ts";
 * // An IPv4 header with its checksum field (bytes 10-11) zeroed.
 * const header = new Uint8Array([
 *   0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
 *   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
 * ]);
 * ipChecksum(header); // 0xB861
 * ```
 */
export function ipChecksum(data: Uint8Array, previous?: number): number {
  const start = previous === undefined ? 0 : ~previous & 0xffff;
  return ~ipSum(data, 0, data.length, start) & 0xffff;
}
