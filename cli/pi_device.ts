/**
 * PI device commands: `pi write DEV --from FILE`, `pi read DEV --to FILE`
 * and `scrub DEV`. Data goes through the ring with O_DIRECT and the `pi`
 * option of `ring.read`/`ring.write`, so the device itself checks every
 * tuple (GUARD, REFTAG, APPTAG); a failed check comes back as an
 * `IntegrityError`, reported here by LBA.
 *
 * These need a PI-formatted disk and a kernel with read/write attributes
 * (Linux 6.14+, CONFIG_BLK_DEV_INTEGRITY); anything else is refused before
 * any I/O with the reason `probe` gives.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { generatePi, type PiGuard, verifyPi } from "../pi/mod.ts";
import { IntegrityError, piFormatOf } from "../ring/integrity.ts";
import type { TargetProfile } from "../ring/probe.ts";
import type { OpOptions, Ring } from "../ring/ring.ts";
import {
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
  O_CREAT,
  O_DIRECT,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
} from "../structs/constants.ts";
import { UringError } from "../sys/errors.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { OptionSpec, ParsedArgs } from "./args.ts";
import { readFully, streamBlocks, writeFully } from "./blocks.ts";
import type { Command } from "./command.ts";
import {
  EnvironmentError,
  EXIT_INTEGRITY,
  EXIT_OK,
  oneLine,
  UsageError,
} from "./errors.ts";
import {
  openThroughRing,
  requireBlockDevice,
  requireRegularFile,
} from "./files.ts";
import {
  formatBytes,
  formatRate,
  formatTable,
  hex,
  toJson,
  writeOut,
} from "./output.ts";
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_DEPTH,
  STREAM_OPTIONS,
  streamBlockSize,
} from "./pi_format_options.ts";
import { probeOrExplain } from "./probe.ts";
import { Progress } from "./progress.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";
import {
  decodeSidecarHeader,
  encodeSidecarHeader,
  SIDECAR_HEADER_SIZE,
  type SidecarHeader,
  sidecarHeader,
} from "./sidecar.ts";
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
interface PiDevice {
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
function openPiDevice(path: string): PiDevice {
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
function checkFlags(
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

function checkNames(flags: number): string {
  const names = [
    flags & IO_INTEGRITY_CHK_GUARD ? "GUARD" : "",
    flags & IO_INTEGRITY_CHK_REFTAG ? "REFTAG" : "",
    flags & IO_INTEGRITY_CHK_APPTAG ? "APPTAG" : "",
  ].filter(Boolean);
  return names.length ? names.join("|") : "none";
}

function metaLength(target: TargetProfile, dataLength: number): number {
  return (dataLength / target.interval) * target.metadataSize;
}

/** The `pi` option for `length` bytes at `offset`. */
function piOption(
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
 * Failed intervals for an error thrown by a PI read at `offset`: the
 * ones the IntegrityError names, else a check-free re-read verified in
 * software, else the whole range with the reason.
 */
async function diagnoseRead(
  ring: Ring,
  fd: number,
  device: PiDevice,
  offset: number,
  length: number,
  appTag: number,
  error: unknown,
): Promise<DeviceBadInterval[]> {
  const lbaOf = (at: number) => Math.floor(at / device.lbaSize);
  if (error instanceof IntegrityError && error.intervals?.length) {
    return error.intervals.map((b) => ({
      lba: b.lba,
      offset: b.offset,
      field: b.field,
      expected: hex(b.expected),
      actual: hex(b.actual),
    }));
  }
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
    await readFully(
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
      return result.bad.map((b) => ({
        lba: lbaOf(offset + b.offset),
        offset: offset + b.offset,
        field: b.field,
        expected: hex(b.expected),
        actual: hex(b.actual),
      }));
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

/** Keeps the lowest-LBA entries up to MAX_LISTED while counting all. */
class BadList {
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

function badTable(items: readonly DeviceBadInterval[]): string {
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

const DEVICE_OPTIONS: Record<string, OptionSpec> = {
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

function deviceOffset(
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

// ------------------------------------------------------------------ scrub

/**
 * The outcome of a scrub.
 *
 * @example
 * ```ts
 * import type { ScrubReport } from "./pi_device.ts";
 * const clean = (r: ScrubReport) => r.badTotal === 0;
 * ```
 */
export interface ScrubReport {
  readonly device: string;
  readonly checks: string;
  readonly bytes: number;
  readonly lbaSize: number;
  readonly badTotal: number;
  readonly bad: readonly DeviceBadInterval[];
  readonly seconds: number;
  readonly bytesPerSecond: number;
}

async function scrubDevice(
  device: PiDevice,
  check: number,
  appTag: number,
  start: number,
  length: number,
  blockSize: number,
  depth: number,
): Promise<ScrubReport> {
  const began = performance.now();
  const bad = new BadList();
  await withRing(async (ring) => {
    const fd = await openThroughRing(ring, device.path, O_RDONLY | O_DIRECT);
    try {
      const progress = new Progress(`scrub ${device.path}`, length);
      let next = 0;
      let done = 0;
      const chunks = Math.ceil(length / blockSize);
      // `depth` workers, each reading the next chunk: a failed chunk is
      // diagnosed and recorded, and the scrub goes on.
      const worker = async () => {
        const data = alignedBuffer(blockSize);
        const meta = alignedBuffer(metaLength(device.target, blockSize));
        while (next < chunks) {
          const offset = start + next++ * blockSize;
          const size = Math.min(blockSize, start + length - offset);
          const view = data.subarray(0, size);
          const metaView = meta.subarray(0, metaLength(device.target, size));
          try {
            await readFully(
              ring,
              fd,
              view,
              offset,
              piOption(device, offset, metaView, check, appTag),
            );
          } catch (error) {
            bad.add(
              await diagnoseRead(ring, fd, device, offset, size, appTag, error),
            );
          }
          done += size;
          progress.update(done);
        }
      };
      await Promise.all(Array.from({ length: depth }, worker));
      progress.done();
    } finally {
      await closeQuietly(ring, fd);
    }
  });
  const seconds = (performance.now() - began) / 1000;
  return {
    device: device.path,
    checks: checkNames(check),
    bytes: length,
    lbaSize: device.lbaSize,
    badTotal: bad.total,
    bad: bad.sorted(),
    seconds,
    bytesPerSecond: length / seconds,
  };
}

/** `uring scrub DEV`. */
export const scrubCommand: Command = {
  spec: {
    name: "scrub",
    summary:
      "Read a whole PI device with the device checking every tuple; report failed intervals by LBA.",
    positionals: [{ name: "DEV", description: "a PI-formatted block device" }],
    options: {
      ...DEVICE_OPTIONS,
      length: {
        type: "integer",
        value: "BYTES",
        min: 1,
        description: "bytes to scrub (default: to the end of the device)",
      },
    },
    details:
      `Blocks never written read back with all-ones PI, which the device skips.
Exit codes: 0 clean, 1 failed intervals or unreadable blocks, 2 usage or
environment error (not a block device, no integrity profile, kernel too old).`,
    examples: [
      "scrub /dev/nvme0n1",
      "scrub /dev/nvme0n1 --checks guard --json",
    ],
  },
  async run(args: ParsedArgs): Promise<number> {
    const device = openPiDevice(args.positionals[0]);
    const o = args.options;
    const check = checkFlags(
      (o.checks as string | undefined) ?? "guard,reftag,apptag",
      device.target,
      "scrub",
    );
    const start = deviceOffset(args, device, "scrub");
    const length = Math.min(
      (o.length as number | undefined) ?? device.size - start,
      device.size - start,
    );
    const report = await scrubDevice(
      device,
      check,
      (o["app-tag"] as number | undefined) ?? 0,
      start,
      Math.floor(length / device.target.interval) * device.target.interval,
      streamBlockSize(
        (o["block-size"] as number | undefined) ?? DEFAULT_BLOCK_SIZE,
        device.target.interval,
      ),
      (o.depth as number | undefined) ?? DEFAULT_DEPTH,
    );
    if (o.json) await writeOut(toJson(report) + "\n");
    else {
      const head =
        `scrub ${report.device}: ${
          formatBytes(report.bytes)
        } read with checks ${report.checks} ` +
        `in ${report.seconds.toFixed(1)} s (${
          formatRate(report.bytesPerSecond)
        })\n`;
      await writeOut(
        report.badTotal === 0
          ? head + "OK: no integrity errors\n"
          : head + `BAD: ${report.badTotal} failed interval(s)\n\n` +
            badTable(report.bad) +
            (report.badTotal > report.bad.length
              ? `... ${report.badTotal - report.bad.length} more not listed\n`
              : ""),
      );
    }
    return report.badTotal === 0 ? EXIT_OK : EXIT_INTEGRITY;
  },
};

// ------------------------------------------------------------- pi write

/** A sidecar usable for `device` at `offset`, or why not. */
function sidecarFor(
  path: string,
  device: PiDevice,
  offset: number,
): SidecarHeader {
  const bytes = readFileSync(path).subarray(0, SIDECAR_HEADER_SIZE);
  const header = decodeSidecarHeader(bytes, path);
  const t = device.target;
  const problems: string[] = [];
  if (header.guard !== t.guard) {
    problems.push(`guard ${header.guard}, device ${t.guard}`);
  }
  if (header.interval !== t.interval) {
    problems.push(`interval ${header.interval}, device ${t.interval}`);
  }
  if (header.tupleSize !== t.metadataSize || t.piOffset !== 0) {
    problems.push(
      `${header.tupleSize}-byte tuples, device ${t.metadataSize}-byte metadata`,
    );
  }
  const deviceType3 = !t.refTagChecked;
  if ((header.refType === 3) !== deviceType3) {
    problems.push(
      `ref tag type ${header.refType}, device Type ${deviceType3 ? 3 : 1}`,
    );
  } else if (!deviceType3 && header.seed !== offset / t.interval) {
    problems.push(
      `ref tags start at ${header.seed} but the device expects ${
        offset / t.interval
      } at offset ${offset} (regenerate with --seed ${offset / t.interval})`,
    );
  }
  if (problems.length > 0) {
    throw new EnvironmentError(
      `${path} does not fit ${device.path}: ${problems.join("; ")}`,
    );
  }
  return header;
}

/** `uring pi write DEV --from FILE`. */
export const piWriteCommand: Command = {
  spec: {
    name: "pi write",
    summary:
      "Write FILE to a PI device with its tuples (from its sidecar, or generated), the device checking each one.",
    positionals: [{ name: "DEV", description: "a PI-formatted block device" }],
    options: {
      from: {
        type: "string",
        value: "FILE",
        description: "the data to write (required)",
      },
      pi: {
        type: "string",
        value: "FILE.pi",
        description:
          "sidecar with the tuples (default FILE.pi when it exists; otherwise tuples are generated)",
      },
      ...DEVICE_OPTIONS,
    },
    details:
      `With a sidecar, the device checks the data against tuples computed when
the file was protected: corruption since then fails the write (exit 1)
instead of reaching the disk. The sidecar's format must match the device's.
Exit codes: 0 written, 1 the device rejected intervals, 2 usage or environment error.`,
    examples: [
      "pi write /dev/nvme0n1 --from data.bin",
      "pi write /dev/nvme0n1 --from data.bin --offset 1M",
    ],
  },
  async run(args: ParsedArgs): Promise<number> {
    const o = args.options;
    const from = o.from as string | undefined;
    if (!from) throw new UsageError("--from FILE is required", "pi write");
    const device = openPiDevice(args.positionals[0]);
    const t = device.target;
    const offset = deviceOffset(args, device, "pi write");
    const check = checkFlags(
      (o.checks as string | undefined) ?? "guard,reftag,apptag",
      t,
      "pi write",
    );
    const size = requireRegularFile(from, "--from").size;
    const padded = Math.ceil(size / t.interval) * t.interval;
    if (offset + padded > device.size) {
      throw new EnvironmentError(
        `${from} (${
          formatBytes(padded)
        }) does not fit on ${device.path} at offset ${offset} (${
          formatBytes(device.size)
        })`,
      );
    }
    const piPath = (o.pi as string | undefined) ??
      (existsSync(`${from}.pi`) ? `${from}.pi` : undefined);
    const header = piPath ? sidecarFor(piPath, device, offset) : undefined;
    if (header && header.fileSize !== size) {
      throw new EnvironmentError(
        `${from} is ${size} bytes but ${piPath} protects ${header.fileSize}: run "pi verify" first`,
      );
    }
    const appTag = header?.appTag ?? (o["app-tag"] as number | undefined) ?? 0;
    const began = performance.now();
    let failure: DeviceBadInterval[] = [];
    await withRing(async (ring) => {
      const fd = await openThroughRing(ring, from, O_RDONLY);
      const piFd = piPath ? await openThroughRing(ring, piPath, O_RDONLY) : -1;
      const dev = await openThroughRing(ring, device.path, O_WRONLY | O_DIRECT);
      try {
        const progress = new Progress(`pi write ${device.path}`, size);
        await streamBlocks<Uint8Array | undefined>(ring, {
          fd,
          size,
          blockSize: streamBlockSize(
            (o["block-size"] as number | undefined) ?? DEFAULT_BLOCK_SIZE,
            t.interval,
          ),
          depth: (o.depth as number | undefined) ?? DEFAULT_DEPTH,
          padTo: t.interval,
          name: from,
          companion: piFd < 0 ? undefined : async (_i, at, length) => {
            const meta = alignedBuffer(
              Math.ceil(length / t.interval) * t.metadataSize,
            );
            await readFully(
              ring,
              piFd,
              meta,
              SIDECAR_HEADER_SIZE + (at / t.interval) * t.metadataSize,
            );
            return meta;
          },
        }, async (block) => {
          const at = offset + block.offset;
          let meta = block.extra;
          if (!meta) {
            meta = alignedBuffer(metaLength(t, block.data.length));
            generatePi(block.data, meta, { ...piFormatOf(t, at), appTag });
          }
          try {
            await writeFully(
              ring,
              dev,
              block.data,
              at,
              piOption(device, at, meta, check, appTag),
            );
          } catch (error) {
            if (!(error instanceof UringError) || error.code !== "EILSEQ") {
              throw error;
            }
            const found =
              error instanceof IntegrityError && error.intervals?.length
                ? error.intervals.map((b) => ({
                  lba: b.lba,
                  offset: b.offset,
                  field: b.field,
                  expected: hex(b.expected),
                  actual: hex(b.actual),
                }))
                : verifyPi(block.data, meta, { ...piFormatOf(t, at), appTag })
                  .bad.map((b) => ({
                    lba: Math.floor((at + b.offset) / device.lbaSize),
                    offset: at + b.offset,
                    field: b.field,
                    expected: hex(b.expected),
                    actual: hex(b.actual),
                  }));
            failure = found.length ? found : [{
              lba: Math.floor(at / device.lbaSize),
              offset: at,
              field: "unknown",
              detail: oneLine(error),
            }];
            throw new WriteRejected();
          }
          progress.update(block.offset + block.length);
        });
        progress.done();
      } catch (error) {
        if (!(error instanceof WriteRejected)) throw error;
      } finally {
        await closeQuietly(ring, dev);
        await closeQuietly(ring, piFd);
        await closeQuietly(ring, fd);
      }
    });
    const seconds = (performance.now() - began) / 1000;
    const report = {
      device: device.path,
      from,
      sidecar: piPath ?? null,
      offset,
      bytes: size,
      checks: checkNames(check),
      ok: failure.length === 0,
      bad: failure,
      seconds,
      bytesPerSecond: size / seconds,
    };
    if (o.json) await writeOut(toJson(report) + "\n");
    else if (report.ok) {
      await writeOut(
        `wrote ${from} (${formatBytes(size)}) to ${device.path} at LBA ${
          offset / device.lbaSize
        } ` +
          `with ${
            piPath ? `tuples from ${piPath}` : "generated tuples"
          }, device checks ${report.checks}, ` +
          `${formatRate(report.bytesPerSecond)}\n`,
      );
    } else {
      await writeOut(
        `REJECTED: ${device.path} refused the write (checks ${report.checks}); nothing after this block was written\n\n` +
          badTable(failure),
      );
    }
    return report.ok ? EXIT_OK : EXIT_INTEGRITY;
  },
};

/** Thrown inside the block loop to stop a write the device rejected. */
class WriteRejected extends Error {}

// -------------------------------------------------------------- pi read

/** `uring pi read DEV --to FILE`. */
export const piReadCommand: Command = {
  spec: {
    name: "pi read",
    summary:
      "Read a PI device into FILE with the device checking every tuple, and save the tuples as FILE.pi.",
    positionals: [{ name: "DEV", description: "a PI-formatted block device" }],
    options: {
      to: {
        type: "string",
        value: "FILE",
        description: "where the data goes (required)",
      },
      length: {
        type: "integer",
        value: "BYTES",
        min: 1,
        description: "bytes to read (default: to the end of the device)",
      },
      "pi-out": {
        type: "string",
        value: "FILE.pi",
        description:
          "where the tuples go (default FILE.pi; skipped when metadata is more than the tuple)",
      },
      ...DEVICE_OPTIONS,
    },
    details:
      `The sidecar written beside FILE verifies with "pi verify FILE" later.
Exit codes: 0 read, 1 the device reported integrity errors (listed by LBA;
the read stops there), 2 usage or environment error.`,
    examples: ["pi read /dev/nvme0n1 --to copy.bin --length 256M"],
  },
  async run(args: ParsedArgs): Promise<number> {
    const o = args.options;
    const to = o.to as string | undefined;
    if (!to) throw new UsageError("--to FILE is required", "pi read");
    const device = openPiDevice(args.positionals[0]);
    const t = device.target;
    const offset = deviceOffset(args, device, "pi read");
    const check = checkFlags(
      (o.checks as string | undefined) ?? "guard,reftag,apptag",
      t,
      "pi read",
    );
    const appTag = (o["app-tag"] as number | undefined) ?? 0;
    const wanted = Math.min(
      (o.length as number | undefined) ?? device.size - offset,
      device.size - offset,
    );
    const length = Math.ceil(wanted / t.interval) * t.interval;
    const sidecarPath = (o["pi-out"] as string | undefined) ?? `${to}.pi`;
    const writeSidecar = t.metadataSize === t.tupleSize && t.piOffset === 0;
    const header = sidecarHeader({
      guard: t.guard as PiGuard,
      interval: t.interval,
      refType: t.refTagChecked ? 1 : 3,
      seed: t.refTagChecked ? offset / t.interval : 0,
      appTag,
    }, length);
    const began = performance.now();
    const bad = new BadList();
    await withRing(async (ring) => {
      const dev = await openThroughRing(ring, device.path, O_RDONLY | O_DIRECT);
      const out = await openThroughRing(ring, to, O_WRONLY | O_CREAT | O_TRUNC);
      const piOut = writeSidecar
        ? await openThroughRing(ring, sidecarPath, O_WRONLY | O_CREAT | O_TRUNC)
        : -1;
      try {
        if (piOut >= 0) {
          await writeFully(ring, piOut, encodeSidecarHeader(header), 0);
        }
        const progress = new Progress(`pi read ${device.path}`, length);
        const metas = new Map<number, Uint8Array>();
        await streamBlocks(ring, {
          fd: dev,
          size: length,
          start: offset,
          blockSize: streamBlockSize(
            (o["block-size"] as number | undefined) ?? DEFAULT_BLOCK_SIZE,
            t.interval,
          ),
          depth: (o.depth as number | undefined) ?? DEFAULT_DEPTH,
          padTo: t.interval,
          name: device.path,
          readOptions: (at, n) => {
            const meta = alignedBuffer(metaLength(t, n));
            metas.set(at, meta);
            return piOption(device, at, meta, check, appTag);
          },
        }, async (block) => {
          const meta = metas.get(block.offset)!;
          metas.delete(block.offset);
          await writeFully(
            ring,
            out,
            block.data.subarray(0, block.length),
            block.offset - offset,
          );
          if (piOut >= 0) {
            await writeFully(
              ring,
              piOut,
              meta,
              SIDECAR_HEADER_SIZE +
                ((block.offset - offset) / t.interval) * t.tupleSize,
            );
          }
          progress.update(block.offset - offset + block.length);
        }).catch(async (error) => {
          if (!(error instanceof UringError) || error.code !== "EILSEQ") {
            throw error;
          }
          const at = error instanceof IntegrityError ? error.offset : offset;
          bad.add(
            await diagnoseRead(
              ring,
              dev,
              device,
              at,
              Math.min(DEFAULT_BLOCK_SIZE, offset + length - at),
              appTag,
              error,
            ),
          );
        });
        progress.done();
      } finally {
        await closeQuietly(ring, piOut);
        await closeQuietly(ring, out);
        await closeQuietly(ring, dev);
      }
    });
    const seconds = (performance.now() - began) / 1000;
    const report = {
      device: device.path,
      to,
      sidecar: writeSidecar ? sidecarPath : null,
      offset,
      bytes: length,
      checks: checkNames(check),
      ok: bad.total === 0,
      badTotal: bad.total,
      bad: bad.sorted(),
      seconds,
      bytesPerSecond: length / seconds,
    };
    if (o.json) await writeOut(toJson(report) + "\n");
    else if (report.ok) {
      await writeOut(
        `read ${formatBytes(length)} from ${device.path} at LBA ${
          offset / device.lbaSize
        } into ${to}` +
          `${
            writeSidecar ? ` (tuples in ${sidecarPath})` : ""
          }, device checks ${report.checks}, ` +
          `${formatRate(report.bytesPerSecond)}\n`,
      );
    } else {
      await writeOut(
        `BAD: ${device.path} failed its integrity check (checks ${report.checks}); the read stopped there\n\n` +
          badTable(report.bad),
      );
    }
    return report.ok ? EXIT_OK : EXIT_INTEGRITY;
  },
};
