/**
 * Running the `uring` CLI as a child process from tests, on the runtime
 * the tests run on (process.execPath) or on the other one (from
 * node_modules/.bin), so sidecars can cross between Deno and Bun.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { TIME_SCALE } from "./helpers.ts";

/** The repository root (where cli.ts is). */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** The runtime these tests run on. */
export const CURRENT_RUNTIME: "deno" | "bun" = "Deno" in globalThis
  ? "deno"
  : "bun";
/** The runtime they do not run on. */
export const OTHER_RUNTIME: "deno" | "bun" = CURRENT_RUNTIME === "deno"
  ? "bun"
  : "deno";

/**
 * What a CLI run produced.
 *
 * @example
 * ```ts
 * import type { CliResult } from "./cli_helpers.ts";
 * const ok = (r: CliResult) => r.status === 0;
 * ```
 */
export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `cli.ts` with `args` on `runtime` (default: the current one) and
 * returns its exit code and output; `how` sets the working directory
 * (default the repository) and extra environment variables.
 *
 * @example
 * ```ts
 * import { runCli } from "./cli_helpers.ts";
 * const r = runCli(["probe", "--json"]);
 * JSON.parse(r.stdout).kernel.release;
 * ```
 */
export function runCli(
  args: readonly string[],
  runtime: "deno" | "bun" = CURRENT_RUNTIME,
  how: { cwd?: string; env?: Record<string, string | undefined> } = {},
): CliResult {
  const executable = runtime === CURRENT_RUNTIME
    ? process.execPath
    : `${REPO_ROOT}node_modules/.bin/${runtime}`;
  const cli = `${REPO_ROOT}cli.ts`;
  const prefix = runtime === "deno" ? ["run", "-A", cli] : [cli];
  const r = spawnSync(executable, [...prefix, ...args], {
    cwd: how.cwd ?? REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...how.env },
    timeout: 60_000 * TIME_SCALE,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * A fresh directory on /dev/shm, removed by the returned function.
 *
 * @example
 * ```ts
 * import { tempDir } from "./cli_helpers.ts";
 * const [dir, remove] = tempDir();
 * remove();
 * ```
 */
export function tempDir(): [string, () => void] {
  const dir = mkdtempSync("/dev/shm/uring-cli-test-");
  return [dir, () => rmSync(dir, { recursive: true, force: true })];
}

/**
 * Asserts-friendly view of a failed run: a single line on stderr, no
 * stack trace. Returns the line.
 *
 * @example
 * ```ts
 * import { oneErrorLine } from "./cli_helpers.ts";
 * oneErrorLine({ status: 2, stdout: "", stderr: "uring: x\n" }); // "uring: x"
 * ```
 */
export function oneErrorLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split("\n");
  if (lines.length !== 1 || /^\s+at /m.test(result.stderr)) {
    throw new Error(`expected one error line, got:\n${result.stderr}`);
  }
  return lines[0];
}
