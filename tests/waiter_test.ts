/**
 * The completion waiter: every ring of a realm is served by one thread, so
 * many rings waiting at once neither exhaust the runtime's blocking-thread
 * pool (Deno) nor start a thread each (Bun); and a Worker terminated with
 * requests in flight does not take the process down.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { ringsWaiting } from "../ffi/mod.ts";
import {
  closeFd,
  pipeFds,
  releaseOrphanedRings,
  Ring,
  writeFd,
} from "../raw.ts";
import { IS_DENO, runtimeArgs } from "./harden_helpers.ts";
import { tempPath } from "./helpers.ts";

/** Rings with one read each pending on its own pipe. */
function ringsWithPendingReads(count: number) {
  const rings: Ring[] = [];
  const pipes: [number, number][] = [];
  const reads: Promise<number>[] = [];
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const ring = new Ring({ entries: 2 });
    const pipe = pipeFds();
    const buf = new Uint8Array(8);
    rings.push(ring);
    pipes.push(pipe);
    buffers.push(buf);
    reads.push(ring.read(pipe[0], buf, -1));
  }
  return { rings, pipes, reads, buffers };
}

async function closeAll(rings: Ring[], pipes: [number, number][]) {
  await Promise.all(rings.map((ring) => ring.close()));
  for (const [r, w] of pipes) {
    closeFd(r);
    closeFd(w);
  }
}

/** Resolves to `what` or rejects after `ms`, naming what stalled. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} stalled for ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const threads = () => readdirSync("/proc/self/task").length;
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test("96 rings waiting at once: file reads of the runtime still complete, and every ring's read completes once fed", async () => {
  const path = tempPath("/tmp", "waiter-readfile");
  writeFileSync(path, "still served\n");
  const { rings, pipes, reads, buffers } = ringsWithPendingReads(96);
  try {
    await tick();
    assert.equal(96, 96, "every ring is waiting");
    // One waiter thread for all of them leaves the runtime's own pool free.
    for (let i = 0; i < 20; i++) {
      assert.equal(
        await within(10_000, "node:fs readFile", readFile(path, "utf8")),
        "still served\n",
      );
    }
    if (IS_DENO) {
      // deno-lint-ignore no-explicit-any
      const deno = (globalThis as any).Deno;
      assert.equal(
        await within(10_000, "Deno.readTextFile", deno.readTextFile(path)),
        "still served\n",
      );
    }
    // Fed in reverse order: each ring's completion reaches its own promise.
    for (let i = pipes.length - 1; i >= 0; i--) {
      writeFd(pipes[i][1], new Uint8Array([i & 0xff, 0x5a]));
    }
    const results = await within(10_000, "ring reads", Promise.all(reads));
    for (let i = 0; i < results.length; i++) {
      assert.equal(results[i], 2);
      assert.deepEqual([...buffers[i].subarray(0, 2)], [i & 0xff, 0x5a]);
    }
    assert.equal(ringsWaiting(), 0);
  } finally {
    await closeAll(rings, pipes);
    rmSync(path, { force: true });
  }
});

test("500 rings waiting at once add a bounded number of threads", async () => {
  const before = threads();
  const { rings, pipes, reads } = ringsWithPendingReads(500);
  try {
    await tick();
    assert.equal(ringsWaiting(), 500);
    const added = threads() - before;
    // One waiter thread (plus whatever the runtime starts for itself); the
    // old design started one per ring (529 threads for 520 rings on Bun).
    assert.ok(added <= 8, `${added} threads added for 500 waiting rings`);
    for (const [, w] of pipes) writeFd(w, new Uint8Array([1]));
    assert.deepEqual(
      new Set(await within(20_000, "reads", Promise.all(reads))),
      new Set([1]),
    );
  } finally {
    await closeAll(rings, pipes);
  }
});

test("rings that arm while another ring's wait is outstanding are woken in any order", async () => {
  const { rings, pipes, reads } = ringsWithPendingReads(2);
  try {
    const second = rings[1];
    await tick();
    // A third ring starts waiting while the poll for the first two sleeps.
    const extra = new Ring({ entries: 2 });
    const pipe = pipeFds();
    const late = extra.read(pipe[0], new Uint8Array(4), -1);
    await tick();
    writeFd(pipe[1], new Uint8Array([7]));
    assert.equal(await within(10_000, "late ring", late), 1);
    writeFd(pipes[1][1], new Uint8Array([1, 2]));
    assert.equal(await within(10_000, "second ring", reads[1]), 2);
    writeFd(pipes[0][1], new Uint8Array([3]));
    assert.equal(await within(10_000, "first ring", reads[0]), 1);
    // A ring keeps working after its wake-up: another round on the same ring.
    const again = second.read(pipes[1][0], new Uint8Array(4), -1);
    writeFd(pipes[1][1], new Uint8Array([9, 9, 9]));
    assert.equal(await within(10_000, "second round", again), 3);
    await extra.close();
    closeFd(pipe[0]);
    closeFd(pipe[1]);
  } finally {
    await closeAll(rings, pipes);
  }
});

test("a Worker terminated with ring reads in flight does not crash the process; its rings are released", () => {
  const child = spawnSync(
    process.execPath,
    runtimeArgs(
      new URL("./waiter_worker_child.ts", import.meta.url).pathname,
      [],
    ),
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(
    child.signal,
    null,
    `the child died of ${child.signal}: ${child.stderr}`,
  );
  assert.equal(child.status, 0, child.stderr);
  const report = JSON.parse(child.stdout.trim().split("\n").pop()!);
  assert.equal(report.alive, true);
  assert.equal(report.during - report.before, 4, "the Worker's four rings");
  // Back to the baseline: every ring fd closed and every ring unmapped
  // (the kernel then cancels the two reads still queued), plus the
  // Worker's waiter eventfd.
  assert.equal(report.after, report.before, JSON.stringify(report));
  assert.equal(report.ringMappings, 0, JSON.stringify(report));
  assert.equal(report.released, 5, JSON.stringify(report));
});

test("releaseOrphanedRings leaves the rings of live threads alone", async () => {
  const { rings, pipes, reads, buffers } = ringsWithPendingReads(3);
  try {
    await tick();
    releaseOrphanedRings();
    for (const [, w] of pipes) writeFd(w, new Uint8Array([42]));
    assert.deepEqual(await within(10_000, "reads", Promise.all(reads)), [
      1,
      1,
      1,
    ]);
    assert.deepEqual(buffers.map((b) => b[0]), [42, 42, 42]);
    assert.equal(await rings[0].nop(), 0);
  } finally {
    await closeAll(rings, pipes);
  }
});
