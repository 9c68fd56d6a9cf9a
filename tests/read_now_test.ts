/**
 * Reads done at once on the JS thread (sys/read_now.ts, `readNow`): tmpfs
 * files always, page-cached data while requests come one at a time. These
 * tests drive real rings on real files (/dev/shm, and a disk file system
 * for the page cache) and check what the path promises: the data; that
 * the read really skipped the ring (`ring.pending` is 0 right after the
 * call) and that everything it does not read in full (end of file, an
 * error, too large, O_DIRECT) goes through the ring with the ring's answer;
 * that batches of cached reads go back to the ring; that timers keep their
 * turn during an endless loop of such reads; and the option.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import {
  nowaitDir,
  pattern,
  skipUnless,
  tempPath,
  withTempFile,
} from "./helpers.ts";
import {
  closeFd,
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  openFd,
  Ring,
  UringError,
} from "../raw.ts";
import { READ_NOW_MAX } from "../sys/read_now.ts";
import { DoneNow } from "../ring/done_now.ts";
import { InlineChain } from "../ring/inline_chain.ts";
import { inPlaceCounts } from "../ring/in_place.ts";
import { EBADF } from "../structs/errno.ts";

const SIZE = 512 * 1024;
const DATA = pattern(SIZE, 11);

test("a tmpfs read is done at once: right data, nothing left in the ring", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring();
    for (
      const [offset, length] of [[0, 4096], [1, 777], [SIZE - 65536, 65536]]
    ) {
      const buf = new Uint8Array(length);
      const read = ring.read(fd, buf, offset);
      // Already read: the bytes are there before the Promise is awaited.
      assert.equal(ring.pending, 0);
      assert.deepEqual(buf, DATA.subarray(offset, offset + length));
      assert.equal(await read, length);
    }
    // A DataView at an odd offset, and a small (on-heap) typed array.
    const backing = new ArrayBuffer(8192);
    assert.equal(
      await ring.read(fd, new DataView(backing, 3, 4096), 100),
      4096,
    );
    assert.deepEqual(
      new Uint8Array(backing, 3, 4096),
      DATA.subarray(100, 4196),
    );
    const words = new Uint32Array(5);
    assert.equal(await ring.read(fd, words.subarray(1, 3), 8), 8);
    assert.deepEqual(new Uint8Array(words.buffer, 4, 8), DATA.subarray(8, 16));
    assert.equal(words[0], 0);
    assert.equal(words[3], 0);
    // Arguments the fast lane does not take unchanged go the usual way.
    const small = new Uint8Array(16);
    assert.equal(await ring.read(fd, small, -0), 16);
    assert.equal(await ring.read(fd, small, 32n), 16);
    assert.deepEqual(small, DATA.subarray(32, 48));
    await assert.rejects(ring.read(-0, small, 0), RangeError);
  });
});

test("what a tmpfs read cannot finish at once goes through the ring: end of file, an error, too large", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring();
    // Across and past the end of the file: short, then 0.
    const tail = new Uint8Array(8192);
    const short = ring.read(fd, tail, SIZE - 1000);
    assert.equal(ring.pending, 1);
    assert.equal(await short, 1000);
    assert.deepEqual(tail.subarray(0, 1000), DATA.subarray(SIZE - 1000));
    assert.equal(await ring.read(fd, tail, SIZE + 4096), 0);
    // Larger than READ_NOW_MAX: an io-wq worker copies it.
    const big = new Uint8Array(READ_NOW_MAX + 4096);
    const large = ring.read(fd, big, 0);
    assert.equal(ring.pending, 1);
    assert.equal(await large, big.length);
    assert.deepEqual(big, DATA.subarray(0, big.length));
  });
  // A write-only descriptor: the ring's EBADF, as without this path.
  await withTempFile({ contents: DATA }, async (_fd, path) => {
    const writeOnly = openFd(path, O_WRONLY);
    try {
      await using ring = new Ring();
      await assert.rejects(
        ring.read(writeOnly, new Uint8Array(64), 0),
        (e: unknown) => e instanceof UringError && e.errno === EBADF,
      );
    } finally {
      closeFd(writeOnly);
    }
  });
});

test("a tmpfs read made right after a write in the same tick goes after it, through the ring", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring();
    const fresh = pattern(4096, 99);
    const write = ring.write(fd, fresh, 0);
    const buf = new Uint8Array(4096);
    const read = ring.read(fd, buf, 0);
    // Not done at once ahead of the write still waiting to be submitted.
    assert.equal(ring.pending, 2);
    assert.equal(await write, 4096);
    assert.equal(await read, 4096);
    // Read again once the write is in: the new bytes, at once.
    assert.equal(await ring.read(fd, buf, 0), 4096);
    assert.deepEqual(buf, fresh);
  });
});

test("a buffer transferred right after a tmpfs read: the read had already landed, nothing written after", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring();
    for (let round = 0; round < 50; round++) {
      const buf = new Uint8Array(4096);
      const read = ring.read(fd, buf, round * 4096);
      const moved = new Uint8Array(buf.buffer.transfer());
      assert.equal(await read, 4096);
      assert.deepEqual(moved, DATA.subarray(round * 4096, round * 4096 + 4096));
    }
  });
});

test("an endless loop of tmpfs reads leaves timers their turn", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const buf = new Uint8Array(4096);
    let reads = 0;
    const until = performance.now() + 300;
    try {
      // Each read settles at once while the chain budget lasts; without a
      // turn of the event loop the interval would never run.
      while (performance.now() < until) {
        await ring.read(fd, buf, (reads++ % 64) * 4096);
      }
    } finally {
      clearInterval(timer);
    }
    assert.ok(reads > 100, `${reads} reads`);
    // Starved timers tick 0 times; 1 ms ones at their pace about 300 (a
    // loaded machine fires them late, never not at all).
    assert.ok(ticks >= 10, `${ticks} ticks of a 1 ms interval in 300 ms`);
  });
});

test("readNow: false sends tmpfs reads through the ring; a wrong type is a TypeError", async () => {
  await withTempFile({ contents: DATA }, async (fd) => {
    await using ring = new Ring({ readNow: false });
    const buf = new Uint8Array(4096);
    const read = ring.read(fd, buf, 4096);
    assert.equal(ring.pending, 1);
    assert.equal(await read, 4096);
    assert.deepEqual(buf, DATA.subarray(4096, 8192));
  });
  assert.throws(
    () => new Ring({ readNow: "yes" as unknown as boolean }),
    /readNow must be a boolean/,
  );
});

const cached = nowaitDir();
const name =
  "page-cached data: at once one at a time, through the ring in batches";
test(name, skipUnless(name, cached.reason), async () => {
  const path = tempPath(cached.dir!, "read-now");
  writeFileSync(path, DATA); // written through the page cache: cached
  const fd = openFd(path, O_RDONLY | O_CREAT);
  try {
    await using ring = new Ring();
    // One at a time: done at once, in place of the ring's in-place read.
    const before = inPlaceCounts.prepared;
    for (let i = 0; i < 20; i++) {
      const buf = new Uint8Array(4096);
      const read = ring.read(fd, buf, i * 8192);
      assert.equal(ring.pending, 0);
      assert.equal(await read, 4096);
      assert.deepEqual(buf, DATA.subarray(i * 8192, i * 8192 + 4096));
    }
    assert.equal(inPlaceCounts.prepared, before);
    // Eight at a time: after a few batches, one io_uring_enter for each.
    const buffers = Array.from({ length: 8 }, () => new Uint8Array(4096));
    for (let round = 0; round < 20; round++) {
      const reads = buffers.map((buf, i) =>
        ring.read(fd, buf, ((round * 8 + i) % 64) * 4096)
      );
      assert.deepEqual(await Promise.all(reads), buffers.map(() => 4096));
      buffers.forEach((buf, i) => {
        const offset = ((round * 8 + i) % 64) * 4096;
        assert.deepEqual(buf, DATA.subarray(offset, offset + 4096));
      });
    }
    assert.ok(
      inPlaceCounts.prepared - before >= 8 * 10,
      `${inPlaceCounts.prepared - before} reads went in place through the ring`,
    );
  } finally {
    closeFd(fd);
    rmSync(path, { force: true });
  }
});

test("DoneNow: past the chain's budget a Promise waits for the turn of the event loop", async () => {
  // A zero budget: the first look at the clock starts the chain, the next
  // one finds it spent (the clock is looked at every 16th request).
  let watched = 0;
  const bursts: number[] = [];
  const done = new DoneNow(
    new InlineChain(0),
    () => watched++,
    (size) => bursts.push(size),
  );
  const pending = Symbol("pending");
  const state = (p: Promise<number>) =>
    Promise.race([p, Promise.resolve(pending)]);
  const first = Array.from({ length: 31 }, (_, i) => done.settle(i));
  assert.deepEqual(
    await Promise.all(first),
    Array.from({ length: 31 }, (_, i) => i),
  );
  const held = done.settle(31);
  const alsoHeld = done.settle(32);
  assert.equal(await state(held), pending);
  assert.equal(await state(alsoHeld), pending);
  assert.ok(watched >= 2, "the turn was watched");
  done.turned();
  assert.equal(await held, 31);
  assert.equal(await alsoHeld, 32);
  // Bursts: the sampled requests started one each and it ended at once.
  assert.ok(bursts.length >= 1 && bursts.every((n) => n >= 1), `${bursts}`);
});
