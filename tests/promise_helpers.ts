/**
 * Helpers of the Promise API tests: a deadline so no test can hang, a way
 * to run a script in a child process of the same runtime, an interval-timer
 * lateness probe, and a record of what each submit handed the kernel. The file helpers come from `helpers.ts`.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import type { Ring } from "../raw.ts";
import { tempPath } from "./helpers.ts";

/**
 * Records, in order, how many SQEs each `io_uring_enter` of `ring` was asked
 * to submit: every `submit()` result (0 included) and every direct `enter`
 * with something to submit, and every submit-and-wait. Patches the three
 * methods on this one ring.
 *
 * @example
 * ```ts
 * import { Ring } from "../raw.ts";
 * import { recordSubmits } from "./promise_helpers.ts";
 * await using ring = new Ring();
 * const submits = recordSubmits(ring);
 * await Promise.all([ring.nop(), ring.nop()]);
 * submits.filter((n) => n > 0); // [2]
 * ```
 */
export function recordSubmits(ring: Ring): number[] {
  const submits: number[] = [];
  const core = ring.core;
  const enter = core.enter.bind(core);
  core.enter = (toSubmit, minComplete, flags) => {
    if (toSubmit > 0) submits.push(toSubmit);
    return enter(toSubmit, minComplete, flags);
  };
  const submit = core.submit.bind(core);
  core.submit = () => {
    const n = submit();
    submits.push(n);
    return n;
  };
  // A submit and a sleep in one io_uring_enter (the pump at low depth).
  const wait = core.waitCqeTimeout.bind(core);
  core.waitCqeTimeout = (minComplete, timeoutUs, withSubmit = false) => {
    const n = withSubmit ? core.flushSq() : 0;
    const result = wait(minComplete, timeoutUs, withSubmit);
    if (n > 0) submits.push(n);
    return result;
  };
  return submits;
}

/**
 * Resolves or rejects like `promise`, but rejects with an Error naming
 * `what` if it has not settled after `ms` milliseconds: a hang becomes a
 * test failure instead of a stuck run.
 *
 * @example
 * ```ts
 * import { deadline } from "./promise_helpers.ts";
 * await deadline(Promise.resolve(1), 1000, "answer"); // 1
 * ```
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still pending after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** How a child process ended. */
export interface ChildResult {
  /** Exit code, or null when a signal ended it. */
  status: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Writes `source` (an ES module; `__MOD__` is replaced by the absolute URL
 * of the project's `mod.ts`) to a temporary file and runs it with the
 * runtime running this test: `deno run -A` on Deno, the file directly on
 * Bun. The file is removed afterwards.
 *
 * @example
 * ```ts
 * import { runScript } from "./promise_helpers.ts";
 * const r = runScript('console.log("hi")');
 * r.stdout; // "hi\n"
 * ```
 */
export function runScript(source: string, timeoutMs = 30_000): ChildResult {
  const script = writeScript(source);
  try {
    const result = spawnSync(process.execPath, script.args, {
      encoding: "utf8",
      timeout: timeoutMs,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return {
      status: result.status,
      signal: result.signal,
      stdout: result.stdout ?? "",
      stderr: result.stderr ?? "",
    };
  } finally {
    script.remove();
  }
}

/**
 * Like {@linkcode runScript}, for several scripts at once: all start
 * together and run side by side, so what the machine does meanwhile falls
 * on each alike (a baseline process beside the one under test).
 *
 * @example
 * ```ts
 * import { runScriptsTogether } from "./promise_helpers.ts";
 * const [a, b] = await runScriptsTogether(['console.log(1)', 'console.log(2)']);
 * a.stdout; // "1\n"
 * ```
 */
export function runScriptsTogether(
  sources: readonly string[],
  timeoutMs = 30_000,
): Promise<ChildResult[]> {
  return Promise.all(sources.map((source) => {
    const script = writeScript(source);
    return new Promise<ChildResult>((resolve) => {
      const child = spawn(process.execPath, script.args, {
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout!.setEncoding("utf8").on("data", (d) => stdout += d);
      child.stderr!.setEncoding("utf8").on("data", (d) => stderr += d);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (status, signal) => {
        clearTimeout(timer);
        script.remove();
        resolve({ status, signal, stdout, stderr });
      });
    });
  }));
}

/**
 * Writes `source` (`__MOD__` replaced by the URL of the project's `raw.ts`)
 * to a temporary file; `args` run it with this runtime.
 */
function writeScript(source: string): { args: string[]; remove(): void } {
  const modUrl = new URL("../raw.ts", import.meta.url).href;
  const path = `${tempPath("/dev/shm", "child")}.ts`;
  writeFileSync(path, source.replaceAll("__MOD__", modUrl));
  // deno-lint-ignore no-explicit-any
  const isDeno = typeof (globalThis as any).Deno?.version === "object";
  return {
    args: isDeno ? ["run", "-A", path] : [path],
    remove: () => rmSync(path, { force: true }),
  };
}

/** What {@linkcode startLatenessProbe} measured. */
export interface LatenessReport {
  /** Timer callbacks that ran. */
  ticks: number;
  /** Callbacks a perfectly punctual 1 ms timer would have run. */
  expected: number;
  /** `ticks / expected`: the share of a punctual timer's callbacks that ran. */
  share: number;
  /** 99th percentile of lateness (ms beyond the interval), ms. */
  p99: number;
  /** Worst lateness, ms. */
  max: number;
  /**
   * Median over the runs pooled of each run's worst lateness, ms: a gap the
   * workload causes shows in every run, one the machine causes (a
   * descheduled thread under load) in one.
   */
  medianMax: number;
}

/** Raw lateness samples (ms) of one probe run and how long it ran (ms). */
interface LatenessSamples {
  lateness: number[];
  /** Callbacks that ran (the last sample may be the gap left open at stop). */
  ticks: number;
  elapsed: number;
}

/** Pools the samples of one or more probe runs into one report. */
function summarize(runs: readonly LatenessSamples[]): LatenessReport {
  const sorted = runs.flatMap((r) => r.lateness).sort((a, b) => a - b);
  const elapsed = runs.reduce((sum, r) => sum + r.elapsed, 0);
  const ticks = runs.reduce((sum, r) => sum + r.ticks, 0);
  const at = (q: number) =>
    sorted.length === 0
      ? Infinity
      : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const expected = Math.floor(elapsed);
  const maxima = runs.map((r) => Math.max(-Infinity, ...r.lateness)).sort((
    a,
    b,
  ) => a - b);
  return {
    medianMax: maxima.length === 0
      ? Infinity
      : maxima[Math.floor(maxima.length / 2)],
    ticks,
    expected,
    share: expected === 0 ? 0 : ticks / expected,
    p99: at(0.99),
    max: sorted.length === 0 ? Infinity : sorted[sorted.length - 1],
  };
}

/** Starts the 1 ms interval; the returned function stops it. */
function probe(): () => LatenessSamples {
  const lateness: number[] = [];
  const started = performance.now();
  let last = started;
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  return () => {
    clearInterval(timer);
    const now = performance.now();
    const ticks = lateness.length;
    // The gap since the last callback counts too: a workload that starves
    // the timer until it ends would otherwise leave no sample at all.
    if (now - last > 1) lateness.push(now - last - 1);
    return { lateness, ticks, elapsed: now - started };
  };
}

/**
 * Starts a 1 ms `setInterval` that records how late each callback runs;
 * the returned function stops it and reports.
 *
 * @example
 * ```ts
 * import { startLatenessProbe } from "./promise_helpers.ts";
 * const stop = startLatenessProbe();
 * await new Promise((r) => setTimeout(r, 20));
 * console.log(stop().p99);
 * ```
 */
export function startLatenessProbe(): () => LatenessReport {
  const stop = probe();
  return () => summarize([stop()]);
}

/** Timer lateness under a workload and under its baseline, from one run. */
export interface LatenessComparison {
  subject: LatenessReport;
  baseline: LatenessReport;
}

/**
 * Measures a 1 ms timer's lateness while `subject` runs and while
 * `baseline` runs, alternating them for `rounds` rounds so that a burst of
 * load from elsewhere on the machine falls on both alike, and pools each
 * side's samples. Each function is awaited once per round.
 *
 * Tests compare the two (a ratio, a margin) instead of asserting absolute
 * times, which depend on what else the machine is doing.
 *
 * @example
 * ```ts
 * import { compareLateness, sleep } from "./promise_helpers.ts";
 * const { subject, baseline } = await compareLateness(
 *   () => sleep(20),
 *   () => sleep(20),
 *   2,
 * );
 * console.log(subject.share, baseline.share);
 * ```
 */
export async function compareLateness(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  rounds: number,
): Promise<LatenessComparison> {
  const runs = {
    subject: [] as LatenessSamples[],
    baseline: [] as LatenessSamples[],
  };
  const measure = async (fn: () => Promise<unknown>) => {
    const stop = probe();
    try {
      await fn();
    } catch (error) {
      stop(); // no interval outlives a failed workload
      throw error;
    }
    return stop();
  };
  for (let round = 0; round < rounds; round++) {
    runs.baseline.push(await measure(baseline));
    runs.subject.push(await measure(subject));
  }
  return {
    subject: summarize(runs.subject),
    baseline: summarize(runs.baseline),
  };
}

/**
 * Milliseconds of CPU time used per second while `ms` milliseconds pass
 * idle, as the median of windows of `windowMs`: the median keeps one
 * garbage-collection or JIT burst from deciding the result.
 *
 * @example
 * ```ts
 * import { idleCpuRate } from "./promise_helpers.ts";
 * console.log(await idleCpuRate(200, 50)); // ms of CPU per second
 * ```
 */
export async function idleCpuRate(
  ms: number,
  windowMs: number,
): Promise<number> {
  const rates: number[] = [];
  for (let spent = 0; spent < ms; spent += windowMs) {
    const cpuBefore = cpuMs();
    const before = performance.now();
    await sleep(windowMs);
    rates.push((cpuMs() - cpuBefore) * 1000 / (performance.now() - before));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

/**
 * Milliseconds of CPU time (user + system) this process used so far.
 *
 * @example
 * ```ts
 * import { cpuMs } from "./promise_helpers.ts";
 * const before = cpuMs();
 * ```
 */
export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { sleep } from "./promise_helpers.ts";
 * await sleep(5);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
