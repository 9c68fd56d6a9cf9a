/**
 * The `registeredBuffers` Ring option: the ring's registered pool as its
 * fixed-buffer table. Buffers from `ring.buffer()` and caller buffers
 * staged in a free slot go out as READ_FIXED / WRITE_FIXED (shown by the
 * kernel: with the table unregistered behind the ring's back, exactly
 * those requests fail with EFAULT), data round-trips through both, slots
 * come back on release, bad options are typed errors, the fallback
 * accepts and ignores the option, and a child whose RLIMIT_MEMLOCK is too
 * small gets a MemlockError.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import {
  allocateBuffer,
  EBUSY,
  EFAULT,
  FallbackRing,
  IORING_OP_READ_FIXED,
  IORING_OP_WRITE_FIXED,
  O_DIRECT,
  releaseBuffer,
  Ring,
  RingCore,
  UringError,
} from "../raw.ts";
import { RegisteredPool, RegisteredSlot } from "../memory/registered.ts";
import { StagingPool } from "../memory/staging.ts";
import { finishIo, isFixedVariant, RequestMemory } from "../ring/io_memory.ts";
import { OPS } from "../ring/ops.ts";
import { directIoDir, pattern, withTempFile } from "./helpers.ts";
import { runChild } from "./harden_helpers.ts";

const NO_SETPRIV =
  existsSync("/usr/bin/setpriv") && existsSync("/usr/bin/prlimit") &&
    process.getuid?.() === 0
    ? false
    : "needs root, setpriv and prlimit (util-linux) to run a child as nobody";

function isErrno(errno: number) {
  return (error: unknown) =>
    error instanceof UringError && error.errno === errno;
}

test("bad registeredBuffers options are TypeErrors and RangeErrors, on both backends", () => {
  const cases: Array<[unknown, ErrorConstructor]> = [
    [null, TypeError],
    [4, TypeError],
    [[4, 4096], TypeError],
    [{ count: 4 }, TypeError],
    [{ size: 4096 }, TypeError],
    [{ count: 4, size: 4096, extra: 1 }, TypeError],
    [{ count: "4", size: 4096 }, TypeError],
    [{ count: 1.5, size: 4096 }, TypeError],
    [{ count: 0, size: 4096 }, RangeError],
    [{ count: 1025, size: 4096 }, RangeError],
    [{ count: 1, size: 0 }, RangeError],
    [{ count: 1, size: 2 ** 30 + 1 }, RangeError],
  ];
  for (const [value, type] of cases) {
    const options = { registeredBuffers: value } as never;
    assert.throws(() => new Ring(options), type, JSON.stringify(value));
    assert.throws(() => new FallbackRing(options), type, JSON.stringify(value));
  }
  // A Promise-layer option: the liburing-style ring refuses it.
  assert.throws(
    () =>
      new RingCore({ registeredBuffers: { count: 1, size: 4096 } } as never),
    /unknown option "registeredBuffers"/,
  );
});

test("ring.buffer() lends registered buffers: indexes, data both ways, slots back on release", async () => {
  await using ring = new Ring({ registeredBuffers: { count: 2, size: 8192 } });
  assert.equal(ring.registeredBuffers, null, "the table is the ring's own");
  await withTempFile({ size: 0 }, async (fd, path) => {
    const a = ring.buffer();
    const b = ring.buffer(4096);
    assert.equal(a.byteLength, 8192);
    assert.equal(b.byteLength, 4096);
    assert.equal(ring.fixedBufferIndex(a), 0);
    assert.equal(ring.fixedBufferIndex(b), 1);
    assert.equal(ring.fixedBufferIndex(a.subarray(100, 200)), 0);
    // Every slot is lent: an ordinary owned buffer, not registered.
    const c = ring.buffer();
    assert.equal(ring.fixedBufferIndex(c), -1);
    assert.equal(ring.fixedBufferIndex(new Uint8Array(16)), -1);
    a.set(pattern(8192, 1));
    assert.equal(await ring.write(fd, a, 0), 8192);
    assert.deepEqual(new Uint8Array(readFileSync(path)), pattern(8192, 1));
    assert.equal(await ring.read(fd, b, 4096), 4096);
    assert.deepEqual(b, pattern(8192, 1).subarray(4096));
    // Released: the views are revoked and the slot is lent again, zeroed.
    releaseBuffer(a);
    assert.equal(a.byteLength, 0);
    const again = ring.buffer();
    assert.equal(ring.fixedBufferIndex(again), 0);
    assert.ok(again.every((x) => x === 0), "zero-filled on reuse");
    assert.equal(await ring.read(fd, again, 0), 8192);
    assert.deepEqual(again, pattern(8192, 1));
    // Larger than a slot: an ordinary buffer.
    assert.equal(ring.fixedBufferIndex(ring.buffer(8193)), -1);
    releaseBuffer(again);
    releaseBuffer(b);
    releaseBuffer(c);
  });
});

test("caller buffers are staged in free registered slots; the rest in the staging pool", async () => {
  await using ring = new Ring({ registeredBuffers: { count: 2, size: 4096 } });
  const data = pattern(64 * 1024, 7);
  await withTempFile({ contents: data }, async (fd) => {
    // 16 reads at once over 2 slots: 2 fixed, 14 through the pool.
    const targets = Array.from({ length: 16 }, () => new Uint8Array(4096));
    const counts = await Promise.all(
      targets.map((t, i) => ring.read(fd, t, i * 4096)),
    );
    assert.deepEqual(counts, targets.map(() => 4096));
    targets.forEach((t, i) =>
      assert.deepEqual(t, data.subarray(i * 4096, (i + 1) * 4096), `read ${i}`)
    );
    // Writes: snapshot into a slot, and a view at an odd offset of another type.
    const src = pattern(4096, 9);
    const write = ring.write(fd, src, 0);
    src.fill(0); // after the call: the snapshot was taken
    assert.equal(await write, 4096);
    const back = new Uint16Array(2049).subarray(1);
    assert.equal(await ring.read(fd, back, 0), 4096);
    assert.deepEqual(new Uint8Array(back.buffer, 2, 4096), pattern(4096, 9));
  });
});

test("the kernel sees fixed-buffer requests: with the table gone they fail with EFAULT", async () => {
  // readNow: false, or the temporary file's reads (tmpfs, or cached) would
  // be done at once on the JS thread and never reach the kernel's table.
  await using ring = new Ring({
    registeredBuffers: { count: 2, size: 4096 },
    readNow: false,
  });
  await withTempFile({ contents: pattern(8192, 3) }, async (fd) => {
    const lent = ring.buffer();
    const owned = allocateBuffer(4096);
    // Before: all work.
    assert.equal(await ring.read(fd, lent, 0), 4096);
    assert.equal(await ring.read(fd, new Uint8Array(4096), 0), 4096);
    // Unregister behind the ring's back (the raw ring allows it).
    ring.core.unregisterBuffers();
    // A lent buffer and a staged caller buffer (one slot is still free)
    // were READ_FIXED / WRITE_FIXED: the kernel has no table any more.
    await assert.rejects(ring.read(fd, lent, 0), isErrno(EFAULT));
    await assert.rejects(
      ring.read(fd, new Uint8Array(4096), 0),
      isErrno(EFAULT),
    );
    await assert.rejects(
      ring.write(fd, new Uint8Array(4096), 0),
      isErrno(EFAULT),
    );
    // Bigger than a slot: staged in the pool, a plain READ.
    assert.equal(await ring.read(fd, new Uint8Array(8192), 0), 8192);
    // An ordinary owned buffer: zero-copy, a plain READ.
    assert.equal(await ring.read(fd, owned, 4096), 4096);
    assert.deepEqual(owned, pattern(8192, 3).subarray(4096));
    // Vectored requests never use the table.
    assert.equal(await ring.readv(fd, [new Uint8Array(100)], 0), 100);
    releaseBuffer(lent);
  });
});

test("with the option the table is the ring's: registerBuffers and unregisterBuffers are EBUSY", async () => {
  await using ring = new Ring({ registeredBuffers: { count: 1, size: 4096 } });
  assert.throws(
    () => ring.registerBuffers([new Uint8Array(4096)]),
    (error: unknown) =>
      isErrno(EBUSY)(error) && /ring\.buffer\(\)/.test(String(error)),
  );
  assert.throws(() => ring.unregisterBuffers(), isErrno(EBUSY));
  // Without it, as before.
  await using plain = new Ring();
  plain.registerBuffers([new Uint8Array(4096)]);
  assert.equal(plain.registeredBuffers?.length, 1);
  plain.unregisterBuffers();
});

test("O_DIRECT: a caller buffer staged in a registered slot, and a lent one", {
  skip: directIoDir() === null ? "no O_DIRECT directory" : false,
}, async () => {
  await using ring = new Ring({ registeredBuffers: { count: 1, size: 8192 } });
  const data = pattern(16384, 5);
  await withTempFile(
    { dir: directIoDir()!, contents: data, flags: O_DIRECT },
    async (fd) => {
      const plain = new Uint8Array(8192);
      assert.equal(await ring.read(fd, plain, 8192), 8192);
      assert.deepEqual(plain, data.subarray(8192));
      const lent = ring.buffer();
      assert.equal(ring.fixedBufferIndex(lent), 0);
      assert.equal(await ring.read(fd, lent, 0), 8192);
      assert.deepEqual(lent, data.subarray(0, 8192));
      // The slot is lent: this one goes through the staging pool.
      assert.equal(await ring.read(fd, plain, 0), 8192);
      assert.deepEqual(plain, data.subarray(0, 8192));
      releaseBuffer(lent);
    },
  );
});

test("a lent buffer outlives its ring as an ordinary owned buffer", async () => {
  const ring = new Ring({ registeredBuffers: { count: 1, size: 4096 } });
  const buf = ring.buffer();
  await ring.close();
  await using other = new Ring();
  assert.equal(other.fixedBufferIndex(buf), -1);
  await withTempFile({ contents: pattern(4096, 2) }, async (fd) => {
    assert.equal(await other.read(fd, buf, 0), 4096);
    assert.deepEqual(buf, pattern(4096, 2));
  });
  releaseBuffer(buf);
  assert.equal(buf.byteLength, 0);
});

test("the fallback accepts the option and ignores it: buffer() is an owned buffer of that size", async () => {
  await using ring = new FallbackRing({
    registeredBuffers: { count: 4, size: 8192 },
  });
  const buf = ring.buffer();
  assert.equal(buf.byteLength, 8192);
  assert.equal(ring.fixedBufferIndex(buf), -1);
  assert.equal(ring.registeredBuffers, null);
  await withTempFile({ contents: pattern(8192, 4) }, async (fd) => {
    assert.equal(await ring.read(fd, buf, 0), 8192);
    assert.deepEqual(buf, pattern(8192, 4));
  });
  releaseBuffer(buf);
});

test("RegisteredPool: staging slots and lent slots never overlap", () => {
  const pool = new RegisteredPool(3, 4096);
  const s0 = pool.acquire(4096)!;
  const lent = pool.lend(4096)!;
  const s2 = pool.acquire(100)!;
  assert.deepEqual([s0.index, s2.index], [0, 2]);
  assert.equal(pool.free, 0);
  assert.equal(pool.acquire(1), null, "all busy");
  assert.equal(pool.lend(1), null, "all busy");
  assert.equal(pool.acquire(4097), null, "too big");
  pool.release(s0);
  assert.throws(() => pool.release(s0), /not staging/);
  releaseBuffer(lent);
  assert.equal(pool.free, 2);
  pool.release(s2);
  pool.close();
  assert.equal(pool.acquire(1), null, "closed");
});

test("RLIMIT_MEMLOCK too small for the pool: setup fails with a MemlockError", {
  skip: NO_SETPRIV,
}, () => {
  const run = runChild("regpool", ["64", "65536"], {
    asNobody: true,
    memlock: 65536,
  });
  assert.equal(run.status, 0, run.stderr);
  const { error } = run.result;
  assert.equal(error?.isMemlock, true, JSON.stringify(run.result));
  assert.equal(error.code, "ENOMEM");
  assert.equal(error.limit, 65536);
  assert.ok(error.needed >= 64 * 65536);
  assert.match(error.message, /RLIMIT_MEMLOCK/);
  // A pool that fits the same limit works, with fixed reads.
  const fits = runChild("regpool", ["2", "4096"], {
    asNobody: true,
    memlock: 65536,
  });
  assert.equal(fits.result?.ok, true, fits.stdout + fits.stderr);
  assert.equal(fits.result.index, 0);
});

test("RequestMemory.hold picks READ_FIXED / WRITE_FIXED and the slot's index; everything else keeps its row", () => {
  const registered = new RegisteredPool(2, 4096);
  const memory = new RequestMemory(new StagingPool(), registered);
  try {
    // A caller buffer staged in slot 0: the fixed form of read, index 0.
    const staged = memory.hold(
      OPS.read.encode(3, new Uint8Array(100), 0),
      null,
    );
    assert.ok(staged instanceof RegisteredSlot);
    assert.ok(isFixedVariant(memory.spec));
    assert.equal(memory.spec.opcode, IORING_OP_READ_FIXED);
    assert.equal(memory.spec.name, "read", "errors still say read");
    assert.equal(memory.bufIndex, 0);
    assert.equal(memory.addr, registered.slots[0].address);
    // A lent slot written from: WRITE_FIXED with its index.
    const lent = registered.lend(4096)!;
    const write = memory.hold(OPS.write.encode(3, lent.subarray(8), 0), null);
    assert.equal(memory.spec.opcode, IORING_OP_WRITE_FIXED);
    assert.equal(memory.bufIndex, 1);
    // No slot free, or too big: a plain READ through the staging pool.
    const pooled = memory.hold(OPS.read.encode(3, new Uint8Array(10), 0), null);
    assert.equal(memory.spec, OPS.read);
    assert.equal(memory.bufIndex, -1);
    // An owned buffer not from this pool: zero-copy, plain.
    const owned = memory.hold(OPS.read.encode(3, allocateBuffer(64), 0), null);
    assert.equal(memory.spec, OPS.read);
    for (const held of [staged, write, pooled, owned]) {
      assert.equal(finishIo(held!, 0, true), null);
    }
    assert.equal(registered.free, 1, "the staging slot is back; slot 1 lent");
    releaseBuffer(lent);
    assert.equal(registered.free, 2);
  } finally {
    memory.close();
  }
});
