/**
 * Shared helpers of the ring tests: temporary files on tmpfs and on an
 * O_DIRECT-capable file system, loop devices that are always detached, small
 * C programs compiled with gcc, and rings that are always closed.
 *
 * Everything that reaches the kernel is a real OS descriptor from `openFd`
 * (Deno's `node:fs` descriptors are resource ids, not OS fds).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import {
  closeFd,
  O_CREAT,
  O_DIRECT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  openFd,
  RingCore,
  type RingOptions,
} from "../raw.ts";
import { probeKernel } from "../ring/kernel_probe.ts";
import { nowaitReadHint } from "../sys/nowait.ts";

let sequence = 0;

/**
 * A fresh path under `dir` (not created), unique to this process and call.
 *
 * @example
 * ```ts
 * import { tempPath } from "./helpers.ts";
 * const path = tempPath("/dev/shm", "example"); // /dev/shm/uring-test-<pid>-<n>-example
 * ```
 */
export function tempPath(dir: string, label = "file"): string {
  sequence++;
  return `${dir}/uring-test-${process.pid}-${sequence}-${
    Math.random().toString(36).slice(2, 8)
  }-${label}`;
}

/**
 * Options of {@linkcode withTempFile}.
 *
 * @example
 * ```ts
 * import type { TempFileOptions } from "./helpers.ts";
 * const options: TempFileOptions = { dir: "/dev/shm", size: 4096 };
 * ```
 */
export interface TempFileOptions {
  /** Directory to create the file in (default /dev/shm). */
  dir?: string;
  /** Initial contents, or a size to fill with zeros (default empty). */
  contents?: Uint8Array;
  /** Size in bytes of zero-filled initial contents. */
  size?: number;
  /** Extra open flags for the fd handed to `fn` (O_RDWR is always set). */
  flags?: number;
}

/**
 * Creates a temporary file, opens it with `openFd` (O_RDWR plus `flags`),
 * runs `fn(fd, path)`, then closes and deletes it, even when `fn` throws.
 * Works with synchronous and async `fn`.
 *
 * @example
 * ```ts
 * import { withTempFile } from "./helpers.ts";
 * withTempFile({ size: 4096 }, (fd, path) => console.log(fd, path));
 * ```
 */
export function withTempFile<T>(
  options: TempFileOptions,
  fn: (fd: number, path: string) => T,
): T {
  const path = tempPath(options.dir ?? "/dev/shm");
  const contents = options.contents ?? new Uint8Array(options.size ?? 0);
  writeFileSync(path, contents);
  let fd = -1;
  let async = false;
  try {
    fd = openFd(path, O_RDWR | (options.flags ?? 0));
    const result = fn(fd, path);
    if (result instanceof Promise) {
      async = true;
      const opened = fd;
      return result.finally(() => cleanup(opened, path)) as T;
    }
    return result;
  } finally {
    if (!async) cleanup(fd, path);
  }
}

function cleanup(fd: number, path: string): void {
  try {
    if (fd >= 0) closeFd(fd);
  } finally {
    rmSync(path, { force: true });
  }
}

let directDirCache: string | null | undefined;

/**
 * A directory on a disk file system (not tmpfs) where O_DIRECT opens work,
 * or null if there is none. /var/tmp is tried first.
 *
 * @example
 * ```ts
 * import { directIoDir } from "./helpers.ts";
 * const dir = directIoDir(); // "/var/tmp" on the development machines
 * ```
 */
export function directIoDir(): string | null {
  if (directDirCache !== undefined) return directDirCache;
  directDirCache = null;
  for (const dir of ["/var/tmp", "/tmp", "/root"]) {
    if (!existsSync(dir)) continue;
    const path = tempPath(dir, "odirect-probe");
    try {
      closeFd(openFd(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0o600));
      directDirCache = dir;
      break;
    } catch {
      // No O_DIRECT here (tmpfs before 6.6, overlay, ...): try the next one.
    } finally {
      rmSync(path, { force: true });
    }
  }
  return directDirCache;
}

/**
 * A disk directory ({@linkcode directIoDir}) whose files take RWF_NOWAIT
 * reads (page-cached reads complete inside the submit), or why there is
 * none.
 *
 * @example
 * ```ts
 * import { nowaitDir } from "./helpers.ts";
 * const { dir, reason } = nowaitDir(); // "/var/tmp", false here
 * ```
 */
export function nowaitDir(): { dir: string | null; reason: string | false } {
  const dir = directIoDir();
  if (dir === null) {
    return { dir, reason: "no disk file system with O_DIRECT here" };
  }
  const path = tempPath(dir, "nowait-probe");
  try {
    writeFileSync(path, "x");
    const fd = openFd(path, O_RDONLY);
    try {
      if (!nowaitReadHint(fd)) {
        return { dir: null, reason: `${dir} does not take RWF_NOWAIT reads` };
      }
    } finally {
      closeFd(fd);
    }
  } finally {
    rmSync(path, { force: true });
  }
  return { dir, reason: false };
}

/**
 * Whether this process can attach loop devices (root, losetup, loop driver).
 *
 * @example
 * ```ts
 * import { canUseLoopDevices } from "./helpers.ts";
 * if (!canUseLoopDevices()) console.log("no loop devices here");
 * ```
 */
export function canUseLoopDevices(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (!existsSync("/dev/loop-control")) return false;
  try {
    execFileSync("losetup", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Attaches a loop device over a fresh backing file in
 * {@linkcode directIoDir} (`backing` zero bytes of that size, or those
 * bytes), with `sectorSize`-byte logical blocks if given, runs
 * `fn(devicePath)`, and always detaches the device and deletes the file
 * afterwards (once the promise settles, when `fn` returns one).
 *
 * @example
 * ```ts
 * import { withLoopDevice } from "./helpers.ts";
 * withLoopDevice(1 << 20, (dev) => console.log(dev)); // /dev/loopN
 * await withLoopDevice(new Uint8Array(4096).fill(1), async (dev) => {});
 * ```
 */
export function withLoopDevice<T>(
  backing: number | Uint8Array,
  fn: (device: string) => T,
  options: { sectorSize?: number } = {},
): T {
  const path = tempPath(directIoDir() ?? "/var/tmp", "loop-backing");
  writeFileSync(
    path,
    typeof backing === "number" ? new Uint8Array(backing) : backing,
  );
  let device = "";
  const cleanup = () => {
    try {
      if (device) execFileSync("losetup", ["-d", device], { stdio: "pipe" });
    } finally {
      unlinkSync(path);
    }
  };
  let result: T;
  try {
    const sector = options.sectorSize ? ["-b", String(options.sectorSize)] : [];
    device = execFileSync("losetup", ["-f", "--show", ...sector, path], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    result = fn(device);
  } catch (error) {
    cleanup();
    throw error;
  }
  if (result instanceof Promise) return result.finally(cleanup) as T;
  cleanup();
  return result;
}

/**
 * Whether gcc is available to compile the layout checks.
 *
 * @example
 * ```ts
 * import { haveGcc } from "./helpers.ts";
 * haveGcc(); // true on the development machines
 * ```
 */
export function haveGcc(): boolean {
  try {
    execFileSync("gcc", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Compiles a C program with gcc (`-O0`, plus `libs`) in a temporary
 * directory, runs it and returns its standard output. The directory is
 * removed afterwards.
 *
 * @example
 * ```ts
 * import { runC } from "./helpers.ts";
 * runC('#include <stdio.h>\nint main(void){puts("hi");}'); // "hi\n"
 * ```
 */
export function runC(source: string, libs: string[] = []): string {
  const dir = mkdtempSync("/dev/shm/uring-test-c-");
  try {
    writeFileSync(`${dir}/prog.c`, source);
    execFileSync("gcc", ["-o", `${dir}/prog`, `${dir}/prog.c`, ...libs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    return execFileSync(`${dir}/prog`, [], { encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with a new {@linkcode RingCore} (the synchronous, liburing-style
 * ring the Promise `Ring` is built on) and closes it afterwards (unless `fn`
 * closed it already), even when `fn` throws.
 *
 * @example
 * ```ts
 * import { withRing } from "./helpers.ts";
 * withRing({ entries: 4 }, (ring) => ring.probe());
 * ```
 */
export function withRing<T>(
  options: RingOptions,
  fn: (ring: RingCore) => T,
): T {
  const ring = new RingCore(options);
  try {
    return fn(ring);
  } finally {
    if (!ring.closed) ring.close();
  }
}

/**
 * `count` bytes of a deterministic pattern that differs per `seed`, so a
 * read that returns the wrong block (or zeros) is caught.
 *
 * @example
 * ```ts
 * import { pattern } from "./helpers.ts";
 * pattern(4, 1); // Uint8Array [ 1, 32, 63, 94 ] (some fixed bytes)
 * ```
 */
export function pattern(count: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(count);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/**
 * The options argument of `test(name, options, fn)` for a test that can only
 * run when `reason` is false; otherwise it prints `SKIP <name>: <reason>`
 * once at module load and returns `{ skip: reason }`.
 *
 * @example
 * ```ts
 * import { test } from "node:test";
 * import { skipUnless } from "./helpers.ts";
 * const name = "needs gcc";
 * test(name, skipUnless(name, false), () => {});
 * ```
 */
export function skipUnless(
  name: string,
  reason: string | false,
): { skip: string | false } {
  if (reason) console.log(`SKIP ${name}: ${reason}`);
  return { skip: reason };
}

/**
 * Drains every completion currently in the ring into a Map from the low
 * 32 bits of `user_data` to `res`.
 *
 * @example
 * ```ts
 * import { drain, withRing } from "./helpers.ts";
 * withRing({ entries: 2 }, (ring) => {
 *   ring.prepRaw(0, -1, 0, 0, 0, 9);
 *   ring.submitAndWait(1);
 *   drain(ring).get(9); // 0
 * });
 * ```
 */
export function drain(ring: RingCore): Map<number, number> {
  const results = new Map<number, number>();
  ring.reap((id, res) => results.set(id, res));
  return results;
}

/**
 * Submits and waits until `count` completions have been collected (reaping
 * as they come), returning `user_data` (low 32 bits) → `res`.
 *
 * @example
 * ```ts
 * import { collect, withRing } from "./helpers.ts";
 * withRing({ entries: 2 }, (ring) => {
 *   ring.prepNop().userData = 1;
 *   collect(ring, 1).get(1); // 0
 * });
 * ```
 */
export function collect(ring: RingCore, count: number): Map<number, number> {
  const results = new Map<number, number>();
  let seen = 0;
  ring.submit();
  while (seen < count) {
    ring.submitAndWait(1);
    seen += ring.reap((id, res) => results.set(id, res));
  }
  return results;
}

/**
 * Runs a full garbage collection where the runtime exposes one (Deno with
 * `--v8-flags=--expose-gc`, Bun always); returns whether it could.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "./helpers.ts";
 * collectGarbage();
 * ```
 */
export function collectGarbage(): boolean {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (typeof g.Bun?.gc === "function") {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}

/**
 * Why PI cannot travel through io_uring on this kernel (no
 * IORING_FEAT_RW_ATTR, Linux 6.14+), or false when it can. Kernels before
 * 6.14 ignore the attribute fields of a read or write, so tests of what the
 * kernel does with them are skipped there, while the library's refusal is
 * what gets tested instead.
 *
 * @example
 * ```ts
 * import { test } from "node:test";
 * import { noRwAttrReason } from "./helpers.ts";
 * test("PI on the kernel", { skip: noRwAttrReason() }, () => {});
 * ```
 */
export function noRwAttrReason(): string | false {
  const kernel = probeKernel();
  return kernel.rwAttr
    ? false
    : `kernel ${kernel.release} lacks IORING_FEAT_RW_ATTR (added in Linux 6.14)`;
}

/**
 * How much slower than a native CPU this run may be, from
 * `URING_TIME_SCALE` (default 1): scripts/test_vm.sh sets it in emulated
 * guests (TCG runs several times slower). Multiplies the bounds of tests
 * that check something happens promptly, so they still catch a hang there.
 *
 * @example
 * ```ts
 * import { TIME_SCALE } from "./helpers.ts";
 * const bound = 5000 * TIME_SCALE; // ms
 * ```
 */
export const TIME_SCALE: number = Math.max(
  1,
  Number(process.env.URING_TIME_SCALE) || 1,
);
