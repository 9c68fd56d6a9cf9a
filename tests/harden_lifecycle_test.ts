/**
 * Lifecycle safety: ring fds are close-on-exec, use after close and double
 * close are RingClosedError, 64 rings work at once, SQPOLL as an
 * unprivileged user, and a process that exits with 1,000 reads in flight
 * exits promptly without a torn write in the file it was writing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { libc } from "../ffi/mod.ts";
import {
  closeFd,
  O_RDWR,
  openFd,
  Ring,
  RingClosedError,
  RingCore,
} from "../raw.ts";
import { runChild } from "./harden_helpers.ts";
import { tempPath, TIME_SCALE } from "./helpers.ts";

const F_GETFD = 1;
const FD_CLOEXEC = 1;
const NO_SETPRIV = existsSync("/usr/bin/setpriv") && process.getuid?.() === 0
  ? false
  : "needs root and setpriv (util-linux) to run a child as nobody";
if (NO_SETPRIV) {
  console.log(
    `harden_lifecycle_test.ts: skipping SQPOLL-as-nobody: ${NO_SETPRIV}`,
  );
}

test("ring fds are close-on-exec (fcntl F_GETFD), for RingCore and Ring", () => {
  const core = new RingCore({ entries: 2 });
  const ring = new Ring({ entries: 2 });
  try {
    for (const fd of [core.fd, ring.core.fd]) {
      const flags = libc().fcntl(fd, F_GETFD, 0);
      assert.ok(flags >= 0);
      assert.equal(flags & FD_CLOEXEC, FD_CLOEXEC, `fd ${fd} lacks FD_CLOEXEC`);
    }
  } finally {
    core.close();
    ring[Symbol.dispose]();
  }
});

test("RingCore: use after close and double close → RingClosedError, never a crash", () => {
  const ring = new RingCore({ entries: 2 });
  ring.close();
  assert.throws(() => ring.close(), RingClosedError);
  assert.throws(() => ring.prepNop(), RingClosedError);
  assert.throws(() => ring.submit(), RingClosedError);
  assert.throws(() => ring.submitAndWait(1), RingClosedError);
  assert.throws(() => ring.peekCqe(), RingClosedError);
  assert.throws(
    () => ring.registerBuffers([new Uint8Array(8)]),
    RingClosedError,
  );
  assert.throws(() => ring.probe(), RingClosedError);
  ring[Symbol.dispose](); // after close: nothing happens
});

test("Ring: use after close and double close → RingClosedError", async () => {
  const ring = new Ring({ entries: 4 });
  await ring.nop();
  await ring.close();
  await assert.rejects(ring.close(), RingClosedError);
  await assert.rejects(ring.nop(), RingClosedError);
  await assert.rejects(ring.read(0, new Uint8Array(1), 0), RingClosedError);
  await assert.rejects(ring.fsync(0), RingClosedError);
  await ring[Symbol.asyncDispose](); // after close: nothing happens
});

test("64 rings open at once, each writing and reading back its own block", async () => {
  const path = tempPath("/dev/shm", "many-rings");
  writeFileSync(path, new Uint8Array(64 * 4096));
  const fd = openFd(path, O_RDWR);
  const rings = Array.from({ length: 64 }, () => new Ring({ entries: 8 }));
  try {
    assert.equal(new Set(rings.map((r) => r.core.fd)).size, 64);
    await Promise.all(rings.map(async (ring, i) => {
      const block = new Uint8Array(4096).fill(i + 1);
      assert.equal(await ring.write(fd, block, i * 4096), 4096);
      const back = new Uint8Array(4096);
      assert.equal(await ring.read(fd, back, i * 4096), 4096);
      assert.ok(
        back.every((b) => b === i + 1),
        `ring ${i} read the wrong block`,
      );
    }));
  } finally {
    await Promise.all(rings.map((r) => r.close()));
    closeFd(fd);
    rmSync(path, { force: true });
  }
});

test(
  "SQPOLL as an unprivileged user (nobody): works on this kernel, or a clear error",
  { skip: NO_SETPRIV },
  () => {
    const run = runChild("sqpoll", [], { asNobody: true });
    assert.equal(run.status, 0, run.stderr);
    if (run.result.ok) {
      // Since Linux 5.11 SQPOLL needs no privilege: say so, and check it ran.
      console.log(
        "SQPOLL works unprivileged on this kernel (Linux 5.11+ allows it)",
      );
      assert.ok(run.result.read > 0);
      assert.equal(run.result.flags & 2, 2); // IORING_SETUP_SQPOLL
    } else {
      const { error } = run.result;
      assert.equal(error.isUnavailable, true);
      assert.match(error.message, /SQPOLL|sqpoll/);
    }
  },
);

function exitFixture(): string {
  const path = tempPath("/dev/shm", "exit-inflight");
  writeFileSync(path, new Uint8Array(256 * 4096));
  chmodSync(path, 0o666);
  return path;
}

/** Every 4 KiB block is all zeros (never written) or all its own value. */
function assertNoTornBlocks(path: string): number {
  const data = readFileSync(path);
  assert.equal(data.length, 256 * 4096);
  let landed = 0;
  for (let i = 0; i < 256; i++) {
    const block = data.subarray(i * 4096, (i + 1) * 4096);
    const first = block[0];
    const expected = (i % 255) + 1; // never 0: zero means "not written"
    assert.ok(first === 0 || first === expected, `block ${i} holds ${first}`);
    assert.ok(block.every((b) => b === first), `block ${i} is torn`);
    if (first !== 0) landed++;
  }
  return landed;
}

test("process.exit(0) with 1,000 pipe reads and 255 writes in flight: prompt exit, no torn block", () => {
  const path = exitFixture();
  try {
    const run = runChild("exit-inflight", [path, "exit"], {
      timeoutMs: 20000 * TIME_SCALE,
    });
    assert.equal(run.signal, null, `killed after ${run.ms} ms: ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /pending (\d+)/);
    assert.ok(Number(/pending (\d+)/.exec(run.stdout)![1]) >= 1000);
    assert.ok(run.ms < 5000 * TIME_SCALE, `exit took ${run.ms} ms`);
    assert.ok(assertNoTornBlocks(path) >= 1);
  } finally {
    rmSync(path, { force: true });
  }
});

test("main returns with 1,000 file reads and 255 writes in flight: prompt exit, every write landed whole", () => {
  const path = exitFixture();
  try {
    const run = runChild("exit-inflight", [path, "return"], {
      timeoutMs: 20000 * TIME_SCALE,
    });
    assert.equal(run.signal, null, `killed after ${run.ms} ms: ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.ms < 5000 * TIME_SCALE, `exit took ${run.ms} ms`);
    // Nothing was cancelled: the event loop ran every request to completion.
    assert.equal(assertNoTornBlocks(path), 256);
  } finally {
    rmSync(path, { force: true });
  }
});

test("fallback: process.exit(0) with 1,000 blocked reads and writes in flight exits promptly, no torn block", () => {
  const path = exitFixture();
  try {
    const run = runChild("fallback-exit", [path], {
      timeoutMs: 20000 * TIME_SCALE,
    });
    assert.equal(run.signal, null, `killed after ${run.ms} ms: ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.ms < 5000 * TIME_SCALE, `exit took ${run.ms} ms`);
    assertNoTornBlocks(path);
  } finally {
    rmSync(path, { force: true });
  }
});
