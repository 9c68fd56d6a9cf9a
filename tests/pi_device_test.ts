// End-to-end PI on a real PI-formatted block device, through the Promise
// API. Runs only when URING_PI_DEVICE names one (for example a QEMU NVMe
// namespace with `ms=8,pi=1` under a Linux 6.14+ guest built with
// CONFIG_BLK_DEV_INTEGRITY); otherwise every test is reported as skipped.
// The format (8- or 16-byte tuples, Type 1 or 3, 512 B or 4 KiB intervals)
// comes from probe(). THE DEVICE'S DATA AT LBA 2048+ IS OVERWRITTEN; LBA 0
// (partition tables) is never touched.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { generatePi } from "../pi/mod.ts";
import { type DataOpOptions, Ring } from "../ring/ring.ts";
import type { PiOptions } from "../ring/attributes.ts";
import { IntegrityError, piFormatOf } from "../ring/integrity.ts";
import { probe, type TargetProfile } from "../ring/probe.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { O_DIRECT, O_RDWR } from "../structs/constants.ts";

const DEVICE = process.env.URING_PI_DEVICE;
const skip = DEVICE
  ? undefined
  : "set URING_PI_DEVICE=/dev/nvmeXnY (a PI-formatted namespace) to run";
if (skip) console.log(`pi_device_test.ts: skipped: ${skip}`);

// Probed once at load. A device that was named but cannot do PI is a
// failure, not a skip: the run was asked for.
let target: TargetProfile | undefined;
let profileProblem: string | undefined;
if (DEVICE) {
  const probed = probe(DEVICE);
  if (!probed.kernel.rwAttr) {
    profileProblem =
      `kernel ${probed.kernel.release} lacks IORING_FEAT_RW_ATTR (Linux 6.14+)`;
  } else if (!probed.target?.integrity) {
    profileProblem = `${DEVICE} has no PI: ${probed.target?.reason}`;
  } else {
    target = probed.target;
    console.log(
      `pi_device_test.ts: ${DEVICE}: ${target.guard}, ${target.tupleSize}-byte tuples, ` +
        `Type ${target.piType}, ${target.interval} B intervals, ${target.metadataSize} B metadata`,
    );
  }
}
const type3Skip = skip ??
  (target && target.refTagChecked
    ? "the device checks reference tags (not PI Type 3)"
    : undefined);
if (DEVICE && type3Skip) {
  console.log(`pi_device_test.ts: Type 3 refusal test skipped: ${type3Skip}`);
}

const GUARD = 1, REFTAG = 2, APPTAG = 4;

/** The device's profile; fails the test when URING_PI_DEVICE cannot do PI. */
function profile(): TargetProfile {
  assert.ok(target, String(profileProblem));
  return target;
}

/** Every check the format allows: no REFTAG on Type 3. */
function allChecks(t: TargetProfile): number {
  return GUARD | APPTAG | (t.refTagChecked ? REFTAG : 0);
}

/** Per-request options carrying `pi`. */
function withPi(pi: PiOptions): DataOpOptions {
  return { pi };
}

/** A fresh region per test, from LBA 2048 on, one interval-aligned block. */
let nextRegion = 0;
function region(t: TargetProfile, intervals = 8) {
  const length = intervals * t.interval;
  const lbs = t.logicalBlockSize || t.interval;
  const offset = 2048 * lbs + nextRegion;
  nextRegion += Math.max(length, 1 << 20);
  // The seed is in 512-byte sectors, like the kernel's bi_sector; NVMe
  // derives ref tags from the LBA anyway (KERNEL.md).
  const seed = BigInt(offset / 512);
  const metaLength = intervals * t.metadataSize;
  return { offset, length, metaLength, seed };
}

function randomData(length: number): Uint8Array {
  const data = alignedBuffer(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(length, at + 65536)));
  }
  return data;
}

function tuples(
  t: TargetProfile,
  data: Uint8Array,
  offset: number,
  appTag: number,
): Uint8Array {
  const meta = new Uint8Array((data.byteLength / t.interval) * t.metadataSize);
  generatePi(data, meta, { ...piFormatOf(t, offset), appTag });
  return meta;
}

function openDevice(): number {
  return openFd(DEVICE!, O_RDWR | O_DIRECT);
}

test(
  "PI write with generated tuples and every allowed check, read back data and metadata",
  {
    skip,
  },
  async () => {
    const t = profile();
    const { offset, length, seed } = region(t);
    const fd = openDevice();
    try {
      await using ring = new Ring();
      const data = randomData(length);
      const meta = tuples(t, data, offset, 0x5a5a);
      const check = allChecks(t);
      const wrote = await ring.write(
        fd,
        data,
        offset,
        withPi({ meta, check, appTag: 0x5a5a, seed }),
      );
      assert.equal(wrote, length);
      const back = alignedBuffer(length);
      const backMeta = new Uint8Array(meta.byteLength);
      const read = await ring.read(
        fd,
        back,
        offset,
        withPi({ meta: backMeta, check, appTag: 0x5a5a, seed }),
      );
      assert.equal(read, length);
      assert.deepEqual(back, data);
      assert.deepEqual(backMeta, meta);
    } finally {
      closeFd(fd);
    }
  },
);

test(
  "read with a different app tag and APPTAG → IntegrityError naming interval 0 and appTag",
  {
    skip,
  },
  async () => {
    const t = profile();
    const { offset, length, seed } = region(t);
    const fd = openDevice();
    try {
      await using ring = new Ring();
      const data = randomData(length);
      const meta = tuples(t, data, offset, 0x1111);
      await ring.write(
        fd,
        data,
        offset,
        withPi({ meta, check: GUARD, appTag: 0x1111, seed }),
      );
      const read = ring.read(
        fd,
        alignedBuffer(length),
        offset,
        withPi({
          meta: new Uint8Array(meta.byteLength),
          check: GUARD | APPTAG,
          appTag: 0x2222,
          seed,
        }),
      );
      await assert.rejects(read, (e: unknown) => {
        assert.ok(e instanceof IntegrityError, String(e));
        assert.equal(e.errno, 84);
        assert.equal(e.checks.apptag, true);
        assert.ok(e.intervals, String(e.undetermined));
        assert.equal(e.intervals[0].index, 0);
        assert.equal(e.intervals[0].field, "appTag");
        assert.equal(e.intervals[0].expected, 0x2222);
        assert.equal(e.intervals[0].actual, 0x1111);
        assert.match(e.message, /interval 0 .*appTag/);
        return true;
      });
    } finally {
      closeFd(fd);
    }
  },
);

test(
  "write with a corrupted guard → IntegrityError naming the interval and guard; disk unchanged",
  {
    skip,
  },
  async () => {
    const t = profile();
    const { offset, length, seed } = region(t);
    const fd = openDevice();
    try {
      await using ring = new Ring();
      const before = randomData(length);
      const check = allChecks(t);
      await ring.write(
        fd,
        before,
        offset,
        withPi({ meta: tuples(t, before, offset, 7), check, appTag: 7, seed }),
      );
      const data = randomData(length);
      const meta = tuples(t, data, offset, 7);
      meta[3 * t.metadataSize + t.piOffset] ^= 0x01; // interval 3's guard
      await assert.rejects(
        ring.write(fd, data, offset, withPi({ meta, check, appTag: 7, seed })),
        (e: unknown) => {
          assert.ok(e instanceof IntegrityError, String(e));
          assert.ok(e.intervals, String(e.undetermined));
          assert.deepEqual(e.intervals.map((b) => [b.index, b.field]), [[
            3,
            "guard",
          ]]);
          assert.match(e.message, /interval 3 .*guard/);
          return true;
        },
      );
      const back = alignedBuffer(length);
      await ring.read(
        fd,
        back,
        offset,
        withPi({
          meta: new Uint8Array(meta.byteLength),
          check,
          appTag: 7,
          seed,
        }),
      );
      assert.deepEqual(back, before);
    } finally {
      closeFd(fd);
    }
  },
);

test("writev and readv with PI", { skip }, async () => {
  const t = profile();
  const { offset, length, seed } = region(t);
  const fd = openDevice();
  try {
    await using ring = new Ring();
    const data = randomData(length);
    const meta = tuples(t, data, offset, 0x77);
    const check = allChecks(t);
    const half = length / 2;
    const wrote = await ring.writev(
      fd,
      [data.subarray(0, half), data.subarray(half)],
      offset,
      withPi({ meta, check, appTag: 0x77, seed }),
    );
    assert.equal(wrote, length);
    const parts = [alignedBuffer(half), alignedBuffer(half)];
    const backMeta = new Uint8Array(meta.byteLength);
    const read = await ring.readv(
      fd,
      parts,
      offset,
      withPi({ meta: backMeta, check, appTag: 0x77, seed }),
    );
    assert.equal(read, length);
    assert.deepEqual(parts[0], data.subarray(0, half));
    assert.deepEqual(parts[1], data.subarray(half));
    assert.deepEqual(backMeta, meta);
  } finally {
    closeFd(fd);
  }
});

test("writeFixed and readFixed with PI", { skip }, async () => {
  const t = profile();
  const { offset, length, seed } = region(t);
  const fd = openDevice();
  try {
    await using ring = new Ring();
    const pool = alignedBuffer(2 * length);
    ring.registerBuffers([pool]);
    const out = pool.subarray(0, length);
    out.set(randomData(length));
    const meta = tuples(t, out, offset, 0x99);
    const check = allChecks(t);
    assert.equal(
      await ring.writeFixed(
        fd,
        out,
        offset,
        0,
        withPi({ meta, check, appTag: 0x99, seed }),
      ),
      length,
    );
    const back = pool.subarray(length);
    const backMeta = new Uint8Array(meta.byteLength);
    assert.equal(
      await ring.readFixed(
        fd,
        back,
        offset,
        0,
        withPi({ meta: backMeta, check, appTag: 0x99, seed }),
      ),
      length,
    );
    assert.deepEqual(back, out);
    assert.deepEqual(backMeta, meta);
  } finally {
    closeFd(fd);
  }
});

test(
  "Type 3: a REFTAG check is refused before submission",
  { skip: type3Skip },
  async () => {
    const t = profile();
    const { offset, length, seed } = region(t);
    const fd = openDevice();
    try {
      await using ring = new Ring();
      const data = randomData(length);
      const meta = tuples(t, data, offset, 1);
      await assert.rejects(
        async () =>
          await ring.write(
            fd,
            data,
            offset,
            withPi({ meta, check: GUARD | REFTAG, appTag: 1, seed }),
          ),
        /Type 3.*REFTAG/,
      );
    } finally {
      closeFd(fd);
    }
  },
);
