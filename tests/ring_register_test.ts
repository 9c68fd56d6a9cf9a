// Registration: fixed buffers, fixed files (full, sparse + update), eventfd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  closeFd,
  EBADF,
  EFAULT,
  eventFd,
  IORING_OP_READ_FIXED,
  IORING_OP_WRITE_FIXED,
  IORING_REGISTER_FILES_SKIP,
  IOSQE_FIXED_FILE,
  UringError,
} from "../raw.ts";
import { collect, pattern, withRing, withTempFile } from "./helpers.ts";

test("fixed buffers: write from one, read into another, bytes compared", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ size: 0 }, (fd, path) => {
      const out = new Uint8Array(16384);
      const back = new Uint8Array(16384);
      ring.registerBuffers([out, back]);
      assert.equal(ring.registeredBuffers?.length, 2);
      out.set(pattern(16384, 3));
      // A part of a registered buffer is fine too.
      const w = ring.prepWriteFixed(fd, out.subarray(4096), 0, 0);
      w.userData = 1;
      assert.equal(w.opcode, IORING_OP_WRITE_FIXED);
      assert.equal(w.bufIndex, 0);
      assert.equal(collect(ring, 1).get(1), 12288);
      const r = ring.prepReadFixed(fd, back, 0, 1);
      r.userData = 2;
      assert.equal(r.opcode, IORING_OP_READ_FIXED);
      assert.equal(r.bufIndex, 1);
      assert.equal(collect(ring, 1).get(2), 12288);
      assert.deepEqual(back.subarray(0, 12288), out.subarray(4096));
      assert.deepEqual(
        new Uint8Array(readFileSync(path)),
        out.subarray(4096),
      );
      ring.unregisterBuffers();
      assert.equal(ring.registeredBuffers, null);
    });
  });
});

test("fixed buffers: memory outside the registered buffer is refused", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ size: 8192 }, (fd) => {
      const registered = new Uint8Array(4096);
      const other = new Uint8Array(4096);
      ring.registerBuffers([registered]);
      ring.prepReadFixed(fd, other, 0, 0).userData = 1;
      assert.equal(collect(ring, 1).get(1), -EFAULT);
      // A buffer index that was never registered.
      ring.prepReadFixed(fd, registered, 0, 5).userData = 2;
      assert.ok(collect(ring, 1).get(2)! < 0);
      ring.unregisterBuffers();
      // Without registered buffers every fixed read fails.
      ring.prepReadFixed(fd, registered, 0, 0).userData = 3;
      assert.ok(collect(ring, 1).get(3)! < 0);
      assert.throws(() => ring.registerBuffers([]), RangeError);
    });
  });
});

test("fixed files: I/O by table index with IOSQE_FIXED_FILE", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ size: 0 }, (fdA, pathA) => {
      withTempFile({ size: 0 }, (fdB, pathB) => {
        ring.registerFiles([fdA, -1, fdB]);
        assert.equal(ring.hasRegisteredFiles, true);
        const a = pattern(4096, 1);
        const b = pattern(4096, 2);
        ring.prepWrite(0, a, 0).flags = IOSQE_FIXED_FILE;
        ring.sqeAt(0).userData = 1;
        const wb = ring.prepWrite(2, b, 0);
        wb.flags = IOSQE_FIXED_FILE;
        wb.userData = 2;
        const empty = ring.prepWrite(1, b, 0);
        empty.flags = IOSQE_FIXED_FILE;
        empty.userData = 3;
        const results = collect(ring, 3);
        assert.equal(results.get(1), 4096);
        assert.equal(results.get(2), 4096);
        assert.equal(results.get(3), -EBADF);
        assert.deepEqual(new Uint8Array(readFileSync(pathA)), a);
        assert.deepEqual(new Uint8Array(readFileSync(pathB)), b);
        const back = new Uint8Array(4096);
        const rb = ring.prepRead(2, back, 0);
        rb.flags = IOSQE_FIXED_FILE;
        rb.userData = 4;
        assert.equal(collect(ring, 1).get(4), 4096);
        assert.deepEqual(back, b);
        ring.unregisterFiles();
        assert.equal(ring.hasRegisteredFiles, false);
      });
    });
  });
});

test("sparse fixed-file table filled and cleared with registerFilesUpdate", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ contents: pattern(512, 8) }, (fd) => {
      ring.registerFilesSparse(8);
      assert.equal(ring.hasRegisteredFiles, true);
      const readSlot = (slot: number, id: number): number => {
        const sqe = ring.prepRead(slot, new Uint8Array(512), 0);
        sqe.flags = IOSQE_FIXED_FILE;
        sqe.userData = id;
        return collect(ring, 1).get(id)!;
      };
      assert.equal(readSlot(5, 1), -EBADF, "empty slot");
      assert.equal(ring.registerFilesUpdate(5, [fd]), 1);
      assert.equal(readSlot(5, 2), 512);
      // SKIP leaves slot 5 as it is while slot 6 is filled.
      assert.equal(
        ring.registerFilesUpdate(5, [IORING_REGISTER_FILES_SKIP, fd]),
        2,
      );
      assert.equal(readSlot(5, 3), 512);
      assert.equal(readSlot(6, 4), 512);
      // -1 clears a slot.
      assert.equal(ring.registerFilesUpdate(5, [-1]), 1);
      assert.equal(readSlot(5, 5), -EBADF);
      assert.equal(readSlot(6, 6), 512);
      // Past the end of the table.
      assert.throws(
        () => ring.registerFilesUpdate(8, [fd]),
        (e: unknown) =>
          e instanceof UringError && e.op === "register_files_update",
      );
      assert.throws(() => ring.registerFilesUpdate(0, []), TypeError);
      assert.throws(() => ring.registerFilesSparse(0), RangeError);
    });
  });
});

test("an eventfd registered on the ring counts completions", () => {
  withRing({ entries: 4 }, (ring) => {
    const efd = eventFd();
    try {
      ring.registerEventfd(efd);
      ring.prepNop().userData = 1;
      ring.prepNop().userData = 2;
      collect(ring, 2);
      // Read the counter through the ring itself (8-byte little-endian).
      const counter = new BigUint64Array(1);
      ring.prepRead(efd, new Uint8Array(counter.buffer), 0).userData = 3;
      assert.equal(collect(ring, 1).get(3), 8);
      // The kernel may signal once for a batch of completions.
      assert.ok(counter[0] >= 1n, `counter ${counter[0]}`);
      ring.unregisterEventfd();
      assert.throws(() => ring.unregisterEventfd(), UringError);
      assert.throws(
        () => ring.registerEventfd(efd, { sync: true } as never),
        TypeError,
      );
    } finally {
      closeFd(efd);
    }
  });
});
