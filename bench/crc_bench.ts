/**
 * Checksum and PI tuple throughput, with the ratios the targets of issue 4
 * are about. Run through `bash bench/crc.sh` (compiles bench/crc_ref.c and
 * runs this file on Deno and Bun), or directly:
 *
 *     deno run -A bench/crc_bench.ts      bun bench/crc_bench.ts
 *
 * ISA-L from C is read from `bench/out/crc_ref` when it has been built.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  crc16T10DifNative,
  crc16T10DifPortable,
  crc32cNative,
  crc32cPortable,
  crc64Backend,
  crc64Nvme,
  generatePi,
  ipChecksum,
  nativeCrcAvailable,
  type PiGuard,
  piMetadataLength,
  useCrcBackend,
  verifyPi,
} from "../pi/mod.ts";
import { runtimeName } from "../ffi/mod.ts";

// ---------------------------------------------------------------------------
// Baselines: the plain slicing-by-8 loops a JavaScript CRC library typically
// ships (byte reads, one table of 8 x 256), for the "≥ 1.3x" and "≥ 1.6x"
// targets.

const S8_CRC32C = new Int32Array(8 * 256);
for (let v = 0; v < 256; v++) {
  let c = v;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  S8_CRC32C[v] = c;
}
for (let i = 256; i < 2048; i++) {
  const p = S8_CRC32C[i - 256];
  S8_CRC32C[i] = (p >>> 8) ^ S8_CRC32C[p & 255];
}

/**
 * Slicing-by-8 CRC32C, reading bytes: the baseline.
 *
 * @example
 * ```ts
 * baselineCrc32c(new TextEncoder().encode("123456789")); // 0xE3069283
 * ```
 */
export function baselineCrc32c(d: Uint8Array): number {
  const t = S8_CRC32C;
  let crc = -1, i = 0;
  const n = d.length;
  for (; i + 8 <= n; i += 8) {
    const a = crc ^
      (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24));
    crc = t[1792 + (a & 255)] ^ t[1536 + ((a >>> 8) & 255)] ^
      t[1280 + ((a >>> 16) & 255)] ^ t[1024 + (a >>> 24)] ^ t[768 + d[i + 4]] ^
      t[512 + d[i + 5]] ^ t[256 + d[i + 6]] ^ t[d[i + 7]];
  }
  for (; i < n; i++) crc = (crc >>> 8) ^ t[(crc ^ d[i]) & 255];
  return ~crc >>> 0;
}

const S8_LO = new Int32Array(8 * 256), S8_HI = new Int32Array(8 * 256);
for (let v = 0; v < 256; v++) {
  let lo = v, hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | (hi << 31);
    hi >>>= 1;
    if (carry) {
      lo ^= 0xac4bc9b5 | 0;
      hi ^= 0x9a6c9329 | 0;
    }
  }
  S8_LO[v] = lo;
  S8_HI[v] = hi;
}
for (let i = 256; i < 2048; i++) {
  const pl = S8_LO[i - 256], ph = S8_HI[i - 256];
  S8_LO[i] = ((pl >>> 8) | (ph << 24)) ^ S8_LO[pl & 255];
  S8_HI[i] = (ph >>> 8) ^ S8_HI[pl & 255];
}

/**
 * Slicing-by-8 CRC64-NVMe in two 32-bit halves, reading bytes: the
 * baseline for the CRC64 target. Returns the low half (enough to keep the
 * work from being optimised away).
 *
 * @example
 * ```ts
 * baselineCrc64Low(new TextEncoder().encode("123456789")); // 0x0A799888
 * ```
 */
export function baselineCrc64Low(d: Uint8Array): number {
  const L = S8_LO, H = S8_HI;
  let lo = -1, hi = -1, i = 0;
  const n = d.length;
  for (; i + 8 <= n; i += 8) {
    const l = lo ^
      (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24));
    const h = hi ^
      (d[i + 4] | (d[i + 5] << 8) | (d[i + 6] << 16) | (d[i + 7] << 24));
    const x7 = 1792 + (l & 255), x6 = 1536 + ((l >>> 8) & 255);
    const x5 = 1280 + ((l >>> 16) & 255), x4 = 1024 + (l >>> 24);
    const x3 = 768 + (h & 255), x2 = 512 + ((h >>> 8) & 255);
    const x1 = 256 + ((h >>> 16) & 255), x0 = h >>> 24;
    lo = L[x7] ^ L[x6] ^ L[x5] ^ L[x4] ^ L[x3] ^ L[x2] ^ L[x1] ^ L[x0];
    hi = H[x7] ^ H[x6] ^ H[x5] ^ H[x4] ^ H[x3] ^ H[x2] ^ H[x1] ^ H[x0];
  }
  for (; i < n; i++) {
    const x = (lo ^ d[i]) & 255;
    lo = ((lo >>> 8) | (hi << 24)) ^ L[x];
    hi = (hi >>> 8) ^ H[x];
  }
  return ~lo >>> 0;
}

// ---------------------------------------------------------------------------

/**
 * Best rate in GB/s over 5 rounds of at least `roundMs` each, for a
 * function that processes `bytes` per call.
 *
 * @example
 * ```ts
 * measure(1 << 20, () => baselineCrc32c(new Uint8Array(1 << 20)));
 * ```
 */
export function measure(
  bytes: number,
  fn: () => unknown,
  roundMs = 60,
): number {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT tiers
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      fn();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < roundMs);
    best = Math.max(best, (bytes * calls) / (elapsed * 1e6));
  }
  return best;
}

const MIB = 1 << 20;
const backing = new Uint8Array(MIB + 64);
let x = 2463534242;
for (let i = 0; i < backing.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  backing[i] = x & 255;
}
const data = backing.subarray(0, MIB);
const haveIsal = nativeCrcAvailable();

interface CRef {
  crc16_1m: number;
  crc32c_1m: number;
  crc16_512: number;
  crc32c_512: number;
  crc16_4k: number;
  crc32c_4k: number;
}

function readCRef(): CRef | null {
  const binary = fileURLToPath(new URL("./out/crc_ref", import.meta.url));
  if (!existsSync(binary)) return null;
  return JSON.parse(execFileSync(binary, { encoding: "utf8" })) as CRef;
}

const rows: string[][] = [];
function row(name: string, gbps: number, note = ""): void {
  rows.push([name, gbps.toFixed(2), note]);
}
function ratio(a: number, b: number, target: number): string {
  const r = a / b;
  return `${r.toFixed(2)}x (target >= ${target}x: ${
    r >= target ? "met" : "MISSED"
  })`;
}

const cRef = readCRef();
const base32 = measure(MIB, () => baselineCrc32c(data));
const base64 = measure(MIB, () => baselineCrc64Low(data));
row("baseline slicing-by-8 CRC32C (JS)", base32);
row("baseline slicing-by-8 CRC64 (JS, 2x32)", base64);
if (cRef) {
  row("ISA-L from C: crc16_t10dif 1 MiB", cRef.crc16_1m);
  row("ISA-L from C: crc32_iscsi 1 MiB", cRef.crc32c_1m);
}

const native16 = haveIsal ? measure(MIB, () => crc16T10DifNative(data)) : 0;
const native32 = haveIsal ? measure(MIB, () => crc32cNative(data)) : 0;
if (haveIsal) {
  row(
    "crc16T10Dif ISA-L (FFI) 1 MiB",
    native16,
    cRef ? "vs C " + ratio(native16, cRef.crc16_1m, 0.8) : "",
  );
  row(
    "crc32c ISA-L (FFI) 1 MiB",
    native32,
    cRef ? "vs C " + ratio(native32, cRef.crc32c_1m, 0.8) : "",
  );
}
const ts16 = measure(MIB, () => crc16T10DifPortable(data));
const ts32 = measure(MIB, () => crc32cPortable(data));
const ts64 = measure(MIB, () => crc64Nvme(data));
row(
  "crc16T10Dif TypeScript 1 MiB",
  ts16,
  "vs s8 CRC32C " + ratio(ts16, base32, 1.3),
);
row(
  "crc32c TypeScript 1 MiB",
  ts32,
  "vs s8 CRC32C " + ratio(ts32, base32, 1.3),
);
row(
  `crc64Nvme ${crc64Backend()} 1 MiB (fallback path)`,
  ts64,
  "vs s8 CRC64 " + ratio(ts64, base64, 1.6),
);
crc64Backend("typescript");
const ts64Only = measure(MIB, () => crc64Nvme(data));
crc64Backend("auto");
row(
  "crc64Nvme TypeScript-only loop 1 MiB",
  ts64Only,
  "vs s8 CRC64 " + ratio(ts64Only, base64, 1.6),
);
row("ipChecksum TypeScript 1 MiB", measure(MIB, () => ipChecksum(data)));

const rawSpeed: Record<string, number> = {
  "crc16-t10dif": haveIsal ? native16 : ts16,
  crc32c: haveIsal ? native32 : ts32,
  "crc64-nvme": ts64,
  ip: 0,
};
rawSpeed.ip = measure(MIB, () => ipChecksum(data));

const guards: PiGuard[] = ["crc16-t10dif", "crc32c", "crc64-nvme", "ip"];
for (
  const backend of haveIsal
    ? ["isa-l", "typescript"] as const
    : ["typescript"] as const
) {
  useCrcBackend(backend);
  for (const guard of guards) {
    const native = guard === "crc16-t10dif" || guard === "crc32c";
    if (backend === "typescript" && !native && haveIsal) continue; // same code
    const raw = backend === "typescript" && native
      ? (guard === "crc16-t10dif" ? ts16 : ts32)
      : rawSpeed[guard];
    const label = native ? `${guard} (${backend})` : guard;
    for (const interval of [512, 4096]) {
      const opts = {
        guard,
        interval,
        refTag: { type: 1 as const, seed: 2048 },
      };
      const meta = new Uint8Array(piMetadataLength(MIB, opts));
      const gen = measure(MIB, () => generatePi(data, meta, opts));
      const ver = measure(MIB, () => verifyPi(data, meta, opts));
      const genNote = interval === 4096
        ? "vs raw " + ratio(gen, raw, 0.5)
        : `${(gen / raw).toFixed(2)}x raw`;
      row(`generatePi ${label} ${interval} B`, gen, genNote);
      row(
        `verifyPi ${label} ${interval} B`,
        ver,
        `${(ver / raw).toFixed(2)}x raw`,
      );
    }
  }
}
useCrcBackend("auto");
if (cRef) {
  row("ISA-L from C: crc16_t10dif per 512 B", cRef.crc16_512);
  row("ISA-L from C: crc16_t10dif per 4 KiB", cRef.crc16_4k);
  row("ISA-L from C: crc32_iscsi per 512 B", cRef.crc32c_512);
  row("ISA-L from C: crc32_iscsi per 4 KiB", cRef.crc32c_4k);
}

console.log(`\n## ${runtimeName} (GB/s, 1 MiB buffer, best of 5)\n`);
console.log("| what | GB/s | ratio |\n|---|---:|---|");
for (const [name, gbps, note] of rows) {
  console.log(`| ${name} | ${gbps} | ${note} |`);
}
if (!cRef) {
  console.log("\n(bench/out/crc_ref not built: run bash bench/crc.sh)");
}
if (!haveIsal) console.log("\n(libisal2 not installed: native rows skipped)");
