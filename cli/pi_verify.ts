/**
 * `uring pi verify FILE`: checks a file against its sidecar and reports
 * every interval whose data no longer matches its tuple, and a change of
 * size. Everything it needs (format, tags, original size) is in the
 * sidecar header.
 *
 * @module
 */
import { type PiError, verifyPi } from "../pi/mod.ts";
import { O_RDONLY } from "../structs/constants.ts";
import type { ParsedArgs } from "./args.ts";
import { streamBlocks } from "./blocks.ts";
import { readFull } from "../ring/full_io.ts";
import type { Command } from "./command.ts";
import { EXIT_INTEGRITY, EXIT_OK } from "./errors.ts";
import { failureNaming, openThroughRing, requireRegularFile } from "./files.ts";
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
import { Progress } from "./progress.ts";
import { closeQuietly, withRing } from "./ring_scope.ts";
import {
  decodeSidecarHeader,
  SIDECAR_HEADER_SIZE,
  SidecarError,
  type SidecarHeader,
  sidecarLength,
} from "./sidecar.ts";

/** Bad intervals listed in a report; the total is always counted. */
export const MAX_LISTED = 1000;

/**
 * One failed field of one interval, as reported (tags and checksums as
 * hex strings, so 64-bit guards survive JSON).
 *
 * @example
 * ```ts
 * import type { BadInterval } from "./pi_verify.ts";
 * const b: BadInterval = { index: 3, offset: 12288, field: "guard", expected: "0x1a2b", actual: "0x1a2c" };
 * ```
 */
export interface BadInterval {
  readonly index: number;
  readonly offset: number;
  readonly field: PiError["field"];
  readonly expected: string;
  readonly actual: string;
}

/**
 * How the file's size differs from when the sidecar was made.
 *
 * @example
 * ```ts
 * import type { SizeChange } from "./pi_verify.ts";
 * const s: SizeChange = { expected: 8192, actual: 4096, missingIntervals: 1, extraBytes: 0 };
 * ```
 */
export interface SizeChange {
  /** Size recorded in the sidecar. */
  readonly expected: number;
  /** Size now. */
  readonly actual: number;
  /** Intervals of the original that no longer exist (truncation). */
  readonly missingIntervals: number;
  /** Bytes past the original end, which no tuple protects. */
  readonly extraBytes: number;
}

/**
 * The outcome of `pi verify`, as printed by `--json`.
 *
 * @example
 * ```ts
 * import type { PiVerifyReport } from "./pi_verify.ts";
 * const summary = (r: PiVerifyReport) => r.ok ? "ok" : `${r.badIntervals} bad`;
 * ```
 */
export interface PiVerifyReport {
  readonly file: string;
  readonly sidecar: string;
  readonly ok: boolean;
  readonly format: {
    readonly guard: string;
    readonly interval: number;
    readonly refType: number;
    readonly seed: number;
    readonly appTag: number;
  };
  /** Intervals compared. */
  readonly intervals: number;
  /** Intervals with at least one failed field. */
  readonly badIntervals: number;
  /** Failed fields in all (an interval can fail in several). */
  readonly badFields: number;
  /** The first {@linkcode MAX_LISTED} failed fields, in file order. */
  readonly bad: readonly BadInterval[];
  /** More failed fields exist than are listed. */
  readonly listTruncated: boolean;
  /** Present when the file's size changed. */
  readonly sizeChange?: SizeChange;
  readonly bytesChecked: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
}

/** Hex digits of each field, so columns line up and widths mean something. */
function fieldDigits(header: SidecarHeader, field: PiError["field"]): number {
  switch (field) {
    case "guard":
      return header.guard === "crc64-nvme"
        ? 16
        : header.guard === "crc32c"
        ? 8
        : 4;
    case "appTag":
      return 4;
    case "storageTag":
      return 8;
    case "refTag":
      return header.tupleSize === 8 ? 8 : 12;
  }
}

/** App tag of 0xFFFF: devices and verifyPi skip such a tuple entirely. */
const ESCAPE_APP_TAG = 0xffff;

/**
 * Tuples whose app tag became the escape value: verifyPi skips them as a
 * device would, but a sidecar never contains one (gen refuses 0xFFFF), so
 * here it can only be damage that would otherwise hide the interval.
 */
function escapedTuples(
  meta: Uint8Array,
  header: SidecarHeader,
  first: number,
  blockOffset: number,
): PiError[] {
  const found: PiError[] = [];
  const appAt = header.tupleSize === 8
    ? 2
    : header.guard === "crc64-nvme"
    ? 8
    : 4;
  for (let at = appAt, i = 0; at < meta.length; at += header.tupleSize, i++) {
    if (meta[at] === 0xff && meta[at + 1] === 0xff) {
      found.push({
        index: first + i,
        offset: blockOffset + i * header.interval,
        field: "appTag",
        expected: header.appTag,
        actual: ESCAPE_APP_TAG,
      });
    }
  }
  return found;
}

/**
 * Verifies `file` against `sidecar`.
 *
 * @throws {SidecarError} when the sidecar is not one or is damaged.
 * @throws {EnvironmentError} when a file cannot be read.
 * @example
 * ```ts
 * import { verifySidecar } from "./pi_verify.ts";
 * const report = await verifySidecar("data.bin", "data.bin.pi");
 * console.log(report.ok, report.badIntervals);
 * ```
 */
export async function verifySidecar(
  file: string,
  sidecar: string,
  tuning: {
    blockSize?: number;
    depth?: number;
    /** Called once the header is read, before any data (prints the title). */
    onHeader?: (format: PiVerifyReport["format"]) => void | Promise<void>;
  } = {},
): Promise<PiVerifyReport> {
  const size = requireRegularFile(file, "FILE").size;
  const sidecarSize = requireRegularFile(sidecar, "the sidecar").size;
  const start = performance.now();
  return await withRing(async (ring) => {
    const piFd = await openThroughRing(ring, sidecar, O_RDONLY);
    let fd = -1;
    try {
      const headerBytes = new Uint8Array(SIDECAR_HEADER_SIZE);
      const got = await readFull(
        ring,
        piFd,
        headerBytes,
        0,
        undefined,
        failureNaming(sidecar, "reading"),
      );
      const header = decodeSidecarHeader(headerBytes.subarray(0, got), sidecar);
      if (sidecarSize !== sidecarLength(header)) {
        throw new SidecarError(
          `${sidecar} is ${sidecarSize} bytes but its header promises ${
            sidecarLength(header)
          } (${header.count} tuples): the sidecar was truncated or extended`,
        );
      }
      fd = await openThroughRing(ring, file, O_RDONLY);
      const { interval, tupleSize } = header;
      const format = {
        guard: header.guard,
        interval,
        refType: header.refType,
        seed: header.seed,
        appTag: header.appTag,
      };
      await tuning.onHeader?.(format);
      const checked = Math.min(size, header.fileSize);
      const bad: BadInterval[] = [];
      let badFields = 0;
      let badIntervals = 0;
      let lastBadIndex = -1;
      const progress = new Progress(`pi verify ${file}`, checked);
      await streamBlocks<Uint8Array>(ring, {
        fd,
        size: checked,
        blockSize: streamBlockSize(
          tuning.blockSize ?? DEFAULT_BLOCK_SIZE,
          interval,
        ),
        depth: tuning.depth ?? DEFAULT_DEPTH,
        padTo: interval,
        name: file,
        companion: async (_index, offset, length) => {
          const tuples = new Uint8Array(
            Math.ceil(length / interval) * tupleSize,
          );
          const at = SIDECAR_HEADER_SIZE + (offset / interval) * tupleSize;
          const n = await readFull(
            ring,
            piFd,
            tuples,
            at,
            undefined,
            failureNaming(sidecar, "reading"),
          );
          if (n !== tuples.length) {
            throw new SidecarError(
              `${sidecar} ended early (changed during the run?)`,
            );
          }
          return tuples;
        },
      }, (block) => {
        const first = block.offset / interval;
        const result = verifyPi(block.data, block.extra, {
          guard: header.guard,
          interval,
          appTag: header.appTag,
          refTag: {
            type: header.refType,
            seed: header.refType === 3 ? header.seed : header.seed + first,
          },
        });
        let errors: PiError[] = result.bad;
        if (header.appTag !== ESCAPE_APP_TAG) {
          // Type 3 skips only when the ref tag is all ones too; then
          // verifyPi has already reported the app tag itself.
          const reported = new Set(
            errors.filter((e) => e.field === "appTag").map((e) => e.index),
          );
          const escaped = escapedTuples(block.extra, header, 0, 0).filter(
            (e) => !reported.has(e.index),
          );
          if (escaped.length > 0) {
            errors = [...errors, ...escaped].sort((a, b) => a.index - b.index);
          }
        }
        for (const e of errors) {
          const index = first + e.index;
          badFields++;
          if (index !== lastBadIndex) badIntervals++;
          lastBadIndex = index;
          if (bad.length < MAX_LISTED) {
            const digits = fieldDigits(header, e.field);
            bad.push({
              index,
              offset: block.offset + e.offset,
              field: e.field,
              expected: hex(e.expected, digits),
              actual: hex(e.actual, digits),
            });
          }
        }
        progress.update(block.offset + block.length);
      });
      progress.done();
      const sizeChange: SizeChange | undefined = size === header.fileSize
        ? undefined
        : {
          expected: header.fileSize,
          actual: size,
          missingIntervals: Math.max(
            0,
            header.count - Math.ceil(size / interval),
          ),
          extraBytes: Math.max(0, size - header.fileSize),
        };
      const seconds = (performance.now() - start) / 1000;
      return {
        file,
        sidecar,
        ok: badFields === 0 && sizeChange === undefined,
        format,
        intervals: Math.ceil(checked / interval),
        badIntervals,
        badFields,
        bad,
        listTruncated: badFields > bad.length,
        sizeChange,
        bytesChecked: checked,
        seconds,
        bytesPerSecond: checked / seconds,
      };
    } finally {
      await closeQuietly(ring, fd);
      await closeQuietly(ring, piFd);
    }
  });
}

/**
 * The first line of a verify report: what is checked against what, in
 * which format. Printed before the data is read, so a progress line
 * appears under it.
 *
 * @example
 * ```ts
 * import { verifyTitle } from "./pi_verify.ts";
 * verifyTitle("d", "d.pi", { guard: "crc32c", interval: 512, refType: 1, seed: 0, appTag: 0 });
 * ```
 */
export function verifyTitle(
  file: string,
  sidecar: string,
  f: PiVerifyReport["format"],
): string {
  return `${file} against ${sidecar}: ${f.guard} guard, ${f.interval}-byte intervals, ` +
    `ref tag type ${f.refType} (seed ${f.seed}), app tag ${hex(f.appTag, 4)}`;
}

/**
 * The human-readable report (`withTitle` false when the title line was
 * already printed).
 *
 * @example
 * ```ts
 * import { formatVerifyReport, verifySidecar } from "./pi_verify.ts";
 * console.log(formatVerifyReport(await verifySidecar("data.bin", "data.bin.pi")));
 * ```
 */
export function formatVerifyReport(
  r: PiVerifyReport,
  withTitle = true,
): string {
  const lines = withTitle ? [verifyTitle(r.file, r.sidecar, r.format)] : [];
  const speed = `${formatBytes(r.bytesChecked)} checked in ${
    r.seconds.toFixed(2)
  } s, ${formatRate(r.bytesPerSecond)}`;
  if (r.ok) {
    lines.push(`OK: all ${r.intervals} intervals match (${speed})`);
    return lines.join("\n") + "\n";
  }
  if (r.sizeChange) {
    const s = r.sizeChange;
    lines.push(
      s.actual < s.expected
        ? `SIZE CHANGED: the file is ${s.actual} bytes, it was ${s.expected} when protected: ` +
          `${
            s.expected - s.actual
          } bytes cut off, ${s.missingIntervals} interval(s) gone`
        : `SIZE CHANGED: the file is ${s.actual} bytes, it was ${s.expected} when protected: ` +
          `${s.extraBytes} bytes added at the end, which no tuple protects`,
    );
  }
  if (r.badFields > 0) {
    lines.push(
      `BAD: ${r.badIntervals} of ${r.intervals} intervals do not match their tuples ` +
        `(${r.badFields} failed field${
          r.badFields === 1 ? "" : "s"
        }; ${speed})`,
    );
    lines.push("");
    const table = formatTable(
      ["interval", "byte offset", "field", "expected", "actual"],
      r.bad.map((b) => [
        String(b.index),
        String(b.offset),
        b.field,
        b.expected,
        b.actual,
      ]),
    );
    lines.push(table.trimEnd());
    if (r.listTruncated) {
      lines.push(
        `... ${
          r.badFields - r.bad.length
        } more failed fields not listed (first ${MAX_LISTED} shown)`,
      );
    }
  } else {
    lines.push(`every interval present matches its tuple (${speed})`);
  }
  return lines.join("\n") + "\n";
}

/** `uring pi verify`. */
export const piVerifyCommand: Command = {
  spec: {
    name: "pi verify",
    summary:
      "Check FILE against its PI sidecar: report every interval whose data changed, and any change of size.",
    positionals: [{ name: "FILE", description: "the protected file" }],
    options: {
      pi: {
        type: "string",
        value: "FILE.pi",
        description: "the sidecar (default FILE.pi)",
      },
      json: { type: "boolean", description: "print a JSON report" },
      ...STREAM_OPTIONS,
    },
    details:
      `The format, tags and original size come from the sidecar header; no
other option is needed. Each bad interval is listed with its number, byte
offset, the failed field (guard = checksum, appTag, refTag) and the expected
and actual values (first ${MAX_LISTED} listed, all counted).
Exit codes: 0 everything matches, 1 bad intervals or a size change,
2 usage or environment error (missing file, damaged sidecar header).`,
    examples: [
      "pi verify data.bin",
      "pi verify data.bin --pi /backup/data.pi --json",
    ],
  },
  async run(args: ParsedArgs): Promise<number> {
    const [file] = args.positionals;
    const o = args.options;
    const sidecar = (o.pi as string | undefined) ?? `${file}.pi`;
    const report = await verifySidecar(file, sidecar, {
      blockSize: o["block-size"] as number | undefined,
      depth: o.depth as number | undefined,
      onHeader: o.json
        ? undefined
        : (format) => writeOut(verifyTitle(file, sidecar, format) + "\n"),
    });
    await writeOut(
      o.json ? toJson(report) + "\n" : formatVerifyReport(report, false),
    );
    return report.ok ? EXIT_OK : EXIT_INTEGRITY;
  },
};
