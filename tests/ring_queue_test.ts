// Queue mechanics: SQE allocation, submit and wait, CQ peeking and advancing,
// the overflow path (FEAT_NODROP), and u32 head/tail wrap-around.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  closeFd,
  IORING_FEAT_NODROP,
  IORING_OP_NOP,
  IORING_SETUP_DEFER_TASKRUN,
  IOSQE_CQE_SKIP_SUCCESS,
  IOSQE_IO_DRAIN,
  pipeFds,
  type RingCore,
  SubmissionQueueFullError,
  writeFd,
} from "../raw.ts";
import { collect, withRing } from "./helpers.ts";

test("getSqe hands out cleared entries until the SQ is full, then null", () => {
  withRing({ entries: 4 }, (ring) => {
    const seen = new Set<unknown>();
    for (let i = 0; i < 4; i++) {
      const sqe = ring.getSqe();
      assert.ok(sqe !== null);
      assert.ok(sqe.bytes.every((b) => b === 0), "cleared");
      sqe.opcode = IORING_OP_NOP;
      sqe.userData = i;
      seen.add(sqe);
    }
    assert.equal(seen.size, 4);
    assert.equal(ring.getSqe(), null);
    assert.throws(() => ring.prepNop(), SubmissionQueueFullError);
    assert.equal(ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, 9), -1);
    assert.equal(ring.sqReady(), 4);
    assert.equal(ring.sqSpaceLeft(), 0);
    assert.equal(ring.submit(), 4);
    assert.equal(ring.sqReady(), 0);
    assert.equal(ring.sqSpaceLeft(), 4);
    assert.equal(collect(ring, 4).size, 4);
    // Slots are reused and cleared again (userData from last time is gone).
    const again = ring.getSqe()!;
    assert.equal(again.userData, 0n);
  });
});

test("submitAndWait(n) returns with at least n completions ready", () => {
  withRing({ entries: 8 }, (ring) => {
    for (let i = 0; i < 5; i++) ring.prepNop().userData = i;
    assert.equal(ring.submitAndWait(5), 5);
    assert.equal(ring.cqReady(), 5);
    assert.equal(ring.submitAndWait(0), 0, "nothing to submit");
    assert.throws(() => ring.submitAndWait(-1), RangeError);
    ring.cqAdvance(5);
    assert.equal(ring.cqReady(), 0);
  });
});

test("peekCqe, cqReady and cqAdvance walk the CQ in order", () => {
  withRing({ entries: 8 }, (ring) => {
    assert.equal(ring.peekCqe(), null);
    for (let i = 0; i < 3; i++) ring.prepNop().userData = 10 + i;
    ring.submitAndWait(3);
    assert.equal(ring.cqReady(), 3);
    for (let i = 0; i < 3; i++) {
      const cqe = ring.peekCqe()!;
      assert.equal(cqe.userData, BigInt(10 + i));
      assert.equal(cqe.res, 0);
      assert.equal(cqe.flags, 0);
      // Peeking again without advancing returns the same entry.
      assert.equal(ring.peekCqe()!.userData, BigInt(10 + i));
      ring.cqAdvance(1);
      assert.equal(ring.cqReady(), 2 - i);
    }
    assert.equal(ring.peekCqe(), null);
    ring.cqAdvance(0); // no-op
    ring.prepNop().userData = 20;
    ring.prepNop().userData = 21;
    ring.submitAndWait(2);
    ring.cqAdvance(2);
    assert.equal(ring.cqReady(), 0);
    ring.prepNop().userData = 22;
    ring.submitAndWait(1);
    ring.cqeSeen();
    assert.equal(ring.cqReady(), 0);
  });
});

test("waitCqe blocks until a completion arrives (a timeout)", () => {
  withRing({ entries: 4 }, (ring) => {
    const started = performance.now();
    ring.prepTimeout(15).userData = 5;
    ring.submit();
    const cqe = ring.waitCqe();
    assert.equal(cqe.userData, 5n);
    assert.ok(performance.now() - started >= 10);
    ring.cqAdvance(1);
  });
});

test("waitCqe returns a completion produced by another writer (pipe)", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      const buf = new Uint8Array(3);
      ring.prepRead(r, buf, -1).userData = 7;
      ring.submit();
      writeFd(w, new Uint8Array([4, 5, 6]));
      const cqe = ring.waitCqe();
      assert.equal(cqe.userData, 7n);
      assert.equal(cqe.res, 3);
      assert.deepEqual([...buf], [4, 5, 6]);
      ring.cqAdvance(1);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

test("reap passes user_data halves, res and flags, and advances the CQ", () => {
  withRing({ entries: 4 }, (ring) => {
    ring.prepNop().userData = 0x1234_5678_9abc_def0n;
    ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, 0xffff_ffff);
    ring.submitAndWait(2);
    const got: number[][] = [];
    const n = ring.reap((low, res, flags, high) =>
      got.push([low, res, flags, high])
    );
    assert.equal(n, 2);
    assert.deepEqual(got, [
      [0x9abc_def0, 0, 0, 0x1234_5678],
      [0xffff_ffff, 0, 0, 0],
    ]);
    assert.equal(ring.cqReady(), 0);
    assert.equal(ring.reap(() => assert.fail("nothing left")), 0);
  });
});

test("prepRaw fills opcode, fd, addr, len, off and user_data, clearing the rest", () => {
  withRing({ entries: 2 }, (ring) => {
    // Dirty the slot first through the view.
    const dirty = ring.getSqe()!;
    dirty.bytes.fill(0xff);
    ring.submit(); // the kernel fails this garbage SQE; reap it
    ring.submitAndWait(1);
    ring.reap(() => {});
    let index = ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, 1);
    ring.submitAndWait(1);
    ring.reap(() => {});
    index = ring.prepRaw(22, 3, 2 ** 40 + 8, 4096, 2 ** 33 + 1, 77);
    const sqe = ring.sqeAt(index);
    assert.equal(sqe.opcode, 22);
    assert.equal(sqe.flags, 0);
    assert.equal(sqe.fd, 3);
    assert.equal(sqe.addr, 2n ** 40n + 8n);
    assert.equal(sqe.len, 4096);
    assert.equal(sqe.off, 2n ** 33n + 1n);
    assert.equal(sqe.userData, 77n);
    assert.equal(sqe.rwFlags, 0);
    assert.equal(sqe.attrPtr, 0n);
    assert.equal(sqe.attrTypeMask, 0n);
    // An offset of -1 is all ones (the current file position).
    index = ring.prepRaw(22, 3, 0, 1, -1, 78);
    assert.equal(ring.sqeAt(index).off, 2n ** 64n - 1n);
    // Don't submit those reads of fd 3; a fresh ring is closed below.
  });
});

test("IOSQE_CQE_SKIP_SUCCESS posts no completion for a successful request", () => {
  withRing({ entries: 4 }, (ring) => {
    const skipped = ring.prepNop();
    skipped.flags = IOSQE_CQE_SKIP_SUCCESS;
    skipped.userData = 1;
    ring.prepNop().userData = 2;
    ring.submitAndWait(1);
    const ids: number[] = [];
    ring.reap((id) => ids.push(id));
    assert.deepEqual(ids, [2]);
  });
});

test("IOSQE_IO_DRAIN waits for earlier requests", () => {
  withRing({ entries: 4 }, (ring) => {
    ring.prepTimeout(20).userData = 1;
    const drained = ring.prepNop();
    drained.flags = IOSQE_IO_DRAIN;
    drained.userData = 2;
    const order: number[] = [];
    ring.submit();
    while (order.length < 2) {
      ring.submitAndWait(1);
      ring.reap((id) => order.push(id));
    }
    assert.deepEqual(order, [1, 2]);
  });
});

/** 10,000 NOPs through `ring` without reaping in between; none lost. */
function flood(ring: RingCore, total: number): void {
  assert.ok(ring.features & IORING_FEAT_NODROP);
  let submitted = 0;
  while (submitted < total) {
    while (submitted < total && ring.sqSpaceLeft() > 0) {
      ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, submitted);
      submitted++;
    }
    ring.submit();
  }
  assert.equal(ring.sqDropped(), 0);
  const seen = new Uint8Array(total);
  let count = 0;
  // reap flushes the kernel's overflow list as the CQ empties.
  count += ring.reap((id, res) => {
    assert.equal(res, 0);
    seen[id]++;
  });
  while (count < total) {
    // With deferred task work the completions are produced on entry.
    ring.submitAndWait(1);
    count += ring.reap((id, res) => {
      assert.equal(res, 0);
      seen[id]++;
    });
  }
  assert.equal(count, total);
  assert.ok(seen.every((n) => n === 1), "every NOP exactly once");
  assert.equal(ring.cqOverflow(), 0, "nothing dropped");
  assert.equal(ring.peekCqe(), null);
}

test("10,000 NOPs through a 4-entry ring without reaping: none lost", () => {
  withRing({ entries: 4 }, (ring) => {
    assert.equal(ring.sqEntries, 4);
    assert.equal(ring.cqEntries, 8);
    flood(ring, 10_000);
    // The ring still works normally afterwards.
    ring.prepNop().userData = 1;
    assert.equal(collect(ring, 1).get(1), 0);
  });
});

test("the overflow path also drains through peekCqe/cqAdvance", () => {
  withRing({ entries: 4 }, (ring) => {
    for (let i = 0; i < 1000; i += 4) {
      for (let j = 0; j < 4; j++) ring.prepNop().userData = i + j;
      ring.submit();
    }
    const seen: number[] = [];
    for (;;) {
      const cqe = ring.peekCqe();
      if (cqe === null) break;
      seen.push(Number(cqe.userData));
      ring.cqAdvance(1);
    }
    assert.equal(seen.length, 1000);
    assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
  });
});

test("10,000 NOPs without reaping on COOP_TASKRUN and DEFER_TASKRUN rings", () => {
  withRing(
    { entries: 4, coopTaskrun: true, taskrunFlag: true, singleIssuer: true },
    (ring) => flood(ring, 10_000),
  );
  withRing({ entries: 4, singleIssuer: true, deferTaskrun: true }, (ring) => {
    assert.ok(ring.flags & IORING_SETUP_DEFER_TASKRUN);
    flood(ring, 10_000);
  });
});

test("u32 head/tail: 140,000 submit/reap cycles (past 2^17) on a 2-entry ring", () => {
  // The kernel starts head and tail at 0 and both only grow (mod 2^32); a
  // 2-entry ring wraps its slot index every 2 cycles and passes 2^16 here.
  // Past 2^32 the same `(tail - head) >>> 0` and `index & mask` arithmetic
  // applies, since every value is kept as a u32 (`>>> 0`).
  withRing({ entries: 2 }, (ring) => {
    const cycles = 140_000;
    let expected = 0;
    let bad = 0;
    const check = (id: number, res: number) => {
      if (id !== expected || res !== 0) bad++;
      expected++;
    };
    for (let i = 0; i < cycles; i += 2) {
      // Both slots every cycle, so the SQ and CQ indexes wrap constantly.
      ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, i);
      ring.prepRaw(IORING_OP_NOP, -1, 0, 0, 0, i + 1);
      ring.submitAndWait(2);
      ring.reap(check);
    }
    assert.equal(bad, 0);
    assert.equal(expected, cycles);
    assert.equal(ring.cqReady(), 0);
    assert.equal(ring.sqSpaceLeft(), 2);
  });
});
