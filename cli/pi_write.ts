/**
 * `uring pi write DEV --from FILE`: writes a file to a PI device with its
 * tuples (from its sidecar, or generated in the device's format), the
 * device checking each one; a rejected block stops the write.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { generatePi, verifyPi } from "../pi/mod.ts";
import { piFormatOf } from "../ring/integrity_diagnosis.ts";
import { O_DIRECT, O_RDONLY, O_WRONLY } from "../structs/constants.ts";
import { UringError } from "../sys/errors.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { ParsedArgs } from "./args.ts";
import { streamBlocks } from "./blocks.ts";
import { readFull, writeFull } from "../ring/full_io.ts";
import type { Command } from "./command.ts";
import {
  EnvironmentError,
  EXIT_INTEGRITY,
  EXIT_OK,
  oneLine,
  UsageError,
} from "./errors.ts";
import { failureNaming, openThroughRing, requireRegularFile } from "./files.ts";
import { formatBytes, formatRate, toJson, writeOut } from "./output.ts";
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_DEPTH,
  streamBlockSize,
} from "./pi_format_options.ts";
import {
  badTable,
  checkFlags,
  checkNames,
  DEVICE_OPTIONS,
  type DeviceBadInterval,
  deviceOffset,
  metaLength,
  openPiDevice,
  type PiDevice,
  piOption,
  reportedIntervals,
  softwareIntervals,
} from "./pi_device.ts";
import { Progress } from "./progress.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";
import {
  decodeSidecarHeader,
  SIDECAR_HEADER_SIZE,
  type SidecarHeader,
} from "./sidecar.ts";

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
            await readFull(
              ring,
              piFd,
              meta,
              SIDECAR_HEADER_SIZE + (at / t.interval) * t.metadataSize,
              undefined,
              failureNaming(piPath, "reading"),
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
            await writeFull(
              ring,
              dev,
              block.data,
              at,
              piOption(device, at, meta, check, appTag),
              failureNaming(device.path, "writing"),
            );
          } catch (error) {
            if (!(error instanceof UringError) || error.code !== "EILSEQ") {
              throw error;
            }
            const found = reportedIntervals(error) ??
              softwareIntervals(
                verifyPi(block.data, meta, { ...piFormatOf(t, at), appTag })
                  .bad,
                at,
                device.lbaSize,
              );
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
