/**
 * Shared pieces of the hardening tests: running `harden_child.ts` in a
 * child process (optionally as `nobody`, with lowered limits, or while the
 * io_uring sysctl is changed), and the Promise-API test set that both
 * backends must pass with data verified.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import assert from "node:assert/strict";
import { closeFd, O_CREAT, O_RDWR, O_TRUNC, pipeFds, writeFd } from "../raw.ts";
import type { AsyncRing } from "../ring/async_ring.ts";
import { tempPath } from "./helpers.ts";

/** Whether the tests run on Deno (else Bun). */
// deno-lint-ignore no-explicit-any
export const IS_DENO = typeof (globalThis as any).Deno?.version === "object";

/** The environment variable that tells the child to deny io_uring_setup. */
export const DENY_SETUP_ENV = "URING_TEST_DENY_IO_URING_SETUP";

/** The child script. */
export const CHILD = new URL("./harden_child.ts", import.meta.url).pathname;

/**
 * Arguments that run `file` with the current runtime.
 *
 * @example
 * ```ts
 * import { runtimeArgs } from "./harden_helpers.ts";
 * runtimeArgs("x.ts", ["a"]); // ["run", "-A", "x.ts", "a"] on Deno
 * ```
 */
export function runtimeArgs(file: string, args: readonly string[]): string[] {
  return IS_DENO ? ["run", "-A", file, ...args] : [file, ...args];
}

/**
 * How to run a child.
 *
 * @example
 * ```ts
 * import type { ChildOptions } from "./harden_helpers.ts";
 * const o: ChildOptions = { asNobody: true, memlock: 65536 };
 * ```
 */
export interface ChildOptions {
  /** Run as uid/gid 65534 with no supplementary groups (setpriv). */
  asNobody?: boolean;
  /** RLIMIT_MEMLOCK soft and hard, in bytes (prlimit). */
  memlock?: number;
  /** Kill the child after this many ms (default 30000). */
  timeoutMs?: number;
  /**
   * io_uring_setup fails with this errno in the child (a seccomp filter it
   * installs on itself first; see seccomp_helpers.ts). Nothing host-wide.
   */
  denyIoUringSetup?: number;
}

/**
 * The command line for `harden_child.ts <mode> ...args` under `options`.
 *
 * @example
 * ```ts
 * import { childCommand } from "./harden_helpers.ts";
 * const [cmd, args] = childCommand("setup", [], { asNobody: true });
 * ```
 */
export function childCommand(
  mode: string,
  args: readonly string[],
  options: ChildOptions = {},
): [string, string[], Record<string, string | undefined>] {
  let command = process.execPath;
  let argv = runtimeArgs(CHILD, [mode, ...args]);
  const env: Record<string, string | undefined> = { ...process.env };
  if (options.denyIoUringSetup !== undefined) {
    env[DENY_SETUP_ENV] = String(options.denyIoUringSetup);
  }
  if (options.memlock !== undefined) {
    argv = [
      `--memlock=${options.memlock}:${options.memlock}`,
      command,
      ...argv,
    ];
    command = "prlimit";
  }
  if (options.asNobody) {
    argv = [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      command,
      ...argv,
    ];
    command = "setpriv";
    // nobody cannot write root's caches.
    env.HOME = "/tmp";
    env.DENO_DIR = "/tmp/uring-harden-deno-dir";
  }
  return [command, argv, env];
}

/**
 * The outcome of a child run.
 *
 * @example
 * ```ts
 * import type { ChildResult } from "./harden_helpers.ts";
 * const ok = (r: ChildResult) => r.status === 0;
 * ```
 */
export interface ChildResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Wall time of the run. */
  ms: number;
  /** The JSON the child printed on its last `result ` line. */
  // deno-lint-ignore no-explicit-any
  result: any;
}

function lastResult(stdout: string): unknown {
  const line = stdout.split("\n").reverse().find((l) =>
    l.startsWith("result ")
  );
  return line === undefined ? undefined : JSON.parse(line.slice(7));
}

/**
 * Runs `harden_child.ts <mode> ...args` to completion.
 *
 * @example
 * ```ts
 * import { runChild } from "./harden_helpers.ts";
 * runChild("setup", []).result; // { ok: true, ... }
 * ```
 */
export function runChild(
  mode: string,
  args: readonly string[] = [],
  options: ChildOptions = {},
): ChildResult {
  const [command, argv, env] = childCommand(mode, args, options);
  const started = performance.now();
  const run = spawnSync(command, argv, {
    encoding: "utf8",
    env,
    timeout: options.timeoutMs ?? 30000,
    cwd: "/tmp",
  });
  return {
    status: run.status,
    signal: run.signal,
    stdout: run.stdout ?? "",
    stderr: run.stderr ?? "",
    ms: performance.now() - started,
    result: lastResult(run.stdout ?? ""),
  };
}

const SYSCTL_DISABLED = "/proc/sys/kernel/io_uring_disabled";
const SYSCTL_GROUP = "/proc/sys/kernel/io_uring_group";

/**
 * Why the sysctl tests cannot run here, or false.
 *
 * @example
 * ```ts
 * import { sysctlUnavailable } from "./harden_helpers.ts";
 * if (sysctlUnavailable()) console.log("no sysctl tests");
 * ```
 */
export function sysctlUnavailable(): string | false {
  if (process.env.URING_TEST_SYSCTL !== "1") {
    return "it changes kernel.io_uring_disabled for the whole host: opt in with URING_TEST_SYSCTL=1 (the seccomp tests cover the same paths per process)";
  }
  if (process.getuid?.() !== 0) {
    return "changing kernel.io_uring_disabled needs root";
  }
  try {
    const value = readFileSync(SYSCTL_DISABLED, "utf8");
    writeFileSync(SYSCTL_DISABLED, value); // same value: proves it is writable
    return false;
  } catch (error) {
    return `kernel.io_uring_disabled is not writable here (Linux 6.6+ and a writable /proc/sys needed): ${
      (error as Error).message
    }`;
  }
}

/**
 * Runs a child that sets up a ring while kernel.io_uring_disabled is
 * `value` (and kernel.io_uring_group is `group`, when given). The sysctl is
 * system-wide, so it is changed only for the moment the child needs it:
 * the child loads, says `ready`, the sysctl is set, the child tries
 * io_uring_setup and reports, and the original values are restored at
 * once — in `finally`, whatever happens. The child then goes on (for
 * example with the fallback test set) under the restored sysctl.
 *
 * @example
 * ```ts
 * import { runChildUnderSysctl } from "./harden_helpers.ts";
 * const r = await runChildUnderSysctl(2, undefined, "setup", []);
 * ```
 */
export async function runChildUnderSysctl(
  value: 0 | 1 | 2,
  group: number | undefined,
  mode: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<ChildResult> {
  const originalDisabled = readFileSync(SYSCTL_DISABLED, "utf8").trim();
  const originalGroup = readFileSync(SYSCTL_GROUP, "utf8").trim();
  const [command, argv, env] = childCommand(
    mode,
    ["--wait-go", ...args],
    options,
  );
  const started = performance.now();
  const child = spawn(command, argv, { env, cwd: "/tmp" });
  let stdout = "";
  let stderr = "";
  let changed = false;
  const restore = () => {
    if (!changed) return;
    changed = false;
    writeFileSync(SYSCTL_DISABLED, originalDisabled);
    writeFileSync(SYSCTL_GROUP, originalGroup);
  };
  try {
    const exit = new Promise<[number | null, string | null]>((resolve) => {
      child.on("close", (code, signal) => resolve([code, signal]));
    });
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      options.timeoutMs ?? 30000,
    );
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (
        !changed && stdout.includes("ready\n") && !stdout.includes("setup-done")
      ) {
        changed = true;
        if (group !== undefined) writeFileSync(SYSCTL_GROUP, String(group));
        writeFileSync(SYSCTL_DISABLED, String(value));
        child.stdin.write("go\n");
      }
      // The child has made its io_uring_setup call: restore right away.
      if (stdout.includes("setup-done")) restore();
    });
    const [status, signal] = await exit;
    clearTimeout(timer);
    return {
      status,
      signal,
      stdout,
      stderr,
      ms: performance.now() - started,
      result: lastResult(stdout),
    };
  } finally {
    restore();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/**
 * The Promise-API read/write test set, with every byte checked: write and
 * read back, readv/writev, readFixed/writeFixed, fsync, fdatasync, statx,
 * fallocate, nop, abort, timeout. Throws (an assertion error) on the first
 * difference. Works on `Ring` and `FallbackRing` alike.
 *
 * @example
 * ```ts
 * import { FallbackRing } from "../ring/fallback.ts";
 * import { promiseApiSuite } from "./harden_helpers.ts";
 * await using ring = new FallbackRing();
 * await promiseApiSuite(ring);
 * ```
 */
export async function promiseApiSuite(
  ring: AsyncRing,
): Promise<string[]> {
  const done: string[] = [];
  const path = tempPath("/dev/shm", "suite");
  const fd = await ring.openat(path, O_RDWR | O_CREAT | O_TRUNC, 0o600);
  try {
    const data = new Uint8Array(12288);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    assert.equal(await ring.write(fd, data, 0), data.length);
    const back = new Uint8Array(data.length);
    assert.equal(await ring.read(fd, back, 0), data.length);
    assert.deepEqual(back, data);
    done.push("write/read");

    const parts = [
      new Uint8Array(100).fill(1),
      new Uint8Array(4000).fill(2),
      new Uint8Array(1).fill(3),
    ];
    assert.equal(await ring.writev(fd, parts, 8192), 4101);
    const into = [new Uint8Array(4000), new Uint8Array(101)];
    assert.equal(await ring.readv(fd, into, 8192), 4101);
    assert.deepEqual([...into[0].subarray(0, 100)], new Array(100).fill(1));
    assert.deepEqual([...into[0].subarray(100)], new Array(3900).fill(2));
    assert.deepEqual([...into[1].subarray(0, 100)], new Array(100).fill(2));
    assert.equal(into[1][100], 3);
    done.push("writev/readv");

    const pool = new Uint8Array(16384);
    ring.registerBuffers([pool]);
    pool.subarray(4096, 8192).fill(0xab);
    assert.equal(
      await ring.writeFixed(fd, pool.subarray(4096, 8192), 16384, 0),
      4096,
    );
    pool.fill(0);
    assert.equal(
      await ring.readFixed(fd, pool.subarray(0, 4096), 16384, 0),
      4096,
    );
    assert.ok(pool.subarray(0, 4096).every((b) => b === 0xab));
    ring.unregisterBuffers();
    done.push("writeFixed/readFixed");

    assert.equal(await ring.fsync(fd), 0);
    assert.equal(await ring.fdatasync(fd), 0);
    done.push("fsync/fdatasync");

    const st = await ring.statx(fd);
    assert.equal(st.size, 20480);
    const byPath = await ring.statx(path);
    assert.equal(byPath.ino, st.ino);
    assert.equal(typeof st.mtime.sec, "bigint");
    done.push("statx");

    assert.equal(await ring.fallocate(fd, 0, 0, 65536), 0);
    assert.equal((await ring.statx(fd)).size, 65536);
    done.push("fallocate");

    assert.equal(await ring.nop(), 0);
    done.push("nop");

    const [readEnd, writeEnd] = pipeFds();
    try {
      const controller = new AbortController();
      const aborted = ring.read(readEnd, new Uint8Array(8), -1, {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(new Error("stop")), 20);
      await assert.rejects(aborted, /stop/);
      done.push("abort");
      const started = performance.now();
      await assert.rejects(
        ring.read(readEnd, new Uint8Array(8), -1, { timeoutMs: 30 }),
        (error: Error) => error.name === "TimeoutError",
      );
      assert.ok(performance.now() - started < 2000);
      done.push("timeout");
    } finally {
      // A blocked read on the fallback's pool thread ends at EOF.
      writeFd(writeEnd, new Uint8Array(64));
      closeFd(writeEnd);
      await new Promise((r) => setTimeout(r, 20));
      closeFd(readEnd);
    }
    assert.equal(ring.pending, 0);
  } finally {
    await ring.closeFd(fd);
    rmSync(path, { force: true });
  }
  return done;
}
