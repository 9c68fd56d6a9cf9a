/**
 * The fallback backend in this process: the same Promise-API test set as
 * io_uring with data verified, Statx objects equal to Ring's, PI refused,
 * option checks, close semantics, and many requests at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { closeFd, O_RDONLY, openFd, Ring } from "../raw.ts";
import type { RingSetupOptions } from "../ring/ring.ts";
import { createFallbackIfAllowed, FallbackRing } from "../ring/fallback.ts";
import {
  FallbackUnsupportedError,
  IoUringUnavailableError,
} from "../ring/setup_errors.ts";
import { RingClosedError, UringError } from "../ring/errors.ts";
import { promiseApiSuite } from "./harden_helpers.ts";
import { pattern, tempPath } from "./helpers.ts";

test("FallbackRing passes the Promise-API test set with data verified", async () => {
  await using ring = new FallbackRing();
  assert.equal(ring.backend, "fallback");
  const done = await promiseApiSuite(ring);
  assert.equal(done.length, 9);
});

test("io_uring Ring passes the same test set (the set itself is right)", async () => {
  await using ring = new Ring({ entries: 16 });
  const done = await promiseApiSuite(ring);
  assert.equal(done.length, 9);
});

test("FallbackRing.statx gives the same Statx object as Ring.statx", async () => {
  await using fallback = new FallbackRing();
  await using ring = new Ring({ entries: 4 });
  const a = await fallback.statx("/etc/hostname");
  const b = await ring.statx("/etc/hostname");
  assert.deepEqual(a, b);
});

test("PI on the fallback rejects with EOPNOTSUPP and says why, on every read/write method", async () => {
  await using ring = new FallbackRing();
  const fd = openFd("/etc/hostname", O_RDONLY);
  try {
    const pi = { meta: new Uint8Array(8) };
    const pool = new Uint8Array(4096);
    ring.registerBuffers([pool]);
    const calls = [
      () => ring.read(fd, new Uint8Array(8), 0, { pi } as never),
      () => ring.write(fd, new Uint8Array(8), 0, { pi } as never),
      () => ring.readv(fd, [new Uint8Array(8)], 0, { pi } as never),
      () => ring.writev(fd, [new Uint8Array(8)], 0, { pi } as never),
      () => ring.readFixed(fd, pool.subarray(0, 8), 0, 0, { pi } as never),
      () => ring.writeFixed(fd, pool.subarray(0, 8), 0, 0, { pi } as never),
    ];
    for (const call of calls) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof FallbackUnsupportedError);
        assert.ok(error instanceof UringError);
        assert.equal(error.code, "EOPNOTSUPP");
        assert.match(
          error.message,
          /integrity checks need io_uring; the fallback backend cannot do PI/,
        );
        return true;
      });
    }
    // An attribute key on a method that takes none is a typo, not PI.
    await assert.rejects(
      () => ring.fsync(fd, { pi } as never),
      TypeError,
    );
  } finally {
    closeFd(fd);
  }
});

test("FallbackRing: unknown options and bad arguments are TypeError/RangeError naming them", async () => {
  const ring = new FallbackRing();
  try {
    assert.throws(
      () => new FallbackRing({ entires: 8 } as never),
      /unknown option "entires"/,
    );
    await assert.rejects(
      () => ring.read(-1, new Uint8Array(1), 0),
      /fd must be/,
    );
    await assert.rejects(
      () => ring.read(3, [] as never, 0),
      /buf must be/,
    );
    await assert.rejects(
      () => ring.read(3, new Uint8Array(1), 2 ** 63),
      /offset/,
    );
    await assert.rejects(
      () => ring.read(3, new Uint8Array(1), 0, { timeout: 5 } as never),
      /unknown option "timeout"/,
    );
    await assert.rejects(() => ring.nop({ timeoutMs: -1 }), RangeError);
    await assert.rejects(
      () => ring.readv(3, [new Uint8Array(1), 7] as never, 0),
      /buffers\[1\]/,
    );
  } finally {
    ring[Symbol.dispose]();
  }
});

test("FallbackRing: readFixed outside the registered buffer → EFAULT, as the kernel says", async () => {
  await using ring = new FallbackRing();
  const fd = openFd("/etc/hostname", O_RDONLY);
  try {
    await assert.rejects(
      ring.readFixed(fd, new Uint8Array(8), 0, 0),
      /EFAULT.*no buffer is registered/,
    );
    ring.registerBuffers([new Uint8Array(64)]);
    assert.throws(() => ring.registerBuffers([new Uint8Array(8)]), /EBUSY/);
    await assert.rejects(
      ring.readFixed(fd, new Uint8Array(8), 0, 0),
      /EFAULT.*not inside registered buffer 0/,
    );
  } finally {
    closeFd(fd);
  }
});

test("FallbackRing: use after close and double close → RingClosedError", async () => {
  const ring = new FallbackRing();
  await ring.close();
  assert.equal(ring.closed, true);
  await assert.rejects(ring.close(), RingClosedError);
  await assert.rejects(ring.nop(), RingClosedError);
  await assert.rejects(ring.read(0, new Uint8Array(1), 0), RingClosedError);
  assert.throws(
    () => ring.registerBuffers([new Uint8Array(1)]),
    RingClosedError,
  );
});

test("FallbackRing: 2,000 concurrent reads return the right blocks", async () => {
  const path = tempPath("/dev/shm", "fb-many");
  const blocks = 64;
  const contents = pattern(blocks * 4096, 17);
  writeFileSync(path, contents);
  const fd = openFd(path, O_RDONLY);
  try {
    await using ring = new FallbackRing({ threads: 4 });
    const bufs = Array.from({ length: 2000 }, () => new Uint8Array(4096));
    const results = await Promise.all(
      bufs.map((buf, i) => ring.read(fd, buf, (i % blocks) * 4096)),
    );
    assert.ok(results.every((n) => n === 4096));
    bufs.forEach((buf, i) => {
      const at = (i % blocks) * 4096;
      assert.deepEqual(buf, contents.subarray(at, at + 4096));
    });
    assert.equal(ring.pending, 0);
  } finally {
    closeFd(fd);
    rmSync(path, { force: true });
  }
});

test("createFallbackIfAllowed: only with fallback: true and an io_uring-unavailable error", () => {
  const unavailable = new IoUringUnavailableError(1, {
    kind: "disabled",
    reason: "test",
    sysctl: 2,
    group: -1,
    seccomp: 0,
    release: "6.18",
    flags: [],
  });
  assert.equal(createFallbackIfAllowed(unavailable, {}), undefined);
  assert.equal(
    createFallbackIfAllowed(new Error("x"), { fallback: true }),
    undefined,
  );
  const limits = new IoUringUnavailableError(24, {
    ...unavailable,
    kind: "limits",
  });
  assert.equal(createFallbackIfAllowed(limits, { fallback: true }), undefined);
  const ring = createFallbackIfAllowed(unavailable, {
    fallback: true,
    entries: 8,
  });
  assert.ok(ring instanceof FallbackRing);
  assert.equal(ring.setupError, unavailable);
  ring[Symbol.dispose]();
});

test("Ring.open({ fallback: true }) does not fall back on argument mistakes: the error names the real cause", () => {
  const online = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
  const cases: [RingSetupOptions, RegExp][] = [
    [
      { cqEntries: 1, entries: 64 },
      /cqEntries \(1\) is smaller than entries \(64\)/,
    ],
    [
      { sqpoll: { cpu: 4095 } },
      new RegExp(
        `sqpoll\\.cpu 4095 is not an online CPU here \\(online: ${online}\\)`,
      ),
    ],
    [{ flags: 1 << 30 }, /flags 0x40000000 are not io_uring setup flags/],
  ];
  for (const [options, cause] of cases) {
    assert.throws(
      () => Ring.open({ ...options, fallback: true }),
      (error: unknown) => {
        assert.ok(error instanceof UringError, String(error));
        assert.equal((error as UringError).code, "EINVAL");
        assert.match((error as Error).message, cause);
        return true;
      },
      JSON.stringify(options),
    );
  }
});
