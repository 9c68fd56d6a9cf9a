// Promise API: volume through a tiny ring, buffer lifetime across forced
// garbage collections, tiny on-heap buffers, and buffers the kernel must
// never be given (detached, resizable).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { closeFd, pipeFds, Ring, writeFd } from "../raw.ts";
import {
  collectGarbage,
  pattern,
  skipUnless,
  withTempFile,
} from "./helpers.ts";
import { deadline, sleep } from "./promise_helpers.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const CAN_GC = typeof g.Bun?.gc === "function" || typeof g.gc === "function";
const NO_GC = !CAN_GC &&
  "no way to force a GC (run Deno with --v8-flags=--expose-gc)";

const FILE_SIZE = 1 << 22; // 4 MiB
const FILE_DATA = pattern(FILE_SIZE, 42);

/** Fills up to `depth` reads at a time until `total` have completed. */
async function readLoop(
  ring: Ring,
  fd: number,
  total: number,
  depth: number,
  size: number,
  check: (buf: Uint8Array, offset: number, n: number) => void,
): Promise<number> {
  let issued = 0;
  let completed = 0;
  let seed = 12345;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed % ((FILE_SIZE - size) / size | 0)) * size;
  };
  const worker = async () => {
    while (issued < total) {
      issued++;
      const offset = next();
      const buf = new Uint8Array(size);
      const n = await ring.read(fd, buf, offset);
      check(buf, offset, n);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return completed;
}

test("100,000 reads through an 8-entry ring: every one verified, none lost", async () => {
  await withTempFile({ contents: FILE_DATA }, async (fd) => {
    // readNow: false keeps every read in the ring (its backlog and CQ
    // budget are what this tests); the tiny-buffer test below reads at once.
    await using ring = new Ring({ entries: 8, readNow: false });
    let bad = 0;
    const completed = await deadline(
      readLoop(ring, fd, 100_000, 64, 4096, (buf, offset, n) => {
        if (n !== 4096) bad++;
        else {
          // Compare a few words and the edges: full compares would make the
          // test measure memcmp.
          for (const i of [0, 1, 777, 2048, 4094, 4095]) {
            if (buf[i] !== FILE_DATA[offset + i]) {
              bad++;
              break;
            }
          }
        }
      }),
      60_000,
      "100k reads",
    );
    assert.equal(completed, 100_000);
    assert.equal(bad, 0);
    assert.equal(ring.pending, 0);
  });
});

test("tiny 16-byte buffers: 20,000 reads with collections in between", async () => {
  await withTempFile({ contents: FILE_DATA }, async (fd) => {
    await using ring = new Ring({ entries: 32 });
    let bad = 0;
    let gcs = 0;
    const completed = await deadline(
      readLoop(ring, fd, 20_000, 48, 16, (buf, offset, n) => {
        if (n !== 16) bad++;
        for (let i = 0; i < 16; i++) {
          if (buf[i] !== FILE_DATA[offset + i]) {
            bad++;
            break;
          }
        }
        if (CAN_GC && ++gcs % 4000 === 0) collectGarbage();
      }),
      60_000,
      "tiny reads",
    );
    assert.equal(completed, 20_000);
    assert.equal(bad, 0);
    // Other small typed arrays too: a 5-element Uint32Array at an offset.
    const words = new Uint32Array(5);
    assert.equal(await ring.read(fd, words.subarray(1, 3), 8), 8);
    assert.deepEqual(
      new Uint8Array(words.buffer, 4, 8),
      FILE_DATA.subarray(8, 16),
    );
    assert.equal(words[0], 0);
    assert.equal(words[3], 0);
  });
});

test(
  "1,000 reads in flight with every reference dropped and GC forced: every byte right",
  skipUnless("1,000 reads in flight with GC", NO_GC),
  async () => {
    await withTempFile({ contents: FILE_DATA }, async (fd, path) => {
      // Through the ring: a read done at once (readNow) has no lifetime.
      await using ring = new Ring({ entries: 8, readNow: false });
      const sizes = [16, 64, 512, 4096];
      const offsets: number[] = [];
      const reads: Promise<Uint8Array>[] = [];
      for (let i = 0; i < 1000; i++) {
        const size = sizes[i % sizes.length];
        const offset = ((i * 7919) % (FILE_SIZE / 4096 - 1)) * 4096 + i % 13;
        offsets.push(offset);
        // The buffer is reachable only through the library's pending table
        // (and the reaction the library will run): nothing here holds it.
        reads.push(
          ((buf: Uint8Array) => ring.read(fd, buf, offset).then(() => buf))(
            new Uint8Array(size),
          ),
        );
      }
      // Almost all of them sit in the backlog or the kernel now.
      assert.ok(ring.pending > 900);
      for (let i = 0; i < 3; i++) {
        collectGarbage();
        // Garbage that would reuse freed memory if a buffer was released.
        for (let j = 0; j < 2000; j++) new Uint8Array(64).fill(0xee);
        await sleep(0);
      }
      collectGarbage();
      const buffers = await deadline(Promise.all(reads), 30_000, "reads");
      collectGarbage();
      // Verify against the file read another way (node:fs).
      const file = new Uint8Array(readFileSync(path));
      for (let i = 0; i < buffers.length; i++) {
        const buf = buffers[i];
        assert.equal(buf.length, sizes[i % sizes.length]);
        assert.deepEqual(
          buf,
          file.subarray(offsets[i], offsets[i] + buf.length),
          `read ${i}`,
        );
      }
    });
  },
);

test(
  "reads blocked on a pipe while their buffers and promises are dropped and GC runs: no stray writes",
  skipUnless("reads blocked on a pipe with GC", NO_GC),
  async () => {
    const [readEnd, writeEnd] = pipeFds();
    const ring = new Ring({ entries: 512 });
    try {
      // 1000 16-byte reads wait in the kernel (poll-armed on the empty
      // pipe); nothing in this test keeps their buffers or promises.
      for (let i = 0; i < 1000; i++) {
        ring.read(readEnd, new Uint8Array(16), -1).catch(() => {});
      }
      await sleep(10);
      assert.equal(ring.pending, 1000);
      for (let i = 0; i < 3; i++) {
        collectGarbage();
        await sleep(0);
      }
      // Sentinels allocated after the collections: if the library had let
      // the kernel's buffers go, their memory could now be one of these.
      const sentinels = Array.from(
        { length: 4000 },
        () => new Uint8Array(16).fill(0xaa),
      );
      for (const s of sentinels) void s.buffer; // off-heap, like the reads'
      // Now the kernel writes into the in-flight buffers.
      writeFd(writeEnd, new Uint8Array(16 * 1000).fill(0x55));
      const until = Date.now() + 10_000;
      while (ring.pending > 0 && Date.now() < until) await sleep(5);
      collectGarbage();
      for (const s of sentinels) {
        assert.ok(s.every((b) => b === 0xaa), "a sentinel was overwritten");
      }
    } finally {
      await deadline(ring.close(), 10_000, "ring close");
      closeFd(readEnd);
      closeFd(writeEnd);
    }
  },
);

test("a detached buffer is a TypeError before submission", async () => {
  await withTempFile({ contents: FILE_DATA.subarray(0, 4096) }, async (fd) => {
    await using ring = new Ring({ entries: 8 });
    const transferred = new Uint8Array(64);
    transferred.buffer.transfer();
    await assert.rejects(() => ring.read(fd, transferred, 0), TypeError);
    const cloned = new Uint8Array(64);
    structuredClone(cloned.buffer, { transfer: [cloned.buffer] });
    await assert.rejects(() => ring.write(fd, cloned, 0), TypeError);
    await assert.rejects(() => ring.readv(fd, [new Uint8Array(4), cloned], 0));
    assert.equal(ring.pending, 0);
    assert.equal(await ring.read(fd, new Uint8Array(4), 0), 4);
  });
});

test("a resizable ArrayBuffer is a TypeError before submission", async () => {
  await withTempFile({ contents: FILE_DATA.subarray(0, 4096) }, async (fd) => {
    await using ring = new Ring({ entries: 8 });
    const resizable = new ArrayBuffer(64, { maxByteLength: 4096 });
    await assert.rejects(
      () => ring.read(fd, new Uint8Array(resizable), 0),
      TypeError,
    );
    await assert.rejects(
      () => ring.write(fd, new DataView(resizable, 0, 8), 0),
      TypeError,
    );
    await assert.rejects(
      () => ring.writev(fd, [new Uint8Array(resizable)], 0),
      TypeError,
    );
    assert.equal(ring.pending, 0);
  });
});
