/**
 * `uring scrub DEV`: reads a whole PI device (or a range) with the device
 * checking every tuple, goes on past failures and lists them by LBA.
 *
 * @module
 */
import { O_DIRECT, O_RDONLY } from "../structs/constants.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { ParsedArgs } from "./args.ts";
import { readFull } from "../ring/full_io.ts";
import type { Command } from "./command.ts";
import { EXIT_INTEGRITY, EXIT_OK } from "./errors.ts";
import { openThroughRing } from "./files.ts";
import { formatBytes, formatRate, toJson, writeOut } from "./output.ts";
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_DEPTH,
  streamBlockSize,
} from "./pi_format_options.ts";
import {
  BadList,
  badTable,
  checkFlags,
  checkNames,
  DEVICE_OPTIONS,
  type DeviceBadInterval,
  deviceOffset,
  diagnoseRead,
  metaLength,
  openPiDevice,
  type PiDevice,
  piOption,
} from "./pi_device.ts";
import { Progress } from "./progress.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";

/**
 * The outcome of a scrub.
 *
 * @example
 * ```ts
 * import type { ScrubReport } from "./scrub.ts";
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
            await readFull(
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
