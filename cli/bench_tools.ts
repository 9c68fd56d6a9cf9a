/**
 * The outside programs a benchmark compares against: a C liburing NOP
 * loop (compiled on first use with gcc) and fio with its io_uring engine.
 * Each returns a result or the reason it could not run, so one missing
 * tool costs one table row, not the benchmark.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
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

/**
 * A compiled helper program in a directory only this process can write
 * (mkdtemp, mode 0700), so nobody else can swap the binary between the
 * build and the run; `cleanup` removes the directory.
 *
 * @example
 * ```ts
 * import type { PrivateProgram } from "./bench_tools.ts";
 * const run = (p: PrivateProgram) => p.path;
 * ```
 */
export interface PrivateProgram {
  readonly path: string;
  readonly dir: string;
  cleanup(): void;
}

/**
 * Compiles the C NOP program into a fresh private directory (never a
 * shared or world-writable one, and never a binary left by someone else).
 *
 * @example
 * ```ts
 * import { compiledNopReference } from "./bench_tools.ts";
 * const exe = compiledNopReference();
 * if ("path" in exe) exe.cleanup();
 * ```
 */
export function compiledNopReference(): PrivateProgram | { error: string } {
  if (!existsSync(NOP_SOURCE)) return { error: `${NOP_SOURCE} not found` };
  let dir: string;
  try {
    dir = mkdtempSync(`${tmpdir()}/uring-bench-`);
    chmodSync(dir, 0o700);
  } catch (error) {
    return { error: `no private build directory: ${(error as Error).message}` };
  }
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const exe = `${dir}/nop_ref`;
  const cc = spawnSync("gcc", ["-O2", "-o", exe, NOP_SOURCE, "-luring"], {
    encoding: "utf8",
  });
  if (cc.error || cc.status !== 0) {
    cleanup();
    return cc.error
      ? { error: `gcc not available (${cc.error.message})` }
      : { error: `gcc failed: ${(cc.stderr || "").split("\n")[0]}` };
  }
  return { path: exe, dir, cleanup };
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
  const program = compiledNopReference();
  if (!("path" in program)) return program;
  try {
    return measureNops(program.path, batch, seconds);
  } finally {
    program.cleanup();
  }
}

function measureNops(exe: string, batch: number, seconds: number): ToolResult {
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
 * `path` as fio's `--filename` takes it: fio splits the value on `:` into
 * several files (so `data:victim.txt` would also write `victim.txt`), and
 * a `\\:` keeps a colon in the name. A backslash of its own cannot be
 * said to fio unambiguously, so such a name is refused.
 *
 * @example
 * ```ts
 * import { fioFilename } from "./bench_tools.ts";
 * fioFilename("data:victim.txt"); // "data\\:victim.txt"
 * ```
 */
export function fioFilename(path: string): string | { error: string } {
  if (path.includes("\\")) {
    return { error: `fio cannot take a file name with a backslash: ${path}` };
  }
  return path.replaceAll(":", "\\:");
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
  const filename = fioFilename(job.file);
  if (typeof filename !== "string") return filename;
  const args = [
    "--name=uring-bench",
    `--filename=${filename}`,
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
