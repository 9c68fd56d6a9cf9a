// Read/write attributes against the live kernel, through RingCore's prep
// helpers and applyAttributes. This kernel has IORING_FEAT_RW_ATTR but no
// block integrity, so (KERNEL.md): unmapped attr_ptr → -EFAULT (proves the
// kernel read bytes 48/56), unknown mask bit → -EINVAL, mask 0 → success,
// a well-formed PI write to a file or a loop device → -EINVAL. Also the
// library's own refusals before anything is submitted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, unlinkSync } from "node:fs";
import process from "node:process";
import { addressNumber } from "../ffi/mod.ts";
import { RingCore } from "../ring/core.ts";
import {
  applyAttributes,
  AttributeTable,
  packAttributes,
} from "../ring/attributes.ts";
import { defineAttribute } from "../ring/attribute_kind.ts";
import { PI_ATTRIBUTE } from "../ring/pi_attribute.ts";
import {
  KernelTooOldError,
  PiUnsupportedError,
  targetOfFd,
  validatePiRequest,
} from "../ring/pi_validate.ts";
import { explainAttributeError } from "../ring/integrity.ts";
import { kernelRelease, releaseAtLeast } from "../ring/kernel_probe.ts";
import { probe } from "../ring/probe.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { alignedBuffer, mmap, munmap } from "../sys/memory.ts";
import {
  IORING_FEAT_RW_ATTR,
  IORING_OP_READ,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_CREAT,
  O_DIRECT,
  O_RDWR,
  PROT_NONE,
} from "../structs/constants.ts";
import type { SqeView } from "../structs/sqe.ts";
import { nvmeProfile } from "./pi_profile.ts";

const features = (() => {
  const ring = new RingCore({ entries: 2 });
  ring.close();
  return ring.features;
})();
const noRwAttr = (features & IORING_FEAT_RW_ATTR) === 0
  ? "the kernel lacks IORING_FEAT_RW_ATTR (Linux 6.14+)"
  : undefined;
if (noRwAttr) {
  console.log(`attr_kernel_test.ts: skipping kernel tests: ${noRwAttr}`);
}

function findLosetup(): string | undefined {
  return ["/usr/sbin/losetup", "/sbin/losetup", "/usr/bin/losetup"].find(
    existsSync,
  );
}
const losetup = findLosetup();
const noLoop = noRwAttr ??
  (process.getuid?.() !== 0
    ? "loop devices need root"
    : losetup === undefined
    ? "losetup (util-linux) is not installed"
    : undefined);
if (noLoop) {
  console.log(`attr_kernel_test.ts: skipping loop device test: ${noLoop}`);
}

/** Submits the one prepared SQE and returns its result. */
function runOne(ring: RingCore): number {
  ring.submitAndWait(1);
  const cqe = ring.peekCqe();
  assert.ok(cqe, "a completion");
  const res = cqe.res;
  ring.cqAdvance(1);
  return res;
}

/** A /dev/shm file opened O_DIRECT (tmpfs accepts O_DIRECT since 6.6). */
function shmFile(name: string, flags = O_RDWR | O_CREAT | O_DIRECT) {
  const path = `/dev/shm/uring-attr-${process.pid}-${name}`;
  const fd = openFd(path, flags, 0o600);
  return {
    path,
    fd,
    [Symbol.dispose]() {
      closeFd(fd);
      unlinkSync(path);
    },
  };
}

function piWrite(
  ring: RingCore,
  fd: number,
  data: Uint8Array,
  offset: number,
  tweak?: (sqe: SqeView) => void,
): number {
  const meta = new Uint8Array((data.byteLength / 512) * 8);
  const packed = packAttributes({
    pi: { meta, check: { guard: true, reftag: true }, seed: offset / 512 },
  }, "write");
  const sqe = ring.prepWrite(fd, data, offset);
  applyAttributes(sqe, packed);
  tweak?.(sqe);
  const res = runOne(ring);
  // Keep the attribute buffer and the metadata alive past the completion.
  assert.ok(packed!.buffer.byteLength === 32 && meta.byteLength > 0);
  return res;
}

test(
  "PI write with attr_ptr at unmapped memory → -EFAULT (the kernel read bytes 48/56)",
  {
    skip: noRwAttr,
  },
  () => {
    using ring = new RingCore({ entries: 4 });
    using file = shmFile("efault");
    // A page mapped with no access, kept mapped: the kernel cannot read it.
    // (An unmapped address is not stable: another thread of the runtime may
    // map something there between munmap and the kernel's read, which then
    // reads garbage and answers EINVAL.)
    const page = mmap(4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    try {
      const res = piWrite(ring, file.fd, alignedBuffer(4096), 0, (sqe) => {
        sqe.attrPtr = page;
      });
      assert.equal(res, -14);
    } finally {
      munmap(page, 4096);
    }
  },
);

test(
  "unknown attribute type bit (mask 2) → -EINVAL",
  { skip: noRwAttr },
  () => {
    using ring = new RingCore({ entries: 4 });
    using file = shmFile("mask2");
    // A test-only attribute at bit 1: well-formed for the library, unknown to
    // the kernel.
    const table = new AttributeTable([
      PI_ATTRIBUTE,
      defineAttribute({
        name: "future",
        bit: 1,
        size: 8,
        validate: (v) => v,
        encode: () => {},
      }),
    ]);
    const packed = table.pack({ future: 1 }, "write");
    assert.equal(packed?.mask, 2);
    const data = alignedBuffer(4096);
    applyAttributes(ring.prepWrite(file.fd, data, 0), packed);
    assert.equal(runOne(ring), -22);
  },
);

test(
  "attr_type_mask 0 → an ordinary write succeeds",
  { skip: noRwAttr },
  () => {
    using ring = new RingCore({ entries: 4 });
    using file = shmFile("mask0");
    const data = alignedBuffer(4096).fill(7);
    applyAttributes(ring.prepWrite(file.fd, data, 0), null);
    assert.equal(runOne(ring), 4096);
    // And through the (ring, slot) form the Promise layer uses, on a read back.
    const back = alignedBuffer(4096);
    const slot = ring.prepRaw(
      IORING_OP_READ,
      file.fd,
      addressNumber(back),
      4096,
      0,
      9,
    );
    const packed = packAttributes({ pi: { meta: new Uint8Array(64) } }, "read");
    applyAttributes(ring, slot, packed);
    assert.equal(ring.sqeAt(slot).attrTypeMask, 1n);
    assert.equal(
      ring.sqeAt(slot).attrPtr,
      BigInt(addressNumber(packed!.buffer)),
    );
    applyAttributes(ring, slot, null);
    assert.equal(runOne(ring), 4096);
    assert.equal(back[4095], 7);
  },
);

test(
  "well-formed PI write to a /dev/shm file → -EINVAL, explained: tmpfs has no block device",
  {
    skip: noRwAttr,
  },
  () => {
    using ring = new RingCore({ entries: 4 });
    using file = shmFile("pi");
    const res = piWrite(ring, file.fd, alignedBuffer(4096), 2048 * 512);
    assert.equal(res, -22);
    const why = explainAttributeError(res, probe(file.path));
    assert.match(why, /tmpfs has no block device/);
    console.log(`  /dev/shm PI write: ${why}`);
  },
);

test(
  "well-formed PI write to a loop device → -EINVAL, explained from the probe",
  {
    skip: noLoop,
  },
  () => {
    const backing = `/dev/shm/uring-attr-loop-${process.pid}.img`;
    execFileSync("truncate", ["-s", "8M", backing]);
    let loop: string | undefined;
    try {
      loop = execFileSync(losetup!, ["-f", "--show", backing], {
        encoding: "utf8",
      }).trim();
      using ring = new RingCore({ entries: 4 });
      const fd = openFd(loop, O_RDWR | O_DIRECT);
      try {
        const data = alignedBuffer(4096);
        const packed = packAttributes(
          { pi: { meta: new Uint8Array(64) } },
          "write",
        )!;
        // The library itself lets it through without a target profile...
        validatePiRequest({
          op: "write",
          fd,
          data,
          offset: 2048 * 512,
          pi: packed.pi!,
          features,
        });
        const res = piWrite(ring, fd, data, 2048 * 512);
        assert.equal(res, -22);
        const probed = probe(loop);
        const why = explainAttributeError(res, probed);
        assert.match(why, /cannot carry integrity metadata/);
        if (!existsSync(`/sys/block/${loop.slice(5)}/integrity`)) {
          assert.match(why, /without block integrity support/);
        }
        console.log(`  ${loop} PI write: ${why}`);
        // ...and with the probed profile refuses before submitting.
        assert.throws(
          () =>
            validatePiRequest({
              op: "write",
              fd,
              data,
              offset: 2048 * 512,
              pi: packed.pi!,
              features,
              target: probed.target,
            }),
          (e: unknown) =>
            e instanceof PiUnsupportedError &&
            /cannot carry integrity metadata/.test(e.message),
        );
      } finally {
        closeFd(fd);
      }
    } finally {
      if (loop) execFileSync(losetup!, ["-d", loop]);
      unlinkSync(backing);
    }
  },
);

// shmFile's O_DIRECT open: tmpfs accepts O_DIRECT from Linux 6.6 on.
const noTmpfsDirect = releaseAtLeast(kernelRelease(), 6, 6)
  ? false
  : `O_DIRECT opens on tmpfs need Linux 6.6 (this is ${kernelRelease()})`;
if (noTmpfsDirect) {
  console.log(`attr_kernel_test.ts: targetOfFd test skipped: ${noTmpfsDirect}`);
}

test(
  "targetOfFd: the fd's profile, cached per device, refuses PI on tmpfs before submitting",
  {
    skip: noTmpfsDirect,
  },
  () => {
    using a = shmFile("target-a");
    using b = shmFile("target-b");
    const ta = targetOfFd(a.fd);
    const tb = targetOfFd(b.fd);
    assert.equal(ta.path, `fd ${a.fd}`);
    assert.equal(tb.path, `fd ${b.fd}`);
    assert.equal(ta.reason, tb.reason);
    assert.match(ta.reason!, /tmpfs has no block device/);
    const packed = packAttributes(
      { pi: { meta: new Uint8Array(64) } },
      "write",
    )!;
    assert.throws(
      () =>
        validatePiRequest({
          op: "write",
          fd: a.fd,
          data: alignedBuffer(4096),
          offset: 0,
          pi: packed.pi!,
          features: IORING_FEAT_RW_ATTR,
          target: ta,
        }),
      /write with PI: fd \d+ cannot carry integrity metadata: tmpfs has no block device/,
    );
  },
);

test("library refuses PI on an fd without O_DIRECT before submitting, naming the fix", () => {
  using file = shmFile("buffered", O_RDWR | O_CREAT);
  const packed = packAttributes({ pi: { meta: new Uint8Array(64) } }, "write")!;
  assert.throws(
    () =>
      validatePiRequest({
        op: "write",
        fd: file.fd,
        data: alignedBuffer(4096),
        offset: 0,
        pi: packed.pi!,
        features: IORING_FEAT_RW_ATTR,
      }),
    (e: unknown) =>
      e instanceof TypeError && /without O_DIRECT/.test(e.message) &&
      /direct: true/.test(e.message),
  );
});

test("library refuses PI on a ring without IORING_FEAT_RW_ATTR: kernel too old", () => {
  const packed = packAttributes({ pi: { meta: new Uint8Array(64) } }, "read")!;
  assert.throws(
    () =>
      validatePiRequest({
        op: "read",
        fd: 0,
        data: alignedBuffer(4096),
        offset: 0,
        pi: packed.pi!,
        features: features & ~IORING_FEAT_RW_ATTR,
      }),
    (e: unknown) =>
      e instanceof KernelTooOldError &&
      /kernel too old \(Linux 6\.14\+ needed/.test(e.message),
  );
});

const target = nvmeProfile;

// On an ext4 file (/ here) with O_DIRECT: alignment comes from statx DIOALIGN.
const VALIDATION: {
  label: string;
  meta?: number;
  check?: number;
  data?: () => ArrayBufferView | ArrayBufferView[];
  offset?: number;
  target?: TargetProfile;
  error?: new (...args: never[]) => Error;
  message?: RegExp;
}[] = [
  { label: "matching metadata, aligned", target: target() },
  { label: "no profile: no length check", meta: 3 },
  {
    label: "metadata too short for the profile",
    meta: 32,
    target: target(),
    error: RangeError,
    message: /pi\.meta has 32 bytes.*= 64 bytes/,
  },
  {
    label: "metadata sized for 16-byte tuples",
    meta: 64,
    target: target({ metadataSize: 16, tupleSize: 16, guard: "crc64-nvme" }),
    error: RangeError,
    message: /= 128 bytes/,
  },
  {
    label: "4 KiB interval: one tuple per 4096 bytes",
    meta: 8,
    target: target({ interval: 4096, logicalBlockSize: 4096 }),
  },
  {
    label: "data not a multiple of the interval",
    data: () => alignedBuffer(4096),
    meta: 8,
    target: target({ interval: 8192 }),
    error: RangeError,
    message: /not a multiple of the 8192-byte protection interval/,
  },
  {
    label: "REFTAG on a Type 3 target",
    check: 3,
    target: target({ piType: 3, refTagChecked: false, refTagSize: 0 }),
    error: RangeError,
    message: /Type 3.*REFTAG/,
  },
  {
    label: "GUARD|APPTAG on a Type 3 target",
    check: 5,
    target: target({ piType: 3, refTagChecked: false, refTagSize: 0 }),
  },
  {
    label: "target without integrity",
    target: target({ integrity: false, reason: "no metadata" }),
    error: PiUnsupportedError,
    message: /cannot carry integrity metadata: no metadata/,
  },
  {
    label: "offset not block aligned",
    offset: 4096 + 100,
    error: RangeError,
    message: /offset 4196 is not a multiple of the 512-byte/,
  },
  {
    label: "buffer address misaligned",
    data: () => alignedBuffer(4096 + 512).subarray(1, 4097),
    error: RangeError,
    message: /address 0x[0-9a-f]+ is not 512-byte aligned/,
  },
  {
    label: "length not block aligned",
    data: () => alignedBuffer(4096).subarray(0, 1000),
    error: RangeError,
    message: /length 1000 is not a multiple/,
  },
  {
    label: "writev: second buffer misaligned",
    data: () => [alignedBuffer(2048), alignedBuffer(4096).subarray(8, 2056)],
    error: RangeError,
    message: /buffer 1 address/,
  },
  {
    label: "writev: aligned buffers, metadata for the total",
    data: () => [alignedBuffer(2048), alignedBuffer(2048)],
    target: target(),
  },
];

const ext4Path = `/var/tmp/uring-attr-validate-${process.pid}`;
for (const row of VALIDATION) {
  test(`validatePiRequest: ${row.label}${row.error ? ` → ${row.error.name}` : " → ok"}`, () => {
    const fd = openFd(ext4Path, O_RDWR | O_CREAT | O_DIRECT, 0o600);
    try {
      const pi = packAttributes({
        pi: { meta: new Uint8Array(row.meta ?? 64), check: row.check ?? 7 },
      }, "write")!.pi!;
      const call = () =>
        validatePiRequest({
          op: "write",
          fd,
          data: row.data?.() ?? alignedBuffer(4096),
          offset: row.offset ?? 2048 * 512,
          pi,
          features: IORING_FEAT_RW_ATTR,
          target: row.target,
        });
      if (row.error) {
        assert.throws(
          call,
          (e: unknown) =>
            e instanceof row.error! && row.message!.test((e as Error).message),
        );
      } else call();
    } finally {
      closeFd(fd);
      unlinkSync(ext4Path);
    }
  });
}
