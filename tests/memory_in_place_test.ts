/**
 * In-place reads (ring/in_place.ts): a read of a page-cached regular file
 * into a caller's buffer goes to the kernel with the caller's address and
 * RWF_NOWAIT. These tests drive real rings on real files on the disk file
 * system (with `readNow: false`: otherwise a read at depth 1 is done at
 * once on the JS thread, sys/read_now.ts, and never reaches the ring) and
 * check what the module promises: the data, the counters that
 * show which path a read took, the staged continuation of reads whose
 * data is not (or only partly) cached, buffers detached before the submit
 * (in the four ways the engines offer, 200 rounds each with GC and
 * canaries), an fd turned O_DIRECT behind the fd cache (the read is waited
 * for before any JavaScript runs), and files where in-place never applies.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import {
  canUseLoopDevices,
  collectGarbage,
  nowaitDir,
  pattern,
  skipUnless,
  tempPath,
  withLoopDevice,
} from "./helpers.ts";
import {
  closeFd,
  O_CREAT,
  O_DIRECT,
  O_RDONLY,
  O_WRONLY,
  openFd,
  Ring,
} from "../raw.ts";
import { allocateBuffer } from "../memory/mod.ts";
import { addressNumber, libc } from "../ffi/mod.ts";
import { inPlaceCounts } from "../ring/in_place.ts";

const SIZE = 256 * 1024;
const DATA = pattern(SIZE, 7);

const { dir, reason } = nowaitDir();

/**
 * Which way a read went depends on how fast the disk is: a real one takes
 * the path a test is about; an emulated one (the CI guests) may complete
 * I/O inside the very system call that starts it. Where it did not, the
 * test's data and safety checks still ran; this says which path was left
 * out, so a pass there is not read as covering it.
 */
function notePath(taken: boolean, why: string): void {
  if (!taken) console.log(`NOTE: ${why}`);
}

/** A file of DATA under `dir`, read once so it is in the page cache. */
function cachedFile(): string {
  const path = tempPath(dir!, "in-place");
  writeFileSync(path, DATA);
  return path;
}

/** Runs `fn` on a fresh cachedFile() opened read-only; closes and deletes it after. */
async function onCachedFile(fn: (fd: number) => Promise<void>): Promise<void> {
  const path = cachedFile();
  const fd = openFd(path, O_RDONLY);
  try {
    await fn(fd);
  } finally {
    try {
      closeFd(fd);
    } finally {
      rmSync(path, { force: true });
    }
  }
}

/**
 * A file of DATA whose bytes from `cachedBytes` on are on the disk only:
 * written through an O_DIRECT fd, which leaves nothing in the page cache.
 */
async function uncachedFile(ring: Ring, cachedBytes = 0): Promise<string> {
  const path = tempPath(dir!, "in-place-uncached");
  try {
    writeFileSync(path, DATA.subarray(0, cachedBytes));
    const fd = openFd(path, O_WRONLY | O_CREAT | O_DIRECT);
    try {
      const aligned = allocateBuffer(SIZE - cachedBytes);
      aligned.set(DATA.subarray(cachedBytes));
      assert.equal(
        await ring.write(fd, aligned, cachedBytes),
        SIZE - cachedBytes,
      );
    } finally {
      closeFd(fd);
    }
  } catch (error) {
    rmSync(path, { force: true }); // the caller removes it only on success
    throw error;
  }
  return path;
}

const name1 = "a cached read into a plain buffer goes in place";
test(name1, skipUnless(name1, reason), async () => {
  await onCachedFile(async (fd) => {
    await using ring = new Ring({ readNow: false });
    const before = { ...inPlaceCounts };
    for (const [offset, length] of [[0, 4096], [4096 * 3, 65536], [1, 777]]) {
      const buf = new Uint8Array(length);
      assert.equal(await ring.read(fd, buf, offset), length);
      assert.deepEqual(buf, DATA.subarray(offset, offset + length));
    }
    // A DataView and a view at an odd byteOffset go in place too.
    const backing = new ArrayBuffer(8192);
    assert.equal(
      await ring.read(fd, new DataView(backing, 3, 4096), 100),
      4096,
    );
    assert.deepEqual(
      new Uint8Array(backing, 3, 4096),
      DATA.subarray(100, 4196),
    );
    assert.equal(inPlaceCounts.prepared - before.prepared, 4);
    assert.equal(inPlaceCounts.retried, before.retried);
    assert.equal(inPlaceCounts.waited, before.waited);
  });
});

const name2 = "reads at and across the end of the file";
test(name2, skipUnless(name2, reason), async () => {
  await onCachedFile(async (fd) => {
    await using ring = new Ring({ readNow: false });
    const buf = new Uint8Array(8192);
    assert.equal(await ring.read(fd, buf, SIZE - 1000), 1000);
    assert.deepEqual(buf.subarray(0, 1000), DATA.subarray(SIZE - 1000));
    assert.equal(await ring.read(fd, buf, SIZE), 0);
    assert.equal(await ring.read(fd, buf, SIZE + 4096), 0);
  });
});

/**
 * Reads back a file whose bytes from `cachedBytes` on are on the disk only:
 * one in-place attempt, then (EAGAIN, or a short read of the cached part)
 * the rest staged, unless an emulated disk had it all in by then (`note`).
 */
async function readsUncached(cachedBytes: number, note: string): Promise<void> {
  await using ring = new Ring({ readNow: false });
  const path = await uncachedFile(ring, cachedBytes);
  const fd = openFd(path, O_RDONLY);
  try {
    const before = { ...inPlaceCounts };
    const buf = new Uint8Array(SIZE);
    assert.equal(await ring.read(fd, buf, 0), SIZE);
    assert.deepEqual(buf, DATA);
    assert.equal(inPlaceCounts.prepared - before.prepared, 1);
    assert.ok(inPlaceCounts.retried - before.retried <= 1);
    notePath(inPlaceCounts.retried > before.retried, note);
  } finally {
    closeFd(fd);
    rmSync(path, { force: true });
  }
}

const name3 = "data not in the page cache: the read goes on staged";
test(name3, skipUnless(name3, reason), () =>
  readsUncached(
    0,
    "the data was in the page cache by the time of the read (an emulated " +
      "disk completes readahead at once), so the staged continuation was " +
      "not exercised here",
  ));

const name4 = "data partly cached: the first bytes in place, the rest staged";
test(name4, skipUnless(name4, reason), () =>
  readsUncached(
    4096,
    "the uncached part was read in by the time of the read (an emulated " +
      "disk completes readahead at once), so no short read happened here",
  ));

/** The four ways plain JavaScript takes a buffer's memory away. */
const DETACH: Record<string, (buffer: ArrayBuffer) => void> = {
  "transfer() larger": (b) => void b.transfer(b.byteLength * 4),
  "transfer() same size": (b) => void b.transfer(),
  "structuredClone with transfer": (b) =>
    void structuredClone(b, { transfer: [b] }),
  "postMessage with transfer": (b) => {
    const channel = new MessageChannel();
    channel.port1.postMessage(b, [b]);
    channel.port1.close();
    channel.port2.close();
  },
};

for (const [how, detach] of Object.entries(DETACH)) {
  const name =
    `a buffer detached before the submit (${how}): TypeError, canaries intact, 200 rounds`;
  test(name, skipUnless(name, reason), async () => {
    await onCachedFile(async (fd) => {
      await using ring = new Ring({ readNow: false });
      const before = inPlaceCounts.lost;
      for (let round = 0; round < 200; round++) {
        const buf = new Uint8Array(4096 << (round % 4));
        const pending = ring.read(fd, buf, 0);
        detach(buf.buffer);
        // Fresh allocations that may take the freed memory.
        const canaries = Array.from(
          { length: 8 },
          () => new Uint8Array(buf.byteLength || 4096).fill(0xa5),
        );
        await assert.rejects(pending, (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match((error as Error).message, /nothing was read/);
          return true;
        });
        for (const canary of canaries) {
          assert.ok(canary.every((b) => b === 0xa5), "canary damaged");
        }
        if (round % 20 === 0) collectGarbage();
      }
      assert.equal(inPlaceCounts.lost - before, 200);
    });
  });
}

const name5 = "a buffer detached after the submit keeps the bytes read before";
test(name5, skipUnless(name5, reason), async () => {
  await onCachedFile(async (fd) => {
    await using ring = new Ring({ readNow: false });
    for (let round = 0; round < 200; round++) {
      const buf = new Uint8Array(4096);
      const pending = ring.read(fd, buf, 4096);
      // The flush queued by read() runs before this continuation.
      await null;
      const moved = new Uint8Array(buf.buffer.transfer());
      const n = await pending;
      assert.equal(n, 4096);
      assert.deepEqual(moved, DATA.subarray(4096, 8192));
    }
  });
});

const name6 =
  "an fd made O_DIRECT behind the fd cache: the read is waited for in the submit";
test(name6, skipUnless(name6, reason), async () => {
  await onCachedFile(async (fd) => {
    // No inline sleeping: the submit alone, so a read still at the device
    // after it must be waited for by the in-place check.
    await using ring = new Ring({ inlineWaitBudgetUs: 0, readNow: false });
    // On the disk, so the O_DIRECT reads below need no write-back first.
    await ring.fsync(fd);
    // The cache learns "buffered, takes NOWAIT" ...
    assert.equal(await ring.read(fd, new Uint8Array(512), 0), 512);
    // ... then the fd turns O_DIRECT (F_SETFL), which it does not see.
    const F_GETFL = 3;
    const F_SETFL = 4;
    const flags = libc().fcntl(fd, F_GETFL, 0);
    assert.equal(libc().fcntl(fd, F_SETFL, flags | O_DIRECT), 0);
    const before = { ...inPlaceCounts };
    let delivered = 0;
    for (let round = 0; round < 20; round++) {
      // A caller buffer that happens to be aligned, as O_DIRECT needs.
      const backing = new Uint8Array(3 * 4096);
      const skip = (4096 - (addressNumber(backing) % 4096)) % 4096;
      const buf = backing.subarray(skip, skip + 4096);
      const offset = 4096 * (1 + round);
      const pending = ring.read(fd, buf, offset);
      await null; // submitted: an in-place read was waited for in there
      const moved = new Uint8Array(backing.buffer.transfer());
      const canary = new Uint8Array(3 * 4096).fill(0x5a);
      try {
        assert.equal(await pending, 4096);
        assert.deepEqual(
          moved.subarray(skip, skip + 4096),
          DATA.subarray(offset, offset + 4096),
        );
        delivered++;
      } catch (error) {
        // A read the hints sent staged (after an EAGAIN) was still at the
        // device when its buffer went: it is refused, as staged reads are.
        assert.ok(error instanceof TypeError, String(error));
      }
      assert.ok(canary.every((b) => b === 0x5a), "canary damaged");
    }
    assert.ok(delivered > 0, "no read was delivered in place");
    notePath(
      inPlaceCounts.waited > before.waited ||
        inPlaceCounts.retried > before.retried,
      "every O_DIRECT read completed inside its submit (an emulated disk " +
        "that does I/O synchronously), so none had to be waited for",
    );
  });
});

test("files where in-place reads never apply are staged", async () => {
  const before = inPlaceCounts.prepared;
  await using ring = new Ring({ readNow: false });
  // tmpfs takes no RWF_NOWAIT reads (probed once per fd).
  const shm = tempPath("/dev/shm", "in-place-shm");
  writeFileSync(shm, DATA);
  const fd = openFd(shm, O_RDONLY);
  try {
    const buf = new Uint8Array(8192);
    assert.equal(await ring.read(fd, buf, 4096), 8192);
    assert.deepEqual(buf, DATA.subarray(4096, 12288));
    // The file position (offset -1) is never read in place.
    assert.equal(await ring.read(fd, buf, -1), 8192);
    assert.deepEqual(buf, DATA.subarray(0, 8192));
  } finally {
    closeFd(fd);
    rmSync(shm, { force: true });
  }
  // Library-owned buffers are zero-copy already.
  if (dir !== null) {
    const path = cachedFile();
    const fd2 = openFd(path, O_RDONLY);
    try {
      const owned = allocateBuffer(4096);
      assert.equal(await ring.read(fd2, owned, 0), 4096);
      assert.deepEqual(owned, DATA.subarray(0, 4096));
    } finally {
      closeFd(fd2);
      rmSync(path, { force: true });
    }
  }
  assert.equal(inPlaceCounts.prepared, before);
});

const name7 =
  "in place on a block device (loop), where every kernel tested has NOWAIT reads";
test(
  name7,
  skipUnless(name7, canUseLoopDevices() ? false : "needs root and losetup"),
  () =>
    withLoopDevice(DATA, async (device) => {
      const fd = openFd(device, O_RDONLY);
      try {
        await using ring = new Ring({ readNow: false });
        // The first pass may find nothing cached and go on staged; it
        // leaves the device's page cache filled.
        const whole = new Uint8Array(SIZE);
        assert.equal(await ring.read(fd, whole, 0), SIZE);
        assert.deepEqual(whole, DATA);
        // Let a miss streak run out before counting.
        for (let i = 0; i < 64; i++) await ring.read(fd, whole, 0);
        const before = { ...inPlaceCounts };
        for (let i = 0; i < 16; i++) {
          const buf = new Uint8Array(8192);
          const offset = 4096 * i;
          assert.equal(await ring.read(fd, buf, offset), 8192);
          assert.deepEqual(buf, DATA.subarray(offset, offset + 8192));
        }
        assert.equal(inPlaceCounts.prepared - before.prepared, 16);
        assert.equal(inPlaceCounts.retried, before.retried);
      } finally {
        closeFd(fd);
      }
    }),
);

const name8 =
  "an fd number reused behind the fd cache for a tmpfs file: EOPNOTSUPP goes on staged";
test(name8, skipUnless(name8, reason), async () => {
  const shm = tempPath("/dev/shm", "in-place-reused");
  const other = pattern(SIZE, 11);
  const lib = libc();
  await onCachedFile(async (fd) => {
    let reused = -1;
    try {
      writeFileSync(shm, other);
      await using ring = new Ring({ readNow: false });
      const buf = new Uint8Array(4096);
      assert.equal(await ring.read(fd, buf, 0), 4096); // the cache: "NOWAIT ok"
      // Closed and reopened around the library (no forgetFd): the number
      // now names a tmpfs file, which refuses RWF_NOWAIT with EOPNOTSUPP.
      // (onCachedFile closes the number again at the end.)
      assert.equal(lib.close(fd), 0);
      reused = lib.open(new TextEncoder().encode(shm + "\0"), O_RDONLY, 0);
      assert.equal(reused, fd, "the lowest free number comes back");
      const before = inPlaceCounts.retried;
      assert.equal(await ring.read(reused, buf, 8192), 4096);
      assert.deepEqual(buf, other.subarray(8192, 12288));
      assert.equal(inPlaceCounts.retried - before, 1);
    } finally {
      // A number other than fd (the assertion above failed) is ours to close.
      if (reused >= 0 && reused !== fd) lib.close(reused);
      rmSync(shm, { force: true });
    }
  });
});
