/**
 * O_DIRECT with any buffer, through the public Promise API (issue #14):
 * on an O_DIRECT file on the disk file system and on loop devices with
 * 512- and 4096-byte sectors, `ring.read`/`ring.write` with a plain
 * `new Uint8Array(4096)`, a view at byteOffset 1 and a library-owned
 * buffer all work with verified data, on `Ring` and `FallbackRing`; an
 * offset or length off the device's alignment (a 16-byte on-heap array on
 * a 512-byte-block device) is a RangeError naming the alignment and its
 * source, before anything is submitted.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, unlinkSync, writeFileSync } from "node:fs";
import {
  allocateBuffer,
  type AsyncRing,
  closeFd,
  FallbackRing,
  O_CREAT,
  O_DIRECT,
  O_RDWR,
  openFd,
  Ring,
} from "../mod.ts";
import { finishIo, type HeldMemory, RequestMemory } from "../ring/io_memory.ts";
import { OPS } from "../ring/ops.ts";
import { StagingPool } from "../memory/mod.ts";
import { UringError } from "../ring/errors.ts";
import {
  canUseLoopDevices,
  directIoDir,
  pattern,
  skipUnless,
  tempPath,
} from "./helpers.ts";

const DIRECT_DIR = directIoDir();
const noDirect = DIRECT_DIR ? false : "no file system here takes O_DIRECT";
const noLoop = canUseLoopDevices()
  ? false
  : "needs root, losetup and /dev/loop-control";

const BACKENDS: Array<[string, () => AsyncRing]> = [
  ["io_uring", () => new Ring({ entries: 16 })],
  ["fallback", () => new FallbackRing({ threads: 2 })],
];

/** The checks every O_DIRECT target gets; `block` is its alignment. */
async function checkTarget(
  ring: AsyncRing,
  fd: number,
  block: number,
  source: RegExp,
): Promise<void> {
  // A plain caller buffer, written and read back at a block offset.
  const data = pattern(4096, 21);
  assert.equal(await ring.write(fd, data.slice(), 2 * 4096), 4096);
  const plain = new Uint8Array(4096);
  assert.equal(await ring.read(fd, plain, 2 * 4096), 4096);
  assert.deepEqual(plain, data);
  // A caller view at byteOffset 1: staged through aligned memory.
  const odd = new Uint8Array(4097).subarray(1);
  assert.equal(await ring.read(fd, odd, 2 * 4096), 4096);
  assert.deepEqual(odd, data);
  const oddWrite = new Uint8Array(4097).subarray(1);
  oddWrite.set(pattern(4096, 22));
  assert.equal(await ring.write(fd, oddWrite, 3 * 4096), 4096);
  // Library-owned memory goes to the kernel directly.
  const owned = allocateBuffer(4096);
  assert.equal(await ring.read(fd, owned, 3 * 4096), 4096);
  assert.deepEqual(owned, pattern(4096, 22));
  // readv/writev with plain buffers: one staged iovec.
  const parts = [new Uint8Array(1000), new Uint8Array(3096)];
  assert.equal(await ring.readv(fd, parts, 2 * 4096), 4096);
  assert.deepEqual(parts[0], data.subarray(0, 1000));
  assert.deepEqual(parts[1], data.subarray(1000));
  // Off the alignment: refused before submission, with the reason.
  const tiny = new Uint8Array(16);
  await assert.rejects(
    ring.read(fd, tiny, 0),
    (e: unknown) =>
      e instanceof RangeError &&
      new RegExp(`length 16 is not a multiple of ${block}`).test(e.message) &&
      source.test(e.message),
  );
  await assert.rejects(
    ring.write(fd, new Uint8Array(4096), block / 2),
    (e: unknown) =>
      e instanceof RangeError &&
      new RegExp(`offset ${block / 2} is not a multiple`).test(e.message),
  );
  // A misaligned library-owned view is the kernel's memory: its address
  // is checked too.
  if (block > 1) {
    const shifted = allocateBuffer(8192).subarray(1, 4097);
    await assert.rejects(
      ring.read(fd, shifted, 0),
      (e: unknown) =>
        e instanceof RangeError && /buffer address/.test(e.message),
    );
  }
  assert.equal(ring.pending, 0);
}

for (const [backend, open] of BACKENDS) {
  test(
    `O_DIRECT file (${backend}): plain, byteOffset-1 and owned buffers work; misaligned requests are RangeErrors`,
    skipUnless("O_DIRECT file", noDirect),
    async () => {
      const path = tempPath(DIRECT_DIR!, "direct-any");
      const fd = openFd(path, O_RDWR | O_CREAT | O_DIRECT, 0o600);
      await using ring = open();
      try {
        // The file system's own rule (statx STATX_DIOALIGN or st_blksize).
        const { directIoAlignment } = await import("../memory/mod.ts");
        const a = directIoAlignment(fd);
        await checkTarget(ring, fd, a.offset, /statx|st_blksize/);
      } finally {
        closeFd(fd);
        rmSync(path, { force: true });
      }
    },
  );

  for (const sector of [512, 4096]) {
    test(
      `loop device, ${sector}-byte sectors (${backend}): any buffer works, a 16-byte on-heap array is a RangeError`,
      skipUnless(`loop ${sector}`, noLoop),
      async () => {
        const backing = tempPath(DIRECT_DIR ?? "/var/tmp", "loop-any");
        writeFileSync(backing, new Uint8Array(1 << 20));
        let device = "";
        try {
          device = execFileSync("losetup", [
            "-f",
            "--show",
            "--sector-size",
            String(sector),
            backing,
          ], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
          const fd = openFd(device, O_RDWR | O_DIRECT);
          await using ring = open();
          try {
            await checkTarget(ring, fd, sector, /statx|BLKSSZGET/);
          } finally {
            closeFd(fd);
          }
        } finally {
          try {
            if (device) {
              execFileSync("losetup", ["-d", device], { stdio: "pipe" });
            }
          } finally {
            unlinkSync(backing);
          }
        }
      },
    );
  }
}

test(
  "a kernel EINVAL on an O_DIRECT request is explained with the alignment and its source",
  skipUnless("O_DIRECT file", noDirect),
  () => {
    const path = tempPath(DIRECT_DIR!, "direct-einval");
    const fd = openFd(path, O_RDWR | O_CREAT | O_DIRECT, 0o600);
    const memory = new RequestMemory(new StagingPool());
    try {
      const held = memory.hold(
        OPS.read.encode(fd, new Uint8Array(4096), 0),
        null,
      ) as HeldMemory;
      assert.ok(held.alignment !== null, "the fd is O_DIRECT");
      const error = finishIo(held, -22, true);
      assert.ok(error instanceof UringError, String(error));
      assert.equal(error.code, "EINVAL");
      assert.match(error.message, /O_DIRECT.*direct-I\/O alignment \(from /);
      assert.equal(memory.pool.stats().inUse, 0, "released all the same");
    } finally {
      memory.close();
      closeFd(fd);
      rmSync(path, { force: true });
    }
  },
);
