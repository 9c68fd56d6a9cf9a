/**
 * `uring pi read DEV --to FILE`: reads a PI device into a file with the
 * device checking every tuple, and saves the tuples as a sidecar that
 * `pi verify FILE` accepts.
 *
 * @module
 */
import type { PiGuard } from "../pi/mod.ts";
import { IntegrityError } from "../ring/integrity_error.ts";
import {
  O_CREAT,
  O_DIRECT,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
} from "../structs/constants.ts";
import { UringError } from "../sys/errors.ts";
import { alignedBuffer } from "../sys/memory.ts";
import type { ParsedArgs } from "./args.ts";
import { streamBlocks } from "./blocks.ts";
import { writeFull } from "../ring/full_io.ts";
import type { Command } from "./command.ts";
import { EXIT_INTEGRITY, EXIT_OK, UsageError } from "./errors.ts";
import { failureNaming, openThroughRing } from "./files.ts";
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
  deviceOffset,
  diagnoseRead,
  metaLength,
  openPiDevice,
  piOption,
} from "./pi_device.ts";
import { Progress } from "./progress.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";
import { refuseSameFile } from "./same_file.ts";
import {
  encodeSidecarHeader,
  SIDECAR_HEADER_SIZE,
  sidecarHeader,
} from "./sidecar.ts";

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
    const sidecarPath = (o["pi-out"] as string | undefined) ?? `${to}.pi`;
    refuseSameFile("pi read", [
      { role: "--to", path: to },
      { role: "--pi-out", path: sidecarPath },
    ], [{ role: "DEV", path: args.positionals[0] }]);
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
          await writeFull(
            ring,
            piOut,
            encodeSidecarHeader(header),
            0,
            undefined,
            failureNaming(sidecarPath, "writing"),
          );
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
          await writeFull(
            ring,
            out,
            block.data.subarray(0, block.length),
            block.offset - offset,
            undefined,
            failureNaming(to, "writing"),
          );
          if (piOut >= 0) {
            await writeFull(
              ring,
              piOut,
              meta,
              SIDECAR_HEADER_SIZE +
                ((block.offset - offset) / t.interval) * t.tupleSize,
              undefined,
              failureNaming(sidecarPath, "writing"),
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
