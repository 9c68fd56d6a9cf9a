// Promise API: every operation with its data verified, kernel errors as
// UringError, openFile, O_DIRECT, automatic batching and backpressure order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import {
  alignedBuffer,
  closeFd,
  O_CREAT,
  O_DIRECT,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  openFd,
  openFile,
  Ring,
  UringError,
} from "../raw.ts";
import {
  directIoDir,
  pattern,
  skipUnless,
  tempPath,
  withTempFile,
} from "./helpers.ts";
import { deadline, recordSubmits } from "./promise_helpers.ts";
import { directIoHint } from "../sys/fd.ts";

const DIRECT_DIR = directIoDir();
const NO_DIRECT = DIRECT_DIR === null &&
  "no file system here accepts O_DIRECT opens";

test("read and write resolve to byte counts; the data round-trips", async () => {
  await withTempFile({ size: 0 }, async (fd, path) => {
    await using ring = new Ring({ entries: 16 });
    const data = pattern(10_000, 1);
    assert.equal(await ring.write(fd, data, 0), data.length);
    assert.deepEqual(new Uint8Array(readFileSync(path)), data);
    const back = new Uint8Array(10_000);
    assert.equal(await ring.read(fd, back, 0), data.length);
    assert.deepEqual(back, data);
    // A read past the end resolves to 0, a short read to what is there.
    assert.equal(await ring.read(fd, new Uint8Array(16), 10_000), 0);
    assert.equal(await ring.read(fd, new Uint8Array(100), 9_950), 50);
    // bigint offsets and subarray views land at the right place.
    const view = new Uint8Array(64).subarray(8, 24);
    assert.equal(await ring.read(fd, view, 100n), 16);
    assert.deepEqual(view, data.subarray(100, 116));
  });
});

test("readv and writev scatter and gather", async () => {
  await withTempFile({ size: 0 }, async (fd, path) => {
    await using ring = new Ring({ entries: 8 });
    const parts = [pattern(3, 2), pattern(4096, 3), pattern(1, 4)];
    assert.equal(await ring.writev(fd, parts, 10), 4100);
    const file = new Uint8Array(readFileSync(path));
    assert.deepEqual(file.subarray(10, 13), parts[0]);
    assert.deepEqual(file.subarray(13, 4109), parts[1]);
    assert.deepEqual(file.subarray(4109), parts[2]);
    const into = [new Uint8Array(7), new Uint8Array(100)];
    assert.equal(await ring.readv(fd, into, 10), 107);
    assert.deepEqual(into[0], file.subarray(10, 17));
    assert.deepEqual(into[1], file.subarray(17, 117));
  });
});

test("readFixed and writeFixed work inside registered buffers", async () => {
  await withTempFile({ size: 0 }, async (fd, path) => {
    await using ring = new Ring({ entries: 8 });
    const pool = new Uint8Array(3 * 4096);
    ring.registerBuffers([pool]);
    pool.set(pattern(4096, 5), 4096);
    assert.equal(
      await ring.writeFixed(fd, pool.subarray(4096, 8192), 0, 0),
      4096,
    );
    assert.deepEqual(new Uint8Array(readFileSync(path)), pattern(4096, 5));
    assert.equal(
      await ring.readFixed(fd, pool.subarray(8192, 8192 + 1000), 96, 0),
      1000,
    );
    assert.deepEqual(
      pool.subarray(8192, 9192),
      pattern(4096, 5).subarray(96, 1096),
    );
  });
});

test("openat, statx, fallocate, fsync, fdatasync, close and nop", async () => {
  const path = tempPath("/dev/shm", "ops");
  try {
    await using ring = new Ring({ entries: 8 });
    const fd = await ring.openat(path, O_RDWR | O_CREAT, 0o600);
    assert.ok(Number.isInteger(fd) && fd >= 0);
    assert.equal(await ring.fallocate(fd, 0, 0, 65536), 0);
    assert.equal(await ring.write(fd, pattern(100, 6), 0), 100);
    assert.equal(await ring.fsync(fd), 0);
    assert.equal(await ring.fdatasync(fd), 0);
    const byFd = await ring.statx(fd);
    assert.equal(byFd.size, 65536);
    assert.equal(byFd.mode & 0o777, 0o600);
    const byPath = await ring.statx(path);
    assert.equal(byPath.ino, byFd.ino);
    assert.equal(await ring.nop(), 0);
    assert.equal(await ring.closeFd(fd), 0);
    // The fd is really closed: using it again is EBADF.
    await assert.rejects(
      ring.read(fd, new Uint8Array(8), 0),
      (e: unknown) => e instanceof UringError && e.code === "EBADF",
    );
    assert.deepEqual(
      new Uint8Array(readFileSync(path)).subarray(0, 100),
      pattern(100, 6),
    );
  } finally {
    rmSync(path, { force: true });
  }
});

test("errors are UringError with errno, code, op and fd", async () => {
  const path = tempPath("/dev/shm", "wronly");
  writeFileSync(path, pattern(64, 7));
  const dir = mkdtempSync("/dev/shm/uring-test-dir-");
  const writeOnly = openFd(path, O_WRONLY);
  const dirFd = openFd(dir, O_RDONLY | O_DIRECTORY);
  try {
    await using ring = new Ring({ entries: 8 });
    const ebadf = await ring.read(writeOnly, new Uint8Array(8), 0).then(
      () => null,
      (e) => e,
    );
    assert.ok(ebadf instanceof UringError, String(ebadf));
    assert.equal(ebadf.errno, 9);
    assert.equal(ebadf.code, "EBADF");
    assert.equal(ebadf.op, "read");
    assert.equal(ebadf.fd, writeOnly);
    assert.match(ebadf.message, /EBADF/);

    const eisdir = await ring.read(dirFd, new Uint8Array(8), 0).then(
      () => null,
      (e) => e,
    );
    assert.ok(eisdir instanceof UringError, String(eisdir));
    assert.equal(eisdir.code, "EISDIR");
    assert.equal(eisdir.errno, 21);
    assert.equal(eisdir.fd, dirFd);

    const enoent = await ring.openat(`${dir}/missing`, O_RDONLY).then(
      () => null,
      (e) => e,
    );
    assert.ok(enoent instanceof UringError);
    assert.equal(enoent.code, "ENOENT");
    assert.equal(enoent.op, "openat");
    // The ring keeps working after failures.
    assert.equal(await ring.nop(), 0);
  } finally {
    closeFd(writeOnly);
    closeFd(dirFd);
    rmSync(path, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("openFile round trip with await using", async () => {
  const path = tempPath("/dev/shm", "openfile");
  const ring = new Ring({ entries: 8 });
  try {
    let fd: number;
    {
      await using f = await openFile(path, { create: true, ring });
      fd = f.fd;
      assert.equal(await f.write(pattern(5000, 8), 0), 5000);
      assert.equal(await f.writev([pattern(10, 9)], 5000), 10);
      assert.equal(await f.sync(), 0);
      assert.equal(await f.sync({ datasync: true }), 0);
      assert.equal((await f.stat()).size, 5010);
      const a = new Uint8Array(5000);
      const b = new Uint8Array(10);
      assert.equal(await f.readv([a, b], 0), 5010);
      assert.deepEqual(a, pattern(5000, 8));
      assert.deepEqual(b, pattern(10, 9));
    }
    // Scope end closed the fd through the ring.
    await assert.rejects(
      ring.read(fd, new Uint8Array(1), 0),
      (e: unknown) => e instanceof UringError && e.code === "EBADF",
    );
    // The default shared ring works too.
    {
      await using f = await openFile(path);
      const buf = new Uint8Array(5000);
      assert.equal(await f.read(buf, 0), 5000);
      assert.deepEqual(buf, pattern(5000, 8));
      await assert.rejects(f.write(buf, 0), UringError); // opened read-only
    }
  } finally {
    await ring.close();
    rmSync(path, { force: true });
  }
});

test(
  "O_DIRECT reads and writes with alignedBuffer",
  skipUnless("O_DIRECT reads and writes with alignedBuffer", NO_DIRECT),
  async () => {
    const path = tempPath(DIRECT_DIR!, "direct");
    await using ring = new Ring({ entries: 32 });
    try {
      await using f = await openFile(path, {
        create: true,
        direct: true,
        ring,
      });
      const blocks = 64;
      const writes: Promise<number>[] = [];
      for (let i = 0; i < blocks; i++) {
        const buf = alignedBuffer(4096);
        buf.set(pattern(4096, 100 + i));
        writes.push(f.write(buf, i * 4096));
      }
      assert.deepEqual(await Promise.all(writes), Array(blocks).fill(4096));
      assert.equal(await f.sync(), 0);
      const reads: Promise<Uint8Array>[] = [];
      for (let i = blocks - 1; i >= 0; i--) {
        const buf = alignedBuffer(4096);
        reads.push(
          f.read(buf, i * 4096).then((n) => {
            assert.equal(n, 4096);
            return buf;
          }),
        );
      }
      const got = await Promise.all(reads);
      for (let i = 0; i < blocks; i++) {
        assert.deepEqual(got[blocks - 1 - i], pattern(4096, 100 + i));
      }
      // Misaligned memory is staged through aligned memory: it works.
      const misaligned = new Uint8Array(8192).subarray(1, 4097);
      assert.equal(await f.read(misaligned, 4096), 4096);
      assert.deepEqual(misaligned, pattern(4096, 101));
      // A misaligned offset is refused before submission, with the reason.
      await assert.rejects(
        f.read(new Uint8Array(4096), 100),
        (e: unknown) =>
          e instanceof RangeError && /offset 100 .*direct-I\/O/.test(e.message),
      );
    } finally {
      rmSync(path, { force: true });
    }
  },
);

test("many calls in one tick become one submission", async () => {
  await using ring = new Ring({ entries: 128 });
  const submitted = recordSubmits(ring);
  const nops: Promise<number>[] = [];
  for (let i = 0; i < 100; i++) nops.push(ring.nop());
  assert.equal(submitted.length, 0, "nothing is submitted synchronously");
  assert.deepEqual(await deadline(Promise.all(nops), 10_000, "nops"), [
    ...Array(100).fill(0),
  ]);
  assert.deepEqual(submitted.filter((n) => n > 0), [100]);
});

test(
  "a large flush of O_DIRECT reads goes to the kernel in chunks of 4, other flushes in one enter",
  skipUnless("chunked O_DIRECT submits", NO_DIRECT),
  async () => {
    await using ring = new Ring({ entries: 64 });
    // What each io_uring_enter was asked to submit, flush by flush.
    const submits = recordSubmits(ring);
    const contents = pattern(16 * 4096, 7);
    const readAll = async (fd: number, count: number, direct: boolean) => {
      submits.length = 0;
      const bufs = Array.from(
        { length: count },
        () => direct ? alignedBuffer(4096) : new Uint8Array(4096),
      );
      // Backwards, so a reordering of the chunks would show in the data.
      const reads = bufs.map((b, i) =>
        ring.read(fd, b, (count - 1 - i) * 4096)
      );
      assert.deepEqual(await Promise.all(reads), Array(count).fill(4096));
      bufs.forEach((b, i) => {
        const at = (count - 1 - i) * 4096;
        assert.deepEqual(b, contents.subarray(at, at + 4096));
      });
      return submits.filter((n) => n > 0);
    };
    await withTempFile(
      { dir: DIRECT_DIR!, contents, flags: O_DIRECT },
      async (direct, path) => {
        const buffered = openFd(path, O_RDONLY);
        try {
          assert.deepEqual(await readAll(direct, 16, true), [4, 4, 4, 4]);
          assert.deepEqual(await readAll(direct, 10, true), [4, 4, 2]);
          // Below 8 requests, and for buffered reads, one enter.
          assert.deepEqual(await readAll(direct, 7, true), [7]);
          assert.deepEqual(await readAll(buffered, 16, false), [16]);
        } finally {
          closeFd(buffered);
        }
      },
    );
  },
);

test("directIoHint follows O_DIRECT and forgets a descriptor number when it is reused", () => {
  assert.equal(directIoHint(-1), false);
  assert.equal(directIoHint(1 << 20), false, "beyond the cache: no hint");
  const path = tempPath(DIRECT_DIR ?? "/dev/shm", "hint");
  writeFileSync(path, new Uint8Array(4096));
  try {
    const fd = openFd(path, O_RDONLY);
    assert.equal(directIoHint(fd), false);
    closeFd(fd);
    if (DIRECT_DIR === null) return;
    // open(2) hands out the lowest free number, most likely the same one:
    // what was remembered about it must not survive.
    const again = openFd(path, O_RDONLY | O_DIRECT);
    try {
      assert.equal(directIoHint(again), true);
    } finally {
      closeFd(again);
    }
  } finally {
    rmSync(path, { force: true });
  }
});

test("backpressure: 3000 writes through an 8-entry ring reach the kernel in call order", async () => {
  await withTempFile({ size: 0 }, async (fd, path) => {
    await using ring = new Ring({ entries: 8 });
    // Spy on the SQE writer: the offsets it sees are the order in which
    // requests leave the backlog for the kernel.
    const order: number[] = [];
    const prepRaw = ring.core.prepRaw.bind(ring.core);
    ring.core.prepRaw = (opcode, fdArg, addr, len, off, userData) => {
      if (fdArg === fd) order.push(Number(off));
      return prepRaw(opcode, fdArg, addr, len, off, userData);
    };
    const count = 3000;
    const writes: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      writes.push(ring.write(fd, pattern(16, i), i * 16));
    }
    assert.ok(ring.pending === count);
    const results = await deadline(Promise.all(writes), 30_000, "writes");
    assert.equal(results.length, count);
    assert.ok(results.every((n) => n === 16));
    assert.equal(ring.pending, 0);
    assert.deepEqual(order, Array.from({ length: count }, (_, i) => i * 16));
    const file = new Uint8Array(readFileSync(path));
    assert.equal(file.length, count * 16);
    for (let i = 0; i < count; i++) {
      assert.deepEqual(file.subarray(i * 16, i * 16 + 16), pattern(16, i));
    }
  });
});

test("writes to one region queued beyond capacity: a write from the last in-flight window wins", async () => {
  await withTempFile({ size: 0 }, async (fd, path) => {
    await using ring = new Ring({ entries: 4 });
    // Requests leave the backlog in call order and at most cqEntries are in
    // the kernel at once, so the write that lands last is one of the last
    // cqEntries calls, never an early one overtaking the queue.
    const count = 500;
    const writes: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      writes.push(ring.write(fd, pattern(64, 1000 + i), 0));
    }
    const results = await deadline(Promise.all(writes), 30_000, "writes");
    assert.ok(results.every((n) => n === 64));
    const file = new Uint8Array(readFileSync(path));
    const winner = Array.from({ length: count }, (_, i) => i).findLast((i) =>
      pattern(64, 1000 + i).every((b, j) => b === file[j])
    );
    assert.ok(winner !== undefined, "the region holds one whole write");
    assert.ok(
      winner >= count - ring.core.cqEntries,
      `write ${winner} of ${count} landed last`,
    );
  });
});

test("inlineWaitBudgetUs: 0 and the default both deliver every read; bad values are RangeError", async () => {
  const { Ring: RingClass } = await import("../mod.ts");
  assert.throws(() => new RingClass({ inlineWaitBudgetUs: -1 }), RangeError);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new RingClass({ inlineWaitBudgetUs: "5" as any }),
    TypeError,
  );
  for (const budget of [0, 250]) {
    await using ring = new RingClass({
      entries: 8,
      inlineWaitBudgetUs: budget,
    });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => ring.nop()),
    );
    assert.equal(results.length, 200);
    assert.ok(results.every((r) => r === 0));
  }
});

test("an SQPOLL ring under the Promise API: 32 loops × 500 NOPs through 8 entries all complete", async () => {
  const { Ring: RingClass } = await import("../mod.ts");
  await using ring = new RingClass({ entries: 8, sqpoll: { idleMs: 1 } });
  let done = 0;
  const loop = async () => {
    for (let i = 0; i < 500; i++) {
      assert.equal(await ring.nop(), 0);
      done++;
    }
  };
  await deadline(
    Promise.all(Array.from({ length: 32 }, loop)),
    60_000,
    "SQPOLL NOP loops",
  );
  assert.equal(done, 32 * 500);
  assert.equal(ring.pending, 0);
});
