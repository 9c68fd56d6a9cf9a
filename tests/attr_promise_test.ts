/**
 * PI and attributes through the Promise API and the prep helpers, against
 * the live kernel (which has IORING_FEAT_RW_ATTR but no block integrity):
 * requests are refused before submission with the reason, or the kernel's
 * error comes back explained.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  alignedBuffer,
  IO_INTEGRITY_CHK_GUARD,
  IORING_RW_ATTR_FLAG_PI,
  KernelTooOldError,
  O_DIRECT,
  PiUnsupportedError,
  Ring,
  UringError,
} from "../raw.ts";
import { directIoDir, noRwAttrReason, withTempFile } from "./helpers.ts";

const directDir = directIoDir();
// Before Linux 6.14 the library refuses every PI request for the kernel's
// sake, before it looks at the file: that refusal is what is checked there.
const noRwAttr = noRwAttrReason();
if (noRwAttr) {
  console.log(`attr_promise_test.ts: prepWrite test skipped: ${noRwAttr}`);
}

/** The refusal a PI request on a file without integrity must meet here. */
function refusedFor(reason: RegExp): (e: unknown) => boolean {
  return (e) =>
    noRwAttr
      ? e instanceof KernelTooOldError && /Linux 6\.14\+/.test(e.message)
      : e instanceof PiUnsupportedError &&
        /cannot carry integrity metadata/.test(e.message) &&
        reason.test(e.message);
}
const noDirect = directDir === null ? "no O_DIRECT-capable directory" : false;
if (noDirect) console.log(`SKIP attr_promise O_DIRECT tests: ${noDirect}`);

function piOptions() {
  return { pi: { meta: new Uint8Array(64), check: { guard: true } } };
}

test("Promise write with pi on a tmpfs file is refused before submission with the reason", async () => {
  await withTempFile({ size: 4096 }, async (fd) => {
    await using ring = new Ring({ entries: 4 });
    await assert.rejects(
      () => ring.write(fd, alignedBuffer(4096), 0, piOptions()),
      refusedFor(/tmpfs/),
    );
    assert.equal(ring.pending, 0);
  });
});

test(
  "Promise read with pi on an O_DIRECT file of a disk without integrity is refused with the reason",
  {
    skip: noDirect,
  },
  async () => {
    await withTempFile(
      { dir: directDir!, size: 8192, flags: O_DIRECT },
      async (fd) => {
        await using ring = new Ring({ entries: 4 });
        await assert.rejects(
          () => ring.read(fd, alignedBuffer(4096), 0, piOptions()),
          refusedFor(/./),
        );
      },
    );
  },
);

test("pi is refused on operations that take no attributes", async () => {
  await withTempFile({ size: 4096 }, async (fd) => {
    await using ring = new Ring({ entries: 4 });
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => ring.fsync(fd, piOptions() as any),
      (e: unknown) =>
        e instanceof TypeError && /unknown option "pi"/.test(e.message),
    );
  });
});

test("unknown attribute keys and bad PI values are TypeError/RangeError before submission", async () => {
  await withTempFile({ size: 4096 }, async (fd) => {
    await using ring = new Ring({ entries: 4 });
    const buf = alignedBuffer(4096);
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => ring.read(fd, buf, 0, { pii: {} } as any),
      TypeError,
    );
    await assert.rejects(
      () =>
        ring.read(fd, buf, 0, {
          pi: { meta: new Uint8Array(64), appTag: 70000 },
        }),
      RangeError,
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => ring.read(fd, buf, 0, { pi: { meta: "x" } as any }),
      TypeError,
    );
  });
});

test(
  "prepWrite with attributes sets attr_ptr and attr_type_mask; the kernel answers EINVAL on tmpfs",
  {
    // The raw SQE API does not refuse: an older kernel runs it as a plain write.
    skip: noRwAttr,
  },
  async () => {
    await withTempFile({ size: 4096 }, (fd) => {
      using promiseRing = new Ring({ entries: 4 });
      const ring = promiseRing.core;
      const meta = new Uint8Array(64);
      const data = new Uint8Array(4096);
      const sqe = ring.prepWrite(fd, data, 0, {
        pi: { meta, check: IO_INTEGRITY_CHK_GUARD, appTag: 0x1234, seed: 7 },
      });
      assert.equal(sqe.attrTypeMask, BigInt(IORING_RW_ATTR_FLAG_PI));
      assert.notEqual(sqe.attrPtr, 0n);
      sqe.userData = 99n;
      ring.submitAndWait(1);
      const cqe = ring.waitCqe();
      assert.equal(cqe.userData, 99n);
      assert.equal(cqe.res, -22);
      ring.cqAdvance(1);
    });
  },
);

test("requireRwAttr-style refusal: a kernel without IORING_FEAT_RW_ATTR is named too old", () => {
  const error = new KernelTooOldError("pi", "IORING_FEAT_RW_ATTR", "6.14");
  assert.ok(error instanceof Error);
  assert.match(
    error.message,
    /kernel too old \(Linux 6\.14\+ needed, no IORING_FEAT_RW_ATTR\)/,
  );
});

test("a UringError from a PI request names the op and fd", async () => {
  await withTempFile({ size: 4096 }, (fd) => {
    const e = UringError.from(-22, { op: "write", fd });
    assert.equal(e.code, "EINVAL");
    assert.equal(e.fd, fd);
  });
});
