/**
 * The outside programs a benchmark compares against: a C liburing NOP
 * loop (compiled on first use with gcc) and fio with its io_uring engine.
 * Each returns a result or the reason it could not run, so one missing
 * tool costs one table row, not the benchmark.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, fromFileUrl } from "./paths.ts";

/**
 * A baseline's measurement, or why there is none.
 *
 * @example
 * ```ts
 * import type { ToolResult } from "./bench_tools.ts";
 * const r: ToolResult = { opsPerSecond: 24e6, bytesPerSecond: 0 };
 * ```
 */
export type ToolResult =
  | {
    readonly opsPerSecond: number;
    readonly bytesPerSecond: number;
    readonly error?: never;
  }
  | {
    readonly error: string;
    readonly opsPerSecond?: never;
    readonly bytesPerSecond?: never;
  };

const REPO = dirname(dirname(fromFileUrl(import.meta.url)));

/** The C NOP reference shared with bench/: `nop_ref BATCH OPS` → `ops_per_sec N`. */
const NOP_SOURCE = `${REPO}/bench/nop_ref.c`;

function cacheDir(): string {
  for (const dir of [`${REPO}/bench/out`, `${tmpdir()}/uring-bench`]) {
    try {
      mkdirSync(dir, { recursive: true });
      return dir;
    } catch {
      // Read-only checkout: try the next place.
    }
  }
  return tmpdir();
}

/**
 * Path of the compiled C NOP program, compiling it when the binary is
 * missing or older than its source.
 *
 * @example
 * ```ts
 * import { compiledNopReference } from "./bench_tools.ts";
 * const exe = compiledNopReference();
 * if (typeof exe === "string") console.log(exe);
 * ```
 */
export function compiledNopReference(): string | { error: string } {
  if (!existsSync(NOP_SOURCE)) return { error: `${NOP_SOURCE} not found` };
  const exe = `${cacheDir()}/nop_ref`;
  if (
    existsSync(exe) && statSync(exe).mtimeMs >= statSync(NOP_SOURCE).mtimeMs
  ) {
    return exe;
  }
  const cc = spawnSync("gcc", ["-O2", "-o", exe, NOP_SOURCE, "-luring"], {
    encoding: "utf8",
  });
  if (cc.error) return { error: `gcc not available (${cc.error.message})` };
  if (cc.status !== 0) {
    return { error: `gcc failed: ${(cc.stderr || "").split("\n")[0]}` };
  }
  return exe;
}

/**
 * Runs the C liburing NOP loop for about `seconds`: a short calibration run
 * first, so the measured run's length does not depend on machine speed.
 *
 * @example
 * ```ts
 * import { runNopReference } from "./bench_tools.ts";
 * const r = runNopReference(64, 1);
 * console.log(r.opsPerSecond ?? r.error);
 * ```
 */
export function runNopReference(batch: number, seconds: number): ToolResult {
  const exe = compiledNopReference();
  if (typeof exe !== "string") return exe;
  const run = (ops: number): number | string => {
    const r = spawnSync(exe, [String(batch), String(Math.ceil(ops))], {
      encoding: "utf8",
    });
    const m = /ops_per_sec\s+([\d.]+)/.exec(r.stdout ?? "");
    if (r.status !== 0 || !m) {
      return `nop_ref failed: ${
        (r.stderr || r.stdout || String(r.error ?? r.status)).trim()
      }`;
    }
    return Number(m[1]);
  };
  const probe = run(200_000);
  if (typeof probe === "string") return { error: probe };
  const rate = run(probe * seconds);
  if (typeof rate === "string") return { error: rate };
  return { opsPerSecond: rate, bytesPerSecond: 0 };
}

/**
 * What fio should do.
 *
 * @example
 * ```ts
 * import type { FioJob } from "./bench_tools.ts";
 * const job: FioJob = { file: "/dev/shm/x", size: 1 << 28, rw: "randread", bs: 4096, qd: 64, direct: false, seconds: 3 };
 * ```
 */
export interface FioJob {
  readonly file: string;
  readonly size: number;
  readonly rw: "randread" | "randwrite";
  readonly bs: number;
  readonly qd: number;
  readonly direct: boolean;
  readonly seconds: number;
}

/**
 * Runs fio's io_uring engine (default options, one job) and reads IOPS and
 * bandwidth from its JSON output.
 *
 * @example
 * ```ts
 * import { runFio } from "./bench_tools.ts";
 * const r = runFio({ file: "/dev/shm/x", size: 1 << 26, rw: "randread", bs: 4096, qd: 64, direct: false, seconds: 1 });
 * ```
 */
export function runFio(job: FioJob): ToolResult {
  const args = [
    "--name=uring-bench",
    `--filename=${job.file}`,
    "--ioengine=io_uring",
    `--rw=${job.rw}`,
    `--bs=${job.bs}`,
    `--iodepth=${job.qd}`,
    `--direct=${job.direct ? 1 : 0}`,
    `--size=${job.size}`,
    "--time_based",
    `--runtime=${Math.max(1, Math.round(job.seconds))}`,
    "--randrepeat=0",
    "--norandommap",
    "--output-format=json",
  ];
  const r = spawnSync("fio", args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) return { error: `fio not available (${r.error.message})` };
  if (r.status !== 0) {
    return {
      error: `fio failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}`,
    };
  }
  try {
    // fio may print warnings before the JSON document.
    const text = r.stdout.slice(r.stdout.indexOf("{"));
    const result =
      JSON.parse(text).jobs[0][job.rw === "randread" ? "read" : "write"];
    return { opsPerSecond: result.iops, bytesPerSecond: result.bw_bytes };
  } catch (error) {
    return {
      error: `could not read fio's JSON output: ${(error as Error).message}`,
    };
  }
}
