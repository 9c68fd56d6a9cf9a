/**
 * A seccomp filter that makes io_uring_setup fail with a chosen errno in
 * this process only, so the "io_uring unavailable" paths can be tested
 * without touching the host-wide `kernel.io_uring_disabled` sysctl. Meant
 * for child processes of the tests (a filter cannot be removed again).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { addressNumber, errno, libc } from "../ffi/mod.ts";

const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_SET_MODE_FILTER = 1;
/** Apply to every thread of the process, not just the calling one. */
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
/** io_uring_setup has the same number on every architecture (unified table). */
const NR_IO_URING_SETUP = 425;

/** Per architecture: the AUDIT_ARCH value and the seccomp syscall number. */
const ARCHES: Record<string, { audit: number; seccomp: number }> = {
  x64: { audit: 0xc000003e, seccomp: 317 },
  arm64: { audit: 0xc00000b7, seccomp: 277 },
};

// Classic BPF opcodes.
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;

/**
 * Why a seccomp filter cannot be installed here, or false when it can: a
 * kernel built without CONFIG_SECCOMP_FILTER (the emulated test guests'
 * tinyconfig kernels) has no `Seccomp_filters` line in /proc/self/status
 * and answers seccomp(2) with ENOSYS; an unknown architecture has no
 * filter written for it.
 *
 * @example
 * ```ts
 * import { seccompUnavailable } from "./seccomp_helpers.ts";
 * console.log(seccompUnavailable() || "seccomp filters work here");
 * ```
 */
export function seccompUnavailable(): string | false {
  if (ARCHES[process.arch] === undefined) {
    return `no seccomp filter written for architecture ${process.arch}`;
  }
  const status = readFileSync("/proc/self/status", "utf8");
  if (!/^Seccomp_filters:/m.test(status)) {
    return "the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER off: seccomp(2) is ENOSYS)";
  }
  return false;
}

/**
 * Installs the filter: io_uring_setup returns `-errnoValue`; every other
 * syscall is allowed. Throws when the architecture is not known here or the
 * kernel refuses the filter.
 *
 * @example
 * ```ts
 * import { denyIoUringSetup } from "./seccomp_helpers.ts";
 * denyIoUringSetup(1); // EPERM from now on, in this process only
 * ```
 */
export function denyIoUringSetup(errnoValue: number): void {
  const arch = ARCHES[process.arch];
  if (arch === undefined) {
    throw new Error(`no seccomp filter for architecture ${process.arch}`);
  }
  // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
  const program: [number, number, number, number][] = [
    [LD_W_ABS, 0, 0, 4], // seccomp_data.arch
    [JEQ_K, 0, 3, arch.audit], // another ABI: allow
    [LD_W_ABS, 0, 0, 0], // seccomp_data.nr
    [JEQ_K, 0, 1, NR_IO_URING_SETUP],
    [RET_K, 0, 0, SECCOMP_RET_ERRNO | (errnoValue & 0xffff)],
    [RET_K, 0, 0, SECCOMP_RET_ALLOW],
  ];
  const filter = new DataView(new ArrayBuffer(program.length * 8));
  program.forEach(([code, jt, jf, k], i) => {
    filter.setUint16(i * 8, code, true);
    filter.setUint8(i * 8 + 2, jt);
    filter.setUint8(i * 8 + 3, jf);
    filter.setUint32(i * 8 + 4, k, true);
  });
  // struct sock_fprog { u16 len; struct sock_filter *filter; }
  const fprog = new DataView(new ArrayBuffer(16));
  fprog.setUint16(0, program.length, true);
  fprog.setBigUint64(8, BigInt(addressNumber(filter)), true);
  if (libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) {
    throw new Error(`prctl(PR_SET_NO_NEW_PRIVS) failed, errno ${errno()}`);
  }
  const res = libc().syscall(
    arch.seccomp,
    SECCOMP_SET_MODE_FILTER,
    SECCOMP_FILTER_FLAG_TSYNC,
    addressNumber(fprog),
    0,
  );
  if (res !== 0) {
    throw new Error(
      `seccomp(SET_MODE_FILTER) failed: ${res}, errno ${errno()}`,
    );
  }
}
