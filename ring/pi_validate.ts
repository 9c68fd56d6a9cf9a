/**
 * Checks a PI read or write before it is submitted, so the mistakes the
 * kernel would answer with a bare EINVAL or EOPNOTSUPP (or, for REFTAG on a
 * Type 3 device, with an EILSEQ on every I/O) become errors that name the
 * cause and the fix.
 *
 * @module
 */
import { addressNumber } from "../ffi/mod.ts";
import { fileStatusFlags } from "../sys/fd.ts";
import { statxFd } from "../sys/stat.ts";
import {
  IO_INTEGRITY_CHK_REFTAG,
  IORING_FEAT_RW_ATTR,
  O_DIRECT,
  S_IFBLK,
  S_IFMT,
} from "../structs/constants.ts";
import type { PiAttribute } from "./pi_attribute.ts";
import { probeFd, type TargetProfile } from "./target_probe.ts";

/**
 * The kernel lacks a feature the request needs; nothing was submitted.
 *
 * @example
 * ```ts
 * import { KernelTooOldError } from "./pi_validate.ts";
 * const e = new KernelTooOldError("read/write attributes", "IORING_FEAT_RW_ATTR", "6.14");
 * e.message; // "read/write attributes: kernel too old (Linux 6.14+ needed, no IORING_FEAT_RW_ATTR)"
 * ```
 */
export class KernelTooOldError extends Error {
  /** Always `"KernelTooOldError"`. */
  override name = "KernelTooOldError";
  /** The feature flag or opcode that is missing. */
  readonly feature: string;
  /** The first Linux release that has it. */
  readonly since: string;
  /** `what` names the request or feature in the message. */
  constructor(what: string, feature: string, since: string) {
    super(
      `${what}: kernel too old (Linux ${since}+ needed, no ${feature})`,
    );
    this.feature = feature;
    this.since = since;
  }
}

/**
 * A PI request on a file or device that cannot carry integrity metadata
 * (no PI format, tmpfs, a file system without a block device): a missing
 * capability of the target, not a wrong argument.
 *
 * @example
 * ```ts
 * import { PiUnsupportedError } from "./pi_validate.ts";
 * const e = new PiUnsupportedError("write", "/dev/shm/x", "tmpfs has no block device");
 * e.message; // "write with PI: /dev/shm/x cannot carry integrity metadata: tmpfs has no block device"
 * ```
 */
export class PiUnsupportedError extends Error {
  /** Always `"PiUnsupportedError"`. */
  override name = "PiUnsupportedError";
  /** The file or device that lacks PI. */
  readonly path: string;
  /** Why it lacks PI (from the probe). */
  readonly reason: string;
  /** `op` names the request in the message. */
  constructor(op: string, path: string, reason: string) {
    super(`${op} with PI: ${path} cannot carry integrity metadata: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Throws {@linkcode KernelTooOldError} unless `features` (a ring's
 * IORING_FEAT_* bits) has IORING_FEAT_RW_ATTR.
 *
 * @example
 * ```ts
 * import { requireRwAttr } from "./pi_validate.ts";
 * requireRwAttr(1 << 16); // ok
 * ```
 */
export function requireRwAttr(features: number): void {
  if ((features & IORING_FEAT_RW_ATTR) === 0) {
    throw new KernelTooOldError(
      "read/write attributes (PI)",
      "IORING_FEAT_RW_ATTR",
      "6.14",
    );
  }
}

/**
 * O_DIRECT alignment: buffer addresses to `memory` bytes, offsets and
 * lengths to `offset` bytes (the logical block size).
 *
 * @example
 * ```ts
 * import type { DirectAlignment } from "./pi_validate.ts";
 * const nvme: DirectAlignment = { memory: 4, offset: 512 };
 * ```
 */
export interface DirectAlignment {
  /** Buffer address alignment in bytes (`stx_dio_mem_align`). */
  readonly memory: number;
  /** File offset and length alignment in bytes (`stx_dio_offset_align`). */
  readonly offset: number;
}

/**
 * The O_DIRECT alignment of an open file: statx STATX_DIOALIGN where the
 * file system reports it, else the target's logical block size, else
 * st_blksize (conservative: usually the page size).
 *
 * @example
 * ```ts
 * import { directAlignment } from "./pi_validate.ts";
 * import { openFd } from "../sys/fd.ts";
 * directAlignment(openFd("/etc/hostname", 0)); // { memory: 4, offset: 512 } on ext4
 * ```
 */
export function directAlignment(
  fd: number,
  target?: TargetProfile,
): DirectAlignment {
  const st = statxFd(fd);
  if (st.dioOffsetAlign > 0) {
    return { memory: st.dioMemAlign || 1, offset: st.dioOffsetAlign };
  }
  const lbs = target?.logicalBlockSize || st.blksize || 512;
  return { memory: lbs, offset: lbs };
}

/**
 * What {@linkcode validatePiRequest} looks at.
 *
 * @example
 * ```ts
 * import type { PiRequest } from "./pi_validate.ts";
 * declare const fd: number, data: Uint8Array, pi: import("./pi_attribute.ts").PiAttribute;
 * const req: PiRequest = { op: "write", fd, data, offset: 1 << 20, pi, features: 1 << 16 };
 * ```
 */
export interface PiRequest {
  /** The operation, for messages (`"write"`, `"readv"`). */
  readonly op: string;
  /** The file descriptor, checked for O_DIRECT and alignment. */
  readonly fd: number;
  /** The data buffer, or the buffers of a readv/writev. */
  readonly data: ArrayBufferView | readonly ArrayBufferView[];
  /** File offset in bytes. */
  readonly offset: number;
  /** The validated PI attribute (`packed.pi`). */
  readonly pi: PiAttribute;
  /** The ring's IORING_FEAT_* bits. */
  readonly features: number;
  /** The target's probed profile, when known (metadata length, Type 3). */
  readonly target?: TargetProfile;
  /** Alignment known already (skips a statx per request). */
  readonly alignment?: DirectAlignment;
}

function segments(
  data: ArrayBufferView | readonly ArrayBufferView[],
): { address: number; length: number }[] {
  const list = Array.isArray(data) ? data : [data as ArrayBufferView];
  return list.map((b) => ({ address: addressNumber(b), length: b.byteLength }));
}

/**
 * Checks a PI request before submission, cheapest checks first:
 * 1. the ring's kernel has IORING_FEAT_RW_ATTR (else {@linkcode KernelTooOldError});
 * 2. with a probed `target`: it has PI, the metadata length equals
 *    data length ÷ interval × metadata size, and REFTAG is not asked of a
 *    Type 3 target (such a device fails every I/O that asks);
 * 3. the fd was opened with O_DIRECT (else TypeError naming the fix);
 * 4. buffer addresses, lengths and the offset are aligned for O_DIRECT.
 *
 * @throws {KernelTooOldError} | TypeError | RangeError
 * @example
 * ```ts
 * import { packAttributes } from "./attributes.ts";
 * import { validatePiRequest } from "./pi_validate.ts";
 * declare const fd: number, features: number;
 * const data = new Uint8Array(4096);
 * const packed = packAttributes({ pi: { meta: new Uint8Array(64) } }, "write")!;
 * validatePiRequest({ op: "write", fd, data, offset: 1 << 20, pi: packed.pi!, features });
 * ```
 */
export function validatePiRequest(req: PiRequest): void {
  requireRwAttr(req.features);
  const segs = segments(req.data);
  const length = segs.reduce((sum, s) => sum + s.length, 0);
  const { target, pi, op } = req;
  if (target) checkAgainstTarget(op, length, pi, target);
  if ((fileStatusFlags(req.fd) & O_DIRECT) === 0) {
    throw new TypeError(
      `${op} with PI: fd ${req.fd} was opened without O_DIRECT, and the kernel ` +
        `passes integrity metadata on direct I/O only. Open the file with O_DIRECT ` +
        `(openFd(path, O_RDWR | O_DIRECT)) or \`direct: true\`.`,
    );
  }
  const align = req.alignment ?? directAlignment(req.fd, target);
  if (req.offset % align.offset !== 0) {
    throw new RangeError(
      `${op} with PI: offset ${req.offset} is not a multiple of the ` +
        `${align.offset}-byte logical block size (O_DIRECT)`,
    );
  }
  segs.forEach((s, i) => {
    const which = segs.length > 1 ? `buffer ${i}` : "buffer";
    if (s.address % align.memory !== 0) {
      throw new RangeError(
        `${op} with PI: ${which} address 0x${s.address.toString(16)} is not ` +
          `${align.memory}-byte aligned (O_DIRECT); use alignedBuffer()`,
      );
    }
    if (s.length % align.offset !== 0) {
      throw new RangeError(
        `${op} with PI: ${which} length ${s.length} is not a multiple of the ` +
          `${align.offset}-byte logical block size (O_DIRECT)`,
      );
    }
  });
}

function checkAgainstTarget(
  op: string,
  length: number,
  pi: PiAttribute,
  target: TargetProfile,
): void {
  if (!target.integrity) {
    throw new PiUnsupportedError(
      op,
      target.path,
      target.reason ?? "no integrity profile",
    );
  }
  if (length % target.interval !== 0) {
    throw new RangeError(
      `${op} with PI: data length ${length} is not a multiple of the ` +
        `${target.interval}-byte protection interval of ${target.path}`,
    );
  }
  const need = (length / target.interval) * target.metadataSize;
  if (pi.meta.byteLength !== need) {
    throw new RangeError(
      `${op} with PI: pi.meta has ${pi.meta.byteLength} bytes; ${length} bytes ` +
        `of data are ${
          length / target.interval
        } intervals of ${target.interval} ` +
        `bytes × ${target.metadataSize} bytes of metadata = ${need} bytes`,
    );
  }
  if ((pi.flags & IO_INTEGRITY_CHK_REFTAG) !== 0 && !target.refTagChecked) {
    throw new RangeError(
      `${op} with PI: ${target.path} is PI Type ${
        target.piType ?? 3
      }, which has no ` +
        `reference tag; a REFTAG check fails every I/O there (EILSEQ). Drop check.reftag.`,
    );
  }
}

// Profiles by device: a disk's integrity format does not change while it is
// open, and every file on one file system shares its disk's profile.
const profilesByDevice = new Map<string, TargetProfile>();

/**
 * The probed profile of what `fd` refers to, cached per device (one statx
 * per call after the first): what the Promise layer passes as `target` to
 * {@linkcode validatePiRequest} and as `format` to `diagnoseIntegrity`.
 *
 * @example
 * ```ts
 * import { targetOfFd } from "./pi_validate.ts";
 * import { openFd } from "../sys/fd.ts";
 * targetOfFd(openFd("/dev/shm", 0)).reason; // "tmpfs has no block device ..."
 * ```
 */
export function targetOfFd(fd: number): TargetProfile {
  const st = statxFd(fd);
  const key = (st.mode & S_IFMT) === S_IFBLK
    ? `b${st.rdevMajor}:${st.rdevMinor}`
    : `f${st.devMajor}:${st.devMinor}`;
  let profile = profilesByDevice.get(key);
  if (!profile) {
    profile = probeFd(fd);
    profilesByDevice.set(key, profile);
  }
  return profile.path === `fd ${fd}`
    ? profile
    : { ...profile, path: `fd ${fd}` };
}
