/**
 * A probed target profile as a PI-formatted NVMe namespace (512 B LBA,
 * 8-byte metadata, PI Type 1) would report it, for tests that exercise PI
 * validation and diagnosis without such a device. Not a test file itself.
 *
 * @module
 */
import type { TargetProfile } from "../ring/target_probe.ts";

/**
 * The profile, with `change` applied on top.
 *
 * @example
 * ```ts
 * import { nvmeProfile } from "./pi_profile.ts";
 * const type3 = nvmeProfile({ piType: 3, refTagChecked: false });
 * ```
 */
export function nvmeProfile(
  change: Partial<TargetProfile> = {},
): TargetProfile {
  return {
    path: "/dev/nvme0n1",
    kind: "block-device",
    device: "/dev/nvme0n1",
    source: "sysfs",
    integrity: true,
    interval: 512,
    metadataSize: 8,
    tupleSize: 8,
    piOffset: 0,
    guard: "crc16-t10dif",
    appTagSize: 2,
    refTagSize: 4,
    storageTagSize: 0,
    refTagChecked: true,
    piType: 1,
    logicalBlockSize: 512,
    ...change,
  };
}
