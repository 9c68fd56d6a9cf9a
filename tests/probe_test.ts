// probe(): the kernel part (release, features, opcodes, rwAttr) and target
// profiles of a tmpfs file, a file on the root file system (ext4 here) and
// a loop device, which on this kernel (no CONFIG_BLK_DEV_INTEGRITY) all say
// integrity: false with the reason. The sysfs format table is checked
// against the formats observed on PI-formatted NVMe (KERNEL.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { release as osRelease } from "node:os";
import process from "node:process";
import {
  featureNames,
  kernelRelease,
  releaseAtLeast,
} from "../ring/kernel_probe.ts";
import { probe } from "../ring/probe.ts";
import { probeFd, sysfsFormat } from "../ring/target_probe.ts";
import { UringError } from "../sys/errors.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { O_RDONLY } from "../structs/constants.ts";

/** Mount info of the file system holding `path`'s mount point "/". */
function rootFsType(): string {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] === "/") return f[f.indexOf("-") + 1];
  }
  return "unknown";
}
const rootFs = rootFsType();
console.log(`probe_test.ts: the root file system is ${rootFs}`);

const losetup = ["/usr/sbin/losetup", "/sbin/losetup"].find(existsSync);
const noLoop = process.getuid?.() !== 0
  ? "loop devices need root"
  : losetup === undefined
  ? "losetup (util-linux) is not installed"
  : undefined;
if (noLoop) {
  console.log(`probe_test.ts: skipping the loop device probe: ${noLoop}`);
}

/** The reason sysfs gives for a disk without PI on this kernel. */
function expectedNoPiReason(disk: string): RegExp {
  return existsSync(`/sys/block/${disk}/integrity`)
    ? /formatted without metadata|no integrity profile/
    : /kernel is built without block integrity support/;
}

test("probe(): kernel release, features, opcodes, rwAttr", () => {
  const { kernel, target } = probe();
  assert.equal(target, undefined);
  assert.equal(kernel.release, osRelease());
  assert.equal(kernel.release, kernelRelease());
  assert.equal(kernel.ioUring, true);
  assert.equal(kernel.rwAttr, kernel.features.includes("RW_ATTR"));
  assert.equal(
    kernel.rwAttr,
    releaseAtLeast(kernel.release, 6, 14),
    "IORING_FEAT_RW_ATTR arrived in 6.14",
  );
  for (const op of ["NOP", "READ", "WRITE", "READV", "WRITEV", "READ_FIXED"]) {
    assert.ok(kernel.opcodes.includes(op), op);
  }
  assert.ok(kernel.features.includes("SINGLE_MMAP"));
  console.log(`  kernel ${kernel.release}, rwAttr ${kernel.rwAttr}`);
});

test("probe(tmpfs file) → integrity false: tmpfs has no block device", () => {
  const path = `/dev/shm/uring-probe-${process.pid}`;
  writeFileSync(path, "x");
  try {
    const { target } = probe(path);
    assert.ok(target);
    assert.equal(target.path, path);
    assert.equal(target.kind, "file");
    assert.equal(target.integrity, false);
    assert.equal(target.source, "none");
    assert.equal(target.guard, "none");
    assert.equal(target.interval, 0);
    assert.match(target.reason!, /tmpfs has no block device/);
    const fd = openFd(path, O_RDONLY);
    try {
      const byFd = probeFd(fd);
      assert.equal(byFd.path, `fd ${fd}`);
      assert.equal(byFd.reason, target.reason);
    } finally {
      closeFd(fd);
    }
  } finally {
    unlinkSync(path);
  }
});

test("probe(directory) says directory, and why it cannot carry PI", () => {
  const { target } = probe("/dev/shm");
  assert.ok(target);
  assert.equal(target.kind, "directory");
  assert.equal(target.integrity, false);
  assert.match(target.reason!, /tmpfs has no block device/);
});

test(`probe(file on the root file system, ${rootFs}) → integrity false with the disk's reason`, () => {
  const path = `/var/tmp/uring-probe-${process.pid}`;
  writeFileSync(path, "x");
  try {
    const { target } = probe(path);
    assert.ok(target);
    assert.equal(target.kind, "file");
    assert.equal(target.integrity, false);
    assert.ok(target.device?.startsWith("/dev/"), String(target.device));
    assert.match(target.reason!, new RegExp(`^a file on ${target.device}: `));
    assert.match(target.reason!, expectedNoPiReason(target.device!.slice(5)));
    assert.ok(target.logicalBlockSize >= 512, "logical block size from sysfs");
    console.log(`  ${path}: ${target.reason}`);
    const fd = openFd(path, O_RDONLY);
    try {
      assert.equal(probeFd(fd).reason, target.reason);
    } finally {
      closeFd(fd);
    }
  } finally {
    unlinkSync(path);
  }
});

test(
  "probe(loop device) → integrity false with the reason",
  { skip: noLoop },
  () => {
    const backing = `/dev/shm/uring-probe-loop-${process.pid}.img`;
    writeFileSync(backing, new Uint8Array(1 << 20));
    let loop: string | undefined;
    try {
      loop = execFileSync(losetup!, ["-f", "--show", backing], {
        encoding: "utf8",
      }).trim();
      const { kernel, target } = probe(loop);
      assert.ok(target);
      assert.equal(target.kind, "block-device");
      assert.equal(target.device, loop);
      assert.equal(target.integrity, false);
      assert.equal(target.logicalBlockSize, 512);
      const disk = loop.slice("/dev/".length);
      assert.match(target.reason!, expectedNoPiReason(disk));
      if (
        !existsSync(`/sys/block/${disk}/integrity`) &&
        releaseAtLeast(kernel.release, 6, 17)
      ) {
        // KERNEL.md: FS_IOC_GETLBMD_CAP on a loop device here → EINVAL.
        assert.match(target.reason!, /FS_IOC_GETLBMD_CAP fails with EINVAL/);
      }
      console.log(`  ${loop}: ${target.reason}`);
    } finally {
      if (loop) execFileSync(losetup!, ["-d", loop]);
      unlinkSync(backing);
    }
  },
);

test("probe(character device) → not a block device", () => {
  const { target } = probe("/dev/null");
  assert.equal(target?.kind, "other");
  assert.equal(target?.integrity, false);
  assert.match(target!.reason!, /not a block device/);
});

test("probe(missing path) throws UringError ENOENT", () => {
  assert.throws(
    () => probe(`/nonexistent/uring-${process.pid}`),
    (e: unknown) => e instanceof UringError && e.code === "ENOENT",
  );
});

// KERNEL.md: formats observed on PI-formatted NVMe namespaces.
const FORMATS: [string, number, string, number, 1 | 3, boolean][] = [
  ["T10-DIF-TYPE1-CRC", 512, "crc16-t10dif", 8, 1, true],
  ["EXT-DIF-TYPE1-CRC64", 512, "crc64-nvme", 16, 1, true],
  ["EXT-DIF-TYPE1-CRC64", 4096, "crc64-nvme", 16, 1, true],
  ["T10-DIF-TYPE3-CRC", 512, "crc16-t10dif", 8, 3, false],
  ["EXT-DIF-TYPE3-CRC64", 512, "crc64-nvme", 16, 3, false],
  ["T10-DIF-TYPE1-IP", 512, "ip", 8, 1, true],
];
for (const [format, interval, guard, tuple, type, refChecked] of FORMATS) {
  test(`sysfs format ${format} (${interval} B) → ${guard}, ${tuple}-byte tuples, Type ${type}`, () => {
    const f = sysfsFormat(format, interval)!;
    assert.equal(f.integrity, true);
    assert.equal(f.interval, interval);
    assert.equal(f.guard, guard);
    assert.equal(f.tupleSize, tuple);
    assert.equal(f.metadataSize, tuple);
    assert.equal(f.piType, type);
    assert.equal(f.refTagChecked, refChecked);
    assert.equal(f.refTagSize, type === 3 ? 0 : tuple === 8 ? 4 : 6);
  });
}

test("sysfs formats without PI give no profile", () => {
  assert.equal(sysfsFormat("none", 512), undefined);
  assert.equal(sysfsFormat("nop", 512), undefined);
  assert.equal(sysfsFormat("T10-DIF-TYPE9-XYZ", 512), undefined);
});

test("featureNames and releaseAtLeast", () => {
  assert.deepEqual(featureNames((1 << 0) | (1 << 16)), [
    "SINGLE_MMAP",
    "RW_ATTR",
  ]);
  assert.deepEqual(featureNames(0), []);
  assert.equal(releaseAtLeast("6.17.0", 6, 17), true);
  assert.equal(releaseAtLeast("6.16.9-rc1", 6, 17), false);
  assert.equal(releaseAtLeast("7.0", 6, 17), true);
  assert.equal(releaseAtLeast("garbage", 6, 17), false);
});
