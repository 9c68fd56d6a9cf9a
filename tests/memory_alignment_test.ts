/**
 * Direct-I/O alignment discovery against real O_DIRECT targets: a file on
 * the disk file system and loop devices with 512- and 4096-byte sectors.
 * Each test checks that the reported rule is the kernel's rule: aligned
 * requests through staging memory succeed with verified data (also for a
 * caller view at byteOffset 1), and a request the RangeError builder
 * rejects is one the kernel rejects with EINVAL.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import {
  closeFd,
  O_CREAT,
  O_DIRECT,
  O_RDWR,
  openFd,
  RingCore,
  statxFd,
} from "../raw.ts";
import {
  alignmentFromStatx,
  checkDirectIo,
  type DirectIoAlignment,
  directIoAlignment,
  logicalBlockSize,
  StagingPool,
} from "../memory/mod.ts";
import {
  canUseLoopDevices,
  collect,
  directIoDir,
  pattern,
  skipUnless,
  tempPath,
  withLoopDevice,
} from "./helpers.ts";

const EINVAL = 22;
const ENOTTY = 25;

/**
 * Writes `data` at `offset` and reads it back through staging slices, then
 * delivers it into `target` (any view) and checks the bytes.
 */
function roundTrip(
  fd: number,
  offset: number,
  data: Uint8Array,
  target: Uint8Array,
  alignment: DirectIoAlignment,
): void {
  const pool = new StagingPool();
  const ring = new RingCore({ entries: 4 });
  try {
    const out = pool.acquire(data.byteLength, alignment.memory);
    const back = pool.acquire(data.byteLength, alignment.memory);
    assert.equal(out.address % alignment.memory, 0);
    pool.copyIn(out, data);
    ring.prepWrite(fd, out.bytes.subarray(0, data.byteLength), offset)
      .userData = 1;
    assert.equal(collect(ring, 1).get(1), data.byteLength);
    ring.prepRead(fd, back.bytes.subarray(0, data.byteLength), offset)
      .userData = 2;
    const res = collect(ring, 1).get(2)!;
    assert.equal(res, data.byteLength);
    pool.copyOut(back, target, res);
    assert.deepEqual(target, data);
    pool.release(out);
    pool.release(back);
  } finally {
    ring.close();
    pool.close();
  }
}

/**
 * Submits a read of `length` bytes at `offset` into aligned staging memory
 * and returns the kernel's result.
 */
function kernelRead(fd: number, offset: number, length: number): number {
  const pool = new StagingPool();
  const ring = new RingCore({ entries: 2 });
  try {
    const slice = pool.acquire(length, 4096);
    ring.prepRead(fd, slice.bytes.subarray(0, length), offset).userData = 9;
    const res = collect(ring, 1).get(9)!;
    pool.release(slice);
    return res;
  } finally {
    ring.close();
    pool.close();
  }
}

/** What every O_DIRECT target must show: the rule is the kernel's rule. */
function checkRuleMatchesKernel(fd: number, alignment: DirectIoAlignment) {
  const step = alignment.offset;
  // Aligned: accepted by both.
  assert.equal(
    checkDirectIo(alignment, { op: "read", offset: step, length: step }),
    null,
  );
  assert.equal(kernelRead(fd, step, step), step);
  // Misaligned offset: the RangeError names it, the kernel says EINVAL.
  const bad = checkDirectIo(alignment, {
    op: "read",
    offset: step + step / 2,
    length: step,
  });
  assert.ok(bad instanceof RangeError);
  assert.match(
    bad.message,
    new RegExp(`offset ${step + step / 2} is not a multiple of ${step}`),
  );
  assert.ok(
    bad.message.includes(
      alignment.source === "statx" ? "STATX_DIOALIGN" : alignment.source,
    ),
  );
  assert.equal(kernelRead(fd, step + step / 2, step), -EINVAL);
  // Misaligned length, the 16-byte request.
  const short = checkDirectIo(alignment, { op: "read", offset: 0, length: 16 });
  assert.ok(short instanceof RangeError);
  assert.match(
    short.message,
    new RegExp(`length 16 is not a multiple of ${step}`),
  );
  assert.equal(kernelRead(fd, 0, 16), -EINVAL);
}

const dir = directIoDir();
test(
  "O_DIRECT file on the disk file system: statx alignment, staged I/O with any buffer",
  skipUnless("O_DIRECT file", dir ? false : "no O_DIRECT-capable directory"),
  () => {
    const path = tempPath(dir!, "dio-align");
    const fd = openFd(path, O_RDWR | O_CREAT | O_DIRECT, 0o600);
    try {
      const alignment = directIoAlignment(fd);
      // Linux 6.1+ and ext4/xfs/btrfs report STATX_DIOALIGN.
      assert.equal(alignment.source, "statx");
      assert.ok(
        alignment.offset >= 512 &&
          (alignment.offset & (alignment.offset - 1)) === 0,
      );
      const data = pattern(2 * alignment.offset, 11);
      roundTrip(fd, 0, data, new Uint8Array(data.byteLength), alignment);
      // A caller view at byteOffset 1 works, since the kernel sees staging.
      roundTrip(
        fd,
        alignment.offset,
        data,
        new Uint8Array(data.byteLength + 1).subarray(1),
        alignment,
      );
      checkRuleMatchesKernel(fd, alignment);
    } finally {
      closeFd(fd);
      unlinkSync(path);
    }
  },
);

test(
  "logicalBlockSize of a regular file is ENOTTY",
  skipUnless("ENOTTY", dir ? false : "no O_DIRECT-capable directory"),
  () => {
    const path = tempPath(dir!, "lbs");
    writeFileSync(path, "x");
    const fd = openFd(path, O_RDWR);
    try {
      assert.throws(
        () => logicalBlockSize(fd),
        (e: { errno?: number }) => e.errno === ENOTTY,
      );
    } finally {
      closeFd(fd);
      unlinkSync(path);
    }
  },
);

const noLoop = canUseLoopDevices()
  ? false
  : "needs root, losetup and /dev/loop-control";

function sysfsBlockSize(device: string): number {
  const name = device.replace("/dev/", "");
  return Number(
    readFileSync(`/sys/block/${name}/queue/logical_block_size`, "utf8"),
  );
}

function checkLoop(device: string, expectedBlock: number): void {
  const fd = openFd(device, O_RDWR | O_DIRECT);
  try {
    assert.equal(logicalBlockSize(fd), expectedBlock);
    assert.equal(sysfsBlockSize(device), expectedBlock);
    const alignment = directIoAlignment(fd);
    assert.ok(alignment.source === "statx" || alignment.source === "BLKSSZGET");
    assert.equal(alignment.offset, expectedBlock);
    // The fallback of kernels without STATX_DIOALIGN (before 6.1): the
    // same statx result without the DIO fields gives the ioctl's answer.
    const st = statxFd(fd);
    const old = alignmentFromStatx(fd, {
      ...st,
      dioOffsetAlign: 0,
      dioMemAlign: 0,
    });
    assert.deepEqual(old, {
      memory: expectedBlock,
      offset: expectedBlock,
      source: "BLKSSZGET",
    });
    checkRuleMatchesKernel(fd, old);
    const data = pattern(4096, 12);
    roundTrip(fd, 8192, data, new Uint8Array(4096), alignment);
    roundTrip(fd, 0, data, new Uint8Array(4097).subarray(1), alignment);
    checkRuleMatchesKernel(fd, alignment);
  } finally {
    closeFd(fd);
  }
}

test(
  "loop device, 512-byte sectors: alignment from the kernel, staged I/O, RangeError matches EINVAL",
  skipUnless("loop 512", noLoop),
  () => {
    withLoopDevice(1 << 20, (device) => checkLoop(device, 512));
  },
);

test(
  "loop device, 4096-byte sectors: a 512-aligned offset is rejected like the kernel does",
  skipUnless("loop 4096", noLoop),
  () => {
    withLoopDevice(1 << 20, (device) => {
      checkLoop(device, 4096);
      const fd = openFd(device, O_RDWR | O_DIRECT);
      try {
        const alignment = directIoAlignment(fd);
        const bad = checkDirectIo(alignment, {
          op: "write",
          offset: 512,
          length: 4096,
        });
        assert.ok(bad instanceof RangeError);
        assert.equal(kernelRead(fd, 512, 4096), -EINVAL);
      } finally {
        closeFd(fd);
      }
    }, { sectorSize: 4096 });
  },
);
