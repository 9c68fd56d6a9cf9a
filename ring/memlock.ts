/**
 * Registered buffers and RLIMIT_MEMLOCK: the bytes a registration pins,
 * and the error that says so when the limit refuses it.
 *
 * @module
 */
import { MemlockError } from "./setup_errors.ts";
import { ENOMEM } from "../structs/errno.ts";
import {
  memlockLimit,
  readIoUringEnvironment,
} from "./io_uring_environment.ts";

/**
 * A byte count in words: "64 KiB (65536 bytes)".
 *
 * @example
 * ```ts
 * import { bytesInWords } from "./memlock.ts";
 * bytesInWords(65536); // "64 KiB (65536 bytes)"
 * ```
 */
export function bytesInWords(bytes: number): string {
  if (bytes === Infinity) return "unlimited";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} bytes`;
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${shown} ${units[unit]} (${bytes} bytes)`;
}

/**
 * Bytes the kernel pins for `buffers`: each buffer's span rounded out to
 * whole pages (registration pins pages, not bytes).
 *
 * @example
 * ```ts
 * import { pinnedBytes } from "./memlock.ts";
 * pinnedBytes([new Uint8Array(100)]); // 4096 (or 8192 if it crosses a page)
 * ```
 */
export function pinnedBytes(
  buffers: readonly ArrayBufferView[],
  addressOf?: (view: ArrayBufferView) => number,
  pageSize = 4096,
): number {
  let total = 0;
  for (const buf of buffers) {
    if (!ArrayBuffer.isView(buf) || buf.byteLength === 0) continue;
    const start = addressOf ? addressOf(buf) : 0;
    const first = Math.floor(start / pageSize);
    const last = Math.ceil((start + buf.byteLength) / pageSize);
    total += (last - first) * pageSize;
  }
  return total;
}

/**
 * The error for a registration the memlock limit refused: the current
 * RLIMIT_MEMLOCK and the size needed, in words and as fields.
 *
 * @example
 * ```ts
 * import { memlockError } from "./memlock.ts";
 * const e = memlockError(1 << 20);
 * console.log(e.limit, e.needed, e.message);
 * ```
 */
export function memlockError(
  neededBytes: number,
  errno: number = ENOMEM,
  op = "register_buffers",
): MemlockError {
  const { soft, hard } = memlockLimit();
  let capIpcLock = false;
  try {
    capIpcLock = readIoUringEnvironment().capIpcLock;
  } catch {
    // Unknown capabilities: say nothing about them.
  }
  const detail = capIpcLock
    ? `registering ${
      bytesInWords(neededBytes)
    } of buffers failed although this process has CAP_IPC_LOCK (no memlock accounting): the system is short of memory it can pin`
    : `registered buffers are charged to RLIMIT_MEMLOCK: the limit is ${
      bytesInWords(soft)
    } (hard limit ${bytesInWords(hard)}) and these buffers need ${
      bytesInWords(neededBytes)
    }, plus memory this user has locked already (other rings, mlock). ` +
      "Raise it (ulimit -l, LimitMEMLOCK= in a systemd unit, --ulimit memlock= for docker, /etc/security/limits.conf), " +
      "register fewer or smaller buffers, or use the non-fixed read/write";
  return new MemlockError(errno, {
    op,
    detail,
    limit: soft,
    hardLimit: hard,
    needed: neededBytes,
  });
}
