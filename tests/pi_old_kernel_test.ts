// A PI-formatted device on a kernel without io_uring read/write attributes
// (before Linux 6.14, IORING_FEAT_RW_ATTR). Such a kernel does not refuse a
// read or write that carries a PI attribute: it never looks at the SQE's
// attribute fields and runs a plain, unprotected I/O (KERNEL.md). So the
// library must refuse every PI request before submission, and say why.
// Runs when URING_PI_DEVICE names a PI device and the kernel is older than
// that (the 6.12 and 6.1 guests of scripts/test_vm.sh); skipped otherwise.
// THE DEVICE'S DATA AT LBA 4096+ IS OVERWRITTEN.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { generatePi } from "../pi/mod.ts";
import { KernelTooOldError, Ring } from "../mod.ts";
import { piFormatOf } from "../ring/integrity_diagnosis.ts";
import { probe } from "../ring/probe.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { O_DIRECT, O_RDWR } from "../structs/constants.ts";
import { oneErrorLine, runCli } from "./cli_helpers.ts";
import { noRwAttrReason } from "./helpers.ts";

const DEVICE = process.env.URING_PI_DEVICE;
const skip = !DEVICE
  ? "set URING_PI_DEVICE=/dev/nvmeXnY (a PI-formatted namespace) to run"
  : noRwAttrReason()
  ? undefined
  : "this kernel has IORING_FEAT_RW_ATTR: pi_device_test.ts runs PI I/O on the device instead";
if (skip) console.log(`pi_old_kernel_test.ts: skipped: ${skip}`);

/** The device's profile, which sysfs gives on these kernels. */
function profile(): TargetProfile {
  const t = probe(DEVICE).target;
  assert.ok(t?.integrity, `${DEVICE} has no PI: ${t?.reason}`);
  return t;
}

test(
  "every PI read and write on the PI device is refused before submission (KernelTooOldError, Linux 6.14); the data stays",
  { skip },
  async () => {
    const t = profile();
    const length = 8 * t.interval;
    const offset = 4096 * t.logicalBlockSize;
    const fd = openFd(DEVICE!, O_RDWR | O_DIRECT);
    try {
      await using ring = new Ring();
      ring.registerBuffers([alignedBuffer(length)]);
      const before = alignedBuffer(length).fill(0x3c);
      assert.equal(await ring.write(fd, before, offset), length);
      // A write whose guards are all wrong: a kernel that ignored the
      // attribute would store it and report success.
      const data = alignedBuffer(length).fill(0xc3);
      const meta = new Uint8Array(8 * t.metadataSize);
      generatePi(alignedBuffer(length), meta, {
        ...piFormatOf(t, offset),
        appTag: 9,
      });
      const pi = { meta, check: { guard: true, apptag: true }, appTag: 9 };
      const requests: [string, () => Promise<unknown>][] = [
        ["write", () => ring.write(fd, data, offset, { pi })],
        ["read", () => ring.read(fd, alignedBuffer(length), offset, { pi })],
        ["writev", () => ring.writev(fd, [data], offset, { pi })],
        [
          "readv",
          () => ring.readv(fd, [alignedBuffer(length)], offset, { pi }),
        ],
        ["writeFixed", () => ring.writeFixed(fd, data, offset, 0, { pi })],
        ["readFixed", () => ring.readFixed(fd, data, offset, 0, { pi })],
      ];
      for (const [op, request] of requests) {
        await assert.rejects(request, (e: unknown) => {
          assert.ok(e instanceof KernelTooOldError, `${op}: ${e}`);
          assert.match(e.message, /IORING_FEAT_RW_ATTR/);
          assert.match(e.message, /Linux 6\.14\+/);
          return true;
        });
        assert.equal(ring.pending, 0, `${op} reached the ring`);
      }
      const back = alignedBuffer(length);
      assert.equal(await ring.read(fd, back, offset), length);
      assert.deepEqual(back, before, "a refused write reached the device");
    } finally {
      closeFd(fd);
    }
  },
);

test(
  "probe reads the device's profile from sysfs (no FS_IOC_GETLBMD_CAP before 6.17) and says the kernel cannot carry PI",
  { skip },
  () => {
    const { kernel, target } = probe(DEVICE);
    assert.equal(kernel.rwAttr, false);
    assert.ok(target?.integrity, String(target?.reason));
    assert.equal(target.source, "sysfs");
    const report = runCli(["probe", DEVICE!]);
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stdout, /PI: +yes \(from sysfs\)/);
    assert.match(
      report.stdout,
      /PI through io_uring: +no: kernel \S+ cannot carry PI through io_uring \(IORING_FEAT_RW_ATTR, Linux 6\.14\+\)/,
    );
  },
);

test(
  "pi write, pi read and scrub on the PI device exit 2 naming the missing kernel feature",
  { skip },
  () => {
    for (
      const args of [
        ["pi", "write", DEVICE!, "--from", "/dev/null"],
        ["pi", "read", DEVICE!, "--to", "/tmp/uring-old-kernel-never-written"],
        ["scrub", DEVICE!, "--length", "1M"],
      ]
    ) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(
        oneErrorLine(r),
        /no io_uring read\/write attributes \(IORING_FEAT_RW_ATTR, Linux 6\.14\+\): PI I\/O is impossible/,
      );
    }
  },
);
