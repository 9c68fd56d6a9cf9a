// End-to-end PI on a real PI-formatted block device, through the Promise
// API. Runs only when URING_PI_DEVICE names one (for example a QEMU NVMe
// namespace with `ms=8,pi=1` under a Linux 6.14+ guest built with
// CONFIG_BLK_DEV_INTEGRITY); otherwise every test is reported as skipped.
// The format (8- or 16-byte tuples, Type 1 or 3, 512 B or 4 KiB intervals)
// comes from probe(). THE DEVICE'S DATA AT LBA 2048+ IS OVERWRITTEN; LBA 0
// (partition tables) is never touched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { generatePi, verifyPi } from "../pi/mod.ts";
import { type DataOpOptions, Ring } from "../ring/ring.ts";
import type { PiOptions } from "../ring/pi_attribute.ts";
import { IntegrityError } from "../ring/integrity_error.ts";
import { piFormatOf } from "../ring/integrity_diagnosis.ts";
import { probe } from "../ring/probe.ts";
import { releaseAtLeast } from "../ring/kernel_probe.ts";
import { sysfsFormat, type TargetProfile } from "../ring/target_probe.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { O_DIRECT, O_RDWR } from "../structs/constants.ts";
import { noRwAttrReason } from "./helpers.ts";

const DEVICE = process.env.URING_PI_DEVICE;
// Before Linux 6.14 the kernel cannot carry PI through io_uring (it ignores
// the attribute fields): these tests are skipped there, and
// pi_old_kernel_test.ts checks that the library refuses instead.
const skip = DEVICE
  ? noRwAttrReason() || undefined
  : "set URING_PI_DEVICE=/dev/nvmeXnY (a PI-formatted namespace) to run";
if (skip) console.log(`pi_device_test.ts: skipped: ${skip}`);

// Probed once at load. A device that was named but cannot do PI is a
// failure, not a skip: the run was asked for.
let target: TargetProfile | undefined;
let profileProblem: string | undefined;
if (DEVICE && !skip) {
  const probed = probe(DEVICE);
  if (!probed.target?.integrity) {
    profileProblem = `${DEVICE} has no PI: ${probed.target?.reason}`;
  } else {
    target = probed.target;
    console.log(
      `pi_device_test.ts: ${DEVICE}: ${target.guard}, ${target.tupleSize}-byte tuples, ` +
        `Type ${target.piType}, ${target.interval} B intervals, ${target.metadataSize} B metadata`,
    );
  }
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
  // The seed is the first interval's ref tag as the application numbers it:
  // the kernel maps tags equal to seed + i to the LBA on the way to the
  // device and back on reads, so seed = LBA keeps the tags the LBA's in
  // both directions (with 4 KiB LBAs, 512-byte sectors would not).
  const seed = BigInt(offset / t.interval);
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

/**
 * Runs `body` with the device's profile, a fresh region, the device open
 * for O_DIRECT and a ring; closes both whatever happens.
 */
async function onDevice(
  body: (
    t: TargetProfile,
    r: ReturnType<typeof region>,
    fd: number,
    ring: Ring,
  ) => Promise<void>,
): Promise<void> {
  const t = profile();
  const r = region(t);
  const fd = openDevice();
  try {
    await using ring = new Ring();
    await body(t, r, fd, ring);
  } finally {
    closeFd(fd);
  }
}

test(
  "PI write with generated tuples and every allowed check, read back data and metadata",
  {
    skip,
  },
  async () => {
    await onDevice(async (t, { offset, length, seed }, fd, ring) => {
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
    });
  },
);

test(
  "read with a different app tag and APPTAG → IntegrityError naming interval 0 and appTag",
  {
    skip,
  },
  async () => {
    await onDevice(async (t, { offset, length, seed }, fd, ring) => {
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
    });
  },
);

test(
  "write with a corrupted guard → IntegrityError naming the interval and guard; disk unchanged",
  { skip },
  () => corruptedWrite("guard", (_, tuple) => tuple[0] ^= 0x01),
);

test("writev and readv with PI", { skip }, async () => {
  await onDevice(async (t, { offset, length, seed }, fd, ring) => {
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
  });
});

test("writeFixed and readFixed with PI", { skip }, async () => {
  await onDevice(async (t, { offset, length, seed }, fd, ring) => {
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
  });
});

/** Byte offsets of the app and ref tags inside a tuple (KERNEL.md). */
function tagOffsets(t: TargetProfile): { app: number; ref: number } {
  return t.tupleSize === 16 ? { app: 8, ref: 10 } : { app: 2, ref: 4 };
}

/** `request` must fail with an IntegrityError naming only `index`/`field`. */
async function rejectsNaming(
  request: Promise<number>,
  index: number,
  field: string,
): Promise<void> {
  await assert.rejects(request, (e: unknown) => {
    assert.ok(e instanceof IntegrityError, String(e));
    assert.equal(e.errno, 84);
    assert.ok(e.intervals, String(e.undetermined));
    assert.deepEqual(e.intervals.map((b) => [b.index, b.field]), [[
      index,
      field,
    ]]);
    assert.match(e.message, new RegExp(`interval ${index} .*${field}`));
    return true;
  });
}

/**
 * Writes a region with good tuples, then the same region with new data whose
 * interval 3 has `corrupt` applied to its tuple: the device must refuse it
 * (IntegrityError naming interval 3 and `field`) and keep the first data.
 */
async function corruptedWrite(
  field: "guard" | "appTag" | "refTag",
  corrupt: (t: TargetProfile, tuple: Uint8Array) => void,
): Promise<void> {
  await onDevice(async (t, { offset, length, seed }, fd, ring) => {
    const check = allChecks(t);
    const before = randomData(length);
    const pi = (meta: Uint8Array) => withPi({ meta, check, appTag: 7, seed });
    await ring.write(fd, before, offset, pi(tuples(t, before, offset, 7)));
    const data = randomData(length);
    const meta = tuples(t, data, offset, 7);
    const at = 3 * t.metadataSize + t.piOffset;
    corrupt(t, meta.subarray(at, at + t.tupleSize));
    await rejectsNaming(ring.write(fd, data, offset, pi(meta)), 3, field);
    const back = alignedBuffer(length);
    const backMeta = new Uint8Array(meta.byteLength);
    await ring.read(fd, back, offset, pi(backMeta));
    assert.deepEqual(back, before, "the refused write changed the device");
    assert.deepEqual(backMeta, tuples(t, before, offset, 7));
  });
}

test(
  "write with a corrupted app tag and APPTAG → IntegrityError naming the interval and appTag; disk unchanged",
  { skip },
  () =>
    corruptedWrite("appTag", (t, tuple) => {
      tuple[tagOffsets(t).app + 1] ^= 0x40;
    }),
);

test(
  "write with a corrupted ref tag: Type 1 → IntegrityError naming the interval and refTag, disk unchanged; " +
    "Type 3 → REFTAG refused before submission, the tag stored unchecked without it",
  { skip },
  async () => {
    const t = profile();
    const corruptRef = (tuple: Uint8Array) => {
      tuple[tagOffsets(t).ref + 1] ^= 0x10;
    };
    if (t.refTagChecked) {
      return await corruptedWrite("refTag", (_, tuple) => corruptRef(tuple));
    }
    // Type 3: the ref tag bytes belong to the application.
    const { offset, length, metaLength, seed } = region(t);
    const fd = openDevice();
    try {
      await using ring = new Ring();
      const data = randomData(length);
      const meta = tuples(t, data, offset, 1);
      corruptRef(meta.subarray(t.piOffset, t.piOffset + t.tupleSize));
      await assert.rejects(
        () =>
          ring.write(
            fd,
            data,
            offset,
            withPi({ meta, check: GUARD | REFTAG, appTag: 1, seed }),
          ),
        /Type 3.*REFTAG/,
      );
      assert.equal(ring.pending, 0, "the refused write reached the ring");
      const check = GUARD | APPTAG;
      assert.equal(
        await ring.write(fd, data, offset, withPi({ meta, check, appTag: 1 })),
        length,
      );
      const back = alignedBuffer(length);
      const backMeta = new Uint8Array(metaLength);
      await ring.read(
        fd,
        back,
        offset,
        withPi({ meta: backMeta, check, appTag: 1 }),
      );
      assert.deepEqual(back, data);
      assert.deepEqual(backMeta, meta, "Type 3 keeps the ref tag as written");
    } finally {
      closeFd(fd);
    }
  },
);

test(
  "a region written without PI reads back with the kernel's tuples (app tag 0); APPTAG 0x1234 → IntegrityError",
  { skip },
  async () => {
    await onDevice(
      async (t, { offset, length, metaLength, seed }, fd, ring) => {
        const data = randomData(length);
        assert.equal(await ring.write(fd, data, offset), length);
        const check = GUARD | (t.refTagChecked ? REFTAG : 0);
        const back = alignedBuffer(length);
        const meta = new Uint8Array(metaLength);
        await ring.read(fd, back, offset, withPi({ meta, check, seed }));
        assert.deepEqual(back, data);
        // The kernel generated these on the plain write: good guards and ref
        // tags (Type 1), app tag 0.
        const verified = verifyPi(back, meta, {
          ...piFormatOf(t, offset),
          appTag: 0,
          check: { guard: true, appTag: true, refTag: t.refTagChecked },
        });
        assert.deepEqual(verified.bad, []);
        await assert.rejects(
          ring.read(
            fd,
            alignedBuffer(length),
            offset,
            withPi({
              meta: new Uint8Array(metaLength),
              check: check | APPTAG,
              appTag: 0x1234,
              seed,
            }),
          ),
          (e: unknown) => {
            assert.ok(e instanceof IntegrityError, String(e));
            assert.ok(e.intervals, String(e.undetermined));
            assert.equal(e.intervals.length, length / t.interval);
            assert.deepEqual(
              [
                e.intervals[0].field,
                e.intervals[0].expected,
                e.intervals[0].actual,
              ],
              ["appTag", 0x1234, 0],
            );
            return true;
          },
        );
      },
    );
  },
);

// Only a freshly created namespace (the VM runner's) is known to hold
// never-written blocks; on a real drive they may hold anything.
const freshSkip = skip ??
  (process.env.VM_GUEST === "1"
    ? undefined
    : "needs a namespace known never to have been written (VM_GUEST=1)");

test(
  "a never-written region reads back with all-ones tuples, which disable every check",
  { skip: freshSkip },
  async () => {
    await onDevice(
      async (t, { offset, length, metaLength, seed }, fd, ring) => {
        const back = alignedBuffer(length).fill(0xee);
        const meta = new Uint8Array(metaLength);
        const read = await ring.read(
          fd,
          back,
          offset,
          withPi({ meta, check: allChecks(t), appTag: 0x1234, seed }),
        );
        assert.equal(read, length);
        assert.ok(back.every((b) => b === 0), "never-written data reads as 0");
        assert.ok(
          meta.every((b) => b === 0xff),
          "never-written PI is all ones",
        );
      },
    );
  },
);

test(
  "probe names the device's format through FS_IOC_GETLBMD_CAP (Linux 6.17+), as sysfs does",
  { skip },
  () => {
    const { kernel, target: t } = probe(DEVICE);
    assert.ok(t?.integrity, String(t?.reason));
    assert.equal(
      t.source,
      releaseAtLeast(kernel.release, 6, 17) ? "ioctl" : "sysfs",
    );
    const sys = `/sys/block/${t.device!.replace("/dev/", "")}/integrity`;
    const named = sysfsFormat(
      readFileSync(`${sys}/format`, "utf8").trim(),
      Number(readFileSync(`${sys}/protection_interval_bytes`, "utf8")),
    );
    assert.ok(named, "sysfs names a format this library knows");
    for (
      const key of [
        "guard",
        "tupleSize",
        "interval",
        "piType",
        "refTagChecked",
      ] as const
    ) {
      assert.equal(t[key], named[key], key);
    }
    // In the VM runner's guest the namespace was made from these knobs.
    const env = process.env;
    if (env.VM_GUEST === "1" && env.VM_PI) {
      assert.equal(t.piType, Number(env.VM_PI) === 3 ? 3 : 1);
      assert.equal(t.tupleSize, env.VM_PIF === "2" ? 16 : 8);
      assert.equal(t.metadataSize, Number(env.VM_MS));
      assert.equal(t.logicalBlockSize, Number(env.VM_LBS));
      assert.equal(t.interval, Number(env.VM_LBS));
    }
  },
);

test(
  "a read's ref tags come back numbered from its seed: the kernel maps seed + i to the LBA and back",
  { skip },
  async () => {
    await onDevice(
      async (t, { offset, length, metaLength, seed }, fd, ring) => {
        const data = randomData(length);
        const meta = tuples(t, data, offset, 3);
        const check = allChecks(t);
        await ring.write(
          fd,
          data,
          offset,
          withPi({ meta, check, appTag: 3, seed }),
        );
        const refOf = (m: Uint8Array, i: number) => {
          const at = i * t.metadataSize + t.piOffset + tagOffsets(t).ref;
          const view = new DataView(m.buffer, m.byteOffset);
          return t.tupleSize === 16
            ? view.getUint16(at) * 2 ** 32 + view.getUint32(at + 2)
            : view.getUint32(at);
        };
        for (const readSeed of [seed, 0n, 77n]) {
          const back = new Uint8Array(metaLength);
          await ring.read(
            fd,
            alignedBuffer(length),
            offset,
            withPi({ meta: back, check, appTag: 3, seed: readSeed }),
          );
          const first = t.refTagChecked ? Number(readSeed) : refOf(meta, 0);
          for (let i = 0; i < length / t.interval; i++) {
            // Type 3 tags are the application's and are never remapped.
            const want = t.refTagChecked ? first + i : refOf(meta, i);
            assert.equal(
              refOf(back, i),
              want,
              `seed ${readSeed}, interval ${i}`,
            );
          }
        }
      },
    );
  },
);
