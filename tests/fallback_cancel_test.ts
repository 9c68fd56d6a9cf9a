/**
 * The fallback backend's cancellation: a read that times out or is aborted
 * on a pipe consumes nothing (the next read gets every byte), cancelled
 * calls free their threads, and a closed ring lets the process exit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { closeFd, O_RDONLY, openFd, pipeFds, writeFd } from "../raw.ts";
import { FallbackRing } from "../ring/fallback.ts";
import { RingClosedError } from "../ring/errors.ts";
import { runChild } from "./harden_helpers.ts";
import { tempPath } from "./helpers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("fallback: a timed-out read on a pipe consumes nothing; the next read gets every byte", async () => {
  await using ring = new FallbackRing({ threads: 2 });
  const [r, w] = pipeFds();
  try {
    const started = performance.now();
    await assert.rejects(
      ring.read(r, new Uint8Array(16), -1, { timeoutMs: 50 }),
      (error: Error) => error.name === "TimeoutError",
    );
    // The deadline holds: the cancel reaches a pipe read at once.
    assert.ok(performance.now() - started < 2000);
    assert.equal(ring.pending, 0);
    writeFd(w, bytes("first bytes"));
    const buf = new Uint8Array(16);
    // No timeout: a Worker starting on a loaded machine can take seconds.
    const n = await ring.read(r, buf, -1);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "first bytes");
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("fallback: an aborted read on a pipe consumes nothing, and one that has its bytes resolves", async () => {
  await using ring = new FallbackRing({ threads: 2 });
  const [r, w] = pipeFds();
  try {
    const controller = new AbortController();
    const read = ring.read(r, new Uint8Array(16), -1, {
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort(new Error("changed my mind"));
    await assert.rejects(read, /changed my mind/);
    writeFd(w, bytes("kept"));
    const buf = new Uint8Array(16);
    assert.equal(await ring.read(r, buf, -1), 4);
    assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "kept");
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("fallback: 16 timed-out pipe reads on a 4-thread pool leave every thread free for the next requests", async () => {
  await using ring = new FallbackRing({ threads: 4 });
  const [r, w] = pipeFds();
  const path = tempPath("/dev/shm", "fallback-cancel");
  writeFileSync(path, "file data");
  const fd = openFd(path, O_RDONLY);
  try {
    const timeouts = [];
    for (let i = 0; i < 16; i++) {
      timeouts.push(
        assert.rejects(
          ring.read(r, new Uint8Array(8), -1, { timeoutMs: 20 }),
          (error: Error) => error.name === "TimeoutError",
        ),
      );
    }
    await Promise.all(timeouts);
    // Four reads in parallel: each needs a free thread.
    const buf = new Uint8Array(9);
    const started = performance.now();
    const reads = [0, 1, 2, 3].map(() => ring.read(fd, buf, 0));
    assert.deepEqual(await Promise.all(reads), [9, 9, 9, 9]);
    // Stuck threads (before the fix) never came back; Worker start-up on a
    // loaded machine can take seconds.
    assert.ok(performance.now() - started < 60_000);
    // And the pipe still has its bytes for whoever reads next.
    writeFd(w, bytes("xy"));
    assert.equal(await ring.read(r, new Uint8Array(8), -1), 2);
  } finally {
    closeFd(fd);
    closeFd(r);
    closeFd(w);
    rmSync(path, { force: true });
  }
});

test("fallback: close() with reads blocked on a pipe rejects them with RingClosedError at once", async () => {
  const ring = new FallbackRing({ threads: 2 });
  const [r, w] = pipeFds();
  try {
    const reads = [0, 1, 2].map(() => ring.read(r, new Uint8Array(8), -1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await ring.close();
    for (const read of reads) await assert.rejects(read, RingClosedError);
    assert.equal(ring.pending, 0);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("fallback: after await ring.close() with reads blocked on a pipe, the process exits by itself", () => {
  const run = runChild("fallback-close-exit", [], { timeoutMs: 20_000 });
  assert.equal(run.signal, null, `the child did not exit: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(run.result, { ok: true, rejected: 6 });
  assert.ok(run.ms < 15_000, `exit took ${Math.round(run.ms)} ms`);
});
