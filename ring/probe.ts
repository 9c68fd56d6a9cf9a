/**
 * Capability probing in one call: what the running kernel's io_uring
 * offers (release, features, opcodes, read/write attributes; see
 * kernel_probe.ts) and whether a file or block device can carry Protection
 * Information, with its PI format (see target_probe.ts).
 *
 * @module
 */
import { type KernelProfile, probeKernel } from "./kernel_probe.ts";
import { probeTarget, type TargetProfile } from "./target_probe.ts";

/**
 * The result of {@linkcode probe}.
 *
 * @example
 * ```ts
 * import type { ProbeResult } from "./probe.ts";
 * const canPi = (p: ProbeResult) => p.kernel.rwAttr && p.target?.integrity === true;
 * ```
 */
export interface ProbeResult {
  /** What the running kernel supports. */
  readonly kernel: KernelProfile;
  /** The file or device probed, when one was given. */
  readonly target?: TargetProfile;
}

/**
 * Probes the kernel and, when `path` is given, the file or block device
 * there: can it carry PI, and in which format.
 *
 * @throws {UringError} when `path` cannot be examined (ENOENT, EACCES).
 * @example
 * ```ts
 * import { probe } from "./probe.ts";
 * const { kernel, target } = probe("/dev/shm");
 * console.log(kernel.release, kernel.rwAttr);
 * console.log(target?.integrity, target?.reason); // false "tmpfs has no block device..."
 * ```
 */
export function probe(path?: string): ProbeResult {
  const kernel = probeKernel();
  if (path === undefined) return { kernel };
  return { kernel, target: probeTarget(path, kernel.release) };
}
