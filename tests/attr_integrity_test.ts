// IntegrityError, diagnoseIntegrity (which interval and field failed, found
// in software with the tuple library) and explainAttributeError, without a
// PI device: tuples are generated, corrupted on purpose, and diagnosed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generatePi, type PiFormatOptions } from "../pi/mod.ts";
import {
  diagnoseIntegrity,
  piFormatOf,
  rereadFor,
} from "../ring/integrity_diagnosis.ts";
import { explainAttributeError } from "../ring/integrity.ts";
import { IntegrityError } from "../ring/integrity_error.ts";
import type { ProbeResult } from "../ring/probe.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import { UringError } from "../sys/errors.ts";
import { nvmeProfile } from "./pi_profile.ts";
import {
  IO_INTEGRITY_CHK_APPTAG as APPTAG,
  IO_INTEGRITY_CHK_GUARD as GUARD,
  IO_INTEGRITY_CHK_REFTAG as REFTAG,
} from "../structs/constants.ts";

const LBA = 2048;
const OFFSET = LBA * 512;

const target = nvmeProfile;

/** 4 KiB of patterned data with correct tuples for `t` at OFFSET. */
function written(t: TargetProfile, appTag = 0x10) {
  const data = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  const meta = new Uint8Array((4096 / t.interval) * t.metadataSize);
  generatePi(data, meta, { ...piFormatOf(t, OFFSET), appTag });
  return { data, meta };
}

test("IntegrityError is a UringError with errno EILSEQ, the checks and the intervals", () => {
  const e = new IntegrityError({
    op: "write",
    fd: 5,
    offset: OFFSET,
    flags: GUARD | APPTAG,
    intervals: [{
      index: 3,
      lba: LBA + 3,
      offset: OFFSET + 3 * 512,
      field: "guard",
      expected: 0x1a2b,
      actual: 0x1a2c,
    }],
  });
  assert.ok(e instanceof UringError);
  assert.equal(e.name, "IntegrityError");
  assert.equal(e.errno, 84);
  assert.equal(e.code, "EILSEQ");
  assert.equal(e.op, "write");
  assert.equal(e.offset, OFFSET);
  assert.deepEqual(e.checks, { guard: true, reftag: false, apptag: true });
  assert.equal(e.intervals?.length, 1);
  assert.equal(e.undetermined, undefined);
  assert.match(e.message, /checks GUARD\|APPTAG/);
  assert.match(
    e.message,
    /interval 3 \(LBA 2051\) guard expected 0x1a2b, found 0x1a2c/,
  );
});

test("IntegrityError without intervals says why", () => {
  const e = new IntegrityError({
    op: "read",
    offset: 0,
    flags: 0,
    undetermined: "no re-read",
  });
  assert.equal(e.intervals, undefined);
  assert.equal(e.undetermined, "no re-read");
  assert.match(e.message, /could not tell which interval failed: no re-read/);
});

const FORMATS: [string, TargetProfile][] = [
  ["8-byte tuples, 512 B intervals, Type 1", target()],
  [
    "16-byte tuples (CRC64), 512 B",
    target({
      guard: "crc64-nvme",
      tupleSize: 16,
      metadataSize: 16,
      refTagSize: 6,
    }),
  ],
  [
    "8-byte tuples, 4 KiB intervals",
    target({ interval: 4096, logicalBlockSize: 4096 }),
  ],
];

for (const [label, t] of FORMATS) {
  test(`diagnose write (${label}): a corrupted guard names its interval and field`, async () => {
    const { data, meta } = written(t);
    const intervals = 4096 / t.interval;
    const bad = intervals - 1;
    meta[bad * t.metadataSize] ^= 0x01;
    const found = await diagnoseIntegrity({
      direction: "write",
      data,
      meta,
      format: t,
      offset: OFFSET,
      pi: { flags: GUARD | REFTAG, appTag: 0x10, seed: 0n },
    });
    assert.equal(found.intervals?.length, 1, String(found.undetermined));
    const [b] = found.intervals!;
    assert.equal(b.index, bad);
    assert.equal(b.field, "guard");
    assert.equal(b.offset, OFFSET + bad * t.interval);
    assert.equal(b.lba, (OFFSET + bad * t.interval) / t.logicalBlockSize);
    assert.equal(typeof b.expected, t.tupleSize === 16 ? "bigint" : "number");
    const err = new IntegrityError({
      op: "write",
      offset: OFFSET,
      flags: GUARD | REFTAG,
      ...found,
    });
    assert.match(
      err.message,
      new RegExp(`interval ${bad} \\(LBA ${b.lba}\\) guard`),
    );
  });
}

test("diagnose write: wrong app tag with APPTAG → every interval's appTag", async () => {
  const t = target();
  const { data, meta } = written(t, 0x10);
  const found = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format: t,
    offset: OFFSET,
    pi: { flags: GUARD | APPTAG, appTag: 0x11, seed: 0n },
  });
  assert.equal(found.intervals?.length, 8);
  assert.ok(found.intervals!.every((b) => b.field === "appTag"));
  assert.equal(found.intervals![0].expected, 0x11);
  assert.equal(found.intervals![0].actual, 0x10);
});

test("diagnose write: ref tags of another LBA with REFTAG → refTag", async () => {
  const t = target();
  const { data, meta } = written(t);
  const found = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format: t,
    offset: OFFSET + 4096, // tuples were made for OFFSET
    pi: { flags: REFTAG, appTag: 0, seed: 0n },
  });
  assert.equal(found.intervals?.length, 8);
  assert.equal(found.intervals![0].field, "refTag");
  assert.equal(found.intervals![0].expected, LBA + 8);
  assert.equal(found.intervals![0].actual, LBA);
});

test("diagnose write: Type 3 never blames the ref tag", async () => {
  const t = target({ piType: 3, refTagChecked: false, refTagSize: 0 });
  const { data, meta } = written(t);
  data[100] ^= 0xff;
  const found = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format: t,
    offset: OFFSET + 4096,
    pi: { flags: GUARD, appTag: 0x10, seed: 0n },
  });
  assert.deepEqual(found.intervals?.map((b) => [b.index, b.field]), [[
    0,
    "guard",
  ]]);
});

test("diagnose write: a check not asked for is still tried before giving up", async () => {
  const t = target();
  const { data, meta } = written(t);
  data[600] ^= 1; // interval 1's guard is wrong, but only APPTAG was asked
  const found = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format: t,
    offset: OFFSET,
    pi: { flags: APPTAG, appTag: 0x10, seed: 0n },
  });
  assert.deepEqual(found.intervals?.map((b) => [b.index, b.field]), [[
    1,
    "guard",
  ]]);
});

test("diagnose writev: the data buffers are verified as one", async () => {
  const t = target();
  const { data, meta } = written(t);
  data[4000] ^= 1;
  const found = await diagnoseIntegrity({
    direction: "write",
    data: [data.subarray(0, 1024), data.subarray(1024)],
    meta,
    format: t,
    offset: OFFSET,
    pi: { flags: GUARD, appTag: 0, seed: 0n },
  });
  assert.equal(found.intervals?.[0].index, 7);
});

test("diagnose write with the tuple library's format options (Type 2 uses the seed)", async () => {
  const format: PiFormatOptions = {
    guard: "crc16-t10dif",
    interval: 512,
    refTag: { type: 2 },
  };
  const data = new Uint8Array(2048);
  const meta = new Uint8Array(32);
  generatePi(data, meta, { ...format, refTag: { type: 2, seed: 77 } });
  const ok = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format,
    offset: 0,
    pi: { flags: REFTAG, appTag: 0, seed: 77n },
  });
  assert.match(ok.undetermined!, /verify in software/);
  const bad = await diagnoseIntegrity({
    direction: "write",
    data,
    meta,
    format,
    offset: 0,
    pi: { flags: REFTAG, appTag: 0, seed: 78n },
  });
  assert.equal(bad.intervals?.[0].field, "refTag");
});

test("diagnose read: re-reads without checks, then verifies", async () => {
  const t = target();
  const stored = written(t);
  stored.meta[2 * 8 + 3] ^= 0x40; // interval 2's app tag on the medium
  const calls: [number, number][] = [];
  const found = await diagnoseIntegrity({
    direction: "read",
    data: new Uint8Array(4096),
    meta: new Uint8Array(64),
    format: t,
    offset: OFFSET,
    pi: { flags: GUARD | APPTAG, appTag: 0x10, seed: 0n },
    reread: (offset, length) => {
      calls.push([offset, length]);
      return Promise.resolve(stored);
    },
  });
  assert.deepEqual(calls, [[OFFSET, 4096]]);
  assert.deepEqual(found.intervals?.map((b) => [b.index, b.field]), [[
    2,
    "appTag",
  ]]);
});

test("rereadFor reads the range again without checks, same app tag and seed", async () => {
  const pi = { meta: new Uint8Array(64), appTag: 0x42, seed: 2048n };
  const seen: unknown[] = [];
  const reread = rereadFor(pi, (data, offset, opts) => {
    seen.push(data.byteLength, offset, opts.check, opts.appTag, opts.seed);
    data.fill(9);
    opts.meta.fill(3);
    return Promise.resolve(data.byteLength);
  });
  const { data, meta } = await reread(OFFSET, 4096);
  assert.deepEqual(seen, [4096, OFFSET, 0, 0x42, 2048n]);
  assert.equal(data[0], 9);
  assert.equal(meta.byteLength, 64);
  assert.equal(meta[63], 3);
  assert.notEqual(meta, pi.meta);
});

test("diagnose read: undetermined when the re-read is missing or fails", async () => {
  const base = {
    direction: "read" as const,
    data: [new Uint8Array(2048), new Uint8Array(2048)],
    meta: new Uint8Array(64),
    format: target(),
    offset: OFFSET,
    pi: { flags: GUARD, appTag: 0, seed: 0n },
  };
  assert.match((await diagnoseIntegrity(base)).undetermined!, /re-read/);
  const failed = await diagnoseIntegrity({
    ...base,
    reread: () => Promise.reject(new Error("EIO")),
  });
  assert.match(
    failed.undetermined!,
    /re-reading without device checks failed: EIO/,
  );
});

test("diagnose: undetermined without a PI format or with mismatched lengths", async () => {
  const pi = { flags: GUARD, appTag: 0, seed: 0n };
  const data = new Uint8Array(4096);
  const none = await diagnoseIntegrity({
    direction: "write",
    data,
    meta: new Uint8Array(64),
    offset: 0,
    pi,
  });
  assert.match(none.undetermined!, /format is unknown/);
  const noPi = await diagnoseIntegrity({
    direction: "write",
    data,
    meta: new Uint8Array(64),
    offset: 0,
    pi,
    format: target({ integrity: false, guard: "none", reason: "no metadata" }),
  });
  assert.match(noPi.undetermined!, /no PI format/);
  const short = await diagnoseIntegrity({
    direction: "write",
    data,
    meta: new Uint8Array(8),
    offset: 0,
    pi,
    format: target(),
  });
  assert.match(
    short.undetermined!,
    /could not run: metadata buffer has 8 bytes/,
  );
});

const kernel = {
  release: "6.18.0",
  ioUring: true,
  rwAttr: true,
  features: ["RW_ATTR"],
  opcodes: ["READ", "WRITE"],
};
const EXPLAIN: [string, number, ProbeResult | undefined, object, RegExp][] = [
  [
    "EINVAL, kernel without RW_ATTR",
    -22,
    { kernel: { ...kernel, rwAttr: false, release: "6.8.0" } },
    {},
    /kernel too old: .*Linux 6\.14\+.*6\.8\.0/,
  ],
  [
    "EINVAL, target without integrity",
    -22,
    {
      kernel,
      target: target({ integrity: false, reason: "tmpfs has no block device" }),
    },
    {},
    /cannot carry integrity metadata: tmpfs has no block device/,
  ],
  ["EINVAL, PI target, short metadata", 22, { kernel, target: target() }, {
    dataLength: 4096,
    metaLength: 32,
  }, /metadata buffer has 32 bytes but 4096 bytes of data need 64/],
  ["EINVAL, PI target, unknown flag", -22, { kernel, target: target() }, {
    flags: 8,
  }, /unknown check flags 0x8/],
  [
    "EINVAL, PI target, nothing known",
    -22,
    { kernel, target: target() },
    {},
    /metadata length .*misaligned/,
  ],
  ["EINVAL, no probe", -22, undefined, {}, /probably has no integrity profile/],
  [
    "EOPNOTSUPP, buffered fd",
    -95,
    { kernel },
    {},
    /open the file with O_DIRECT/,
  ],
  ["EFAULT", -14, undefined, {}, /not mapped memory/],
  ["EILSEQ", -84, undefined, {}, /integrity check failed/],
  ["other errno", -5, undefined, {}, /^EIO: Input\/output error$/],
];
for (const [label, errno, probed, request, message] of EXPLAIN) {
  test(`explainAttributeError: ${label}`, () => {
    assert.match(explainAttributeError(errno, probed, request), message);
  });
}
