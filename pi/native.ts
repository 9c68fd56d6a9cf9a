/**
 * Chooses between ISA-L (through `ffi/`) and the TypeScript kernels for
 * CRC16 T10-DIF and CRC32C. Both give identical results; ISA-L runs at
 * memory speed (PCLMULQDQ folding) but every FFI call has a fixed cost, so
 * inputs shorter than a measured threshold stay in TypeScript.
 *
 * `URING_NO_NATIVE_CRC=1` in the environment forces TypeScript, as does
 * {@linkcode useCrcBackend}.
 *
 * @module
 */
import process from "node:process";
import { isal, U64_AS_BIGINT } from "../ffi/mod.ts";
import { crc16Register } from "./crc16.ts";
import { crc32cRegister } from "./crc32c.ts";

/**
 * Which implementation computes CRC16 T10-DIF and CRC32C.
 *
 * @example
 * ```ts
 * import type { CrcBackend } from "./native.ts";
 * const b: CrcBackend = "typescript";
 * ```
 */
export type CrcBackend = "isa-l" | "typescript";

type IsaL = NonNullable<ReturnType<typeof isal>>;

/**
 * Shortest input handed to ISA-L. Below it the FFI call costs more than the
 * TypeScript loop. Measured crossover (per-call timing, both runtimes) is
 * between 16 and 24 bytes on both runtimes (8 bytes: TypeScript 12-22 ns,
 * ISA-L 23-62 ns; 24 bytes: TypeScript 38-54 ns, ISA-L 17-30 ns).
 */
export const NATIVE_MIN_BYTES = 24;

/** `crc32_iscsi` takes an `int` length: larger inputs go in chunks. */
const ISCSI_MAX_CHUNK = 1 << 30;

/** Resolved on first use: `null` means TypeScript. */
let active: IsaL | null | undefined;

function envDisablesNative(): boolean {
  try {
    return process.env.URING_NO_NATIVE_CRC === "1";
  } catch {
    // Deno without --allow-env: treat the variable as unset.
    return false;
  }
}

function resolveDefault(): IsaL | null {
  return envDisablesNative() ? null : isal();
}

function nativeLib(): IsaL | null {
  if (active === undefined) active = resolveDefault();
  return active;
}

/**
 * The implementation currently used by {@linkcode crc16T10Dif} and
 * {@linkcode crc32c} for inputs of {@linkcode NATIVE_MIN_BYTES} or more.
 *
 * @example
 * ```ts
 * import { crcBackend } from "./native.ts";
 * console.log(crcBackend()); // "isa-l" when libisal2 is installed
 * ```
 */
export function crcBackend(): CrcBackend {
  return nativeLib() === null ? "typescript" : "isa-l";
}

/**
 * Forces an implementation, or `"auto"` to go back to the default (ISA-L
 * when installed and `URING_NO_NATIVE_CRC` is not `1`). Returns the backend
 * now in use.
 *
 * @throws {Error} when `"isa-l"` is requested but libisal2 is not installed.
 * @example
 * ```ts
 * import { crcBackend, useCrcBackend } from "./native.ts";
 * useCrcBackend("typescript");
 * crcBackend(); // "typescript"
 * useCrcBackend("auto");
 * ```
 */
export function useCrcBackend(
  backend: CrcBackend | "auto",
): CrcBackend {
  if (backend === "auto") active = resolveDefault();
  else if (backend === "typescript") active = null;
  else active = requireIsal();
  return crcBackend();
}

/**
 * Whether ISA-L could be loaded (regardless of the backend in use).
 *
 * @example
 * ```ts
 * import { nativeCrcAvailable } from "./native.ts";
 * if (!nativeCrcAvailable()) console.log("apt-get install libisal2");
 * ```
 */
export function nativeCrcAvailable(): boolean {
  return isal() !== null;
}

function requireIsal(): IsaL {
  const lib = isal();
  if (lib === null) {
    throw new Error(
      "ISA-L is not available: install the Debian package libisal2",
    );
  }
  return lib;
}

function isalCrc16(lib: IsaL, data: Uint8Array, crc: number): number {
  // ISA-L's crc16_t10dif has the same convention as the CRC itself (init
  // 0, no inversion), so the previous result is passed straight through.
  const length = data.length;
  return lib.crc16_t10dif(crc, data, U64_AS_BIGINT ? BigInt(length) : length);
}

function isalCrc32c(lib: IsaL, data: Uint8Array, crc: number): number {
  // crc32_iscsi neither inverts its init value nor its result: it returns
  // the raw register. Standard CRC32C continuation needs ~prev in, ~out.
  const length = data.length;
  if (length <= ISCSI_MAX_CHUNK) {
    return ~lib.crc32_iscsi(data, length, ~crc >>> 0) >>> 0;
  }
  let register = ~crc >>> 0;
  for (let at = 0; at < length; at += ISCSI_MAX_CHUNK) {
    const chunk = data.subarray(at, Math.min(length, at + ISCSI_MAX_CHUNK));
    register = lib.crc32_iscsi(chunk, chunk.length, register);
  }
  return ~register >>> 0;
}

/**
 * CRC16 T10-DIF (poly 0x8BB7, init 0, not reflected) of `data`, with
 * ISA-L for long inputs. Passing the previous result as `crc` continues
 * the checksum: `crc16T10Dif(b, crc16T10Dif(a))` is the CRC of `a` + `b`.
 *
 * @example
 * ```ts
 * import { crc16T10Dif } from "./native.ts";
 * crc16T10Dif(new TextEncoder().encode("123456789")); // 0xD0DB
 * ```
 */
export function crc16T10Dif(data: Uint8Array, crc = 0): number {
  const lib = active === undefined ? nativeLib() : active;
  if (lib !== null && data.length >= NATIVE_MIN_BYTES) {
    return isalCrc16(lib, data, crc & 0xffff);
  }
  return crc16Register(data, 0, data.length, crc);
}

/**
 * CRC32C (Castagnoli, reflected 0x1EDC6F41, init and final XOR all ones) of
 * `data`, with ISA-L for long inputs. Passing the previous result as `crc`
 * continues the checksum.
 *
 * @example
 * ```ts
 * import { crc32c } from "./native.ts";
 * crc32c(new TextEncoder().encode("123456789")); // 0xE3069283
 * ```
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  const lib = active === undefined ? nativeLib() : active;
  if (lib !== null && data.length >= NATIVE_MIN_BYTES) {
    return isalCrc32c(lib, data, crc);
  }
  return ~crc32cRegister(data, 0, data.length, ~crc) >>> 0;
}

/**
 * CRC16 T10-DIF through ISA-L whatever the length or backend setting: for
 * tests and benchmarks that compare implementations.
 *
 * @throws {Error} when libisal2 is not installed.
 * @example
 * ```ts
 * import { crc16T10DifNative, nativeCrcAvailable } from "./native.ts";
 * if (nativeCrcAvailable()) crc16T10DifNative(new Uint8Array(512));
 * ```
 */
export function crc16T10DifNative(data: Uint8Array, crc = 0): number {
  const lib = requireIsal();
  return data.length === 0 ? crc & 0xffff : isalCrc16(lib, data, crc & 0xffff);
}

/**
 * CRC32C through ISA-L whatever the length or backend setting.
 *
 * @throws {Error} when libisal2 is not installed.
 * @example
 * ```ts
 * import { crc32cNative, nativeCrcAvailable } from "./native.ts";
 * if (nativeCrcAvailable()) crc32cNative(new Uint8Array(512));
 * ```
 */
export function crc32cNative(data: Uint8Array, crc = 0): number {
  const lib = requireIsal();
  return data.length === 0 ? crc >>> 0 : isalCrc32c(lib, data, crc);
}

/**
 * CRC16 register update over `data[start..end)` with the active backend,
 * for the tuple generator (which works on ranges of one large buffer).
 *
 * @example
 * ```ts
 * import { crc16Range } from "./native.ts";
 * crc16Range(new Uint8Array(4096), 0, 512, 0);
 * ```
 */
export function crc16Range(
  data: Uint8Array,
  start: number,
  end: number,
  crc: number,
): number {
  const lib = active === undefined ? nativeLib() : active;
  if (lib !== null && end - start >= NATIVE_MIN_BYTES) {
    return isalCrc16(lib, data.subarray(start, end), crc & 0xffff);
  }
  return crc16Register(data, start, end, crc);
}

/**
 * CRC32C (standard, inverted) over `data[start..end)` with the active
 * backend, continuing from `crc`.
 *
 * @example
 * ```ts
 * import { crc32cRange } from "./native.ts";
 * crc32cRange(new Uint8Array(4096), 0, 512, 0);
 * ```
 */
export function crc32cRange(
  data: Uint8Array,
  start: number,
  end: number,
  crc: number,
): number {
  const lib = active === undefined ? nativeLib() : active;
  if (lib !== null && end - start >= NATIVE_MIN_BYTES) {
    return isalCrc32c(lib, data.subarray(start, end), crc);
  }
  return ~crc32cRegister(data, start, end, ~crc) >>> 0;
}
