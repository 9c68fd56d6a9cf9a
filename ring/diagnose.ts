/**
 * Why a ring could not be created, in words, with what to do about it.
 *
 * Hardened hosts block io_uring in three ways, and each leaves a trace a
 * process can read about itself: the sysctl `kernel.io_uring_disabled`
 * (Linux 6.6: 1 = only `kernel.io_uring_group` or CAP_SYS_ADMIN, 2 = nobody),
 * a seccomp filter (`Seccomp: 2` in /proc/self/status; container runtimes'
 * default profiles refuse the io_uring syscalls with EPERM or ENOSYS), and a
 * kernel that is too old for a setup flag. What the process reads about
 * itself is io_uring_environment.ts; registered buffers and RLIMIT_MEMLOCK
 * are memlock.ts.
 *
 * Everything here reads /proc and libc only, so it works exactly when
 * io_uring does not.
 *
 * @module
 */
import { liburing } from "../ffi/mod.ts";
import { closeFd } from "../sys/fd.ts";
import { describeSetupFlags } from "./setup.ts";
import {
  IoUringUnavailableError,
  type UnavailableKind,
} from "./setup_errors.ts";
import { PARAMS_SIZE } from "../structs/params.ts";
import {
  EFAULT,
  EINVAL,
  EMFILE,
  ENOMEM,
  ENOSYS,
  EPERM,
  errnoName,
} from "../structs/errno.ts";
import {
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQ_AFF,
  IORING_SETUP_SQE_MIXED,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_TASKRUN_FLAG,
} from "../structs/constants.ts";
import {
  type IoUringEnvironment,
  readIoUringEnvironment,
  readProc,
} from "./io_uring_environment.ts";
import { bytesInWords } from "./memlock.ts";

/** errno ENFILE: the system-wide file table is full. */
const ENFILE = 23;

/** `major.minor` of a release string, or null. */
function versionOf(text: string): [number, number] | null {
  const m = /(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function olderThan(release: string, since: string): boolean {
  const have = versionOf(release);
  const need = versionOf(since);
  if (!have || !need) return false;
  return have[0] < need[0] || (have[0] === need[0] && have[1] < need[1]);
}

function groupName(gid: number): string {
  const line = (readProc("/etc/group") ?? "").split("\n")
    .find((l) => l.split(":")[2] === String(gid));
  return line ? `${line.split(":")[0]} (gid ${gid})` : `gid ${gid}`;
}

const FALLBACK_HINT =
  "Otherwise, Ring.open({ fallback: true }) keeps the same Promise API on a thread pool (slower, and without PI).";

/**
 * The diagnosis of a failed io_uring_setup: which kind of failure, and the
 * words that explain it.
 *
 * @example
 * ```ts
 * import type { SetupDiagnosis } from "./diagnose.ts";
 * const d: SetupDiagnosis = { kind: "disabled", reason: "..." };
 * ```
 */
export interface SetupDiagnosis {
  /** Which kind of failure. */
  readonly kind: UnavailableKind;
  /** The explanation, in words. */
  readonly reason: string;
}

/**
 * The sizes and CPU a setup asked for, so an EINVAL can name the one that
 * was wrong.
 *
 * @example
 * ```ts
 * import type { SetupRequest } from "./diagnose.ts";
 * const r: SetupRequest = { entries: 64, cqEntries: 1 };
 * ```
 */
export interface SetupRequest {
  /** SQ entries asked for. */
  readonly entries?: number;
  /** CQ entries asked for (IORING_SETUP_CQSIZE). */
  readonly cqEntries?: number;
  /** The SQPOLL thread's CPU (IORING_SETUP_SQ_AFF). */
  readonly sqThreadCpu?: number;
}

/** Smallest power of two at or above n (the kernel rounds queue sizes so). */
function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The online CPUs as listed in sysfs ("0-3,6"), or null. */
function onlineCpus(): { list: string; has(cpu: number): boolean } | null {
  const list = readProc("/sys/devices/system/cpu/online");
  if (list === undefined) return null;
  const ranges = list.split(",").map((r) => r.split("-").map(Number));
  return {
    list,
    has: (cpu) => ranges.some(([lo, hi = lo]) => cpu >= lo && cpu <= hi),
  };
}

/**
 * Every setup flag bit up to IORING_SETUP_SQE_MIXED (1 << 19), the newest
 * in structs/constants.ts; higher bits are unknown to every kernel this
 * library knows.
 */
const KNOWN_SETUP_FLAGS = IORING_SETUP_SQE_MIXED * 2 - 1;

/** The EINVAL causes a {@linkcode SetupRequest} shows by itself. */
function requestProblems(flags: number, request: SetupRequest): string[] {
  const problems: string[] = [];
  // >>> 0: flags is a u32, and the top bit must not make it negative.
  const unknown = (flags & ~KNOWN_SETUP_FLAGS) >>> 0;
  if (unknown !== 0) {
    problems.push(
      `flags 0x${
        unknown.toString(16)
      } are not io_uring setup flags (no kernel this library knows has them)`,
    );
  }
  const { entries = 64, cqEntries, sqThreadCpu } = request;
  if (
    cqEntries !== undefined &&
    roundUpPow2(cqEntries) < roundUpPow2(entries)
  ) {
    problems.push(
      `cqEntries (${cqEntries}) is smaller than entries (${entries}): the completion queue must hold at least as many entries as the submission queue`,
    );
  }
  if (sqThreadCpu !== undefined) {
    const cpus = onlineCpus();
    if (cpus !== null && !cpus.has(sqThreadCpu)) {
      problems.push(
        `sqpoll.cpu ${sqThreadCpu} is not an online CPU here (online: ${cpus.list})`,
      );
    }
  }
  return problems;
}

/**
 * Explains a failed io_uring_setup from its errno, the setup flags asked
 * for, and the environment (read now unless given).
 *
 * @example
 * ```ts
 * import { diagnoseSetupFailure } from "./diagnose.ts";
 * diagnoseSetupFailure(1, 0).reason;
 * // "io_uring is disabled on this host: kernel.io_uring_disabled = 2 ..."
 * ```
 */
export function diagnoseSetupFailure(
  errno: number,
  requestedFlags: number,
  env: IoUringEnvironment = readIoUringEnvironment(),
  request: SetupRequest = {},
): SetupDiagnosis {
  const e = Math.abs(errno);
  const named = describeSetupFlags(requestedFlags);
  if (e === EPERM || e === ENOSYS) {
    if (e === EPERM && env.sysctl === 2) {
      return {
        kind: "disabled",
        reason:
          "io_uring is disabled on this host: kernel.io_uring_disabled = 2 refuses io_uring_setup to every process, root included. " +
          "An administrator can allow it with `sysctl -w kernel.io_uring_disabled=0` (everyone) or `=1` (members of kernel.io_uring_group). " +
          FALLBACK_HINT,
      };
    }
    if (e === EPERM && env.sysctl === 1 && !env.capSysAdmin) {
      const group = env.group === null || env.group < 0
        ? "kernel.io_uring_group is -1, so only processes with CAP_SYS_ADMIN may create rings"
        : `only members of ${
          groupName(env.group)
        } (kernel.io_uring_group) or processes with CAP_SYS_ADMIN may create rings, ` +
          `and this process (uid ${env.uid}, groups ${
            env.groups.join(",") || "none"
          }) is not a member`;
      return {
        kind: "group",
        reason:
          `io_uring is restricted on this host: kernel.io_uring_disabled = 1 and ${group}. ` +
          "Run as a member of that group (usermod -aG GROUP USER, then log in again), or have an administrator set kernel.io_uring_group. " +
          FALLBACK_HINT,
      };
    }
    if (env.seccomp === 2) {
      return {
        kind: "seccomp",
        reason:
          `io_uring_setup failed with ${
            errnoName(e)
          } while kernel.io_uring_disabled is ${
            env.sysctl ?? "absent"
          } and this process runs under a seccomp filter (Seccomp: 2 in /proc/self/status): ` +
          "a container runtime's default seccomp profile (Docker, containerd, Podman, Kubernetes RuntimeDefault) most likely blocks the io_uring syscalls. " +
          "Run the container with a profile that allows io_uring_setup, io_uring_enter and io_uring_register " +
          "(docker run --security-opt seccomp=PROFILE.json). " + FALLBACK_HINT,
      };
    }
    if (e === ENOSYS) {
      return {
        kind: "unsupported",
        reason:
          `this kernel (${env.release}) has no io_uring: it is older than Linux 5.1 or built without CONFIG_IO_URING. ` +
          FALLBACK_HINT,
      };
    }
    const sqpoll = (requestedFlags & IORING_SETUP_SQPOLL) !== 0 &&
        olderThan(env.release, "5.11")
      ? ` SQPOLL rings need CAP_SYS_ADMIN before Linux 5.11 (this is ${env.release}): drop the sqpoll option or run with that capability.`
      : "";
    return {
      kind: "denied",
      reason:
        `io_uring_setup was refused (EPERM) although kernel.io_uring_disabled is ${
          env.sysctl ?? "absent"
        } and no seccomp filter is active.${sqpoll} ` +
        "A security module (SELinux, AppArmor) policy may deny io_uring to this process. " +
        FALLBACK_HINT,
    };
  }
  if (e === EINVAL) {
    const tooNew = named.filter((flag) => {
      const since = /\(Linux ([\d.]+)\)/.exec(flag)?.[1];
      return since !== undefined && olderThan(env.release, since);
    });
    const combos = flagCombinationProblems(requestedFlags);
    const mistakes = requestProblems(requestedFlags, request);
    if (mistakes.length > 0) {
      return { kind: "flags", reason: mistakes.join("; ") };
    }
    const parts: string[] = [];
    if (tooNew.length > 0) {
      parts.push(
        `this kernel (${env.release}) is older than the setup flags ${
          tooNew.join(", ")
        } need: drop the options that set them`,
      );
    }
    parts.push(...combos);
    if (parts.length === 0) {
      parts.push(
        named.length > 0
          ? `the kernel (${env.release}) refused the setup flags ${
            named.join(", ")
          } or the queue sizes; a kernel older than a version named lacks that flag`
          : `the kernel (${env.release}) refused the queue sizes or the parameters`,
      );
    } else if (named.length > 0) {
      // Always name what was asked for, with the kernel that added each.
      parts.push(`the setup flags asked for: ${named.join(", ")}`);
    }
    return { kind: "flags", reason: parts.join("; ") };
  }
  if (e === ENOMEM) {
    const { soft } = env.memlock;
    return {
      kind: "memory",
      reason:
        `the kernel could not allocate the ring's memory. Before Linux 5.12 rings are charged to RLIMIT_MEMLOCK (${
          bytesInWords(soft)
        } here, this is ${env.release}); raise it (ulimit -l, LimitMEMLOCK= in a systemd unit, --ulimit memlock= for docker) ` +
        "or ask for fewer entries. " + FALLBACK_HINT,
    };
  }
  if (e === EMFILE || e === ENFILE) {
    return {
      kind: "limits",
      reason: e === EMFILE
        ? "this process has as many files open as RLIMIT_NOFILE allows: close some or raise the limit (ulimit -n)"
        : "the system-wide open-file table is full (fs.file-max)",
    };
  }
  if (e === EFAULT) {
    return {
      kind: "other",
      reason: "the kernel could not read the setup parameters (EFAULT)",
    };
  }
  return {
    kind: "other",
    reason: `io_uring_setup failed with ${errnoName(e)}`,
  };
}

/** Setup flag combinations the kernel refuses with EINVAL, in words. */
function flagCombinationProblems(flags: number): string[] {
  const problems: string[] = [];
  const has = (bit: number) => (flags & bit) !== 0;
  if (has(IORING_SETUP_DEFER_TASKRUN) && !has(IORING_SETUP_SINGLE_ISSUER)) {
    problems.push("deferTaskrun needs singleIssuer");
  }
  if (has(IORING_SETUP_DEFER_TASKRUN) && has(IORING_SETUP_SQPOLL)) {
    problems.push("deferTaskrun cannot be combined with sqpoll");
  }
  if (has(IORING_SETUP_COOP_TASKRUN) && has(IORING_SETUP_SQPOLL)) {
    problems.push("coopTaskrun cannot be combined with sqpoll");
  }
  if (
    has(IORING_SETUP_TASKRUN_FLAG) &&
    !has(IORING_SETUP_COOP_TASKRUN) && !has(IORING_SETUP_DEFER_TASKRUN)
  ) {
    problems.push("taskrunFlag needs coopTaskrun or deferTaskrun");
  }
  if (has(IORING_SETUP_SQ_AFF) && !has(IORING_SETUP_SQPOLL)) {
    problems.push("sqpoll.cpu needs sqpoll");
  }
  return problems;
}

/**
 * The error a failed io_uring_setup becomes: an
 * {@linkcode IoUringUnavailableError} whose message says why and what to
 * do. `RingCore`'s constructor throws it.
 *
 * @example
 * ```ts
 * import { setupFailure } from "./diagnose.ts";
 * const error = setupFailure(-1, 0);
 * console.log(error.kind, error.sysctl, error.seccomp);
 * ```
 */
export function setupFailure(
  result: number,
  flags: number,
  request: SetupRequest = {},
): IoUringUnavailableError {
  let env: IoUringEnvironment | undefined;
  let diagnosis: SetupDiagnosis;
  try {
    env = readIoUringEnvironment();
    diagnosis = diagnoseSetupFailure(result, flags, env, request);
  } catch (error) {
    // Diagnosis is best effort: the errno alone must still come through.
    diagnosis = {
      kind: "other",
      reason: `io_uring_setup failed (no diagnosis: ${
        error instanceof Error ? error.message : String(error)
      })`,
    };
  }
  return new IoUringUnavailableError(result, {
    kind: diagnosis.kind,
    reason: diagnosis.reason,
    sysctl: env?.sysctl ?? null,
    group: env?.group ?? null,
    seccomp: env?.seccomp ?? null,
    release: env?.release ?? "unknown",
    flags: describeSetupFlags(flags),
  });
}

/**
 * Whether io_uring can be used by this process right now, and if not, why.
 * Sets up (and closes) a one-entry ring to find out; nothing is cached
 * because the sysctl can change at any time.
 *
 * @example
 * ```ts
 * import { ioUringStatus } from "./diagnose.ts";
 * const status = ioUringStatus();
 * if (!status.available) console.log(status.reason);
 * ```
 */
export function ioUringStatus(): IoUringStatus {
  let env: IoUringEnvironment;
  try {
    env = readIoUringEnvironment();
  } catch (error) {
    return {
      available: false,
      reason: `cannot read the process environment: ${
        error instanceof Error ? error.message : String(error)
      }`,
      sysctl: null,
      seccomp: null,
    };
  }
  const base = { sysctl: env.sysctl, seccomp: env.seccomp };
  let fd: number;
  try {
    fd = liburing().io_uring_setup(1, new Uint8Array(PARAMS_SIZE));
  } catch (error) {
    // liburing itself is missing: the library cannot use io_uring either.
    return {
      available: false,
      kind: "unsupported",
      reason: error instanceof Error ? error.message : String(error),
      ...base,
    };
  }
  if (fd >= 0) {
    closeFd(fd);
    return { available: true, ...base };
  }
  const diagnosis = diagnoseSetupFailure(fd, 0, env);
  return {
    available: false,
    kind: diagnosis.kind,
    reason: `${errnoName(-fd)}: ${diagnosis.reason}`,
    ...base,
  };
}

/**
 * The answer of {@linkcode ioUringStatus}.
 *
 * @example
 * ```ts
 * import type { IoUringStatus } from "./diagnose.ts";
 * const s: IoUringStatus = { available: true, sysctl: 0, seccomp: 0 };
 * ```
 */
export interface IoUringStatus {
  /** Whether a ring can be set up. */
  readonly available: boolean;
  /** Which kind of block, when not available. */
  readonly kind?: UnavailableKind;
  /** Why not, in words, with what to do. */
  readonly reason?: string;
  /** kernel.io_uring_disabled, or null when the sysctl does not exist. */
  readonly sysctl: number | null;
  /** Seccomp mode (2 = filter), or null when unknown. */
  readonly seccomp: number | null;
}
