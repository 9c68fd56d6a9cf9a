/**
 * Child process of the hardening tests (not a test file itself):
 * `harden_child.ts <mode> [--wait-go] [args...]`. Prints progress lines and
 * a final `result <json>` line that the parent parses.
 *
 * With `--wait-go` it prints `ready`, waits for a line on stdin (the parent
 * changes the io_uring sysctl meanwhile), tries io_uring_setup, and prints
 * `setup-done` so the parent can restore the sysctl at once.
 *
 * @module
 */
import process from "node:process";
import {
  type AsyncRing,
  closeFd,
  O_RDWR,
  openFd,
  pipeFds,
  Ring,
  RingCore,
} from "../raw.ts";
import { createFallbackIfAllowed, FallbackRing } from "../ring/fallback.ts";
import { IoUringUnavailableError, MemlockError } from "../ring/setup_errors.ts";
import { DENY_SETUP_ENV, promiseApiSuite } from "./harden_helpers.ts";
import { denyIoUringSetup } from "./seccomp_helpers.ts";

// Before anything sets up a ring: io_uring_setup fails for this process only.
if (process.env[DENY_SETUP_ENV] !== undefined) {
  denyIoUringSetup(Number(process.env[DENY_SETUP_ENV]));
}

const [mode, ...rest] = process.argv.slice(2);
const waitGo = rest[0] === "--wait-go";
const args = waitGo ? rest.slice(1) : rest;

function result(value: unknown): void {
  console.log(`result ${JSON.stringify(value)}`);
}

function describeError(error: unknown): Record<string, unknown> {
  const e = error as Record<string, unknown> & Error;
  return {
    name: e?.name,
    message: e?.message,
    errno: e?.errno,
    code: e?.code,
    kind: e?.kind,
    sysctl: e?.sysctl,
    group: e?.group,
    seccomp: e?.seccomp,
    limit: e?.limit,
    needed: e?.needed,
    isUnavailable: error instanceof IoUringUnavailableError,
    isMemlock: error instanceof MemlockError,
  };
}

async function waitForGo(): Promise<void> {
  if (!waitGo) return;
  console.log("ready");
  await new Promise<void>((resolve) => {
    process.stdin.once("data", () => resolve());
  });
  process.stdin.pause();
}

/** Tries io_uring_setup; returns the ring or the error. */
function trySetup(): RingCore | unknown {
  try {
    return new RingCore({ entries: 4 });
  } catch (error) {
    return error;
  } finally {
    if (waitGo) console.log("setup-done");
  }
}

switch (mode) {
  case "setup": {
    await waitForGo();
    const ring = trySetup();
    if (ring instanceof RingCore) {
      ring.close();
      result({ ok: true });
    } else result({ ok: false, error: describeError(ring) });
    break;
  }
  case "fallback-suite": {
    await waitForGo();
    // The public way: `Ring.open({ fallback: true })` answers a failed
    // io_uring_setup with the fallback backend.
    let ring: AsyncRing;
    try {
      ring = Ring.open({ entries: 4, fallback: true });
    } catch (error) {
      result({ ok: false, error: describeError(error) });
      break;
    } finally {
      if (waitGo) console.log("setup-done");
    }
    if (!(ring instanceof FallbackRing)) {
      await ring.close();
      result({ ok: false, reason: "io_uring_setup succeeded" });
      break;
    }
    const done = await promiseApiSuite(ring);
    await ring.close();
    result({
      ok: true,
      backend: ring.backend,
      kind: ring.setupError?.kind,
      done,
    });
    break;
  }
  case "memlock": {
    const bytes = Number(args[0]);
    const ring = new RingCore({ entries: 4 });
    try {
      ring.registerBuffers([new Uint8Array(bytes)]);
      result({ ok: true });
    } catch (error) {
      result({ ok: false, error: describeError(error) });
    } finally {
      ring.close();
    }
    break;
  }
  case "regpool": {
    // The registeredBuffers option under the child's RLIMIT_MEMLOCK.
    const [count, size] = args.map(Number);
    try {
      await using ring = new Ring({ registeredBuffers: { count, size } });
      const buf = ring.buffer();
      const fd = openFd("/etc/hostname", 0);
      const n = await ring.read(fd, buf, 0);
      closeFd(fd);
      result({ ok: true, read: n, index: ring.fixedBufferIndex(buf) });
    } catch (error) {
      result({ ok: false, error: describeError(error) });
    }
    break;
  }
  case "sqpoll": {
    try {
      await using ring = new Ring({ sqpoll: { idleMs: 10 }, entries: 8 });
      const fd = openFd("/etc/hostname", 0);
      const n = await ring.read(fd, new Uint8Array(64), 0);
      closeFd(fd);
      result({ ok: true, read: n, flags: ring.core.flags });
    } catch (error) {
      result({ ok: false, error: describeError(error) });
    }
    break;
  }
  case "exit-inflight": {
    // args: path, "exit" | "return"
    const [path, how] = args;
    const ring = new Ring({ entries: 256 });
    const fd = openFd(path, O_RDWR);
    const blocks = 256;
    const writes: Promise<number>[] = [];
    for (let i = 0; i < blocks; i++) {
      writes.push(
        ring.write(fd, new Uint8Array(4096).fill((i % 255) + 1), i * 4096),
      );
    }
    const reads: Promise<number>[] = [];
    if (how === "exit") {
      // Reads on a pipe nobody writes to: they stay in flight for good.
      const [readEnd] = pipeFds();
      for (let i = 0; i < 1000; i++) {
        reads.push(ring.read(readEnd, new Uint8Array(16), -1));
      }
    } else {
      const source = openFd(path, O_RDWR);
      for (let i = 0; i < 1000; i++) {
        reads.push(
          ring.read(source, new Uint8Array(4096), (i % blocks) * 4096),
        );
      }
    }
    for (const p of [...writes, ...reads]) p.catch(() => {});
    await writes[0];
    console.log(`pending ${ring.pending}`);
    if (how === "exit") process.exit(0);
    // "return": main ends here with requests in flight.
    break;
  }
  case "fallback-exit": {
    const [path] = args;
    const ring = createFallbackIfAllowed(
      new IoUringUnavailableError(1, {
        kind: "disabled",
        reason: "test",
        sysctl: 2,
        group: -1,
        seccomp: 0,
        release: "",
        flags: [],
      }),
      { fallback: true },
    )!;
    const fd = openFd(path, O_RDWR);
    const [readEnd] = pipeFds();
    const all: Promise<number>[] = [];
    for (let i = 0; i < 256; i++) {
      all.push(
        ring.write(fd, new Uint8Array(4096).fill((i % 255) + 1), i * 4096),
      );
    }
    for (let i = 0; i < 1000; i++) {
      all.push(ring.read(readEnd, new Uint8Array(16), -1));
    }
    for (const p of all) p.catch(() => {});
    await all[0];
    console.log(`pending ${ring.pending}`);
    process.exit(0);
    break;
  }
  case "fallback-close-exit": {
    // Reads on a pipe nobody writes to, then `await ring.close()`: main
    // ends with nothing else to do, so the process must exit by itself.
    const ring = new FallbackRing({ threads: 4 });
    const [readEnd] = pipeFds();
    const reads: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) {
      reads.push(ring.read(readEnd, new Uint8Array(16), -1));
    }
    for (const p of reads) p.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ring.close();
    const settled = await Promise.allSettled(reads);
    result({
      ok: true,
      rejected: settled.filter((s) => s.status === "rejected").length,
    });
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
