/**
 * What the running kernel's io_uring offers: its release, the
 * IORING_FEAT_* features and the opcodes it supports (read/write
 * attributes among them), probed once with a two-entry ring and cached.
 *
 * @module
 */
import { errno, libc } from "../ffi/mod.ts";
import { UringError } from "../sys/errors.ts";
import * as constants from "../structs/constants.ts";
import { IORING_FEAT_RW_ATTR, OPCODE_NAMES } from "../structs/constants.ts";
import { RingCore } from "./core.ts";

/**
 * What the running kernel's io_uring offers.
 *
 * @example
 * ```ts
 * import type { KernelProfile } from "./kernel_probe.ts";
 * const needsPi = (k: KernelProfile) => k.rwAttr || "Linux 6.14+ needed";
 * ```
 */
export interface KernelProfile {
  /** `uname -r`. */
  readonly release: string;
  /** Whether a ring could be set up at all. */
  readonly ioUring: boolean;
  /** IORING_FEAT_RW_ATTR: read/write attributes such as PI (6.14). */
  readonly rwAttr: boolean;
  /** IORING_FEAT_* names without the prefix (`"RW_ATTR"`), in bit order. */
  readonly features: readonly string[];
  /** Supported opcodes by kernel name (`"READ"`), in opcode order. */
  readonly opcodes: readonly string[];
  /** Why `ioUring` is false. */
  readonly reason?: string;
}

/** Size of `struct utsname` on Linux: six 65-byte strings. */
const UTS_FIELD = 65;
const UTS_RELEASE = 2;

function cStringAt(bytes: Uint8Array, start: number, max: number): string {
  let end = start;
  while (end < start + max && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/**
 * The kernel release (`uname -r`), from uname(2).
 *
 * @example
 * ```ts
 * import { kernelRelease } from "./kernel_probe.ts";
 * kernelRelease(); // "6.18.4-..."
 * ```
 */
export function kernelRelease(): string {
  const bytes = new Uint8Array(UTS_FIELD * 6);
  if (libc().uname(bytes) !== 0) throw new UringError(errno(), { op: "uname" });
  return cStringAt(bytes, UTS_FIELD * UTS_RELEASE, UTS_FIELD);
}

/**
 * Whether `release` is at least `major.minor`.
 *
 * @example
 * ```ts
 * import { releaseAtLeast } from "./kernel_probe.ts";
 * releaseAtLeast("6.18.4-fc", 6, 17); // true
 * ```
 */
export function releaseAtLeast(
  release: string,
  major: number,
  minor: number,
): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

// IORING_FEAT_* names from the constants module, so a new feature constant
// shows up here without a second list.
const FEATURES: ReadonlyArray<readonly [string, number]> = Object.entries(
  constants,
)
  .filter(([name, v]) =>
    name.startsWith("IORING_FEAT_") && typeof v === "number"
  )
  .map(([name, v]) => [name.slice("IORING_FEAT_".length), v as number] as const)
  .sort((a, b) => a[1] - b[1]);

/**
 * Names of the IORING_FEAT_* bits set in `features`, without the prefix.
 *
 * @example
 * ```ts
 * import { featureNames } from "./kernel_probe.ts";
 * featureNames((1 << 0) | (1 << 16)); // ["SINGLE_MMAP", "RW_ATTR"]
 * ```
 */
export function featureNames(features: number): string[] {
  return FEATURES.filter(([, bit]) => (features & bit) !== 0).map(([n]) => n);
}

let kernelCache: KernelProfile | undefined;

/**
 * Probes the kernel once (a two-entry ring for the features and the opcode
 * probe) and caches the answer: neither changes while the system runs.
 *
 * @example
 * ```ts
 * import { probeKernel } from "./kernel_probe.ts";
 * probeKernel().rwAttr; // true on Linux 6.14+
 * ```
 */
export function probeKernel(): KernelProfile {
  if (kernelCache) return kernelCache;
  const release = kernelRelease();
  let ring: RingCore | undefined;
  try {
    ring = new RingCore({ entries: 2 });
    const features = ring.features;
    const { ops } = ring.probe();
    kernelCache = Object.freeze({
      release,
      ioUring: true,
      rwAttr: (features & IORING_FEAT_RW_ATTR) !== 0,
      features: Object.freeze(featureNames(features)),
      opcodes: Object.freeze(
        ops.map((op) => OPCODE_NAMES[op] ?? `OP_${op}`),
      ),
    });
  } catch (error) {
    // Not cached: io_uring may be enabled later (sysctl kernel.io_uring_disabled).
    return Object.freeze({
      release,
      ioUring: false,
      rwAttr: false,
      features: [],
      opcodes: [],
      reason: `io_uring_setup failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    });
  } finally {
    ring?.close();
  }
  return kernelCache;
}
