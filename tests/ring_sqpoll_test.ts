// SQPOLL: a kernel thread takes the SQEs; the ring must wake it when it has
// gone idle (IORING_SQ_NEED_WAKEUP) and still deliver every completion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  IORING_OP_NOP,
  IORING_SETUP_SQPOLL,
  IOSQE_FIXED_FILE,
  IOSQE_IO_LINK,
} from "../raw.ts";
import { collect, pattern, withRing, withTempFile } from "./helpers.ts";

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test("SQPOLL ring: writes and reads on a tmpfs file, bytes compared", () => {
  withRing({ entries: 16, sqpoll: { idleMs: 50 } }, (ring) => {
    assert.ok(ring.flags & IORING_SETUP_SQPOLL);
    withTempFile({ size: 0 }, (fd, path) => {
      const blocks = Array.from({ length: 16 }, (_, i) => pattern(4096, i));
      blocks.forEach((b, i) => (ring.prepWrite(fd, b, i * 4096).userData = i));
      const writes = collect(ring, 16);
      for (let i = 0; i < 16; i++) assert.equal(writes.get(i), 4096);
      const backs = blocks.map(() => new Uint8Array(4096));
      backs.forEach((b, i) =>
        ring.prepRead(fd, b, i * 4096).userData = 100 + i
      );
      const reads = collect(ring, 16);
      for (let i = 0; i < 16; i++) {
        assert.equal(reads.get(100 + i), 4096);
        assert.deepEqual(backs[i], blocks[i]);
      }
      const file = new Uint8Array(readFileSync(path));
      assert.equal(file.byteLength, 16 * 4096);
      blocks.forEach((b, i) =>
        assert.deepEqual(file.subarray(i * 4096, (i + 1) * 4096), b)
      );
    });
  });
});

test("SQPOLL ring: submissions after the thread went idle wake it up", () => {
  withRing({ entries: 8, sqpoll: { idleMs: 5 } }, (ring) => {
    withTempFile({ size: 0 }, (fd) => {
      for (let round = 0; round < 5; round++) {
        sleep(30); // well past idleMs: the thread sleeps, NEED_WAKEUP is set
        const data = pattern(512, round);
        const back = new Uint8Array(512);
        const w = ring.prepWrite(fd, data, round * 512);
        w.flags = IOSQE_IO_LINK;
        w.userData = 1;
        ring.prepRead(fd, back, round * 512).userData = 2;
        const results = collect(ring, 2);
        assert.equal(results.get(1), 512, `round ${round}`);
        assert.equal(results.get(2), 512, `round ${round}`);
        assert.deepEqual(back, data);
      }
    });
  });
});

test("SQPOLL ring: many NOP batches, none lost", () => {
  withRing({ entries: 32, sqpoll: true }, (ring) => {
    let done = 0;
    let next = 0;
    const seen = new Uint8Array(20_000);
    while (done < seen.length) {
      while (next < seen.length && ring.sqSpaceLeft() > 0) {
        assert.ok(ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, next++) >= 0);
      }
      if (next === done) {
        // Every completion is in, but the SQ thread has not published its
        // head yet: wait for SQ space, not for a completion that will not come.
        ring.sqringWait();
        continue;
      }
      ring.submitAndWait(1);
      done += ring.reap((id, res) => {
        assert.equal(res, 0);
        seen[id]++;
      });
    }
    assert.ok(seen.every((n) => n === 1));
  });
});

test("SQPOLL ring with fixed files", () => {
  withRing({ entries: 8, sqpoll: { idleMs: 20 } }, (ring) => {
    withTempFile({ contents: pattern(8192, 5) }, (fd) => {
      ring.registerFiles([fd]);
      const back = new Uint8Array(8192);
      const sqe = ring.prepRead(0, back, 0);
      sqe.flags = IOSQE_FIXED_FILE;
      sqe.userData = 1;
      assert.equal(collect(ring, 1).get(1), 8192);
      assert.deepEqual(back, pattern(8192, 5));
    });
  });
});
