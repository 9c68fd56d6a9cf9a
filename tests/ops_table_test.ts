/**
 * The operation table and what rides on it, on both backends: the
 * ftruncate row (added as the worked example of "a new opcode is a row"),
 * caller arrays read exactly once (a Proxy whose length changes cannot make
 * the kernel read past the iovec array), -0 and bigint fds refused before
 * an SQE is taken, `close(fd)` vs `closeFd(fd)`, Promise methods that never
 * throw, errors that name the path and the limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, statSync } from "node:fs";
import {
  type AsyncRing,
  EMFILE,
  FallbackRing,
  O_CREAT,
  O_RDWR,
  openFileLimit,
  OPS,
  Ring,
  RingCore,
  SQE_OFFSETS,
  SQE_WORDS,
  UringError,
} from "../raw.ts";
import { pattern, tempPath, withTempFile } from "./helpers.ts";

let ftruncateSkip: string | false | undefined;
/** Why the kernel cannot run IORING_OP_FTRUNCATE here, or false. */
function noFtruncate(): string | false {
  if (ftruncateSkip === undefined) {
    using core = new RingCore({ entries: 2 });
    ftruncateSkip = core.probe().supported.has("FTRUNCATE")
      ? false
      : "the kernel lacks IORING_OP_FTRUNCATE (Linux 6.9+)";
  }
  return ftruncateSkip;
}

/** Each test runs on the io_uring backend and on the fallback. */
const BACKENDS: Array<[string, () => AsyncRing]> = [
  ["Ring", () => new Ring({ entries: 8 })],
  ["FallbackRing", () => new FallbackRing()],
];

/**
 * An array whose `length` reads as its real length the first `honest`
 * times and as 1024 afterwards: code that reads it more than once would
 * size native memory by one answer and tell the kernel the other (before
 * the snapshot, `honest` = 6 made the SQE ask for 1024 iovecs from a
 * 2-entry array).
 */
function shiftingLength<T>(items: T[], honest = 1): T[] {
  let reads = 0;
  return new Proxy(items, {
    get(target, key, receiver) {
      if (key === "length") return reads++ < honest ? target.length : 1024;
      return Reflect.get(target, key, receiver);
    },
  });
}

for (const [label, open] of BACKENDS) {
  test(
    `${label}.ftruncate sets the size (grow and shrink) and checks its arguments`,
    {
      skip: label === "Ring" ? noFtruncate() : false,
    },
    async () => {
      await withTempFile({ contents: pattern(8192, 3) }, async (fd, path) => {
        await using ring = open();
        assert.equal(await ring.ftruncate(fd, 100), 0);
        assert.equal(statSync(path).size, 100);
        assert.equal(await ring.ftruncate(fd, 1n << 20n), 0);
        assert.equal(statSync(path).size, 1 << 20);
        // The first 100 bytes survived; the grown part reads as zeros.
        const back = new Uint8Array(200);
        assert.equal(await ring.read(fd, back, 0), 200);
        assert.deepEqual(
          back.subarray(0, 100),
          pattern(8192, 3).subarray(0, 100),
        );
        assert.ok(back.subarray(100).every((b) => b === 0));
        await assert.rejects(ring.ftruncate(fd, -5), RangeError);
        await assert.rejects(ring.ftruncate(-0, 5), RangeError);
        await assert.rejects(
          ring.ftruncate(fd, 5, { bogus: 1 } as never),
          /bogus/,
        );
        assert.equal(ring.pending, 0);
      });
    },
  );

  test(`${label}.readv with a Proxy whose length changes reads only the snapshot`, async () => {
    await withTempFile({ contents: pattern(4096, 9) }, async (fd) => {
      await using ring = open();
      const expected = pattern(4096, 9);
      for (let honest = 1; honest <= 8; honest++) {
        const buffers = shiftingLength(
          [new Uint8Array(8), new Uint8Array(24)],
          honest,
        );
        assert.equal(await ring.readv(fd, buffers, 0), 32, `honest ${honest}`);
        assert.deepEqual(buffers[0], expected.subarray(0, 8));
        assert.deepEqual(buffers[1], expected.subarray(8, 32));
      }
      // Registration walks the caller's array once too.
      ring.registerBuffers(shiftingLength([new Uint8Array(4096)], 3));
      assert.equal(ring.registeredBuffers!.length, 1);
      ring.unregisterBuffers();
      assert.equal(ring.pending, 0);
    });
  });

  test(`${label}: -0 and bigint fds are refused before anything is submitted`, async () => {
    await using ring = open();
    const buf = new Uint8Array(8);
    await assert.rejects(
      ring.read(-0, buf, 0),
      /fd must be from 0 to 2\^31-1, got -0/,
    );
    await assert.rejects(
      ring.read(3n as never, buf, 0),
      (e: unknown) => e instanceof TypeError && /bigint 3n/.test(e.message),
    );
    assert.equal(ring.pending, 0);
    assert.equal(await ring.nop(), 0);
  });

  test(`${label}: close() closes the ring, closeFd(fd) an fd, close(fd) is refused`, async () => {
    const ring = open();
    await assert.rejects(
      (ring.close as (fd: unknown) => Promise<void>)(undefined),
      (e: unknown) => e instanceof TypeError && /closeFd/.test(e.message),
    );
    await assert.rejects(
      (ring.close as (fd: unknown) => Promise<void>)(3),
      TypeError,
    );
    assert.equal(ring.closed, false);
    const path = tempPath("/dev/shm", "closefd");
    try {
      const fd = await ring.openat(path, O_RDWR | O_CREAT);
      assert.equal(await ring.closeFd(fd), 0);
    } finally {
      await ring.close();
      rmSync(path, { force: true });
    }
    assert.equal(ring.closed, true);
  });

  test(`${label}: Promise methods never throw; bad options reject`, async () => {
    await using ring = open();
    const calls: Array<() => Promise<unknown>> = [
      () => ring.read(0, new Uint8Array(1), 0, { bogus: 1 } as never),
      () => ring.nop({ timeoutMs: -1 }),
      () => ring.openat("", 0),
      () => ring.statx(""),
      () => ring.fsync(0, "x" as never),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => (promise = call()));
      await assert.rejects(promise!);
    }
  });

  test(`${label}.openat failure names the path`, async () => {
    await using ring = open();
    const path = "/nonexistent-uring-ops-test/file";
    await assert.rejects(
      ring.openat(path, O_RDWR),
      (e: unknown) =>
        e instanceof UringError && e.code === "ENOENT" &&
        e.message.includes(path),
    );
  });
}

test("registerFilesSparse beyond RLIMIT_NOFILE → EMFILE naming the limit", (t) => {
  const { soft } = openFileLimit();
  if (!(soft < 1 << 20)) {
    t.skip(`RLIMIT_NOFILE is ${soft}: no table size both legal and over it`);
    return;
  }
  using core = new RingCore({ entries: 2 });
  assert.throws(
    () => core.registerFilesSparse(soft + 1),
    (e: unknown) =>
      e instanceof UringError && e.errno === EMFILE &&
      /RLIMIT_NOFILE \(soft limit \d+/.test(e.message),
  );
});

test("the table encodes by field name: fallocate's length in addr, mode in len", () => {
  const req = OPS.fallocate.encode(3, 1, 4096, 1 << 20);
  assert.equal(req.addr, 1 << 20);
  assert.equal(req.len, 1);
  assert.equal(req.off, 4096);
  using core = new RingCore({ entries: 2 });
  const sqe = core.prepFallocate(3, 1, 4096, 1 << 20);
  assert.equal(sqe.addr, 1n << 20n);
  assert.equal(sqe.len, 1);
  assert.equal(sqe.off, 4096n);
  // The word indexes are the byte offsets / 4, as the kernel lays them out.
  assert.equal(SQE_WORDS.rwFlags * 4, SQE_OFFSETS.rwFlags);
  assert.equal(SQE_WORDS.bufIndex * 4, SQE_OFFSETS.bufIndex);
  assert.equal(SQE_WORDS.attrPtr * 4, SQE_OFFSETS.attrPtr);
});

test("RingCore.prepFtruncate puts the length in off", () => {
  using core = new RingCore({ entries: 2 });
  const sqe = core.prepFtruncate(5, 12345);
  assert.equal(sqe.opcode, OPS.ftruncate.opcode);
  assert.equal(sqe.fd, 5);
  assert.equal(sqe.off, 12345n);
  assert.throws(() => core.prepFtruncate(5, -1), RangeError);
});

test("every row names its blocking equivalent, or has none on purpose", () => {
  const withoutBlocking = Object.entries(OPS)
    .filter(([, row]) => row.blocking === null)
    .map(([name]) => name)
    .sort();
  // NOP resolves to 0; timeouts and cancels are not Promise methods.
  assert.deepEqual(withoutBlocking, [
    "cancel",
    "linkTimeout",
    "nop",
    "timeout",
  ]);
});
