/**
 * `uring pi gen FILE`: computes one PI tuple per protection interval of a
 * file and stores them in a sidecar (see `sidecar.ts`). The file is read
 * through the ring in big blocks with several reads in flight; each block's
 * tuples are written to the sidecar as soon as they exist, so memory use
 * does not grow with the file.
 *
 * @module
 */
import { lstatSync } from "node:fs";
import { generatePi, type PiGuard } from "../pi/mod.ts";
import { O_RDONLY } from "../structs/constants.ts";
import type { ParsedArgs } from "./args.ts";
import { streamBlocks } from "./blocks.ts";
import { writeFull } from "../ring/full_io.ts";
import type { Command } from "./command.ts";
import { AtomicOutput, removeStaleTemporaries } from "./atomic_output.ts";
import { EXIT_OK, UsageError } from "./errors.ts";
import { failureNaming, openThroughRing, requireRegularFile } from "./files.ts";
import { formatBytes, formatRate, toJson, writeOut } from "./output.ts";
import {
  checkInterval,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_DEPTH,
  GUARD_CHOICES,
  STREAM_OPTIONS,
  streamBlockSize,
} from "./pi_format_options.ts";
import { Progress } from "./progress.ts";
import { refuseSameFile } from "./same_file.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";
import {
  encodeSidecarHeader,
  SIDECAR_HEADER_SIZE,
  type SidecarHeader,
  sidecarHeader,
  sidecarLength,
} from "./sidecar.ts";

/**
 * What `pi gen` did, as printed by `--json`.
 *
 * @example
 * ```ts
 * import type { PiGenReport } from "./pi_gen.ts";
 * const gbps = (r: PiGenReport) => r.bytesPerSecond / 1e9;
 * ```
 */
export interface PiGenReport {
  readonly file: string;
  readonly sidecar: string;
  readonly guard: PiGuard;
  readonly interval: number;
  readonly refType: 1 | 2 | 3;
  readonly seed: number;
  readonly appTag: number;
  readonly fileSize: number;
  readonly tuples: number;
  readonly sidecarBytes: number;
  readonly seconds: number;
  /** File bytes protected per second (read + checksum + sidecar write). */
  readonly bytesPerSecond: number;
}

/**
 * How to generate a sidecar, for {@linkcode generateSidecar}.
 *
 * @example
 * ```ts
 * import type { PiGenOptions } from "./pi_gen.ts";
 * const o: PiGenOptions = {
 *   file: "data.bin", out: "data.bin.pi", guard: "crc16-t10dif", interval: 4096,
 *   refType: 1, seed: 0, appTag: 0,
 * };
 * ```
 */
export interface PiGenOptions {
  readonly file: string;
  readonly out: string;
  readonly guard: PiGuard;
  readonly interval: number;
  readonly refType: 1 | 2 | 3;
  readonly seed: number;
  readonly appTag: number;
  readonly blockSize?: number;
  readonly depth?: number;
  /** Replace an existing sidecar (otherwise refused). */
  readonly force?: boolean;
}

/** Tuple writes allowed to pile up before the reader waits for them. */
const MAX_PENDING_WRITES = 32;

/**
 * Refuses to replace an existing sidecar without `force`: a sidecar made
 * from the file as it is now vouches for whatever damage it has taken
 * since the old one was made.
 */
function refuseExistingSidecar(file: string, out: string): void {
  let exists = true;
  try {
    lstatSync(out);
  } catch {
    exists = false;
  }
  if (exists) {
    throw new UsageError(
      `${out} already exists: a new sidecar would vouch for ${file} as it is now, ` +
        `hiding any corruption since the old one was made; run "pi verify ${file}" first, ` +
        `or pass --force to replace it`,
      "pi gen",
    );
  }
}

/**
 * Writes the sidecar for `options.file` to `options.out` through a fresh
 * temporary file that is synced and renamed into place only when complete
 * (see `atomic_output.ts`), so a failed run never leaves a half-written
 * sidecar under the final name, nor a temporary file behind.
 *
 * @throws {UsageError} when `out` is the file itself (by inode, however
 * spelled) or exists and `force` is not set.
 * @throws {EnvironmentError} when the file cannot be read or the sidecar
 * written (the message names the path and the byte offset).
 * @example
 * ```ts
 * import { generateSidecar } from "./pi_gen.ts";
 * const report = await generateSidecar({
 *   file: "/etc/hostname", out: "/dev/shm/hostname.pi", guard: "crc16-t10dif",
 *   interval: 512, refType: 1, seed: 0, appTag: 0, force: true,
 * });
 * console.log(report.tuples);
 * ```
 */
export async function generateSidecar(
  options: PiGenOptions,
): Promise<PiGenReport> {
  const { file, out, guard, interval, refType, seed, appTag } = options;
  const size = requireRegularFile(file, "FILE").size;
  refuseSameFile("pi gen", [{ role: "--out", path: out }], [{
    role: "FILE",
    path: file,
  }]);
  if (!options.force) refuseExistingSidecar(file, out);
  const header: SidecarHeader = sidecarHeader(
    { guard, interval, refType, seed, appTag },
    size,
  );
  const headerBytes = encodeSidecarHeader(header);
  removeStaleTemporaries(out, headerBytes.subarray(0, 8));
  const start = performance.now();
  await withRing(async (ring) => {
    const fd = await openThroughRing(ring, file, O_RDONLY);
    let output: AtomicOutput | undefined;
    // Every write is watched from the moment it starts, so a failure (a
    // full disk) is reported once, as this command's error, and never
    // surfaces later as an unhandled rejection.
    let pending: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    const write = (bytes: Uint8Array, at: number) => {
      pending.push(
        writeFull(
          ring,
          output!.fd,
          bytes,
          at,
          undefined,
          failureNaming(out, "writing"),
        ).catch((error) => {
          failure ??= { error };
        }),
      );
    };
    const settle = async () => {
      await Promise.all(pending);
      pending = [];
      if (failure) throw failure.error;
    };
    try {
      output = await AtomicOutput.create(ring, out);
      write(headerBytes, 0);
      const progress = new Progress(`pi gen ${file}`, size);
      const tupleSize = header.tupleSize;
      await streamBlocks(ring, {
        fd,
        size,
        blockSize: streamBlockSize(
          options.blockSize ?? DEFAULT_BLOCK_SIZE,
          interval,
        ),
        depth: options.depth ?? DEFAULT_DEPTH,
        padTo: interval,
        name: file,
      }, async (block) => {
        if (failure) throw failure.error;
        const first = block.offset / interval;
        const meta = new Uint8Array((block.data.length / interval) * tupleSize);
        generatePi(block.data, meta, {
          guard,
          interval,
          appTag,
          refTag: { type: refType, seed: refType === 3 ? seed : seed + first },
        });
        write(meta, SIDECAR_HEADER_SIZE + first * tupleSize);
        if (pending.length >= MAX_PENDING_WRITES) await settle();
        progress.update(block.offset + block.length);
      });
      await settle();
      progress.done();
      await output.commit();
    } catch (error) {
      await Promise.all(pending);
      await output?.abort();
      throw error;
    } finally {
      await closeQuietly(ring, fd);
    }
  });
  const seconds = (performance.now() - start) / 1000;
  return {
    file,
    sidecar: out,
    guard,
    interval,
    refType,
    seed,
    appTag,
    fileSize: size,
    tuples: header.count,
    sidecarBytes: sidecarLength(header),
    seconds,
    bytesPerSecond: size / seconds,
  };
}

/** `uring pi gen`. */
export const piGenCommand: Command = {
  spec: {
    name: "pi gen",
    summary:
      "Protect FILE: compute a PI tuple (checksum + tags) for every interval and store them in a sidecar file.",
    positionals: [{ name: "FILE", description: "the file to protect" }],
    options: {
      guard: {
        type: "string",
        choices: GUARD_CHOICES,
        default: "crc16-t10dif",
        description: "checksum in each tuple",
      },
      interval: {
        type: "integer",
        value: "N",
        default: 4096,
        description: "protection interval in bytes (power of two, 512-65536)",
      },
      "ref-type": {
        type: "integer",
        value: "1|2|3",
        min: 1,
        max: 3,
        default: 1,
        description:
          "reference tag rule: 1, 2 = seed + interval number; 3 = seed, unchecked",
      },
      seed: {
        type: "integer",
        value: "N",
        min: 0,
        max: 2 ** 48 - 1,
        default: 0,
        description: "reference tag of the first interval",
      },
      "app-tag": {
        type: "integer",
        value: "N",
        min: 0,
        max: 0xfffe,
        default: 0,
        description:
          "application tag in every tuple (0xFFFF would disable checking)",
      },
      out: {
        type: "string",
        value: "FILE.pi",
        description: "sidecar path (default FILE.pi)",
      },
      force: {
        type: "boolean",
        description:
          "replace an existing sidecar (run pi verify first: a new one vouches for the file as it is now)",
      },
      json: { type: "boolean", description: "print a JSON report" },
      ...STREAM_OPTIONS,
    },
    details:
      `The sidecar starts with a 64-byte header (magic "uring-pi", version,
guard, interval, ref-tag type and seed, app tag, file size, header CRC32C)
followed by the tuples exactly as a PI device stores them (big-endian), so
"pi write" can later hand them to a PI-formatted disk.
An existing sidecar is not replaced without --force. The sidecar is written
under a temporary name in its directory, synced, and renamed into place.
Exit codes: 0 written, 2 usage or environment error (nothing replaced).`,
    examples: [
      "pi gen data.bin",
      "pi gen data.bin --guard crc64-nvme --interval 512 --out /backup/data.pi",
    ],
  },
  async run(args: ParsedArgs): Promise<number> {
    const [file] = args.positionals;
    const o = args.options;
    const interval = (o.interval as number | undefined) ?? 4096;
    checkInterval(interval, "pi gen");
    const out = (o.out as string | undefined) ?? `${file}.pi`;
    const report = await generateSidecar({
      file,
      out,
      guard: ((o.guard as string | undefined) ?? "crc16-t10dif") as PiGuard,
      interval,
      refType: ((o["ref-type"] as number | undefined) ?? 1) as 1 | 2 | 3,
      seed: (o.seed as number | undefined) ?? 0,
      appTag: (o["app-tag"] as number | undefined) ?? 0,
      blockSize: o["block-size"] as number | undefined,
      depth: o.depth as number | undefined,
      force: o.force === true,
    });
    if (o.json) {
      await writeOut(toJson(report) + "\n");
    } else {
      await writeOut(
        `wrote ${report.sidecar}: ${report.tuples} ${report.guard} tuples ` +
          `(${formatBytes(report.sidecarBytes)}) protecting ${
            formatBytes(report.fileSize)
          } in ${report.interval}-byte intervals, ` +
          `${report.seconds.toFixed(2)} s (${
            formatRate(report.bytesPerSecond)
          })\n`,
      );
    }
    return EXIT_OK;
  },
};
