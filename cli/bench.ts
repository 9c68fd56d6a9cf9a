/**
 * `uring bench nop|read|write|pi`: the ring's Promise API against what
 * people use today, in the same run: C liburing for NOPs; fio's io_uring
 * engine and the runtime's own `node:fs/promises` for reads and writes;
 * and the sidecar pipeline's throughput for `pi`.
 *
 * @module
 */
import process from "node:process";
import { runtimeName } from "../ffi/mod.ts";
import type { PiGuard } from "../pi/mod.ts";
import { kernelRelease } from "../ring/kernel_probe.ts";
import type { ParsedArgs } from "./args.ts";
import { benchFile, uniqueName, writeTestFile } from "./bench_file.ts";
import { runFio, runNopReference, type ToolResult } from "./bench_tools.ts";
import {
  type IoJob,
  runtimeFsIo,
  uringIo,
  uringNop,
  type WorkloadResult,
} from "./bench_workloads.ts";
import type { Command } from "./command.ts";
import { EnvironmentError, EXIT_OK, oneLine, UsageError } from "./errors.ts";
import {
  formatBytes,
  formatCount,
  formatTable,
  toJson,
  writeOut,
} from "./output.ts";
import { checkInterval, GUARD_CHOICES } from "./pi_format_options.ts";
import { generateSidecar } from "./pi_gen.ts";
import { verifySidecar } from "./pi_verify.ts";
import { rmSync } from "node:fs";
import { measureNops } from "./nop_loop.ts";

/**
 * One row of the benchmark table.
 *
 * @example
 * ```ts
 * import type { BenchRow } from "./bench.ts";
 * const row: BenchRow = { name: "fio io_uring", opsPerSecond: 7e5, bytesPerSecond: 2.8e9 };
 * ```
 */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSecond?: number;
  readonly bytesPerSecond?: number;
  /** Event-loop lag while it ran (in-process rows only). */
  readonly lagMeanMs?: number;
  readonly lagMaxMs?: number;
  /** uring's result divided by this row's (the first row is uring itself). */
  readonly uringRatio?: number;
  /** bench nop: this row's rate divided by C liburing's. */
  readonly cRatio?: number;
  /** Why this row has no numbers. */
  readonly error?: string;
}

/**
 * The `--json` output of a benchmark.
 *
 * @example
 * ```ts
 * import type { BenchReport } from "./bench.ts";
 * const best = (r: BenchReport) => r.rows[0].opsPerSecond;
 * ```
 */
export interface BenchReport {
  readonly workload: string;
  readonly runtime: string;
  readonly kernel: string;
  readonly settings: Record<string, unknown>;
  readonly rows: readonly BenchRow[];
}

function inProcessRow(name: string, r: WorkloadResult): BenchRow {
  return {
    name,
    opsPerSecond: r.opsPerSecond,
    bytesPerSecond: r.bytesPerSecond,
    lagMeanMs: r.lag.meanMs,
    lagMaxMs: r.lag.maxMs,
  };
}

function toolRow(name: string, r: ToolResult): BenchRow {
  return r.error !== undefined
    ? { name, error: r.error }
    : { name, opsPerSecond: r.opsPerSecond, bytesPerSecond: r.bytesPerSecond };
}

/** Adds `uringRatio` to every row: row 0 (uring) over each row. */
function withRatios(
  rows: BenchRow[],
  key: "opsPerSecond" | "bytesPerSecond",
): BenchRow[] {
  const uring = rows[0][key];
  return rows.map((row) =>
    uring !== undefined && row[key]
      ? { ...row, uringRatio: uring / row[key]! }
      : row
  );
}

function runtimeLabel(): string {
  const version =
    (process.versions as Record<string, string | undefined>)[runtimeName];
  return `${runtimeName} ${version ?? ""}`.trim();
}

function lagText(row: BenchRow): string {
  return row.lagMaxMs === undefined
    ? "-"
    : `${row.lagMeanMs!.toFixed(1)} / ${row.lagMaxMs.toFixed(1)} ms`;
}

function formatReport(report: BenchReport, title: string): string {
  const rate = report.workload === "pi";
  const header = rate
    ? ["what", "MB/s", "best MB/s"]
    : report.workload === "nop"
    ? ["what", "ops/s", "loop lag mean/max", "this ÷ C"]
    : ["what", "IOPS", "MB/s", "loop lag mean/max", "uring ÷ this"];
  const rows = report.rows.map((row) => {
    if (row.error !== undefined) {
      return [
        row.name,
        ...header.slice(1, -1).map(() => "-"),
        `n/a: ${row.error}`,
      ];
    }
    if (rate) {
      const best =
        (row as BenchRow & { bestBytesPerSecond?: number }).bestBytesPerSecond;
      return [
        row.name,
        (row.bytesPerSecond! / 1e6).toFixed(0),
        best ? (best / 1e6).toFixed(0) : "-",
      ];
    }
    const ratioOf = report.workload === "nop" ? row.cRatio : row.uringRatio;
    const ratio = ratioOf === undefined ? "-" : ratioOf.toFixed(2);
    return report.workload === "nop"
      ? [row.name, formatCount(row.opsPerSecond!), lagText(row), ratio]
      : [
        row.name,
        formatCount(row.opsPerSecond!),
        (row.bytesPerSecond! / 1e6).toFixed(0),
        lagText(row),
        ratio,
      ];
  });
  return `${title}\n\n${formatTable(header, rows)}`;
}

/**
 * The low-level ring (RingCore: prepare, submit, reap, as liburing does)
 * for about `seconds`: a short calibration run first, as for the C program.
 */
function lowLevelNops(batch: number, seconds: number): BenchRow {
  const name = `uring low-level ring (batch ${batch})`;
  try {
    const probe = measureNops(batch, 200_000);
    const rate = measureNops(batch, Math.max(200_000, probe * seconds));
    return { name, opsPerSecond: rate, bytesPerSecond: 0 };
  } catch (error) {
    return { name, error: oneLine(error) };
  }
}

/** Adds `cRatio` (this row's rate ÷ C's) to every row, when C ran. */
function withCRatios(rows: BenchRow[], c: BenchRow): BenchRow[] {
  return rows.map((row) =>
    c.opsPerSecond && row.opsPerSecond !== undefined
      ? { ...row, cRatio: row.opsPerSecond / c.opsPerSecond }
      : row
  );
}

async function benchNop(qd: number, seconds: number): Promise<BenchReport> {
  // The pairing the README reports (low-level ring vs C, same batch) first,
  // back to back; then the Promise API with `qd` requests in flight.
  const lowLevel = lowLevelNops(qd, seconds);
  const c = toolRow(`C liburing (batch ${qd})`, runNopReference(qd, seconds));
  const promise = inProcessRow(
    `uring Promise API (${qd} in flight)`,
    await uringNop(qd, seconds),
  );
  return {
    workload: "nop",
    runtime: runtimeLabel(),
    kernel: kernelRelease(),
    settings: { qd, seconds },
    rows: withCRatios([lowLevel, c, promise], c),
  };
}

/**
 * The node:fs row's name with what the runtime really did when O_DIRECT
 * was asked for: the README's runtime-API numbers are buffered on Deno
 * (Deno.FsFile cannot open O_DIRECT), so a direct or buffered run must
 * say which it was.
 */
function runtimeFsLabel(asked: boolean, got: boolean | undefined): string {
  if (!asked) return "node:fs/promises";
  if (got === undefined) return "node:fs/promises (O_DIRECT unverified)";
  return got
    ? "node:fs/promises (O_DIRECT)"
    : "node:fs/promises (buffered: O_DIRECT dropped)";
}

async function benchIo(
  job: IoJob,
  keepFile: string | undefined,
  fileSize: number,
): Promise<BenchReport> {
  const file = await benchFile(keepFile, fileSize, job.direct);
  try {
    if (file.size < job.bs) {
      throw new EnvironmentError(
        `${file.path} is smaller than one ${job.bs}-byte block`,
      );
    }
    const fullJob = { ...job, file: file.path, size: file.size };
    const uring = await uringIo(fullJob);
    const fio = runFio({
      ...fullJob,
      rw: job.write ? "randwrite" : "randread",
    });
    let fs: BenchRow;
    try {
      const result = await runtimeFsIo(fullJob);
      fs = inProcessRow(runtimeFsLabel(job.direct, result.direct), result);
    } catch (error) {
      fs = { name: "node:fs/promises", error: oneLine(error) };
    }
    return {
      workload: job.write ? "write" : "read",
      runtime: runtimeLabel(),
      kernel: kernelRelease(),
      settings: {
        qd: job.qd,
        bs: job.bs,
        direct: job.direct,
        seconds: job.seconds,
        file: file.path,
        fileSize: file.size,
      },
      rows: withRatios([
        inProcessRow("uring Promise API", uring),
        toolRow("fio io_uring", fio),
        fs,
      ], "opsPerSecond"),
    };
  } finally {
    file.cleanup();
  }
}

async function benchPi(
  guard: PiGuard,
  interval: number,
  size: number,
  requested: string | undefined,
): Promise<BenchReport> {
  const file = requested ?? `/dev/shm/${uniqueName("uring-bench-pi")}`;
  const sidecar = `${file}.bench-${process.pid}.pi`;
  if (!requested) await writeTestFile(file, size);
  try {
    const gen: number[] = [];
    const verify: number[] = [];
    // Three runs each: the machine is shared, the best and the median say more than one.
    for (let run = 0; run < 3; run++) {
      gen.push(
        (await generateSidecar({
          file,
          out: sidecar,
          guard,
          interval,
          refType: 1,
          seed: 0,
          appTag: 0,
          // Each run replaces the previous run's sidecar.
          force: true,
        }))
          .bytesPerSecond,
      );
      const v = await verifySidecar(file, sidecar);
      if (!v.ok) {
        throw new EnvironmentError(`${file} changed during the benchmark`);
      }
      verify.push(v.bytesPerSecond);
    }
    const row = (name: string, rates: number[]) => {
      const sorted = [...rates].sort((a, b) => a - b);
      return { name, bytesPerSecond: sorted[1], bestBytesPerSecond: sorted[2] };
    };
    return {
      workload: "pi",
      runtime: runtimeLabel(),
      kernel: kernelRelease(),
      settings: {
        guard,
        interval,
        file,
        fileSize: requested ? undefined : size,
        runs: 3,
      },
      rows: [
        row(`pi gen ${guard}/${interval}`, gen),
        row(`pi verify ${guard}/${interval}`, verify),
      ],
    };
  } finally {
    rmSync(sidecar, { force: true });
    if (!requested) rmSync(file, { force: true });
  }
}

/** `uring bench`. */
export const benchCommand: Command = {
  spec: {
    name: "bench",
    summary:
      "Benchmark the ring against C liburing (nop: low-level ring and Promise API), its Promise API against fio and node:fs (read, write), or the PI sidecar pipeline (pi).",
    positionals: [{
      name: "nop|read|write|pi",
      description: "what to measure",
    }],
    options: {
      qd: {
        type: "integer",
        value: "N",
        min: 1,
        max: 4096,
        default: 64,
        description: "requests in flight",
      },
      bs: {
        type: "integer",
        value: "N",
        min: 512,
        max: 16 << 20,
        default: "4K",
        description: "bytes per read/write",
      },
      file: {
        type: "string",
        value: "PATH",
        description:
          "file to use (bench write overwrites it; default: a temporary file, removed afterwards)",
      },
      size: {
        type: "integer",
        value: "N",
        min: 1 << 20,
        default: "256M",
        description: "size of a created file",
      },
      direct: {
        type: "boolean",
        description: "O_DIRECT (the temporary file then goes to /var/tmp)",
      },
      seconds: {
        type: "number",
        value: "S",
        min: 0.2,
        max: 3600,
        default: 3,
        description: "time per contender",
      },
      guard: {
        type: "string",
        choices: GUARD_CHOICES,
        default: "crc16-t10dif",
        description: "bench pi: guard",
      },
      interval: {
        type: "integer",
        value: "N",
        default: 4096,
        description: "bench pi: protection interval",
      },
      json: { type: "boolean", description: "print a JSON report" },
    },
    details:
      `bench nop runs the low-level ring (prepare/submit/reap in batches of --qd,
as bench/nop.sh and the README) and C liburing back to back, then the
Promise API with --qd NOPs in flight; "this ÷ C" is each row's rate over C's.
Reads and writes are random, bs-aligned, over the whole file. "uring ÷ this"
is uring's rate divided by the row's: above 1 uring is faster. Loop lag is
how late a 10 ms timer fired while the row ran (in-process rows only).
bench pi runs pi gen and pi verify three times on the file (median and best MB/s).`,
    examples: [
      "bench nop --seconds 2",
      "bench read --qd 64 --bs 4k",
      "bench read --direct --seconds 5 --json",
      "bench pi",
    ],
  },
  async run(args: ParsedArgs): Promise<number> {
    const [workload] = args.positionals;
    const o = args.options;
    const qd = (o.qd as number | undefined) ?? 64;
    const seconds = (o.seconds as number | undefined) ?? 3;
    const bs = (o.bs as number | undefined) ?? 4096;
    const size = (o.size as number | undefined) ?? 256 << 20;
    const direct = o.direct === true;
    const file = o.file as string | undefined;
    if (direct && bs % 512 !== 0) {
      throw new UsageError(
        "--bs must be a multiple of 512 with --direct",
        "bench",
      );
    }
    let report: BenchReport;
    let title: string;
    switch (workload) {
      case "nop":
        report = await benchNop(qd, seconds);
        title =
          `bench nop: QD ${qd}, ${seconds} s per contender, ${report.runtime}, kernel ${report.kernel}`;
        break;
      case "read":
      case "write": {
        report = await benchIo(
          {
            file: "",
            size: 0,
            write: workload === "write",
            bs,
            qd,
            direct,
            seconds,
          },
          file,
          size,
        );
        const s = report.settings;
        title =
          `bench ${workload}: ${formatBytes(bs)} random ${workload}s, QD ${qd}${
            direct ? ", O_DIRECT" : ""
          }, ` +
          `${s.file} (${
            formatBytes(s.fileSize as number)
          }), ${seconds} s per contender, ${report.runtime}`;
        break;
      }
      case "pi": {
        const interval = (o.interval as number | undefined) ?? 4096;
        checkInterval(interval, "bench");
        const guard =
          ((o.guard as string | undefined) ?? "crc16-t10dif") as PiGuard;
        report = await benchPi(guard, interval, size, file);
        title =
          `bench pi: ${
            file ?? `${formatBytes(size)} file on /dev/shm`
          }, ${guard} every ${interval} bytes, ` +
          `ring reads of 1 MiB, 4 in flight, ${report.runtime}`;
        break;
      }
      default:
        throw new UsageError(
          `unknown workload "${workload}": use nop, read, write or pi`,
          "bench",
        );
    }
    await writeOut(
      o.json ? toJson(report) + "\n" : formatReport(report, title),
    );
    return EXIT_OK;
  },
};
