/**
 * Whether a file or block device can carry Protection Information, and in
 * which PI format.
 *
 * The target profile comes from FS_IOC_GETLBMD_CAP (Linux 6.17) when the
 * kernel answers it, and otherwise from /sys/block/DEV/integrity, which
 * every kernel built with CONFIG_BLK_DEV_INTEGRITY has for every disk. For
 * a regular file the block device it lives on is examined. sysfs is read
 * with `node:fs`, which works the same on Deno and Bun.
 *
 * @module
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname } from "node:path";
import { addressNumber, errno, libc } from "../ffi/mod.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { statxFd, statxPath } from "../sys/stat.ts";
import type { Statx } from "../structs/statx.ts";
import { UringError } from "../sys/errors.ts";
import { LBMD_CAP_SIZE, LbmdCapView } from "../structs/lbmd_cap.ts";
import { EINVAL, ENOTTY, errnoName } from "../structs/errno.ts";
import {
  FS_IOC_GETLBMD_CAP,
  LBMD_PI_CAP_INTEGRITY,
  LBMD_PI_CAP_REFTAG,
  LBMD_PI_CSUM_CRC16_T10DIF,
  LBMD_PI_CSUM_CRC64_NVME,
  LBMD_PI_CSUM_IP,
  O_RDONLY,
  S_IFBLK,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../structs/constants.ts";
import { kernelRelease, releaseAtLeast } from "./kernel_probe.ts";

/**
 * The guard (checksum) type of a target's PI tuples; `"none"` when it has
 * no PI.
 *
 * @example
 * ```ts
 * import type { ProbeGuard } from "./target_probe.ts";
 * const g: ProbeGuard = "crc16-t10dif";
 * ```
 */
export type ProbeGuard = "crc16-t10dif" | "crc64-nvme" | "ip" | "none";

/**
 * Whether a file or block device can carry PI, and its format. When
 * `integrity` is false, `reason` says why in words and the format fields
 * are 0 / `"none"`.
 *
 * @example
 * ```ts
 * import type { TargetProfile } from "./target_probe.ts";
 * const metaBytes = (t: TargetProfile, dataBytes: number) =>
 *   (dataBytes / t.interval) * t.metadataSize;
 * ```
 */
export interface TargetProfile {
  /** The path probed. */
  readonly path: string;
  /** A block device itself, a file or directory on one, or neither. */
  readonly kind: "block-device" | "file" | "directory" | "other";
  /** The disk whose profile this is (`/dev/nvme0n1`), when there is one. */
  readonly device?: string;
  /** Where the profile came from. */
  readonly source: "ioctl" | "sysfs" | "none";
  /** Whether reads and writes can carry PI metadata. */
  readonly integrity: boolean;
  /** Why not, in words. */
  readonly reason?: string;
  /** Protection interval in bytes. */
  readonly interval: number;
  /** Metadata bytes per interval (the tuple, or more). */
  readonly metadataSize: number;
  /** PI tuple bytes: 8 (16-bit guard) or 16 (64-bit guard). */
  readonly tupleSize: number;
  /** Offset of the tuple inside each interval's metadata. */
  readonly piOffset: number;
  /** Guard (checksum) type, from `lbmd_guard_tag_type` or the sysfs format. */
  readonly guard: ProbeGuard;
  /** Application tag bytes per tuple (`lbmd_app_tag_size`). */
  readonly appTagSize: number;
  /** Reference tag bytes per tuple (`lbmd_ref_tag_size`). */
  readonly refTagSize: number;
  /** Storage tag bytes per tuple (`lbmd_storage_tag_size`), 0 if none. */
  readonly storageTagSize: number;
  /** Whether the device checks reference tags (false for PI Type 3). */
  readonly refTagChecked: boolean;
  /** PI type: 1 (Linux reports Type 2 as 1) or 3; absent without PI. */
  readonly piType?: 1 | 3;
  /** Logical block size in bytes (O_DIRECT alignment), 0 if unknown. */
  readonly logicalBlockSize: number;
}

/** The format fields of a target without PI. */
const NO_PI = {
  interval: 0,
  metadataSize: 0,
  tupleSize: 0,
  piOffset: 0,
  guard: "none",
  appTagSize: 0,
  refTagSize: 0,
  storageTagSize: 0,
  refTagChecked: false,
} as const;

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** A disk in sysfs: `/sys/block/NAME`, and its device node. */
interface Disk {
  readonly name: string;
  readonly sys: string;
  readonly node: string;
}

/**
 * The whole disk behind device number `major:minor` (a partition resolves to
 * its parent), or undefined when no block device has that number (tmpfs,
 * overlay and other virtual file systems use anonymous numbers).
 */
function diskOf(major: number, minor: number): Disk | undefined {
  let sys: string;
  try {
    sys = realpathSync(`/sys/dev/block/${major}:${minor}`);
  } catch {
    return undefined;
  }
  // Integrity profiles belong to the whole disk, not to a partition.
  if (existsSync(`${sys}/partition`)) sys = dirname(sys);
  const name = basename(sys);
  const devname = /^DEVNAME=(.*)$/m.exec(readSys(`${sys}/uevent`) ?? "")?.[1];
  return { name, sys, node: `/dev/${devname ?? name}` };
}

/** The file system type and mount point of device `major:minor`. */
function mountOf(
  major: number,
  minor: number,
): { fstype: string; mountPoint: string } | undefined {
  const info = readSys("/proc/self/mountinfo") ?? "";
  for (const line of info.split("\n")) {
    // id parent major:minor root mountpoint opts... - fstype source superopts
    const fields = line.split(" ");
    if (fields[2] !== `${major}:${minor}`) continue;
    const dash = fields.indexOf("-");
    if (dash < 0) continue;
    return { fstype: fields[dash + 1], mountPoint: fields[4] };
  }
  return undefined;
}

const GUARD_BY_LBMD: Record<number, ProbeGuard> = {
  [LBMD_PI_CSUM_IP]: "ip",
  [LBMD_PI_CSUM_CRC16_T10DIF]: "crc16-t10dif",
  [LBMD_PI_CSUM_CRC64_NVME]: "crc64-nvme",
};

/**
 * A PI format without the target it was found on: what
 * {@linkcode sysfsFormat} returns.
 *
 * @example
 * ```ts
 * import type { TargetFormat } from "./target_probe.ts";
 * const piSizeOf = (f: TargetFormat) => f.tupleSize;
 * ```
 */
export type TargetFormat = Omit<
  TargetProfile,
  "path" | "kind" | "device" | "source"
>;

/** FS_IOC_GETLBMD_CAP on an open fd: the capability, or the errno. */
function lbmdCap(fd: number): LbmdCapView | number {
  const bytes = new Uint8Array(LBMD_CAP_SIZE);
  if (libc().ioctl(fd, FS_IOC_GETLBMD_CAP, addressNumber(bytes)) !== 0) {
    return errno();
  }
  return new LbmdCapView(bytes);
}

/** What FS_IOC_GETLBMD_CAP said: the capability, or the errno (of open or ioctl). */
interface LbmdCapAnswer {
  cap?: LbmdCapView;
  errno?: number;
  openFailed?: boolean;
}

/** Opens `path` read-only and asks FS_IOC_GETLBMD_CAP; errno on failure. */
function lbmdCapOf(path: string): LbmdCapAnswer {
  let fd: number;
  try {
    fd = openFd(path, O_RDONLY);
  } catch (error) {
    return {
      errno: error instanceof UringError ? error.errno : 0,
      openFailed: true,
    };
  }
  try {
    const r = lbmdCap(fd);
    return typeof r === "number" ? { errno: r } : { cap: r };
  } finally {
    closeFd(fd);
  }
}

function formatFromCap(cap: LbmdCapView, lbs: number): TargetFormat {
  if ((cap.flags & LBMD_PI_CAP_INTEGRITY) === 0) {
    return {
      ...NO_PI,
      integrity: false,
      reason: cap.size > 0
        ? `the device has ${cap.size} bytes of metadata per interval but no integrity profile (no PI)`
        : "the device is formatted without metadata (no integrity profile)",
      logicalBlockSize: lbs,
    };
  }
  const guard = GUARD_BY_LBMD[cap.guardTagType] ?? "none";
  const refTagChecked = (cap.flags & LBMD_PI_CAP_REFTAG) !== 0;
  return {
    integrity: true,
    interval: cap.interval,
    metadataSize: cap.size,
    tupleSize: cap.piSize,
    piOffset: cap.piOffset,
    guard,
    appTagSize: cap.appTagSize,
    refTagSize: cap.refTagSize,
    storageTagSize: cap.storageTagSize,
    refTagChecked,
    piType: guard === "none" ? undefined : refTagChecked ? 1 : 3,
    logicalBlockSize: lbs,
  };
}

/** sysfs `integrity/format` strings (block/t10-pi.c profile names). */
const SYSFS_FORMATS: Record<
  string,
  { guard: ProbeGuard; tupleSize: 8 | 16; piType: 1 | 3 }
> = {
  "T10-DIF-TYPE1-CRC": { guard: "crc16-t10dif", tupleSize: 8, piType: 1 },
  "T10-DIF-TYPE1-IP": { guard: "ip", tupleSize: 8, piType: 1 },
  "T10-DIF-TYPE3-CRC": { guard: "crc16-t10dif", tupleSize: 8, piType: 3 },
  "T10-DIF-TYPE3-IP": { guard: "ip", tupleSize: 8, piType: 3 },
  "EXT-DIF-TYPE1-CRC64": { guard: "crc64-nvme", tupleSize: 16, piType: 1 },
  "EXT-DIF-TYPE3-CRC64": { guard: "crc64-nvme", tupleSize: 16, piType: 3 },
};

/**
 * The PI format named by a sysfs `integrity/format` string, or undefined for
 * `none`, `nop` and formats this library does not know. sysfs does not give
 * the metadata size or tuple offset: the tuple is assumed to fill the
 * metadata from byte 0, as on every format in KERNEL.md.
 *
 * @example
 * ```ts
 * import { sysfsFormat } from "./target_probe.ts";
 * sysfsFormat("EXT-DIF-TYPE1-CRC64", 512)?.tupleSize; // 16
 * ```
 */
export function sysfsFormat(
  format: string,
  interval: number,
): TargetFormat | undefined {
  const known = SYSFS_FORMATS[format];
  if (!known) return undefined;
  return {
    integrity: true,
    interval,
    metadataSize: known.tupleSize,
    tupleSize: known.tupleSize,
    piOffset: 0,
    guard: known.guard,
    appTagSize: 2,
    // Type 3 has no reference tag: its bytes are application-owned.
    refTagSize: known.piType === 3 ? 0 : known.tupleSize === 8 ? 4 : 6,
    storageTagSize: 0,
    refTagChecked: known.piType === 1,
    piType: known.piType,
    logicalBlockSize: interval,
  };
}

function formatFromSysfs(disk: Disk, lbs: number): TargetFormat {
  const dir = `${disk.sys}/integrity`;
  if (!existsSync(dir)) {
    // With CONFIG_BLK_DEV_INTEGRITY every disk has this directory.
    return {
      ...NO_PI,
      integrity: false,
      reason:
        `the kernel is built without block integrity support (CONFIG_BLK_DEV_INTEGRITY): ` +
        `/sys/block/${disk.name}/integrity does not exist`,
      logicalBlockSize: lbs,
    };
  }
  const format = readSys(`${dir}/format`) ?? "none";
  const interval = Number(readSys(`${dir}/protection_interval_bytes`)) || lbs;
  if (format === "none" || format === "") {
    return {
      ...NO_PI,
      integrity: false,
      reason:
        `${disk.node} is formatted without metadata (integrity format "none")`,
      logicalBlockSize: lbs,
    };
  }
  const parsed = sysfsFormat(format, interval);
  if (!parsed) {
    return {
      ...NO_PI,
      integrity: false,
      reason: format === "nop"
        ? `${disk.node} has metadata but no PI (integrity format "nop")`
        : `${disk.node} has integrity format ${
          JSON.stringify(format)
        }, which this library does not know`,
      logicalBlockSize: lbs,
    };
  }
  return { ...parsed, logicalBlockSize: lbs || interval };
}

/**
 * Probes one path: a block device, or a file whose disk is then examined.
 *
 * @throws {UringError} when the path cannot be examined.
 * @example
 * ```ts
 * import { probeTarget } from "./target_probe.ts";
 * probeTarget("/dev/shm").reason; // "tmpfs has no block device ..."
 * ```
 */
export function probeTarget(
  path: string,
  release: string = kernelRelease(),
): TargetProfile {
  return profileOf(statxPath(path), path, release, (node) => lbmdCapOf(node));
}

/**
 * Probes what an open file descriptor refers to, as {@linkcode probeTarget}
 * does for a path (the Promise layer has fds, not paths). A block device is
 * asked through the fd itself, so no second open is needed. `path` in the
 * result is `"fd N"`.
 *
 * @throws {UringError} EBADF when `fd` is not open.
 * @example
 * ```ts
 * import { probeFd } from "./target_probe.ts";
 * import { openFd } from "../sys/fd.ts";
 * probeFd(openFd("/dev/shm", 0)).integrity; // false
 * ```
 */
export function probeFd(
  fd: number,
  release: string = kernelRelease(),
): TargetProfile {
  return profileOf(
    statxFd(fd),
    `fd ${fd}`,
    release,
    (node, isSelf) => isSelf ? lbmdCapFd(fd) : lbmdCapOf(node),
  );
}

/** FS_IOC_GETLBMD_CAP through an fd the caller owns. */
function lbmdCapFd(fd: number): LbmdCapAnswer {
  const r = lbmdCap(fd);
  return typeof r === "number" ? { errno: r } : { cap: r };
}

function profileOf(
  st: Statx,
  path: string,
  release: string,
  ask: (node: string, isSelf: boolean) => LbmdCapAnswer,
): TargetProfile {
  const type = st.mode & S_IFMT;
  if (type !== S_IFBLK && type !== S_IFREG && type !== S_IFDIR) {
    return {
      path,
      kind: "other",
      source: "none",
      ...NO_PI,
      integrity: false,
      reason:
        "not a block device, and not a regular file or directory on one: only block devices carry integrity metadata",
      logicalBlockSize: 0,
    };
  }
  const kind = type === S_IFBLK
    ? "block-device"
    : type === S_IFDIR
    ? "directory"
    : "file";
  const [major, minor] = kind === "block-device"
    ? [st.rdevMajor, st.rdevMinor]
    : [st.devMajor, st.devMinor];
  const disk = diskOf(major, minor);
  const lbs = Number(readSys(`${disk?.sys}/queue/logical_block_size`)) ||
    st.dioOffsetAlign || 0;
  const base = { path, kind, device: disk?.node } as const;

  if (!disk) {
    const mount = mountOf(major, minor);
    const reason = mount?.fstype === "tmpfs"
      ? `tmpfs has no block device: files on it (${mount.mountPoint}) cannot carry integrity metadata`
      : `${
        mount
          ? `${mount.fstype} (${mount.mountPoint})`
          : `device ${major}:${minor}`
      } is not backed by a block device, so it cannot carry integrity metadata`;
    return {
      ...base,
      source: "none",
      ...NO_PI,
      integrity: false,
      reason,
      logicalBlockSize: lbs,
    };
  }

  // FS_IOC_GETLBMD_CAP answers on block devices only; a file is asked
  // through its disk's node, which may refuse to open (permissions).
  const asked = kind === "block-device"
    ? ask(path, true)
    : ask(disk.node, false);
  const onDisk = kind === "block-device" ? "" : `a ${kind} on ${disk.node}: `;
  if (asked.cap) {
    const format = formatFromCap(asked.cap, lbs);
    return {
      ...base,
      source: "ioctl",
      ...format,
      reason: format.reason && onDisk + format.reason,
    };
  }
  const format = formatFromSysfs(disk, lbs);
  let reason = format.reason;
  if (reason !== undefined && !asked.openFailed) {
    if (asked.errno === EINVAL && !existsSync(`${disk.sys}/integrity`)) {
      reason += "; FS_IOC_GETLBMD_CAP fails with EINVAL";
    } else if (asked.errno === ENOTTY && !releaseAtLeast(release, 6, 17)) {
      reason +=
        `; FS_IOC_GETLBMD_CAP needs Linux 6.17 (this is ${release}: ENOTTY)`;
    } else if (asked.errno !== undefined) {
      reason += `; FS_IOC_GETLBMD_CAP: ${errnoName(asked.errno)}`;
    }
  }
  return {
    ...base,
    source: "sysfs",
    ...format,
    reason: reason && onDisk + reason,
  };
}
