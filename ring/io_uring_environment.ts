/**
 * What a process can read about its own io_uring permissions and limits:
 * the sysctls `kernel.io_uring_disabled` and `kernel.io_uring_group`, its
 * credentials and capabilities, its seccomp mode, the kernel release, and
 * its RLIMIT_MEMLOCK and RLIMIT_NOFILE.
 *
 * Everything here reads /proc and libc only, so it works exactly when
 * io_uring does not.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { libc } from "../ffi/mod.ts";
import { RLIMIT_MEMLOCK } from "../structs/constants.ts";

/** CAP_SYS_ADMIN: bypasses io_uring_disabled = 1. */
const CAP_SYS_ADMIN = 21n;
/** CAP_IPC_LOCK: registered buffers are not charged to RLIMIT_MEMLOCK. */
const CAP_IPC_LOCK = 14n;

/**
 * What the process can learn about its own io_uring permissions.
 *
 * @example
 * ```ts
 * import { readIoUringEnvironment } from "./io_uring_environment.ts";
 * const env = readIoUringEnvironment();
 * console.log(env.sysctl, env.seccomp, env.release);
 * ```
 */
export interface IoUringEnvironment {
  /** kernel.io_uring_disabled (0, 1, 2), or null before Linux 6.6 (no sysctl). */
  readonly sysctl: number | null;
  /** kernel.io_uring_group (-1 = none), or null when absent. */
  readonly group: number | null;
  /** Seccomp mode from /proc/self/status: 0 none, 1 strict, 2 filter; null if unknown. */
  readonly seccomp: number | null;
  /** Effective uid. */
  readonly uid: number;
  /** Effective gid and supplementary groups. */
  readonly groups: readonly number[];
  /** Whether the process has CAP_SYS_ADMIN (which bypasses sysctl 1). */
  readonly capSysAdmin: boolean;
  /** Whether the process has CAP_IPC_LOCK (no memlock accounting). */
  readonly capIpcLock: boolean;
  /** Kernel release (`uname -r`). */
  readonly release: string;
  /** RLIMIT_MEMLOCK soft and hard limits in bytes (Infinity = unlimited). */
  readonly memlock: { readonly soft: number; readonly hard: number };
}

/**
 * The trimmed text of a /proc, /sys or /etc file, or undefined when it
 * cannot be read (absent on this kernel, or not permitted).
 *
 * @example
 * ```ts
 * import { readProc } from "./io_uring_environment.ts";
 * readProc("/proc/sys/kernel/io_uring_disabled"); // "0", or undefined before Linux 6.6
 * ```
 */
export function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function intOrNull(text: string | undefined): number | null {
  if (text === undefined || !/^-?\d+$/.test(text)) return null;
  return Number(text);
}

function statusField(status: string, name: string): string | undefined {
  return new RegExp(`^${name}:[ \\t]*([^\\n]*)$`, "m").exec(status)?.[1]
    ?.trim();
}

/**
 * RLIMIT_MEMLOCK of this process (getrlimit), in bytes; Infinity for
 * RLIM_INFINITY.
 *
 * @example
 * ```ts
 * import { memlockLimit } from "./io_uring_environment.ts";
 * memlockLimit().soft; // 8388608 on a default Debian login
 * ```
 */
export function memlockLimit(): { soft: number; hard: number } {
  return resourceLimit(RLIMIT_MEMLOCK);
}

/** RLIMIT_NOFILE: the most file descriptors a process may have open. */
const RLIMIT_NOFILE = 7;

/**
 * RLIMIT_NOFILE of this process (getrlimit): how many files it may have
 * open, which also caps a registered-file table.
 *
 * @example
 * ```ts
 * import { openFileLimit } from "./io_uring_environment.ts";
 * openFileLimit().soft; // 1024 on a default Debian login
 * ```
 */
export function openFileLimit(): { soft: number; hard: number } {
  return resourceLimit(RLIMIT_NOFILE);
}

function resourceLimit(resource: number): { soft: number; hard: number } {
  // struct rlimit: two u64 (rlim_cur, rlim_max); RLIM_INFINITY is all ones.
  const limits = new BigUint64Array(2);
  if (libc().getrlimit(resource, limits) !== 0) {
    return { soft: Infinity, hard: Infinity };
  }
  const toNumber = (v: bigint) =>
    v === 0xffffffffffffffffn ? Infinity : Number(v);
  return { soft: toNumber(limits[0]), hard: toNumber(limits[1]) };
}

function release(): string {
  const fromProc = readProc("/proc/sys/kernel/osrelease");
  if (fromProc) return fromProc;
  // struct utsname: six 65-byte fields; the release is the third.
  const bytes = new Uint8Array(65 * 6);
  if (libc().uname(bytes) !== 0) return "unknown";
  const field = bytes.subarray(130, 195);
  const end = field.indexOf(0);
  return new TextDecoder().decode(field.subarray(0, end < 0 ? 65 : end));
}

/**
 * Reads the sysctls, the process's credentials, seccomp mode, kernel
 * release and memlock limit.
 *
 * @example
 * ```ts
 * import { readIoUringEnvironment } from "./io_uring_environment.ts";
 * readIoUringEnvironment().sysctl; // 0 on a default host
 * ```
 */
export function readIoUringEnvironment(): IoUringEnvironment {
  const status = readProc("/proc/self/status") ?? "";
  const uid = Number(statusField(status, "Uid")?.split(/\s+/)[1] ?? -1);
  const gid = Number(statusField(status, "Gid")?.split(/\s+/)[1] ?? -1);
  const supplementary = (statusField(status, "Groups") ?? "").split(/\s+/)
    .filter((g) => g !== "").map(Number);
  const capEff = BigInt(`0x${statusField(status, "CapEff") ?? "0"}`);
  return {
    sysctl: intOrNull(readProc("/proc/sys/kernel/io_uring_disabled")),
    group: intOrNull(readProc("/proc/sys/kernel/io_uring_group")),
    seccomp: intOrNull(statusField(status, "Seccomp")),
    uid,
    groups: [...new Set([gid, ...supplementary])],
    capSysAdmin: ((capEff >> CAP_SYS_ADMIN) & 1n) === 1n,
    capIpcLock: ((capEff >> CAP_IPC_LOCK) & 1n) === 1n,
    release: release(),
    memlock: memlockLimit(),
  };
}
