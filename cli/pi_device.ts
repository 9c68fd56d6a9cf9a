/**
 * What the PI device commands (`pi write`, `pi read`, `scrub`; one module
 * each) share: probing a device and refusing one that cannot do PI I/O,
 * the `--checks`/`--app-tag`/`--offset` options, the `pi` request option,
 * and turning a failed PI read into failed intervals by LBA.
 *
 * Data goes through the ring with O_DIRECT and the `pi` option of
 * `ring.read`/`ring.write`, so the device itself checks every tuple
 * (GUARD, REFTAG, APPTAG); a failed check comes back as an
 * `IntegrityError`, reported by LBA. These need a PI-formatted disk and a
 * kernel with read/write attributes (Linux 6.14+, CONFIG_BLK_DEV_INTEGRITY);
 * anything else is refused before any I/O with the reason `probe` gives.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { type PiError, verifyPi } from "../pi/mod.ts";
import { IntegrityError } from "../ring/integrity_error.ts";
import { piFormatOf } from "../ring/integrity_diagnosis.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import type { OpOptions, Ring } from "../ring/ring.ts";
import {
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
} from "../structs/constants.ts";
import { UringError } from "../sys/errors.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { OptionSpec, ParsedArgs } from "./args.ts";
import { readFull } from "../ring/full_io.ts";
import { EnvironmentError, oneLine, UsageError } from "./errors.ts";
import { requireBlockDevice } from "./files.ts";
import { formatTable, hex } from "./output.ts";
import { STREAM_OPTIONS } from "./pi_format_options.ts";
import { probeOrExplain } from "./probe.ts";
import { MAX_LISTED } from "./pi_verify.ts";

/**
 * The `pi` option of a read or write, as `ring.read`/`ring.write` take it.
 * Declared here, not imported, so the CLI type-checks against the Promise
 * API whether or not its `OpOptions` lists `pi` yet.
 */
interface PiRequestOptions {
  readonly pi: {
    readonly meta: Uint8Array;
    readonly check: number;
    readonly appTag: number;
    readonly seed: bigint;
  };
}

/**
 * One failed interval of a device, by LBA.
 *
 * @example
 * ```ts
 * import type { DeviceBadInterval } from "./pi_device.ts";
 * const b: DeviceBadInterval = { lba: 2051, offset: 1050112, field: "guard", expected: "0x1a2b", actual: "0x1a2c" };
 * ```
 */
export interface DeviceBadInterval {
  readonly lba: number;
  readonly offset: number;
  /** guard, appTag, refTag, or `io` for a read that failed otherwise. */
  readonly field: string;
  readonly expected?: string;
  readonly actual?: string;
  /** Why the field could not be determined, or the I/O error. */
  readonly detail?: string;
}

/** A PI-capable block device, probed. */
export interface PiDevice {
  readonly path: string;
  readonly target: TargetProfile;
  /** Capacity in bytes. */
  readonly size: number;
  /** Logical block size: LBAs count these. */
  readonly lbaSize: number;
}

/**
 * Probes `path` and refuses anything that cannot do PI I/O, with the
 * reason.
 */
export function openPiDevice(path: string): PiDevice {
  const st = requireBlockDevice(path);
  const { kernel, target } = probeOrExplain(path);
  if (!kernel.rwAttr) {
    throw new EnvironmentError(
      `kernel ${kernel.release} has no io_uring read/write attributes (IORING_FEAT_RW_ATTR, Linux 6.14+): PI I/O is impossible`,
    );
  }
  if (!target?.integrity || target.guard === "none") {
    throw new EnvironmentError(
      `${path} cannot carry PI: ${target?.reason ?? "no integrity profile"}`,
    );
  }
  const sectors = Number(
    readFileSync(`/sys/dev/block/${st.rdevMajor}:${st.rdevMinor}/size`, "utf8")
      .trim(),
  );
  return {
    path,
    target,
    size: sectors * 512,
    lbaSize: target.logicalBlockSize || target.interval,
  };
}

/** IO_INTEGRITY_CHK_* bits from `--checks`, minus REFTAG on Type 3. */
export function checkFlags(
  list: string,
  target: TargetProfile,
  command: string,
): number {
  let flags = 0;
  for (const word of list.split(",").map((w) => w.trim()).filter(Boolean)) {
    if (word === "guard") flags |= IO_INTEGRITY_CHK_GUARD;
    else if (word === "reftag") flags |= IO_INTEGRITY_CHK_REFTAG;
    else if (word === "apptag") flags |= IO_INTEGRITY_CHK_APPTAG;
    else if (word !== "none") {
      throw new UsageError(
        `--checks takes guard,reftag,apptag or none, got ${
          JSON.stringify(word)
        }`,
        command,
      );
    }
  }
  // A Type 3 device fails every REFTAG-checked I/O (KERNEL.md).
  if (!target.refTagChecked) flags &= ~IO_INTEGRITY_CHK_REFTAG;
  return flags;
}

/**
 * The checks in `flags` by name (`GUARD|REFTAG`), for reports.
 *
 * @example
 * ```ts
 * import { checkNames } from "./pi_device.ts";
 * checkNames(0); // "none"
 * ```
 */
export function checkNames(flags: number): string {
  const names = [
    flags & IO_INTEGRITY_CHK_GUARD ? "GUARD" : "",
    flags & IO_INTEGRITY_CHK_REFTAG ? "REFTAG" : "",
    flags & IO_INTEGRITY_CHK_APPTAG ? "APPTAG" : "",
  ].filter(Boolean);
  return names.length ? names.join("|") : "none";
}

/**
 * Metadata bytes the device keeps for `dataLength` bytes of data.
 *
 * @example
 * ```ts
 * import { metaLength, type PiDevice } from "./pi_device.ts";
 * const perMiB = (d: PiDevice) => metaLength(d.target, 1 << 20);
 * ```
 */
export function metaLength(target: TargetProfile, dataLength: number): number {
  return (dataLength / target.interval) * target.metadataSize;
}

/**
 * The `pi` option for a read or write at `offset` (Type 1 ref tags count
 * intervals from the start of the device).
 *
 * @example
 * ```ts
 * import { piOption, type PiDevice } from "./pi_device.ts";
 * const opts = (d: PiDevice, meta: Uint8Array) => piOption(d, 0, meta, 0, 0);
 * ```
 */
export function piOption(
  device: PiDevice,
  offset: number,
  meta: Uint8Array,
  check: number,
  appTag: number,
): OpOptions {
  const request: PiRequestOptions = {
    pi: {
      meta,
      check,
      appTag,
      // Type 1 tags count intervals from the start of the device.
      seed: BigInt(Math.floor(offset / device.target.interval)),
    },
  };
  return request as unknown as OpOptions;
}

/**
 * The failed intervals an `IntegrityError` names, or undefined when it
 * names none (or is another error).
 *
 * @example
 * ```ts
 * import { reportedIntervals } from "./pi_device.ts";
 * reportedIntervals(new Error("EIO")); // undefined
 * ```
 */
export function reportedIntervals(
  error: unknown,
): DeviceBadInterval[] | undefined {
  if (!(error instanceof IntegrityError) || !error.intervals?.length) {
    return undefined;
  }
  return error.intervals.map((b) => ({
    lba: b.lba,
    offset: b.offset,
    field: b.field,
    expected: hex(b.expected),
    actual: hex(b.actual),
  }));
}

/**
 * Failures found by checking a block in software (`verifyPi(...).bad`),
 * as device intervals: `at` is the block's device offset.
 *
 * @example
 * ```ts
 * import { softwareIntervals } from "./pi_device.ts";
 * softwareIntervals([{ index: 0, offset: 512, field: "guard", expected: 1, actual: 2 }], 4096, 512)[0].lba; // 9
 * ```
 */
export function softwareIntervals(
  bad: readonly PiError[],
  at: number,
  lbaSize: number,
): DeviceBadInterval[] {
  return bad.map((b) => ({
    lba: Math.floor((at + b.offset) / lbaSize),
    offset: at + b.offset,
    field: b.field,
    expected: hex(b.expected),
    actual: hex(b.actual),
  }));
}

/**
 * Failed intervals for an error thrown by a PI read at `offset`: the
 * ones the IntegrityError names, else a check-free re-read verified in
 * software, else the whole range with the reason.
 */
export async function diagnoseRead(
  ring: Ring,
  fd: number,
  device: PiDevice,
  offset: number,
  length: number,
  appTag: number,
  error: unknown,
): Promise<DeviceBadInterval[]> {
  const lbaOf = (at: number) => Math.floor(at / device.lbaSize);
  const reported = reportedIntervals(error);
  if (reported) return reported;
  if (!(error instanceof UringError) || error.code !== "EILSEQ") {
    return [{
      lba: lbaOf(offset),
      offset,
      field: "io",
      detail: `${length} bytes unreadable: ${oneLine(error)}`,
    }];
  }
  try {
    const data = alignedBuffer(length);
    const meta = alignedBuffer(metaLength(device.target, length));
    await readFull(
      ring,
      fd,
      data,
      offset,
      piOption(device, offset, meta, 0, appTag),
    );
    const result = verifyPi(data, meta, {
      ...piFormatOf(device.target, offset),
      appTag,
    });
    if (result.bad.length > 0) {
      return softwareIntervals(result.bad, offset, device.lbaSize);
    }
  } catch {
    // Fall through: report the range as failed without detail.
  }
  return [{
    lba: lbaOf(offset),
    offset,
    field: "unknown",
    detail:
      `the device rejected ${length} bytes; a re-read without checks could not tell which interval`,
  }];
}

/**
 * Keeps the lowest-LBA entries up to MAX_LISTED while counting all.
 *
 * @example
 * ```ts
 * import { BadList } from "./pi_device.ts";
 * const bad = new BadList();
 * bad.add([{ lba: 1, offset: 512, field: "io", detail: "EIO" }]);
 * bad.total; // 1
 * ```
 */
export class BadList {
  readonly items: DeviceBadInterval[] = [];
  total = 0;
  add(found: readonly DeviceBadInterval[]): void {
    this.total += found.length;
    this.items.push(...found);
    if (this.items.length > 2 * MAX_LISTED) this.#trim();
  }
  #trim(): void {
    this.items.sort((a, b) => a.offset - b.offset);
    this.items.length = Math.min(this.items.length, MAX_LISTED);
  }
  sorted(): DeviceBadInterval[] {
    this.#trim();
    return this.items;
  }
}

/**
 * The failed-interval table of a device report.
 *
 * @example
 * ```ts
 * import { badTable } from "./pi_device.ts";
 * badTable([{ lba: 8, offset: 4096, field: "guard", expected: "0x1", actual: "0x2" }]);
 * ```
 */
export function badTable(items: readonly DeviceBadInterval[]): string {
  return formatTable(
    ["LBA", "byte offset", "field", "expected", "actual"],
    items.map((b) => [
      String(b.lba),
      String(b.offset),
      b.field,
      b.expected ?? "",
      b.actual ?? b.detail ?? "",
    ]),
  );
}

/** The options every PI device command takes. */
export const DEVICE_OPTIONS: Record<string, OptionSpec> = {
  checks: {
    type: "string",
    value: "LIST",
    default: "guard,reftag,apptag",
    description: "what the device checks (reftag is dropped on Type 3)",
  },
  "app-tag": {
    type: "integer",
    value: "N",
    min: 0,
    max: 0xffff,
    default: 0,
    description: "application tag written, and expected by the apptag check",
  },
  offset: {
    type: "integer",
    value: "BYTES",
    min: 0,
    default: 0,
    description: "device offset (a multiple of the protection interval)",
  },
  json: { type: "boolean", description: "print a JSON report" },
  ...STREAM_OPTIONS,
};

/**
 * `--offset`, checked against the device's interval and block size.
 *
 * @throws {UsageError} when it is not a multiple of both.
 * @example
 * ```ts
 * import { deviceOffset, type PiDevice } from "./pi_device.ts";
 * const at = (d: PiDevice) => deviceOffset({ help: false, positionals: [], options: {} }, d, "scrub"); // 0
 * ```
 */
export function deviceOffset(
  args: ParsedArgs,
  device: PiDevice,
  command: string,
): number {
  const offset = (args.options.offset as number | undefined) ?? 0;
  if (offset % device.target.interval !== 0 || offset % device.lbaSize !== 0) {
    throw new UsageError(
      `--offset must be a multiple of ${
        Math.max(device.target.interval, device.lbaSize)
      }`,
      command,
    );
  }
  return offset;
}
