/**
 * `timeoutMs` is a deadline even for I/O the kernel cannot cancel, and
 * `Symbol.dispose` never blocks the JS thread for long. The I/O: a write to
 * a FUSE file whose server holds every write (a FUSE request waits for its
 * answer through any signal but a fatal one, so io_uring's cancel cannot
 * end it). The server runs in its own mount namespace: nothing is mounted
 * where anyone else can see it, and the mount goes when the server does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import process from "node:process";
import { closeFd, O_WRONLY, openFd, Ring } from "../raw.ts";
import { runtimeArgs } from "./harden_helpers.ts";

const SERVER = new URL("./fuse_stall_server.ts", import.meta.url).pathname;
const NO_FUSE = process.getuid?.() !== 0
  ? "mounting FUSE needs root"
  : !existsSync("/dev/fuse")
  ? "no /dev/fuse (FUSE not in this kernel)"
  : !existsSync("/usr/bin/unshare")
  ? "no unshare (util-linux) for a private mount namespace"
  : false;
if (NO_FUSE) console.log(`deadline_test.ts: skipping: ${NO_FUSE}`);

/** Longest Symbol.dispose may block (ring.ts DISPOSE_WAIT_MS). */
const DISPOSE_BOUND_MS = 200;

interface StallServer {
  /** The file, reached through the server's mount namespace. */
  path: string;
  /** Answers every held request now. */
  answer(): void;
  stop(): void;
}

async function startServer(answerAfterMs: number): Promise<StallServer> {
  const mountpoint = `/tmp/uring-fuse-stall-${process.pid}-${Date.now()}`;
  const child: ChildProcess = spawn(
    "unshare",
    [
      "-m",
      "--propagation",
      "private",
      process.execPath,
      ...runtimeArgs(SERVER, [mountpoint, String(answerAfterMs)]),
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("mounted")) resolve();
    });
    child.on(
      "exit",
      (code) => reject(new Error(`FUSE server exited (${code}): ${stderr}`)),
    );
  });
  return {
    path: `/proc/${child.pid}/root${mountpoint}/file`,
    answer: () => child.stdin!.write("answer\n"),
    stop: () => {
      child.stdin!.end();
      child.kill("SIGKILL");
      // Empty here: the mount only ever existed in the server's namespace.
      rmSync(mountpoint, { recursive: true, force: true });
    },
  };
}

/** A ring and an fd of the stalling FUSE file, torn down whatever happens. */
async function withStallingFile(
  fn: (ring: Ring, fd: number, server: StallServer) => Promise<void>,
): Promise<void> {
  const server = await startServer(15_000);
  const fd = openFd(server.path, O_WRONLY);
  const ring = new Ring({ entries: 8 });
  try {
    await fn(ring, fd, server);
  } finally {
    if (!ring.closed) ring[Symbol.dispose]();
    closeFd(fd);
    server.stop();
  }
}

async function until(what: string, check: () => boolean, ms: number) {
  const giveUp = performance.now() + ms;
  while (!check()) {
    if (performance.now() > giveUp) {
      throw new Error(`${what}: not after ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test(
  "timeoutMs rejects at the deadline a write the kernel cannot cancel; its memory is kept until the completion",
  { skip: NO_FUSE },
  () =>
    withStallingFile(async (ring, fd, server) => {
      const data = new Uint8Array(4096).fill(0x5a);
      const started = performance.now();
      await assert.rejects(
        ring.write(fd, data, 0, { timeoutMs: 300 }),
        (error: Error) => error.name === "TimeoutError",
      );
      const took = performance.now() - started;
      assert.ok(took >= 295, `rejected after ${took} ms`);
      // Before: the promise waited for the server (15 s here, for ever when
      // a server is gone for good).
      assert.ok(took < 3000, `rejected after ${Math.round(took)} ms`);
      assert.equal(ring.pending, 0);
      // The kernel still holds the write: close() waits for it, off the JS
      // thread, and completes once the server answers.
      let closed = false;
      const closing = ring.close().then(() => (closed = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(closed, false);
      server.answer();
      await closing;
      assert.equal(ring.closed, true);
    }),
);

test(
  "Symbol.dispose with a write the kernel cannot cancel returns within a bounded time; the ring closes once the write completes",
  { skip: NO_FUSE },
  () =>
    withStallingFile(async (ring, fd, server) => {
      const write = ring.write(fd, new Uint8Array(4096), 0);
      write.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      ring[Symbol.dispose]();
      const took = performance.now() - started;
      // Before: the JS thread blocked until the server answered (15 s).
      assert.ok(took < DISPOSE_BOUND_MS + 1000, `dispose blocked ${took} ms`);
      assert.equal(ring.closed, false, "handed off to the async close");
      await assert.rejects(ring.nop(), /closed/);
      server.answer();
      await until("the ring closes", () => ring.closed, 10_000);
      // The write was done by the kernel after all (a cancel could not stop
      // it): it settles with the server's answer or as cancelled.
      await write.then((n) => assert.equal(n, 4096), () => {});
    }),
);
