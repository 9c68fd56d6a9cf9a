/**
 * The staging pool: aligned slices per size class, no growth in steady
 * state, non-overlapping live slices, snapshot copies in, checked copies
 * out (also scattered over several views), release discipline, the idle
 * budget of large slices, and close with slices still out.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_STAGING_ALIGNMENT,
  StagingPool,
  type StagingSlice,
} from "../memory/mod.ts";
import { stagingClass } from "../memory/staging.ts";
import { collect, pattern, withRing, withTempFile } from "./helpers.ts";

function withPool(fn: (pool: StagingPool) => void, maxIdleBytes?: number) {
  const pool = new StagingPool({ maxIdleBytes });
  try {
    fn(pool);
  } finally {
    pool.close();
  }
}

test("slices are aligned to what was asked and at least as long", () => {
  withPool((pool) => {
    const cases: Array<[number, number]> = [
      [0, 4096],
      [1, 512],
      [4096, 4096],
      [4097, 4096],
      [100, 65536],
      [5000, 8192],
      [1 << 20, 4096],
      [3 << 20, 4096],
      [10, MAX_STAGING_ALIGNMENT],
    ];
    for (const [length, alignment] of cases) {
      const slice = pool.acquire(length, alignment);
      assert.equal(slice.address % alignment, 0, `${length}@${alignment}`);
      assert.equal(slice.address % 4096, 0, "always page-aligned");
      assert.ok(slice.capacity >= length);
      assert.equal(slice.bytes.byteLength, slice.capacity);
      assert.equal(slice.length, length);
      pool.release(slice);
    }
    assert.equal(stagingClass(5000, 512), 13);
    assert.equal(stagingClass(1, 1), 12);
  });
});

test("bad lengths and alignments are RangeErrors; a closed pool refuses", () => {
  const pool = new StagingPool();
  for (const length of [-1, 0.5, 2 ** 31 + 1]) {
    assert.throws(() => pool.acquire(length), RangeError, String(length));
  }
  for (const alignment of [0, 3, MAX_STAGING_ALIGNMENT * 2]) {
    assert.throws(() => pool.acquire(16, alignment), RangeError);
  }
  assert.throws(() => new StagingPool({ maxIdleBytes: -1 }), RangeError);
  pool.close();
  assert.throws(() => pool.acquire(16), /closed/);
});

test("live slices never overlap, across slab boundaries", () => {
  withPool((pool) => {
    const held: StagingSlice[] = [];
    for (let i = 0; i < 600; i++) held.push(pool.acquire(4096));
    for (let i = 0; i < 40; i++) held.push(pool.acquire(100_000));
    const spans = held.map((s) => [s.address, s.address + s.capacity])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      assert.ok(spans[i][0] >= spans[i - 1][1], "overlap");
    }
    // Writing every slice fully and reading it back finds no crosstalk.
    held.forEach((s, i) => s.bytes.fill(i & 255));
    held.forEach((s, i) => assert.ok(s.bytes.every((b) => b === (i & 255))));
    for (const s of held) pool.release(s);
    assert.equal(pool.stats().inUse, 0);
  });
});

test("steady state maps nothing new: slabs stay flat over 2000 cycles", () => {
  withPool((pool) => {
    const cycle = () => {
      const a = pool.acquire(4096);
      const b = pool.acquire(1 << 20);
      const c = pool.acquire(64);
      pool.release(b);
      pool.release(a);
      pool.release(c);
    };
    for (let i = 0; i < 10; i++) cycle();
    const warm = pool.stats();
    for (let i = 0; i < 2000; i++) cycle();
    assert.deepEqual(pool.stats(), warm);
  });
});

test("copyIn is a snapshot; detached or oversized sources are rejected", () => {
  withPool((pool) => {
    const slice = pool.acquire(8);
    const source = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    pool.copyIn(slice, source);
    source.fill(0);
    assert.deepEqual([...slice.bytes.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
    pool.copyIn(slice, new Uint16Array([0x0201]));
    assert.deepEqual([...slice.bytes.subarray(0, 2)], [1, 2]);
    const gone = new Uint8Array(new ArrayBuffer(8));
    (gone.buffer as ArrayBuffer).transfer();
    assert.throws(() => pool.copyIn(slice, gone), TypeError);
    assert.throws(
      () => pool.copyIn(slice, new Uint8Array(slice.capacity + 1)),
      RangeError,
    );
    pool.release(slice);
  });
});

test("copyOut into any view type; a short target is a TypeError and stays untouched", () => {
  withPool((pool) => {
    const slice = pool.acquire(16);
    slice.bytes.set(pattern(16, 3));
    const dv = new DataView(new ArrayBuffer(20), 4);
    pool.copyOut(slice, dv, 16);
    assert.deepEqual(new Uint8Array(dv.buffer, 4, 16), pattern(16, 3));
    const words = new Uint32Array(4);
    pool.copyOut(slice, words, 16);
    assert.deepEqual(new Uint8Array(words.buffer), pattern(16, 3));
    const short = new Uint8Array(8);
    assert.throws(
      () => pool.copyOut(slice, short, 16, "pread"),
      (e: unknown) =>
        e instanceof TypeError &&
        /^pread: .*has 8 bytes, 16 were read/.test(e.message),
    );
    assert.ok(short.every((b) => b === 0));
    pool.copyOut(slice, short, 0); // nothing read: nothing to check
    pool.release(slice);
  });
});

test("copyInAll/copyOutAll gather and scatter; one shrunk target fails the whole delivery", () => {
  withPool((pool) => {
    const parts = [pattern(5, 1), pattern(7, 2), pattern(4, 3)];
    const slice = pool.acquire(16);
    pool.copyInAll(slice, parts);
    const targets = [new Uint8Array(5), new Uint8Array(7), new Uint8Array(4)];
    pool.copyOutAll(slice, targets, [5, 7, 4], 16);
    assert.deepEqual(targets, parts);
    // A short read fills the first ones only.
    const partial = [new Uint8Array(5), new Uint8Array(7), new Uint8Array(4)];
    pool.copyOutAll(slice, partial, [5, 7, 4], 8);
    assert.deepEqual(partial[1].subarray(0, 3), parts[1].subarray(0, 3));
    assert.ok(partial[2].every((b) => b === 0));
    // A target that lost its memory: nobody gets anything.
    const ab = new ArrayBuffer(7);
    const fresh = [new Uint8Array(5), new Uint8Array(ab), new Uint8Array(4)];
    ab.transfer();
    assert.throws(
      () => pool.copyOutAll(slice, fresh, [5, 7, 4], 16),
      /detached, transferred or shrunk/,
    );
    assert.ok(fresh[0].every((b) => b === 0), "first target untouched");
    assert.throws(
      () => pool.copyInAll(slice, [new Uint8Array(slice.capacity), parts[0]]),
      RangeError,
    );
    pool.release(slice);
  });
});

test("release twice, or into another pool, throws", () => {
  withPool((pool) => {
    const other = new StagingPool();
    const slice = pool.acquire(64);
    assert.throws(() => other.release(slice), /not acquired from here/);
    pool.release(slice);
    assert.throws(() => pool.release(slice), /not acquired from here/);
    other.close();
  });
});

test("large idle slices beyond the budget are unmapped at release", () => {
  withPool((pool) => {
    const a = pool.acquire(2 << 20);
    const b = pool.acquire(2 << 20);
    assert.equal(pool.stats().mappedBytes, 4 << 20);
    pool.release(a); // within the 2 MiB budget: kept
    assert.equal(pool.stats().mappedBytes, 4 << 20);
    pool.release(b); // over it: unmapped
    assert.equal(pool.stats().mappedBytes, 2 << 20);
    const c = pool.acquire(2 << 20); // reuses the kept one
    assert.equal(pool.stats().slabsMapped, 2);
    pool.release(c);
  }, 2 << 20);
});

test("close unmaps idle slabs now and busy ones at their last release", () => {
  const pool = new StagingPool();
  const busy = pool.acquire(4096);
  pool.release(pool.acquire(1 << 20));
  assert.equal(pool.stats().mappedBytes, 2 << 20);
  pool.close();
  assert.equal(pool.stats().mappedBytes, 1 << 20, "the busy slab stays");
  busy.bytes[0] = 1; // still mapped: the request using it may still run
  pool.release(busy);
  assert.equal(pool.stats().mappedBytes, 0);
  pool.close();
});

test("a staged read from a file delivers into a Uint16Array at an odd byteOffset view", () => {
  const data = pattern(4096, 9);
  withTempFile({ contents: data }, (fd) => {
    withRing({ entries: 2 }, (ring) => {
      withPool((pool) => {
        const slice = pool.acquire(4096);
        ring.prepRead(fd, slice.bytes.subarray(0, 4096), 0).userData = 3;
        const res = collect(ring, 1).get(3)!;
        assert.equal(res, 4096);
        const backing = new ArrayBuffer(4096 + 2);
        const target = new Uint16Array(backing, 2, 2048);
        pool.copyOut(slice, target, res);
        assert.deepEqual(new Uint8Array(backing, 2), data);
        pool.release(slice);
      });
    });
  });
});
